"""A real headless Chromium on a real `genjournal serve`: the grid agrees with `status --json`.

The browser is the distribution's ``chromium``, driven over the DevTools protocol on a
pipe (``tests/genjournal/web/chromium.py``); where it is not installed the test is skipped with
that reason (``.ci/run`` installs it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from genjournal.web.queries import money
from journal.backends.sqlite import SqliteEventStore
from journal.events import RoomFailed, RoomFailedData, StepError
from tests.genjournal.web.chromium import Chromium, Page, find_chromium
from tests.genjournal.web.conftest import Served, cli_json, genjournal, run_offline, write_plan

CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="chromium is not installed (apt-get install chromium); the browser test needs a real browser",
    ),
]

XSS = "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>"

#: counts the grid itself shows, derived from its cells and row badges (not from the summary)
GRID_COUNTS = """(() => {
  const cells = [...document.querySelectorAll('td.cell[data-cell]')];
  const parts = (el, attr) => (el.dataset[attr] || '').split(' ').filter(Boolean);
  const rooms = cells.filter(el => el.dataset.cell.includes('|room:'));
  const withImages = cells.filter(el => !el.dataset.cell.endsWith('|content'));
  const badges = [...document.querySelectorAll('[data-row-status]')].map(el => el.textContent);
  const count = (status) => badges.filter(b => b === status).length;
  return {
    styles: {complete: count('complete'), partial: count('partial'), basic: count('basic'),
             failed: count('failed'), missing: count('missing') + count('pending')},
    rooms_done: rooms.filter(el => parts(el, 'done').includes('room')).length,
    rooms_failed: rooms.filter(el => parts(el, 'failed').includes('room')).length,
    images_done: withImages
      .map(el => parts(el, 'done').filter(p => /^\\d+$/.test(p)).length)
      .reduce((a, b) => a + b, 0),
  };
})()"""

SUMMARY = (
    "Object.fromEntries([...document.querySelectorAll('[data-status]')]"
    ".map(el => [el.dataset.status, el.textContent]))"
)


@pytest.fixture
def browser() -> Iterator[Chromium]:
    """Yields a headless Chromium, closed at the end."""
    assert CHROMIUM is not None
    with Chromium.launch(CHROMIUM) as launched:
        yield launched


def expected_summary(status: dict[str, Any]) -> dict[str, str]:
    """Returns what the overview's summary must show for a `status --json` report."""
    shown = {"planned_styles": f"{status['planned_styles']:,}"}
    for section in ("styles", "rooms", "images"):
        for key, value in status[section].items():
            shown[f"{section}.{key}"] = f"{value:,}"
    for key in ("usd", "usd_priced", "crash_overhead_usd"):
        shown[f"spent.{key}"] = money(status["spent"][key])
    return shown


def assert_page_matches(page: Page, status: dict[str, Any]) -> None:
    """Checks the summary numbers and the grid's own counts against a `status --json` report."""
    assert page.evaluate(SUMMARY) == expected_summary(status)
    grid = page.evaluate(GRID_COUNTS)
    assert grid["styles"] == status["styles"]
    assert grid["rooms_done"] == status["rooms"]["done"]
    assert grid["rooms_failed"] == status["rooms"]["failed"]
    assert grid["images_done"] == status["images"]["done"]


