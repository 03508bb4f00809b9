"""`genjournal run --batch` and `genjournal batches` against the fake server behind a Batch API.

Real processes, the real ``openai`` client, the fake on 127.0.0.1 with its own Files +
Batch API (each line runs through the live endpoints' answer logic, and the ledger bills
it as the live call would be billed). Every test proves billing stays exactly once per step whatever happens.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

import pytest

from genjournal.testing.fake_openai import FakeOpenAI
from projector.prices import BATCH_PRICE_FACTOR, load_prices
from tests.generator.test_run import journal_events, successes, write_plan
from tests.genjournal.web.conftest import make_client

pytestmark = pytest.mark.slow

KEY = "sk-test-batchsuite-0123456789abcdefABCD"

PLAN = """
languages = ["en"]
images_per_style = 1
images_per_room = 1

[[subcategories]]
slug = "art-deco"
name = "Art Deco"

[[subcategories]]
slug = "japandi"
name = "Japandi"

[[room_types]]
slug = "kitchen"
name = "Kitchen"

[[room_types]]
slug = "bedroom"
name = "Bedroom"
"""
STEPS = 2 * (1 + 1 + 2 * 2)


class FakeBatches:
    """The fake server's own Files + Batch API, with the shim's test handles."""

    def __init__(self, fake: FakeOpenAI) -> None:
        self.fake = fake
        self.base_url = fake.base_url
        self._hold = False

    @property
    def hold(self) -> bool:
        """Whether batches stay in_progress, no line run."""
        return self._hold

    @hold.setter
    def hold(self, value: bool) -> None:
        self._hold = value
        self.fake.configure({"batch": {"hold": value}})


@pytest.fixture
def shim() -> Iterator[FakeBatches]:
    """The fake server with its Files + Batch API, and the tests' handles on it."""
    with FakeOpenAI(seed=7) as fake:
        yield FakeBatches(fake)


def gj(shim: FakeBatches, *args: str, failpoint: str | None = None) -> subprocess.CompletedProcess[str]:
    """Runs one genjournal command against the shim."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "GENJOURNAL_"))}
    env.update({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": shim.base_url})
    if failpoint is not None:
        env["GENJOURNAL_FAILPOINTS"] = failpoint
    return subprocess.run(
        [sys.executable, "-m", "genjournal", *args], capture_output=True, text=True, timeout=180, env=env
    )


def run_batch(shim: FakeBatches, data: Path, plan: Path, *extra: str, failpoint: str | None = None):  # type: ignore[no-untyped-def]
    """Runs ``run --batch`` on the plan."""
    return gj(
        shim,
        "run",
        "--provider",
        "openai",
        "--plan",
        str(plan),
        "--data-dir",
        str(data),
        "--max-attempts",
        "3",
        *extra,
        failpoint=failpoint,
    )


def billed(shim: FakeBatches) -> Counter[str]:
    """Counts the fake's billable requests per ``<stream>/<step>``."""
    return Counter(e.step for e in shim.fake.ledger() if e.billable and e.step)


def of_type(data: Path, name: str) -> list[dict[str, object]]:
    """Returns the journal's events of one type."""
    return [e for e in journal_events(data) if e["type"] == name]


def assert_complete_once(shim: FakeBatches, data: Path) -> None:
    """Every planned step has one success, was billed exactly once, and verify is clean."""
    done = successes(journal_events(data))
    assert len(done) == len(set(done)) == STEPS
    counts = billed(shim)
    assert len(counts) == STEPS and set(counts.values()) == {1}, counts
    verify = gj(shim, "verify", "--data-dir", str(data))
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_batch_run_completes_in_three_waves_billing_each_step_once(shim: FakeBatches, tmp_path: Path) -> None:
    """A 2×2×1 plan completes through batches in dependency waves; rebuild equals the live projection; re-runs bill nothing."""
    data, plan = tmp_path / "data", write_plan(tmp_path, PLAN)
    first = run_batch(shim, data, plan, "--batch")
    assert first.returncode == 0, first.stderr
    assert_complete_once(shim, data)
    submitted = of_type(data, "BatchSubmitted")
    assert sorted({e["data"]["wave"] for e in submitted}) == [1, 2, 3]  # type: ignore[index]
    assert all(e["stream"] == f"batch:{e['data']['batch_id']}" for e in submitted)  # type: ignore[index]
    assert len(of_type(data, "BatchFinished")) == len(submitted)
    metas = [
        e["meta"]
        for e in journal_events(data)
        if e["type"] in ("StyleCreated", "RoomGenerated", "ImageGenerated")
    ]
    assert all(m["batch_id"] and m["batch_line"] for m in metas)  # type: ignore[index]
    live_projection = gj(shim, "export", "--data-dir", str(data)).stdout
    assert gj(shim, "rebuild", "--data-dir", str(data)).returncode == 0
    assert gj(shim, "export", "--data-dir", str(data)).stdout == live_projection
    status = json.loads(gj(shim, "status", "--json", "--data-dir", str(data)).stdout)
    assert status["styles"]["complete"] == 2 and status["batches"]["open"] == 0
    assert status["batches"]["finished"] == len(submitted)
    before = sum(billed(shim).values())
    for extra in (("--batch",), ()):
        again = run_batch(shim, data, plan, *extra)
        assert again.returncode == 0, again.stderr
    assert sum(billed(shim).values()) == before


