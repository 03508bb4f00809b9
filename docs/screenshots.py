"""Regenerates the README's dashboard screenshots with the distribution's headless Chromium.

    .venv/bin/python docs/screenshots.py

It builds a journal the way a real batch grows one: three styles from the offline
provider, two more through the fake OpenAI server (where every bathroom fails), then a
run in the background against a slow fake server, so the overview shows done, failed,
running and pending cells and a live feed. It serves that journal with
``genjournal serve``, photographs the overview and a style page, and stops everything.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from genjournal.testing.fake_openai import FakeOpenAI  # noqa: E402
from tests.genjournal.web.chromium import Chromium  # noqa: E402

KEY = "sk-docs-000000000000000000000000"


def env(**extra: str) -> dict[str, str]:
    """Returns a clean environment for the child processes."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "GENJOURNAL_"))}
    base.update(extra)
    return base


def genjournal(*args: str, environ: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Starts a `genjournal` subprocess."""
    return subprocess.Popen(
        [sys.executable, "-m", "genjournal", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=environ or env(),
    )


def main() -> int:
    """Builds the journal, serves it and saves the two screenshots under docs/."""
    data = Path(tempfile.mkdtemp(prefix="genjournal-docs-")) / "data"
    assert genjournal("run", "--data-dir", str(data), "--provider", "offline", "--limit", "3").wait() == 0
    with FakeOpenAI(seed=5, rules=[{"match": "bathroom", "fault": "500"}], image_px=256) as server:
        api = env(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=server.base_url)
        common = ("--data-dir", str(data), "--provider", "openai", "--max-attempts", "1")
        finished = genjournal("run", *common, "--limit", "2", "--concurrency", "8", environ=api)
        assert finished.wait() in (0, 1)
        server.set_endpoint("text", latency_ms=1800, jitter_ms=600)
        server.set_endpoint("image", latency_ms=2500, jitter_ms=800)
        background = genjournal("run", *common, "--limit", "4", "--concurrency", "6", environ=api)
        served = genjournal("serve", "--data-dir", str(data), "--port", "0")
        assert served.stderr is not None
        found = re.search(rb"on (http://\S+)/", served.stderr.readline())
        assert found is not None, "serve did not start"
        url = found.group(1).decode()
        try:
            with Chromium.launch(window=(1440, 1300)) as browser:
                time.sleep(4)
                page = browser.new_page(f"{url}/", width=1440, height=1300)
                page.wait_for("document.getElementById('live').dataset.state === 'open'")
                page.wait_for("document.querySelectorAll('#feed li').length >= 12", timeout=60)
                page.wait_for("document.querySelectorAll('td.cell.running').length > 0", timeout=30)
                page.screenshot(ROOT / "docs" / "dashboard-overview.png")
                style = browser.new_page(f"{url}/styles/art-deco", width=1440, height=1500)
                style.wait_for(
                    "[...document.querySelectorAll('.gallery img')].slice(0, 9)"
                    ".every(img => img.complete && img.naturalWidth > 0)"
                )
                style.screenshot(ROOT / "docs" / "dashboard-style.png")
        finally:
            background.send_signal(signal.SIGTERM)
            background.wait()
            served.send_signal(signal.SIGTERM)
            served.wait()
    print("wrote docs/dashboard-overview.png and docs/dashboard-style.png", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
