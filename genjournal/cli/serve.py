"""``genjournal serve``: the local dashboard, live over Server-Sent Events.

Starlette, uvicorn and Jinja2 are imported inside the command, so
every other command works without the ``web`` extra. Everything that can be refused is
refused before the socket opens, as one line and exit 2: a non-loopback ``--host``
without a token, a token too short to protect anything, a missing web extra, a missing
journal, a port already in use.
"""

from __future__ import annotations

import socket
from pathlib import Path
from types import FrameType

import click

from genjournal.cli.common import EXIT_OK, common_options, fail, location
from genjournal.web.live import MAX_CLIENTS

MIN_TOKEN_LENGTH = 12


def _listen(host: str, port: int) -> socket.socket:
    """Opens the listening socket (so a busy port is a one-line error, and port 0 works)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        fail(f"--host {host}: cannot resolve it ({exc.strerror})")
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        fail(f"cannot listen on {host}:{port}: {exc.strerror}")
    sock.set_inheritable(True)
    return sock


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; anything but loopback needs --token.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port to listen on (0 picks a free one).",
)
@click.option(
    "--token",
    envvar="GENJOURNAL_TOKEN",
    default=None,
    metavar="T",
    help="Access token every request must carry (env GENJOURNAL_TOKEN).",
)
@click.option(
    "--prices",
    "prices_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Price table TOML overriding the shipped one (as for `genjournal costs`).",
)
@click.option(
    "--max-clients",
    type=click.IntRange(1, 100_000),
    default=MAX_CLIENTS,
    show_default=True,
    help="Live streams served at once; more are answered 503 with Retry-After.",
)
@common_options
def serve(
    host: str,
    port: int,
    token: str | None,
    prices_file: Path | None,
    max_clients: int,
    data_dir: Path | None,
    db: str | None,
) -> int:
    """Serve the local dashboard: the plan grid, styles, timeline and costs, live over SSE."""
    try:
        import jinja2  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn
    except ImportError as exc:
        fail(f"genjournal serve needs the web extra ({exc.name} is missing): pip install 'genjournal[web]'")
    from genjournal.web.security import is_loopback

    token = token or None
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        fail(f"--token must be at least {MIN_TOKEN_LENGTH} characters")
    if not is_loopback(host) and token is None:
        fail(f"--host {host} is not a loopback address: binding it needs --token (or GENJOURNAL_TOKEN)")
    from genjournal.web.app import create_app
    from genjournal.web.service import Dashboard, WebConfig

    where = location(data_dir, db)
    sock = _listen(host, port)
    bound_port = sock.getsockname()[1]
    config = WebConfig(
        data_dir=where.data_dir,
        db_url=where.url,
        token=token,
        host=host,
        prices=prices_file,
        max_clients=max_clients,
    )
    try:
        dashboard = Dashboard(config)
    except BaseException:
        sock.close()
        raise
    app = create_app(config, dashboard)
    url = _url(host, bound_port)
    click.echo(f"genjournal: dashboard for {dashboard.location} on {url}", err=True)
    if token is not None:
        click.echo(f"genjournal: log in once with {url}?token=<your token>", err=True)

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # Open SSE streams never end on their own: end them, so that Ctrl-C stops
            # the server at once instead of after the graceful-shutdown timeout.
            dashboard.tail.end_streams_soon()
            super().handle_exit(sig, frame)

    server = Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=1,
            server_header=False,
        )
    )
    server.run(sockets=[sock])
    return EXIT_OK