def test_the_browser_grid_equals_status_and_updates_live(
    tmp_path: Path, serve: Callable[..., Served], browser: Chromium
) -> None:
    """The page's counts equal `status --json`; events appended while it is open show up on it."""
    plan = write_plan(tmp_path)
    data = tmp_path / "data"
    run_offline(data, plan, "--limit", "2")
    served = serve(data)
    page = browser.new_page(f"{served.url}/")
    page.wait_for("document.getElementById('live').dataset.state === 'open'")
    assert_page_matches(page, cli_json("status", "--data-dir", str(data)))
    assert (
        page.evaluate("document.querySelector('td.cell[data-cell=\"wabi-sabi|room:kitchen\"]').className")
        == "cell pending"
    )

    # Another process runs the missing style while the page is open.
    done = genjournal(
        "run",
        "--plan",
        str(plan),
        "--data-dir",
        str(data),
        "--subcategory",
        "wabi-sabi",
        "--provider",
        "offline",
    )
    assert done.returncode == 0, done.stderr
    page.wait_for(
        "document.querySelector('td.cell[data-cell=\"wabi-sabi|room:kitchen\"]').className === 'cell done'"
    )
    page.wait_for(
        "[...document.querySelectorAll('#feed li')]"
        ".some(li => li.textContent.includes('Room 1/2: Kitchen (Wabi-Sabi) — saved'))"
    )
    status = cli_json("status", "--data-dir", str(data))
    assert status["styles"]["complete"] == 3
    page.wait_for("document.querySelector('[data-status=\"styles.complete\"]').textContent === '3'")
    page.wait_for("document.body.dataset.statusPosition === document.body.dataset.lastEvent")
    assert_page_matches(page, status)
    assert (
        page.evaluate("document.querySelector('tr[data-slug=\"wabi-sabi\"] [data-row-status]').textContent")
        == "complete"
    )

    # A failure whose message is markup arrives: it is shown as text, and nothing runs.
    store = SqliteEventStore(data / "journal.db", create=False)
    try:
        [stored] = store.append(
            "style:wabi-sabi",
            [
                RoomFailed(
                    run_id="run-browser-test",
                    step="room:bedroom",
                    data=RoomFailedData(room_type="bedroom", error=StepError(kind="provider", message=XSS)),
                )
            ],
        )
    finally:
        store.close()
    line = page.wait_for(
        f"(document.querySelector('#feed li[data-position=\"{stored.position}\"]') || {{}}).textContent"
    )
    assert XSS in line
    assert page.evaluate("document.title") == "Overview · genjournal"
    assert page.evaluate("document.querySelectorAll('#feed img, #feed script').length") == 0


def test_the_style_page_renders_its_gallery(
    tmp_path: Path, serve: Callable[..., Served], browser: Chromium
) -> None:
    """A style page loads every image of its gallery from the blob store."""
    data = tmp_path / "data"
    run_offline(data, write_plan(tmp_path), "--limit", "1")
    served = serve(data)
    page = browser.new_page(f"{served.url}/styles/art-deco")
    doc = json.loads(page.evaluate("fetch('/api/styles/art-deco').then(r => r.text())"))
    images = page.wait_for(
        "(() => { const imgs = [...document.querySelectorAll('.gallery img')];"
        " imgs.forEach(img => img.scrollIntoView());"
        " return imgs.length && imgs.every(img => img.complete && img.naturalWidth > 0)"
        " && imgs.length; })()"
    )
    assert images == len(doc["images"]) + sum(len(room["images"]) for room in doc["roomProfiles"])


def test_regenerate_in_the_browser_journals_the_request_and_a_run_shows_the_new_image(
    tmp_path: Path, serve: Callable[..., Served], browser: Chromium
) -> None:
    """Typing a reason and clicking "Mark for regeneration" journals it; after a run the page shows generation 2."""
    data = tmp_path / "data"
    plan = write_plan(tmp_path)
    run_offline(data, plan, "--limit", "1")
    served = serve(data)
    page = browser.new_page(f"{served.url}/styles/art-deco")
    page.wait_for("document.querySelector('form.regen-form[data-step=\"image:style:0\"]') !== null")
    page.evaluate(
        "(() => { const form = document.querySelector('form.regen-form[data-step=\"image:style:0\"]');"
        " form.closest('details').open = true; form.elements.reason.value = 'too dark';"
        " form.querySelector('button').click(); })()"
    )
    said = page.wait_for(
        "(() => { const m = document.querySelector('form.regen-form[data-step=\"image:style:0\"] .regen-message');"
        " return m && m.textContent.startsWith('marked') && m.textContent; })()"
    )
    assert "marked 1 step" in said
    requests = cli_json("history", "--type", "StepRegenerationRequested", "--data-dir", str(data))
    assert [(r["step"], r["data"]["reason"], r["data"]["source"]) for r in requests] == [
        ("image:style:0", "too dark", "dashboard")
    ]
    run_offline(data, plan, "--limit", "1")
    page.goto(f"{served.url}/styles/art-deco")
    caption = page.wait_for(
        "(() => { const c = document.querySelector('.gallery li .caption');"
        " return c && c.textContent.includes('generation 2') && c.textContent; })()"
    )
    assert "generation 2" in caption
    assert (
        page.evaluate("document.querySelector('details.earlier summary').textContent")
        == "1 earlier generation"
    )
