"""Who may see the dashboard and who may start or stop a paid run; escaping; no secrets."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from genjournal.cli import cli
from genjournal.testing.fake_openai import FakeOpenAI
from genjournal.web.security import SESSION_COOKIE
from tests.genjournal.web.conftest import (
    BASE_URL,
    TOKEN,
    clean_env,
    genjournal,
    make_client,
    run_offline,
    wait_until,
    write_plan,
)

ORIGIN = {"origin": BASE_URL}


def csrf_of(client: TestClient) -> str:
    """Returns the CSRF token a dashboard page carries."""
    found = re.search(r'<meta name="csrf" content="([^"]+)">', client.get("/").text)
    assert found is not None
    return found.group(1)


# --- starting the server ----------------------------------------------------------------


def test_serve_refuses_a_non_loopback_address_without_a_token(tmp_path: Path) -> None:
    """Binding 0.0.0.0 without --token stops before anything opens: one line, exit 2."""
    result = CliRunner().invoke(
        cli,
        ["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path)],
        env={"GENJOURNAL_TOKEN": ""},
    )
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "--token" in lines[0]
    assert "0.0.0.0" in lines[0]


def test_serve_refuses_a_short_token(tmp_path: Path) -> None:
    """A token too short to protect anything is refused with exit 2."""
    result = CliRunner().invoke(cli, ["serve", "--token", "abc", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "at least" in result.stderr


def test_serve_refuses_a_missing_journal_without_creating_one(tmp_path: Path) -> None:
    """Serving a data dir with no journal is one line and exit 2, and creates nothing."""
    data = tmp_path / "nothing-here"
    result = CliRunner().invoke(cli, ["serve", "--port", "0", "--data-dir", str(data)])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert not data.exists()


def test_serve_refuses_a_port_in_use(journal_dir: Path) -> None:
    """A port another socket holds is one line and exit 2, not a traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = genjournal("serve", "--port", str(port), "--data-dir", str(journal_dir), timeout=30)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert f":{port}" in done.stderr


def test_genjournal_works_without_the_web_extra(tmp_path: Path) -> None:
    """The CLI imports no web package until `serve` runs, so it works without the web extra."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('starlette', 'uvicorn', 'jinja2'):\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "sys.argv = ['genjournal', *sys.argv[1:]]\n"
        "from genjournal.cli import main\n"
        "main()\n"
    )
    data = str(tmp_path / "d")

    def without_web(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", code, *args],
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=60,
        )

    plan = write_plan(tmp_path)
    assert without_web("run", "--plan", str(plan), "--data-dir", data, "--limit", "1").returncode == 0
    assert without_web("status", "--data-dir", data).returncode == 0
    assert without_web("--help").returncode == 0
    done = without_web("serve", "--data-dir", data)
    assert done.returncode == 2
    assert "genjournal[web]" in done.stderr
    assert "Traceback" not in done.stderr


# --- token and host -------------------------------------------------------------------------


@pytest.fixture
def guarded(journal_dir: Path) -> Iterator[TestClient]:
    """Yields a client on a dashboard that needs the token."""
    with make_client(journal_dir, token=TOKEN) as test_client:
        yield test_client


@pytest.mark.parametrize(
    "path", ["/", "/api/status", "/events", "/styles/art-deco", "/static/dashboard.js", "/timeline"]
)
def test_with_a_token_every_request_without_it_is_401(guarded: TestClient, path: str) -> None:
    """With --token, a request carrying no token gets a 401 and no data."""
    response = guarded.get(path)
    assert response.status_code == 401
    assert "planned_styles" not in response.text


def test_bearer_token_grants_access(guarded: TestClient) -> None:
    """An Authorization: Bearer header with the token is let in; a wrong one is not."""
    assert guarded.get("/api/status", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert (
        guarded.get("/api/status", headers={"authorization": "Bearer wrong-token-123456"}).status_code == 401
    )


def test_token_login_sets_a_cookie_and_drops_the_token_from_the_url(guarded: TestClient) -> None:
    """?token= answers 303 to the URL without it and sets an HttpOnly, SameSite=Strict cookie."""
    response = guarded.get(f"/timeline?style=japandi&token={TOKEN}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/timeline?style=japandi"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert TOKEN not in cookie
    assert guarded.get("/api/status").status_code == 200  # the client kept the cookie
    assert guarded.get(f"/?token=wrong-{TOKEN}", follow_redirects=False).status_code == 401


def test_a_forged_cookie_is_refused(guarded: TestClient) -> None:
    """A session cookie holding the raw token (or anything but its hash) is refused."""
    guarded.cookies.set(SESSION_COOKIE, TOKEN)
    assert guarded.get("/api/status").status_code == 401


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "10.0.0.1:8765"])
def test_a_loopback_server_refuses_foreign_host_headers(client: TestClient, host: str) -> None:
    """A request whose Host is not a loopback name (DNS rebinding) is refused with a 403."""
    assert client.get("/api/status", headers={"host": host}).status_code == 403


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:8765", "[::1]:8765"])
def test_a_loopback_server_answers_loopback_host_headers(client: TestClient, host: str) -> None:
    """Requests addressed to 127.0.0.1, localhost or ::1 are served."""
    assert client.get("/api/status", headers={"host": host}).status_code == 200


def test_a_token_protected_public_server_accepts_any_host(journal_dir: Path) -> None:
    """Bound to 0.0.0.0 with a token, the Host header is not checked (the token is)."""
    with make_client(
        journal_dir, token=TOKEN, host="0.0.0.0", base_url="http://dashboard.lan:8765"
    ) as public:
        assert public.get("/api/status", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert public.get("/api/status").status_code == 401


# --- run control --------------------------------------------------------------------------------


@pytest.fixture
def fresh_journal(tmp_path: Path) -> Path:
    """Returns a data dir with one finished offline run of the small plan (one style done)."""
    data = tmp_path / "data"
    run_offline(data, write_plan(tmp_path), "--limit", "1")
    return data


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "same-origin"),
        ({"origin": "http://evil.example"}, "same-origin"),
        ({"referer": "http://evil.example/page"}, "same-origin"),
        ({"origin": BASE_URL}, "CSRF"),
        ({"origin": BASE_URL, "x-genjournal-csrf": "not-the-token"}, "CSRF"),
    ],
)
def test_run_control_needs_same_origin_and_the_csrf_token(
    fresh_journal: Path, headers: dict[str, str], reason: str
) -> None:
    """Run control without a same-origin request and the page's CSRF token is a 403."""
    with make_client(fresh_journal) as local:
        for path in ("/api/runs", "/api/runs/stop"):
            response = local.post(path, json={"limit": 1}, headers=headers)
            assert response.status_code == 403, path
            assert reason in response.json()["error"]
        assert local.get("/api/runs").json()["last_started_here"] is None


