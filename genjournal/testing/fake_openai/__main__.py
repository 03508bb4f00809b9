"""Runs the fake OpenAI server standalone: ``python -m genjournal.testing.fake_openai``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from genjournal.testing.fake_openai import __doc__ as _DOC
from genjournal.testing.fake_openai.server import FakeOpenAI


def main(argv: list[str] | None = None) -> int:
    """Runs the fake server until SIGINT/SIGTERM, printing its base URL on stdout."""
    parser = argparse.ArgumentParser(
        prog="python -m genjournal.testing.fake_openai", description=(_DOC or "").split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--rules", default="{}", help="settings as JSON (or @FILE): seed, text, image, rules, …"
    )
    args = parser.parse_args(argv)
    text = args.rules
    if text.startswith("@"):
        with open(text[1:], encoding="utf-8") as handle:
            text = handle.read()
    settings = json.loads(text)
    if args.seed is not None:
        settings["seed"] = args.seed
    server = FakeOpenAI(host=args.host, port=args.port)
    server.configure(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with server:
        print(server.base_url, flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
