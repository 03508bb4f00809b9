"""A real LiteLLM proxy in front of the fake OpenAI server, for gateway tests and recordings.

LiteLLM is not a dependency: it is installed in a virtualenv of its own (its pins clash
with ours) and found through ``GENJOURNAL_LITELLM`` (the path of its ``litellm``
command) or on ``PATH``. ``.ci/run`` installs it; ``scripts/record_gateway_replies.py``
and ``tests/generator/test_gateway_litellm.py`` use it.

The proxy forwards ``openai/<model>`` deployments to the fake server with the upstream
key below, and answers our client on the master key. Its own retries stay at its
defaults unless ``num_retries`` is given: the tests show what they cost.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

#: the key our client presents to the proxy (LiteLLM refuses to start without one)
MASTER_KEY = "sk-litellm-master-test"
#: the key the proxy presents upstream (to the fake server)
UPSTREAM_KEY = "sk-upstream-test"
ENV = "GENJOURNAL_LITELLM"


def find_litellm() -> str | None:
    """Returns the path of a ``litellm`` command, or None when none is installed."""
    named = os.environ.get(ENV)
    if named:
        return named if Path(named).is_file() else None
    return shutil.which("litellm")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiteLLMProxy:
    """Runs ``litellm --config`` on 127.0.0.1 in a subprocess, forwarding to ``upstream``."""

    def __init__(
        self,
        upstream_base_url: str,
        models: dict[str, dict[str, Any] | list[dict[str, Any]]],
        *,
        command: str | None = None,
        num_retries: int | None = None,
        router_settings: dict[str, Any] | None = None,
        startup_s: float = 120.0,
    ) -> None:
        found = command or find_litellm()
        if found is None:
            raise RuntimeError(f"no litellm command: install 'litellm[proxy]' and set {ENV}")
        self.command = found
        self.port = _free_port()
        self.startup_s = startup_s
        self._dir = Path(tempfile.mkdtemp(prefix="genjournal-litellm-"))
        model_list = [
            {
                "model_name": name,
                "litellm_params": {
                    "model": f"openai/{name}",
                    "api_base": upstream_base_url,
                    "api_key": UPSTREAM_KEY,
                    **params,
                },
            }
            for name, deployments in models.items()
            for params in (deployments if isinstance(deployments, list) else [deployments])
        ]
        config: dict[str, Any] = {
            "model_list": model_list,
            "general_settings": {"master_key": MASTER_KEY},
        }
        config["router_settings"] = dict(router_settings or {})
        if num_retries is not None:
            config["router_settings"]["num_retries"] = num_retries
            config["litellm_settings"] = {"num_retries": num_retries}
        # JSON is YAML: no YAML writer needed.
        (self._dir / "config.yaml").write_text(json.dumps(config), encoding="utf-8")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """Returns the URL to hand the OpenAI client as ``base_url``."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def log(self) -> str:
        """Returns what the proxy printed (for a failing test's message)."""
        path = self._dir / "proxy.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def start(self) -> LiteLLMProxy:
        """Starts the proxy and waits until it answers; raises RuntimeError if it never does."""
        env = {
            **os.environ,
            # No network beyond 127.0.0.1: keep the bundled cost map, send no telemetry.
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_TELEMETRY": "False",
        }
        env.pop("OPENAI_API_KEY", None)
        with (self._dir / "proxy.log").open("wb") as log:
            self._process = subprocess.Popen(
                [
                    *(self.command, "--config", str(self._dir / "config.yaml")),
                    *("--host", "127.0.0.1", "--port", str(self.port), "--num_workers", "1"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self._dir,
                env=env,
            )
        deadline = time.monotonic() + self.startup_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"litellm exited with {self._process.returncode}: {self.log[-2000:]}")
            try:
                url = f"http://127.0.0.1:{self.port}/health/liveliness"
                with urllib.request.urlopen(url, timeout=2):
                    return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"litellm did not answer within {self.startup_s:.0f} s: {self.log[-2000:]}")

    def stop(self) -> None:
        """Stops the proxy."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> LiteLLMProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
