"""A headless Chromium driven over the DevTools protocol on a pipe: stdlib only.

Chromium's ``--remote-debugging-pipe`` reads protocol messages on fd 3 and writes its
answers on fd 4, each a JSON object ended by a NUL byte, so no websocket client (and no
Playwright download) is needed. Only the distribution's ``chromium`` binary is used.

    with Chromium.launch() as browser:
        page = browser.new_page("http://127.0.0.1:8765/")
        page.wait_for("document.readyState === 'complete'")
        print(page.evaluate("document.title"))
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
)


def find_chromium() -> str | None:
    """Returns the path of a Chromium binary from the distribution, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


class ProtocolError(RuntimeError):
    """The browser answered a command with an error."""


class Chromium:
    """One headless browser process and its protocol connection."""

    def __init__(
        self, process: subprocess.Popen[bytes], to_browser: int, from_browser: int, profile: str
    ) -> None:
        self.process = process
        self._out = to_browser
        self._in = from_browser
        self._profile = profile
        self._next_id = 0
        self._lock = threading.Lock()
        self._answers: dict[int, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self.events: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, name="chromium-reader", daemon=True)
        self._reader.start()

    @classmethod
    def launch(cls, executable: str | None = None, *, window: tuple[int, int] = (1400, 1000)) -> Chromium:
        """Starts a fresh headless Chromium with a throwaway profile."""
        binary = executable or find_chromium()
        if binary is None:
            raise FileNotFoundError("no chromium binary on PATH")
        profile = tempfile.mkdtemp(prefix="genjournal-chromium-")
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        # Move the child's ends above 10 so the shell's 3<& / 4>& cannot clobber them.
        child_in = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
        child_out = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
        os.close(to_browser_r)
        os.close(from_browser_w)
        args = [
            binary,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={window[0]},{window[1]}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        process = subprocess.Popen(
            [
                shutil.which("bash") or "/bin/bash",
                "-c",
                f'exec "$@" 3<&{child_in} 4>&{child_out} {child_in}<&- {child_out}>&-',
                "bash",
                *args,
            ],
            pass_fds=(child_in, child_out),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(child_in)
        os.close(child_out)
        return cls(process, to_browser_w, from_browser_r, profile)

    # --- the pipe ----------------------------------------------------------------------

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._in, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._answers[-1] = {"error": {"message": "the browser closed the pipe"}}
                    self._cond.notify_all()
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                with self._cond:
                    if "id" in message:
                        self._answers[message["id"]] = message
                    else:
                        self.events.append(message)
                    self._cond.notify_all()

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session: str | None = None,
        timeout: float = 15.0,
    ) -> dict[str, Any]:
        """Sends one protocol command and returns its result (raises ProtocolError on an error)."""
        with self._lock:
            self._next_id += 1
            ident = self._next_id
            message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
            if session is not None:
                message["sessionId"] = session
            os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self._cond:
            while ident not in self._answers:
                if -1 in self._answers:
                    raise ProtocolError(self._answers[-1]["error"]["message"])
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no answer to {method} within {timeout} s")
                self._cond.wait(left)
            answer = self._answers.pop(ident)
        if "error" in answer:
            raise ProtocolError(f"{method}: {answer['error'].get('message')}")
        result: dict[str, Any] = answer.get("result", {})
        return result

    # --- pages -------------------------------------------------------------------------

    def new_page(self, url: str, *, width: int = 1400, height: int = 1000) -> Page:
        """Opens a tab, attaches to it, navigates to ``url`` and waits for the load."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        self.send("Runtime.enable", session=session)
        self.send("Page.enable", session=session)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        page.goto(url)
        return page

    def close(self) -> None:
        """Closes the browser and removes its profile."""
        with contextlib.suppress(ProtocolError, TimeoutError, OSError):
            self.send("Browser.close", timeout=5)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._out, self._in):
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Page:
    """One tab: navigate, evaluate JavaScript, wait for a condition, take a screenshot."""

    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser = browser
        self.session = session

    def send(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float = 15.0
    ) -> dict[str, Any]:
        """Sends a command to this tab."""
        return self.browser.send(method, params, session=self.session, timeout=timeout)

    def goto(self, url: str, *, timeout: float = 15.0) -> None:
        """Navigates and waits until the document has loaded."""
        self.send("Page.navigate", {"url": url})
        self.wait_for(
            "document.readyState === 'complete' && location.href !== 'about:blank'", timeout=timeout
        )

    def evaluate(self, expression: str, *, timeout: float = 15.0) -> Any:
        """Evaluates a JavaScript expression in the page and returns its value."""
        answer = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            timeout=timeout,
        )
        if "exceptionDetails" in answer:
            details = answer["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise ProtocolError(f"JavaScript error: {text}")
        return answer["result"].get("value")

    def wait_for(self, expression: str, *, timeout: float = 15.0, interval: float = 0.05) -> Any:
        """Polls a JavaScript expression until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"still falsy after {timeout} s: {expression}")
            time.sleep(interval)

    def screenshot(self, path: Path, *, full_page: bool = False) -> None:
        """Saves a PNG of the viewport (or of the whole page)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
            )
            params["clip"] = {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}
            params["captureBeyondViewport"] = True
        data = self.send("Page.captureScreenshot", params, timeout=30)["data"]
        Path(path).write_bytes(base64.b64decode(data))