def test_batch_lines_send_the_same_requests_as_the_live_run(tmp_path: Path) -> None:
    """Batch lines carry the live provider's request bodies: same prompts and parameters per step."""
    plan = write_plan(tmp_path, PLAN)
    seen = {}
    for mode in ("live", "batch"):
        with FakeOpenAI(seed=11) as fake, nullcontext(FakeBatches(fake)) as shim:
            result = run_batch(shim, tmp_path / mode, plan, *(("--batch",) if mode == "batch" else ()))
            assert result.returncode == 0, result.stderr
            seen[mode] = {(e.step, e.model, e.params, e.prompt) for e in fake.ledger() if e.billable}
    assert len(seen["live"]) == STEPS
    assert seen["batch"] == seen["live"]


def test_costs_price_batch_results_at_half_and_show_the_saving(tmp_path: Path) -> None:
    """The same plan costs half through batches, and `costs` says how much the batch saved."""
    plan = write_plan(tmp_path, PLAN)
    totals = {}
    for mode in ("live", "batch"):
        with FakeOpenAI(seed=11) as fake, nullcontext(FakeBatches(fake)) as shim:
            result = run_batch(shim, tmp_path / mode, plan, *(("--batch",) if mode == "batch" else ()))
            assert result.returncode == 0, result.stderr
            costs = gj(shim, "costs", "--json", "--data-dir", str(tmp_path / mode))
            totals[mode] = json.loads(costs.stdout)["total"]
    assert totals["live"]["usd"] > 0 and totals["live"]["batch_saved_usd"] == 0
    assert totals["batch"]["usd"] == pytest.approx(totals["live"]["usd"] * BATCH_PRICE_FACTOR, abs=2e-6)
    assert totals["batch"]["batch_saved_usd"] == pytest.approx(totals["batch"]["usd"], abs=2e-6)


@pytest.mark.parametrize(
    "point", ["batch-after-upload", "batch-after-create", "batch-while-polling", "batch-mid-download"]
)
def test_sigkill_at_each_batch_point_then_rerun_bills_every_step_exactly_once(
    shim: FakeBatches, tmp_path: Path, point: str
) -> None:
    """Dying at a batch kill point (upload, create, poll, download) loses nothing and pays nothing twice on re-run."""
    data, plan = tmp_path / "data", write_plan(tmp_path, PLAN)
    died = run_batch(shim, data, plan, "--batch", failpoint=f"{point}=exit@1")
    assert died.returncode == 77, died.stderr
    assert f"failpoint {point} hit" in died.stderr
    again = run_batch(shim, data, plan, "--batch")
    assert again.returncode == 0, again.stderr
    assert_complete_once(shim, data)
    adopted = [e for e in of_type(data, "BatchSubmitted") if e["data"]["adopted"]]  # type: ignore[index]
    assert len(adopted) == (1 if point == "batch-after-create" else 0)
    if point == "batch-mid-download":  # the line journaled before the kill is skipped, not journaled twice
        assert sum(e["data"]["skipped"] for e in of_type(data, "BatchFinished")) >= 1  # type: ignore[index,misc]