def test_run_control_is_post_only(client: TestClient) -> None:
    """A GET cannot start or stop a run."""
    assert client.get("/api/runs/stop").status_code == 405


@pytest.mark.slow
def test_start_a_run_from_the_page_runs_genjournal_run(fresh_journal: Path) -> None:
    """A same-origin POST with the CSRF token starts a normal `genjournal run` that journals."""
    with make_client(fresh_journal) as local:
        before = local.get("/api/status").json()
        answer = local.post(
            "/api/runs",
            json={"limit": 1, "subcategories": ["wabi-sabi"]},
            headers={**ORIGIN, "x-genjournal-csrf": csrf_of(local)},
        )
        assert answer.status_code == 202, answer.text
        assert (
            answer.json()["command"]
            == "genjournal run --plan <the journal's plan> --limit 1 --subcategory wabi-sabi"
        )
        finished = wait_until(
            lambda: (r := local.get("/api/runs").json())["last_started_here"]["exit_code"] is not None and r
        )
        assert finished["last_started_here"]["exit_code"] == 0, finished
        after = local.get("/api/status").json()
    assert after["styles"]["complete"] == before["styles"]["complete"] + 1
    assert "wabi-sabi" not in after["incomplete"]
    assert after["runs"] == before["runs"] + 1


def test_start_refuses_a_subcategory_outside_the_plan(fresh_journal: Path) -> None:
    """A start request naming a style the plan does not have is a 400, and nothing starts."""
    with make_client(fresh_journal) as local:
        headers = {**ORIGIN, "x-genjournal-csrf": csrf_of(local)}
        response = local.post("/api/runs", json={"subcategories": ["no-such-style"]}, headers=headers)
        assert response.status_code == 400
        bad = local.post("/api/runs", json={"limit": "many"}, headers=headers)
        assert bad.status_code == 400
        assert "limit" in bad.json()["error"]
        assert local.get("/api/runs").json()["last_started_here"] is None


