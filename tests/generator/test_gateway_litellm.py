"""Through a real LiteLLM proxy: every guarantee of a direct run holds (issue 17).

The real ``genjournal run`` (a subprocess, the real ``openai`` client) talks to a real
LiteLLM proxy on 127.0.0.1, which forwards ``openai/…`` deployments to the fake server.
LiteLLM is not one of our dependencies: ``.ci/run`` installs it in a virtualenv of its
own and names it in ``GENJOURNAL_LITELLM``; without it these tests skip and say why.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.settings import DEFAULT_IMAGE_MODEL, DEFAULT_TEXT_MODEL
from genjournal.testing.fake_openai import FakeOpenAI
from genjournal.testing.litellm_proxy import ENV, MASTER_KEY, LiteLLMProxy, find_litellm
from tests.generator.test_run import journal_events, write_plan
from tests.generator.test_run_openai import ROOMS_PLAN, STEPS, run_cmd

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        find_litellm() is None,
        reason=f"no LiteLLM proxy installed (pip install 'litellm[proxy]' in its own venv; set {ENV})",
    ),
]

PAID = ("StyleCreated", "RoomGenerated", "ImageGenerated")


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    """The fake OpenAI server the proxy forwards to (shared: the proxy takes ~20 s to start)."""
    with FakeOpenAI(seed=5, text={"latency_ms": 20}, image={"latency_ms": 20}) as server:
        yield server


@pytest.fixture(scope="module")
def proxy(upstream: FakeOpenAI) -> Iterator[LiteLLMProxy]:
    """A LiteLLM proxy at its default settings (its own retries on) in front of the fake server."""
    with LiteLLMProxy(upstream.base_url, {DEFAULT_TEXT_MODEL: {}, DEFAULT_IMAGE_MODEL: {}}) as running:
        yield running


@pytest.fixture(autouse=True)
def clean(upstream: FakeOpenAI) -> None:
    """Every test starts with no faults upstream."""
    upstream.clear_faults()


def run_through(proxy: LiteLLMProxy, data: Path, plan: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Runs the plan through the proxy (the proxy's master key is the run's API key)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "GENJOURNAL_"))}
    env.update({"OPENAI_API_KEY": MASTER_KEY, "OPENAI_BASE_URL": proxy.base_url})
    return subprocess.run(run_cmd(data, plan, *extra), capture_output=True, text=True, timeout=300, env=env)


def test_a_run_through_the_proxy_journals_a_request_id_for_every_paid_step(
    tmp_path: Path, proxy: LiteLLMProxy
) -> None:
    """Every success event has `meta.request_id` and says where it was read; RunStarted names the gateway."""
    data, plan = tmp_path / "data", write_plan(tmp_path, ROOMS_PLAN)
    done = run_through(proxy, data, plan)
    assert done.returncode == 0, done.stderr + proxy.log[-3000:]
    events = journal_events(data)
    paid = [e for e in events if e["type"] in PAID]
    assert len(paid) == STEPS
    assert all(e["meta"]["request_id"] for e in paid)
    sources = {e["meta"]["request_id_source"] for e in paid}
    # Chat replies carry the upstream's id under LiteLLM's prefix; image replies only its call id.
    assert sources == {"llm_provider-x-request-id", "x-litellm-call-id"}
    started = next(e for e in events if e["type"] == "RunStarted")
    assert started["data"]["settings"]["gateway"] == "LiteLLM"
    warnings = [line for line in done.stderr.splitlines() if "gateway" in line and "warning" in line]
    assert len(warnings) == 1, done.stderr
    assert "router_settings.num_retries: 0" in warnings[0]
    assert MASTER_KEY not in done.stderr


def test_insufficient_quota_through_the_proxy_stops_the_run_at_once(
    tmp_path: Path, proxy: LiteLLMProxy, upstream: FakeOpenAI
) -> None:
    """LiteLLM rewrites the code to "429": the message still stops the run after the calls in flight."""
    upstream.set_endpoint("text", faults={"quota": 1.0})
    data, plan = tmp_path / "data", write_plan(tmp_path, ROOMS_PLAN)
    began = time.monotonic()
    done = run_through(proxy, data, plan, "--concurrency", "2")
    took = time.monotonic() - began
    assert done.returncode == 2, done.stderr
    assert "no credit left" in done.stderr.strip().splitlines()[-1]
    events = journal_events(data)
    attempts = [e for e in events if e["type"] == "StepStarted"]
    assert len(attempts) <= 2  # the calls in flight when the first refusal came back
    assert events[-1]["type"] == "RunFinished" and events[-1]["data"]["outcome"] == "aborted"
    assert took < 60  # no backoff: a direct run's 4 retries per step took 53 s through the gateway


def test_with_the_gateways_retries_off_every_upstream_request_is_a_journaled_attempt(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    """`num_retries: 0`: one upstream request per attempt, so the journal's attempts are the upstream's."""
    models = {DEFAULT_TEXT_MODEL: {}, DEFAULT_IMAGE_MODEL: {}}
    with LiteLLMProxy(upstream.base_url, models, num_retries=0) as quiet:
        upstream.add_rule("", "500", family="text", times=1)
        before = len(upstream.ledger())
        data, plan = tmp_path / "data", write_plan(tmp_path, ROOMS_PLAN)
        done = run_through(quiet, data, plan, "--concurrency", "1")
        assert done.returncode == 0, done.stderr
    events = journal_events(data)
    attempts = sum(e["meta"].get("attempts") or 0 for e in events if e["type"] in PAID)
    assert len(upstream.ledger()) - before == attempts  # nothing retried behind the journal
    retried = [e for e in events if e["type"] in PAID and (e["meta"].get("attempts") or 0) > 1]
    assert len(retried) == 1