def test_expired_batch_keeps_its_completed_lines_and_retries_the_rest(
    shim: FakeBatches, tmp_path: Path
) -> None:
    """An expired batch's answered lines are saved, the rest become failure events and are retried in the next wave."""
    data, plan = tmp_path / "data", write_plan(tmp_path, PLAN)
    # The fake expires by time: about one line runs before the window closes.
    shim.fake.configure({"batch": {"validate_s": 0.05, "line_s": 0.5, "expire_after_s": 0.8}})
    result = run_batch(shim, data, plan, "--batch", "--max-attempts", "8")
    assert result.returncode == 0, result.stderr
    assert_complete_once(shim, data)
    finished = of_type(data, "BatchFinished")
    expired = [e for e in finished if e["data"]["status"] == "expired"]  # type: ignore[index]
    assert expired
    partial = [e for e in expired if e["data"]["succeeded"] and e["data"]["failed"]]  # type: ignore[index]
    assert partial, [e["data"] for e in finished]
    failures = [e for e in journal_events(data) if e["type"].endswith("Failed")]  # type: ignore[union-attr]
    assert failures and all("expired" in e["data"]["error"]["message"] for e in failures)  # type: ignore[index]
    assert all(e["meta"]["batch_id"] for e in failures)  # type: ignore[index]


def test_batches_cancel_ends_open_batches_and_a_later_run_completes(
    shim: FakeBatches, tmp_path: Path
) -> None:
    """`genjournal batches --cancel` cancels the open batch, journals its steps as failed; the next run completes the plan."""
    data, plan = tmp_path / "data", write_plan(tmp_path, PLAN)
    shim.hold = True
    detached = run_batch(shim, data, plan, "--batch", "--detach")
    assert detached.returncode == 0, detached.stderr
    assert "left running" in detached.stderr
    cancelled = gj(shim, "batches", "--cancel", "--json", "--data-dir", str(data))
    assert cancelled.returncode == 0, cancelled.stderr
    report = json.loads(cancelled.stdout)
    assert len(report["cancelled"]) == 1 and report["collected"] == report["cancelled"]
    assert [b["status"] for b in report["batches"]] == ["cancelled"]
    assert len(of_type(data, "StyleFailed")) == 2
    assert billed(shim) == Counter()
    shim.hold = False
    done = run_batch(shim, data, plan, "--batch")
    assert done.returncode == 0, done.stderr
    assert_complete_once(shim, data)


def test_a_second_process_adopts_a_batch_the_first_submitted_but_never_journaled(
    shim: FakeBatches, tmp_path: Path
) -> None:
    """After a kill between batches.create and its event, `genjournal batches` adopts the batch from its metadata."""
    data, plan = tmp_path / "data", write_plan(tmp_path, PLAN)
    shim.hold = True
    died = run_batch(shim, data, plan, "--batch", failpoint="batch-after-create=exit@1")
    assert died.returncode == 77
    assert of_type(data, "BatchSubmitted") == []
    listed = gj(shim, "batches", "--json", "--data-dir", str(data))
    assert listed.returncode == 0, listed.stderr
    report = json.loads(listed.stdout)
    [batch_id] = report["adopted"]
    [adopted] = of_type(data, "BatchSubmitted")
    assert adopted["data"]["adopted"] is True and adopted["data"]["batch_id"] == batch_id  # type: ignore[index]
    assert sorted(s[1] for s in adopted["data"]["steps"]) == ["content", "content"]  # type: ignore[index]
    assert report["batches"][0]["state"] == "open"
    shim.hold = False
    done = run_batch(shim, data, plan, "--batch")
    assert done.returncode == 0, done.stderr
    assert_complete_once(shim, data)


def test_detach_then_genjournal_batches_collects_the_finished_batch(
    shim: FakeBatches, tmp_path: Path
) -> None:
    """`run --batch --detach` returns with the batch running (status and dashboard show it); `batches` collects it."""
    data, plan = tmp_path / "data", write_plan(tmp_path, PLAN)
    shim.hold = True
    detached = run_batch(shim, data, plan, "--batch", "--detach")
    assert detached.returncode == 0, detached.stderr
    status = json.loads(gj(shim, "status", "--json", "--data-dir", str(data)).stdout)
    assert status["batches"]["open"] == 1 and status["batches"]["steps_in_open"] == 2
    with make_client(data) as client:  # the dashboard shows the open batch
        assert "Batches: 1 open (2 steps in flight)" in client.get("/").text
    shim.hold = False
    collected = gj(shim, "batches", "--json", "--data-dir", str(data))
    assert collected.returncode == 0, collected.stderr
    assert len(json.loads(collected.stdout)["collected"]) == 1
    assert len(of_type(data, "StyleCreated")) == 2
    done = run_batch(shim, data, plan, "--batch")
    assert done.returncode == 0, done.stderr
    assert_complete_once(shim, data)


