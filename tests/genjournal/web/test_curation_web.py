"""The style page's "regenerate": a same-origin, CSRF-protected request that journals the CLI's event."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.genjournal.web.conftest import BASE_URL, genjournal, make_client, run_offline, write_plan

ORIGIN = {"origin": BASE_URL}


def _journal(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "data"
    plan = write_plan(tmp_path)
    done = run_offline(data, plan)
    assert done.returncode == 0, done.stderr
    return data, plan


def _csrf(page: str) -> str:
    found = re.search(r'<meta name="csrf" content="([^"]+)">', page)
    assert found is not None
    return found.group(1)


def _requests(data: Path) -> list[dict[str, object]]:
    done = genjournal("history", "--type", "StepRegenerationRequested", "--json", "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_regenerate_from_the_style_page_journals_the_request_and_the_next_run_does_it(tmp_path: Path) -> None:
    """A same-origin POST with the page's CSRF token marks the image; a run makes generation 2, shown as earlier."""
    data, plan = _journal(tmp_path)
    with make_client(data) as client:
        slug = "art-deco"
        page = client.get(f"/styles/{slug}")
        assert page.status_code == 200
        assert 'data-step="image:style:0"' in page.text
        before = client.get(f"/api/styles/{slug}").json()["images"][0]
        answer = client.post(
            f"/api/styles/{slug}/regenerate",
            json={"step": "image:style:0", "reason": "too dark"},
            headers={**ORIGIN, "x-genjournal-csrf": _csrf(page.text)},
        )
        assert answer.status_code == 201, answer.text
        assert answer.json()["count"] == 1
        assert "awaiting a new generation" in client.get(f"/styles/{slug}").text
    requests = _requests(data)
    assert [(r["step"], r["data"]["reason"], r["data"]["source"]) for r in requests] == [
        ("image:style:0", "too dark", "dashboard")
    ]
    assert run_offline(data, plan).returncode == 0
    with make_client(data) as client:
        after = client.get(f"/api/styles/{slug}").json()["images"][0]
        assert (after["generation"], before["generation"]) == (2, 1)
        assert after["sha256"] != before["sha256"]
        page = client.get(f"/styles/{slug}").text
        assert "1 earlier generation" in page
        assert f"/blobs/{before['sha256']}" in page
        assert "superseded: “too dark”" in page
        assert "generation 2: “too dark”" in client.get(f"/timeline?style={slug}").text


def test_regenerate_without_the_csrf_token_or_from_another_site_writes_nothing(tmp_path: Path) -> None:
    """The regenerate endpoint refuses a cross-site or token-less request with 403, journaling nothing."""
    data, _ = _journal(tmp_path)
    with make_client(data) as client:
        slug = "art-deco"
        body = {"step": "image:style:0", "reason": "too dark"}
        assert client.post(f"/api/styles/{slug}/regenerate", json=body, headers=ORIGIN).status_code == 403
        evil = {"origin": "http://evil.example", "x-genjournal-csrf": _csrf(client.get("/").text)}
        assert client.post(f"/api/styles/{slug}/regenerate", json=body, headers=evil).status_code == 403
    assert _requests(data) == []


def test_regenerate_refuses_a_bad_step_or_reason_with_400_and_writes_nothing(tmp_path: Path) -> None:
    """An unknown step, an empty reason or a reason holding an API key is a 400 naming the problem."""
    data, _ = _journal(tmp_path)
    with make_client(data) as client:
        headers = {**ORIGIN, "x-genjournal-csrf": _csrf(client.get("/").text)}
        for body, words in (
            ({"step": "image:style:99", "reason": "x"}, "no done step"),
            ({"step": "image:style:0", "reason": "  "}, "--reason"),
            ({"step": "image:style:0", "reason": "key sk-proj-abcdefghijklmnopqrstuvwx"}, "secret"),
            ({"step": 3, "reason": "x"}, "step"),
        ):
            answer = client.post("/api/styles/art-deco/regenerate", json=body, headers=headers)
            assert answer.status_code == 400, (body, answer.text)
            assert words in answer.json()["error"]
    assert _requests(data) == []
