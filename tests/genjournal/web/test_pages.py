"""The dashboard's pages and JSON endpoints over a journal an offline run made."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from markupsafe import escape
from starlette.testclient import TestClient

from tests.genjournal.web.conftest import cli_json


def test_api_status_equals_the_cli_status_json(client: TestClient, journal_dir: Path) -> None:
    """/api/status is exactly what `genjournal status --json` prints for the same journal."""
    response = client.get("/api/status")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == cli_json("status", "--data-dir", str(journal_dir))


def test_overview_counts_equal_the_cli_status(client: TestClient, journal_dir: Path) -> None:
    """Every count and amount on the overview is the one `genjournal status --json` reports."""
    status = cli_json("status", "--data-dir", str(journal_dir))
    page = client.get("/").text
    shown = dict(re.findall(r'data-status="([a-z_.]+)"[^>]*>([^<]*)<', page))
    assert shown["planned_styles"] == str(status["planned_styles"])
    for section in ("styles", "rooms", "images"):
        for key, value in status[section].items():
            assert shown[f"{section}.{key}"] == f"{value:,}", (section, key)
    assert shown["spent.usd"] == f"${status['spent']['usd']:,.2f}"


def test_overview_grid_has_a_row_per_planned_style_and_a_cell_per_room(client: TestClient) -> None:
    """The grid shows the plan: a row per style; content, images and a cell per room, by state."""
    page = client.get("/").text
    rows = re.findall(r'<tr data-slug="([a-z0-9-]+)">', page)
    assert rows == ["art-deco", "japandi", "wabi-sabi"]
    cells = re.findall(r'<td class="cell ([a-z ]+)" data-cell="([a-z0-9-]+)\|([a-z0-9:-]+)"', page)
    assert len(cells) == 3 * (1 + 1 + 2)
    states = {(slug, key): state for state, slug, key in cells}
    assert states[("art-deco", "room:kitchen")] == "done"
    assert states[("japandi", "images")] == "done"
    assert states[("wabi-sabi", "content")] == "pending"
    assert states[("wabi-sabi", "room:bedroom")] == "pending"


def test_api_style_is_the_exported_document(client: TestClient, journal_dir: Path) -> None:
    """/api/styles/{slug} returns the same document `genjournal export` writes for that style."""
    exported = {doc["slug"]: doc for doc in cli_json_export(journal_dir)}
    response = client.get("/api/styles/art-deco")
    assert response.status_code == 200
    assert response.json() == exported["art-deco"]


def cli_json_export(data: Path) -> list[dict[str, object]]:
    """Returns `genjournal export` as parsed JSON."""
    import json

    from tests.genjournal.web.conftest import genjournal

    done = genjournal("export", "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    result: list[dict[str, object]] = json.loads(done.stdout)
    return result


def test_style_page_shows_content_rooms_and_gallery(client: TestClient) -> None:
    """The style page shows approach, colour, poetic and factual text, rooms and every image."""
    doc = client.get("/api/styles/japandi").json()
    page = client.get("/styles/japandi").text
    assert escape(doc["approach"]) in page
    assert doc["color"]["hex"] in page
    prose = doc["content"]["en"]
    assert escape(prose["poetic"]) in page
    assert escape(prose["factual"]) in page
    for room in doc["roomProfiles"]:
        assert escape(room["content"]["en"]["factual"]) in page
    shas = [image["sha256"] for image in doc["images"]] + [
        image["sha256"] for room in doc["roomProfiles"] for image in room["images"]
    ]
    assert len(shas) == 3
    for sha in shas:
        assert f'src="/blobs/{sha}"' in page


def test_blob_is_served_by_hash_with_immutable_cache_headers(client: TestClient, journal_dir: Path) -> None:
    """An image is served by its sha256: the stored bytes, an immutable cache policy, an ETag."""
    sha = client.get("/api/styles/art-deco").json()["images"][0]["sha256"]
    response = client.get(f"/blobs/{sha}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert hashlib.sha256(response.content).hexdigest() == sha
    assert "immutable" in response.headers["cache-control"]
    assert "max-age=31536000" in response.headers["cache-control"]
    again = client.get(f"/blobs/{sha}", headers={"if-none-match": response.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize(
    "path",
    [
        "/blobs/" + "0" * 64,
        "/blobs/" + "A" * 64,
        "/blobs/journal.db",
        "/blobs/..%2Fjournal.db",
        "/blobs/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/styles/no-such-style",
        "/api/styles/no-such-style",
        "/api/styles/..%2F..%2Fetc",
        "/no/such/page",
    ],
)
def test_unknown_slug_hash_or_path_is_404(client: TestClient, path: str) -> None:
    """An unknown style, an unknown or malformed hash, or a path-traversal attempt is a 404."""
    response = client.get(path)
    assert response.status_code == 404
    if path.startswith("/api/"):
        assert "error" in response.json()


@pytest.mark.parametrize(
    ("path", "word"),
    [
        ("/api/history?limit=x", "limit"),
        ("/api/history?limit=0", "limit"),
        ("/api/history?type=Nope", "type"),
        ("/api/history?since=yesterday-ish", "since"),
        ("/api/history?until=13:99", "until"),
        ("/api/costs?by=colour", "by"),
        ("/events?after=minus-one", "after"),
        ("/events?after=-3", "after"),
        ("/timeline?limit=-1", "limit"),
        ("/costs?by=nothing", "by"),
    ],
)
def test_malformed_query_parameter_is_400_naming_it(client: TestClient, path: str, word: str) -> None:
    """A malformed query parameter is a 400 whose message names the parameter."""
    response = client.get(path)
    assert response.status_code == 400
    text = response.json()["error"] if path.startswith(("/api/", "/events")) else response.text
    assert word in text


def test_malformed_last_event_id_is_400(client: TestClient) -> None:
    """A Last-Event-ID that is not a journal position is refused with a 400."""
    response = client.get("/events", headers={"last-event-id": "abc"})
    assert response.status_code == 400
    assert "Last-Event-ID" in response.json()["error"]


@pytest.mark.parametrize(
    "query",
    [
        [],
        ["--limit", "5"],
        ["art-deco", "--type", "RoomGenerated"],
        ["--type", "RunStarted", "--type", "RunFinished"],
        ["--since", "2000-01-01", "--until", "1h"],
    ],
)
def test_api_history_equals_the_cli_history_json(
    client: TestClient, journal_dir: Path, query: list[str]
) -> None:
    """/api/history with the CLI's filters returns exactly `genjournal history --json`."""
    params: list[tuple[str, str]] = []
    args = iter(query)
    for arg in args:
        if arg.startswith("--"):
            params.append((arg[2:], next(args)))
        else:
            params.append(("style", arg))
    response = client.get("/api/history", params=params)
    assert response.status_code == 200
    expected = cli_json("history", *query, "--data-dir", str(journal_dir))
    if "--until" in query:
        # "1h" ago moves with the clock; both sides must simply agree it excludes everything.
        assert response.json() == expected == []
    else:
        assert response.json() == expected
        assert expected