def test_a_live_run_leaves_open_batch_steps_alone_then_collects_them(
    shim: FakeBatches, tmp_path: Path
) -> None:
    """A live run skips steps in an open batch (and says so); once it finished, a live run collects it and completes."""
    data, plan = tmp_path / "data", write_plan(tmp_path, PLAN)
    shim.hold = True
    assert run_batch(shim, data, plan, "--batch", "--detach").returncode == 0
    live = run_batch(shim, data, plan)
    assert "in open batches" in live.stderr
    assert billed(shim) == Counter()  # every other step waits on the contents in the batch
    shim.hold = False
    done = run_batch(shim, data, plan)
    assert done.returncode == 0, done.stderr
    assert_complete_once(shim, data)
    assert len(of_type(data, "BatchFinished")) == 1


def test_batch_with_the_offline_provider_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    """`run --batch --provider offline`: one line, exit 2, no data dir."""
    plan = write_plan(tmp_path, PLAN)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "genjournal",
            "run",
            "--batch",
            "--provider",
            "offline",
            "--plan",
            str(plan),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "--batch" in result.stderr
    assert not (tmp_path / "data").exists()


def test_batch_results_are_priced_at_half_the_live_price() -> None:
    """An event with meta.batch_id costs the batch tier (50 % of live); an unknown model stays unknown."""
    prices = load_prices()
    meta = {"model": "gpt-4o-mini", "input_tokens": 1000, "output_tokens": 1000}
    live = prices.meta_cost(meta, None)
    assert live is not None and live > 0
    assert prices.meta_cost({**meta, "batch_id": "batch_1"}, None) == pytest.approx(live * BATCH_PRICE_FACTOR)
    assert prices.meta_cost({**meta, "model": "mystery-9", "batch_id": "batch_1"}, None) is None