@pytest.mark.slow
def test_stop_sends_sigterm_and_the_run_stops_cleanly(
    fresh_journal: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stop sends SIGTERM: the run finishes in-flight steps, records `interrupted`, exits 130."""
    monkeypatch.setenv("GENJOURNAL_FAILPOINTS", "step-before-call=sleep:0.05")
    with make_client(fresh_journal) as local:
        headers = {**ORIGIN, "x-genjournal-csrf": csrf_of(local)}
        assert local.post("/api/runs", json={}, headers=headers).status_code == 202
        wait_until(lambda: local.get("/api/runs").json()["active"])
        wait_until(lambda: local.get("/api/status").json()["rooms"]["done"] > 2)
        stopped = local.post("/api/runs/stop", json={}, headers=headers)
        assert stopped.status_code == 202, stopped.text
        finished = wait_until(
            lambda: (r := local.get("/api/runs").json())["last_started_here"]["exit_code"] is not None and r
        )
        assert finished["last_started_here"]["exit_code"] == 130
        assert finished["active"] is None
        last = local.get("/api/status").json()["last_run"]
        assert last["state"] == "finished"
        assert last["outcome"] == "interrupted"
        assert local.post("/api/runs/stop", json={}, headers=headers).status_code == 409


def test_bearer_token_holders_may_control_runs_without_csrf(fresh_journal: Path) -> None:
    """With --token, a same-origin Authorization: Bearer request passes the control check."""
    with make_client(fresh_journal, token=TOKEN) as local:
        auth = {"authorization": f"Bearer {TOKEN}", **ORIGIN}
        response = local.post("/api/runs/stop", json={}, headers=auth)
        assert response.status_code == 409  # allowed through; there is simply no run to stop
        local.cookies.clear()
        assert local.get(f"/?token={TOKEN}").status_code == 200
        assert local.post("/api/runs/stop", json={}, headers=ORIGIN).status_code == 403


# --- what the model wrote, and secrets ------------------------------------------------------

XSS_NAME = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"
XSS_PLAN = f"""
languages = ["en"]
images_per_style = 1
images_per_room = 1

[[subcategories]]
slug = "xss-deco"
name = "{XSS_NAME}"

[[room_types]]
slug = "kitchen"
name = "Kitchen <b>bold</b>"
"""
API_KEY = "sk-test-web-0123456789abcdefSECRET"


@pytest.fixture(scope="module")
def model_journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Returns a data dir journaled through the fake OpenAI server from a plan named in markup."""
    root = tmp_path_factory.mktemp("xss")
    plan = write_plan(root, XSS_PLAN)
    with FakeOpenAI(seed=11) as server:
        env = clean_env(OPENAI_API_KEY=API_KEY, OPENAI_BASE_URL=server.base_url)
        done = genjournal(
            "run",
            "--provider",
            "openai",
            "--plan",
            str(plan),
            "--data-dir",
            str(root / "data"),
            env=env,
        )
    assert done.returncode == 0, done.stderr
    return root / "data"


def test_markup_the_model_wrote_is_escaped_on_every_page(model_journal: Path) -> None:
    """`<script>` that came back from the (fake) model is text on the pages, never markup."""
    with make_client(model_journal) as local:
        doc = local.get("/api/styles/xss-deco").json()
        assert "<script>" in doc["name"]["en"]  # the model really wrote it
        assert "<script>" in doc["content"]["en"]["poetic"]
        for path in ("/", "/styles/xss-deco", "/timeline", "/costs?by=style"):
            page = local.get(path).text
            assert "<script>document" not in page, path
            assert "<img src=x" not in page, path
            assert "<b>bold</b>" not in page, path
        page = local.get("/styles/xss-deco").text
        assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;" in page
        assert re.findall(r"<script\b[^>]*>", page) == ['<script src="/static/dashboard.js" defer>']


def test_no_secret_reaches_a_page_or_an_api_response(
    model_journal: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither the API key the runs used nor the access token appears in any page or JSON answer."""
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    with make_client(model_journal, token=TOKEN) as local:
        assert local.get(f"/?token={TOKEN}").status_code == 200
        bodies = [
            local.get(path).text
            for path in (
                "/",
                "/styles/xss-deco",
                "/timeline",
                "/costs",
                "/costs?by=run",
                "/api/status",
                "/api/styles/xss-deco",
                "/api/history",
                "/api/costs",
                "/api/runs",
                "/no-such-page",
            )
        ]
        with local.stream("GET", "/events?after=0") as events:
            chunks = []
            for chunk in events.iter_text():
                chunks.append(chunk)
                if "RunFinished" in "".join(chunks):
                    break
        bodies.append("".join(chunks))
    assert "RunFinished" in bodies[-1]
    for body in bodies:
        assert API_KEY not in body
        assert API_KEY[8:] not in body
        assert TOKEN not in body
