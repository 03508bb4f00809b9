"""The hostile review's dashboard and projection cases, on the real server and the real commands."""

from __future__ import annotations

import shutil
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.genjournal.web.conftest import TOKEN, Served, genjournal, make_client

# --- 11. the login redirect stays on this server --------------------------------------------------


def raw_get(url: str, target: str) -> tuple[int, dict[str, str]]:
    """Sends one GET with ``target`` as the literal request target; returns status and headers."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    head = reply.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(head[0].split()[1]), headers


@pytest.mark.parametrize(
    "target", ["//evil.example/", "///evil.example/", "/\\evil.example/", "//evil.example/%2F.."]
)
def test_the_login_link_never_redirects_off_site(
    journal_dir: Path, serve: Callable[..., Served], target: str
) -> None:
    """`//evil.example/?token=T` logs in and redirects to a path here, never to another host."""
    served = serve(journal_dir, "--token", TOKEN)
    status, headers = raw_get(served.url, f"{target}?token={TOKEN}")
    assert status == 303
    location = headers["location"]
    assert location.startswith("/")
    assert not location.startswith(("//", "/\\"))
    assert TOKEN not in location


# --- 8. times beyond the calendar --------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/timeline?since=99999999999h", "/api/history?since=99999999999h"])
def test_the_timeline_refuses_an_age_beyond_the_calendar(journal_dir: Path, path: str) -> None:
    """`since=99999999999h` (an OverflowError once, a 500) is a 400 that names the parameter."""
    with make_client(journal_dir) as page:
        answer = page.get(path)
    assert answer.status_code == 400
    assert "since" in answer.text


# --- 5. a damaged projection row -----------------------------------------------------------------------


@pytest.fixture
def damaged(journal_dir: Path, tmp_path: Path) -> Path:
    """Returns a copy of the shared journal whose art-deco document is no longer JSON."""
    data = tmp_path / "damaged"
    shutil.copytree(journal_dir, data)
    conn = sqlite3.connect(data / "journal.db")
    try:
        changed = conn.execute("UPDATE styles SET doc = '{not json' WHERE slug = 'art-deco'").rowcount
        conn.commit()
    finally:
        conn.close()
    assert changed == 1
    return data


def test_a_damaged_projection_is_a_verify_finding_and_rebuild_repairs_it(damaged: Path) -> None:
    """`verify` names the damage (exit 1) and its repair; after `rebuild` it passes."""
    found = genjournal("verify", "--data-dir", str(damaged))
    assert found.returncode == 1, found.stderr
    assert "Traceback" not in found.stdout + found.stderr
    assert "projection-damaged" in found.stdout
    assert "genjournal rebuild" in found.stdout
    assert genjournal("rebuild", "--data-dir", str(damaged)).returncode == 0
    assert genjournal("verify", "--data-dir", str(damaged)).returncode == 0


def test_export_of_a_damaged_projection_is_one_line_naming_the_repair(damaged: Path) -> None:
    """`export` says in one line that the projection is damaged and `genjournal rebuild` repairs it."""
    done = genjournal("export", "--data-dir", str(damaged))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "damaged" in lines[0]
    assert "genjournal rebuild" in lines[0]
    assert done.stdout == ""


def test_the_dashboard_over_a_damaged_projection_says_so_instead_of_a_500(damaged: Path) -> None:
    """Pages and API over a damaged document answer 503 naming the damage and `genjournal rebuild`."""
    with make_client(damaged) as page:
        for path in ("/", "/styles/art-deco", "/api/styles/art-deco"):
            answer = page.get(path)
            assert answer.status_code == 503, (path, answer.status_code)
            assert "damaged" in answer.text
            assert "genjournal rebuild" in answer.text
            assert "Traceback" not in answer.text
        assert page.get("/timeline").status_code == 200  # the journal itself is fine
        assert page.get("/api/status").status_code == 200