def test_sigint_leaves_submitted_batches_running_and_journaled(shim: FakeBatches, tmp_path: Path) -> None:
    """SIGINT while polling: exit 130, says the batches run on; the next run collects them, billing once."""
    data, plan = tmp_path / "data", write_plan(tmp_path, PLAN)
    shim.hold = True
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "GENJOURNAL_"))}
    env.update({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": shim.base_url})
    argv = [sys.executable, "-m", "genjournal", "run", "--batch", "--provider", "openai"]
    proc = subprocess.Popen(
        [*argv, "--plan", str(plan), "--data-dir", str(data)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    seen = []
    while not any("in_progress" in line for line in seen):
        line = proc.stderr.readline()
        assert line, "".join(seen)
        seen.append(line)
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()
    assert proc.wait(timeout=30) == 130, rest
    assert "left running and journaled" in rest
    assert len(of_type(data, "BatchSubmitted")) == 1 and of_type(data, "BatchFinished") == []
    assert of_type(data, "RunFinished")[-1]["data"]["outcome"] == "interrupted"  # type: ignore[index]
    shim.hold = False
    done = run_batch(shim, data, plan, "--batch")
    assert done.returncode == 0, done.stderr
    assert_complete_once(shim, data)


def test_batches_on_a_missing_journal_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """`genjournal batches` without a journal: one line, exit 2, nothing created."""
    result = subprocess.run(
        [sys.executable, "-m", "genjournal", "batches", "--data-dir", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "none").exists()


def test_a_regenerated_room_goes_out_in_a_batch_as_generation_2_with_its_images(
    shim: FakeBatches, tmp_path: Path
) -> None:
    """After `regenerate --step room:kitchen`, `run --batch` sends that room and its image once more as generation 2."""
    plan, data = write_plan(tmp_path, PLAN), tmp_path / "data"
    assert run_batch(shim, data, plan, "--batch").returncode == 0
    marked = gj(
        shim, "regenerate", "art-deco", "--step", "room:kitchen", "--reason", "dull", "--data-dir", str(data)
    )
    assert marked.returncode == 0, marked.stderr
    before = billed(shim)
    done = run_batch(shim, data, plan, "--batch")
    assert done.returncode == 0, done.stderr
    extra = billed(shim) - before
    assert extra == Counter({"style:art-deco/room:kitchen": 1, "style:art-deco/image:room:kitchen:0": 1})
    submitted = of_type(data, "BatchSubmitted")[-2:]
    lines = sorted(tuple(step) for batch in submitted for step in batch["data"]["steps"])  # type: ignore[index, union-attr]
    assert lines == [("style:art-deco", "image:room:kitchen:0", 2), ("style:art-deco", "room:kitchen", 2)]
    regenerated = [
        e
        for e in journal_events(data)
        if e["type"] in ("RoomGenerated", "ImageGenerated") and e["data"].get("generation") == 2  # type: ignore[union-attr]
    ]
    assert sorted(e["step"] for e in regenerated) == ["image:room:kitchen:0", "room:kitchen"]
    assert all(e["meta"]["batch_id"] for e in regenerated)  # type: ignore[index]
    verify = gj(shim, "verify", "--data-dir", str(data))
    assert verify.returncode == 0, verify.stdout


def test_budget_counts_an_open_batch_estimate_as_committed_spend(shim: FakeBatches, tmp_path: Path) -> None:
    """A submitted, uncollected batch's estimate counts against --budget-usd: a call that fits alone is refused."""
    data, plan = tmp_path / "data", write_plan(tmp_path, PLAN)
    shim.hold = True
    first = run_batch(
        shim, data, plan, "--batch", "--detach", "--subcategory", "art-deco", "--budget-usd", "100"
    )
    assert first.returncode == 0, first.stderr
    [submitted] = of_type(data, "BatchSubmitted")
    estimate = submitted["data"]["estimated_cost_usd"]  # type: ignore[index]
    assert isinstance(estimate, float) and estimate > 0
    # japandi's content costs twice the batch estimate live: it fits 2.5x alone, not beside the batch.
    live = run_batch(shim, data, plan, "--subcategory", "japandi", "--budget-usd", f"{estimate * 2.5:.9f}")
    assert live.returncode == 1, live.stderr
    assert of_type(data, "RunFinished")[-1]["data"]["outcome"] == "budget"  # type: ignore[index]
    assert billed(shim) == Counter()


def test_a_batch_of_an_earlier_plan_is_collected_whole_after_a_run_with_another_plan(
    shim: FakeBatches, tmp_path: Path
) -> None:
    """Lines for steps the newest plan no longer lists are still journaled when their batch is collected."""
    data, plan = tmp_path / "data", write_plan(tmp_path, PLAN)
    shim.hold = True
    assert run_batch(shim, data, plan, "--batch", "--detach").returncode == 0
    other = write_plan(
        tmp_path,
        PLAN.replace('slug = "japandi"\nname = "Japandi"', 'slug = "bauhaus"\nname = "Bauhaus"'),
        "other.toml",
    )
    assert (
        run_batch(shim, data, other, "--subcategory", "bauhaus").returncode == 0
    )  # the newest RunStarted's plan
    shim.hold = False
    shim.fake.configure({"batch": {"hold": False}})
    first_wave = {tuple(step[:2]) for step in of_type(data, "BatchSubmitted")[0]["data"]["steps"]}  # type: ignore[index]
    collected = gj(shim, "batches", "--data-dir", str(data))
    for _ in range(20):
        if any(e["type"] == "BatchFinished" for e in journal_events(data)):
            break
        collected = gj(shim, "batches", "--data-dir", str(data))
    assert collected.returncode == 0, collected.stderr
    journaled = {(e["stream"], e["step"]) for e in journal_events(data) if e["type"] == "StyleCreated"}
    assert ("style:japandi", "content") in first_wave
    assert first_wave <= journaled
    paid = billed(shim)
    assert all(paid[f"{stream}/{step}"] == 1 for stream, step in first_wave)


def test_a_room_image_waits_in_batch_mode_for_its_styles_regenerated_content(
    shim: FakeBatches, tmp_path: Path
) -> None:
    """With the content and a room image marked (no --cascade), the image's batch goes out only after the new content."""
    plan, data = write_plan(tmp_path, PLAN), tmp_path / "data"
    assert run_batch(shim, data, plan, "--batch").returncode == 0
    marked = gj(
        shim,
        "regenerate",
        "art-deco",
        "--step",
        "content",
        "--step",
        "image:room:kitchen:0",
        "--reason",
        "redo",
        "--data-dir",
        str(data),
    )
    assert marked.returncode == 0, marked.stderr
    done = run_batch(shim, data, plan, "--batch")
    assert done.returncode == 0, done.stderr
    events = journal_events(data)
    content = next(e for e in events if e["type"] == "StyleCreated" and e["data"].get("generation") == 2)  # type: ignore[union-attr]
    image_batch = next(
        e
        for e in events
        if e["type"] == "BatchSubmitted"
        and ["style:art-deco", "image:room:kitchen:0", 2] in [list(s) for s in e["data"]["steps"]]  # type: ignore[index]
    )
    assert content["position"] < image_batch["position"]  # type: ignore[operator]