@pytest.mark.parametrize("by", ["style", "run", "model", "day"])
def test_api_costs_equals_the_cli_costs_json(client: TestClient, journal_dir: Path, by: str) -> None:
    """/api/costs?by=… is exactly `genjournal costs --by … --json`; the page shows its lines."""
    response = client.get("/api/costs", params={"by": by})
    assert response.status_code == 200
    assert response.json() == cli_json("costs", "--by", by, "--data-dir", str(journal_dir))
    page = client.get("/costs", params={"by": by}).text
    for line in response.json()["lines"]:
        assert line["key"] in page


def test_timeline_page_filters_like_history(client: TestClient) -> None:
    """The timeline shows the filtered events: one style's RoomGenerated events, oldest first."""
    page = client.get("/timeline", params={"style": "japandi", "type": "RoomGenerated"}).text
    positions = [int(p) for p in re.findall(r'<td class="num">(\d+)</td>\s*<td class="time">', page)]
    expected = [e["position"] for e in client.get("/api/history?style=japandi&type=RoomGenerated").json()]
    assert positions == expected
    assert len(positions) == 2


def test_every_response_carries_a_strict_content_security_policy(client: TestClient) -> None:
    """Pages and API answers forbid inline and foreign scripts and framing."""
    for path in ("/", "/styles/art-deco", "/timeline", "/costs", "/api/status"):
        headers = client.get(path).headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"


def test_static_files_are_served(client: TestClient) -> None:
    """The stylesheet and the script (no build step) are served from /static."""
    script = client.get("/static/dashboard.js")
    assert script.status_code == 200
    assert "EventSource" in script.text
    assert client.get("/static/dashboard.css").status_code == 200


def test_the_dashboard_reads_a_mongodb_journal(tmp_path: Path) -> None:
    """On a MongoDB journal (mongomock) the pages render and the JSON equals the CLI's."""
    import json

    from click.testing import CliRunner

    from genjournal.cli import cli
    from tests.genjournal.web.conftest import make_client, write_plan

    db = f"mongomock://web-{tmp_path.name}"
    data = tmp_path / "data"

    def cli_json_in_process(*args: str) -> object:
        result = CliRunner().invoke(cli, [*args, "--db", db, "--data-dir", str(data)])
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    ran = CliRunner().invoke(
        cli,
        [
            "run",
            "--db",
            db,
            "--data-dir",
            str(data),
            "--plan",
            str(write_plan(tmp_path)),
            "--provider",
            "offline",
            "--limit",
            "2",
        ],
    )
    assert ran.exit_code == 0, ran.stderr
    with make_client(data, db_url=db) as local:
        assert local.get("/api/status").json() == cli_json_in_process("status", "--json")
        assert local.get("/api/history?limit=5").json() == cli_json_in_process(
            "history", "--limit", "5", "--json"
        )
        for path in ("/", "/styles/japandi", "/timeline", "/costs"):
            assert local.get(path).status_code == 200, path
        with local.stream("GET", "/events?after=0") as events:
            seen = ""
            for chunk in events.iter_text():
                seen += chunk
                if "RunFinished" in seen:
                    break
        ids = [int(ident) for ident in re.findall(r"^id: (\d+)$", seen, re.M)]
        assert ids == [event["position"] for event in local.get("/api/history").json()]
