"""Every failpoint issue 7 names exists, is known, costs nothing unset, and fires where it says.

Each point is reached by a real ``genjournal`` subprocess that dies there (``exit``), and
the data dir is then inspected for exactly the state the point's name promises.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from genjournal.testing.fake_openai import FakeOpenAI
from journal import failpoints
from journal.backends.sqlite import SqliteEventStore
from journal.failpoints import FAILPOINT_EXIT_CODE
from projector.backends.sqlite import SqliteViewStore
from tests.chaos.checks import sha256_file, temp_files
from tests.chaos.conftest import genjournal, run_args

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def events(data: Path) -> list[dict[str, object]]:
    """Returns the journal's envelopes."""
    store = SqliteEventStore(data / "journal.db", create=False)
    try:
        return [e.to_envelope() for e in store.iter_all()]
    finally:
        store.close()


def blob_files(data: Path) -> list[Path]:
    """Returns the blob files in place (not temp files)."""
    return sorted((data / "images").glob("*/*.png")) if (data / "images").exists() else []


def die_at(point: str, plan: Path, data: Path, fake: FakeOpenAI, nth: int = 1) -> str:
    """Runs the tiny plan until it dies at the nth occurrence of ``point``; returns its stderr."""
    result = genjournal(
        *run_args(plan, data, "--provider", "openai"),
        server=fake,
        failpoint_spec=f"{point}=exit@{nth}",
    )
    assert result.returncode == FAILPOINT_EXIT_CODE, result.stderr
    assert f"failpoint {point} hit" in result.stderr
    return result.stderr


def test_the_code_wires_exactly_the_known_failpoints() -> None:
    """Every ``failpoint("…")`` in the packages is in KNOWN, and every KNOWN name is wired."""
    wired = set()
    for package in ("journal", "projector", "generator", "genjournal"):
        for source in (ROOT / package).rglob("*.py"):
            wired |= set(re.findall(r'\bfailpoint\("([a-z-]+)"\)', source.read_text()))
    assert wired == failpoints.KNOWN


def test_issue_7_points_are_all_known() -> None:
    """The points issue 7 asks for (and the ENOSPC carriers) all exist under a name."""
    assert {
        "provider-after-response",
        "blob-before-rename",
        "blob-after-rename",
        "append-before-commit",
        "append-after-commit",
        "projection-before-checkpoint",
        "rebuild-before-swap",
        "rebuild-after-swap",
        "blob-write",
    } <= failpoints.KNOWN


def test_unset_failpoints_do_nothing_and_cost_next_to_nothing() -> None:
    """Unconfigured, a failpoint is a no-op for any name; 100,000 calls take well under a second."""
    failpoints.configure(None)
    assert not failpoints.active()
    started = time.perf_counter()
    for _ in range(100_000):
        failpoints.failpoint("append-before-commit")
    assert time.perf_counter() - started < 1.0


def test_nth_fires_once_and_is_counted() -> None:
    """``raise@2`` fires on the second pass only, ``fired`` counts it; unknown names are refused."""
    failpoints.configure("blob-write=raise@2")
    failpoints.failpoint("blob-write")
    with pytest.raises(failpoints.FailpointError):
        failpoints.failpoint("blob-write")
    failpoints.failpoint("blob-write")
    assert failpoints.fired("blob-write") == 1
    with pytest.raises(ValueError, match="unknown failpoint"):
        failpoints.configure("blob-writ=exit")


def test_step_before_call_dies_before_any_request(tmp_path: Path, plan: Path, fake: FakeOpenAI) -> None:
    """At step-before-call the run is recorded but no step was started and nothing was requested."""
    die_at("step-before-call", plan, tmp_path / "data", fake)
    assert [e["type"] for e in events(tmp_path / "data")] == ["RunStarted"]
    assert fake.ledger() == []


def test_provider_after_response_dies_with_the_answer_paid_but_unjournaled(
    tmp_path: Path, plan: Path, fake: FakeOpenAI
) -> None:
    """At provider-after-response the call is billed, StepStarted journaled, the result not."""
    die_at("provider-after-response", plan, tmp_path / "data", fake)
    journal = events(tmp_path / "data")
    assert [e["type"] for e in journal] == ["RunStarted", "StepStarted"]
    assert [(e.step, e.outcome) for e in fake.ledger()] == [("style:art-deco/content", "ok")]


@pytest.mark.parametrize(
    ("point", "temp_bytes"),
    [("blob-write", "empty"), ("blob-before-rename", "full"), ("blob-after-rename", None)],
)
def test_blob_points_die_with_the_blob_in_the_promised_state(
    tmp_path: Path, plan: Path, fake: FakeOpenAI, point: str, temp_bytes: str | None
) -> None:
    """Each blob point leaves what it names and never an event.

    blob-write: an empty temp file; blob-before-rename: a whole temp file; blob-after-rename:
    the blob in place.
    """
    data = tmp_path / "data"
    die_at(point, plan, data, fake)
    journal = events(data)
    assert not [e for e in journal if e["type"].startswith("Image")]
    started = [e["data"]["step"] for e in journal if e["type"] == "StepStarted"]  # type: ignore[index]
    assert "image:style:0" in started  # the image was paid for; only its event is missing
    temps = temp_files(data)
    if temp_bytes is None:
        assert temps == []
        [blob] = blob_files(data)
        assert sha256_file(blob) == blob.stem
    else:
        [temp] = temps
        assert blob_files(data) == []
        content = temp.read_bytes()
        assert (content == b"") if temp_bytes == "empty" else content.startswith(b"\x89PNG")
    done = genjournal(*run_args(plan, data, "--provider", "openai"), server=fake)
    assert done.returncode == 0, done.stderr
    assert temp_files(data) == []


def test_append_before_commit_loses_exactly_the_dying_commit(
    tmp_path: Path, plan: Path, fake: FakeOpenAI
) -> None:
    """Dying inside the second append's transaction leaves only the first commit (RunStarted)."""
    die_at("append-before-commit", plan, tmp_path / "data", fake, nth=2)
    assert [e["type"] for e in events(tmp_path / "data")] == ["RunStarted"]
    assert fake.ledger() == []  # the step's StepStarted never became durable, so no call went out


def test_append_after_commit_dies_with_the_event_durable_and_the_projection_behind(
    tmp_path: Path, plan: Path, fake: FakeOpenAI
) -> None:
    """After the first append's commit the event is journaled; the projection checkpoint is 0."""
    data = tmp_path / "data"
    die_at("append-after-commit", plan, data, fake)
    assert [e["type"] for e in events(data)] == ["RunStarted"]
    views = SqliteViewStore(data / "journal.db")
    try:
        assert views.load_state().checkpoint == 0
    finally:
        views.close()


def test_projection_before_checkpoint_commits_neither_documents_nor_checkpoint(
    tmp_path: Path, plan: Path, fake: FakeOpenAI
) -> None:
    """Dying in the projection's commit leaves the checkpoint at 0 while the journal moved on."""
    data = tmp_path / "data"
    die_at("projection-before-checkpoint", plan, data, fake)
    assert events(data)
    views = SqliteViewStore(data / "journal.db")
    try:
        assert views.load_state().checkpoint == 0
        assert list(views.iter_documents()) == []
    finally:
        views.close()


@pytest.mark.parametrize("point", ["rebuild-before-swap", "rebuild-after-swap"])
def test_rebuild_points_are_reached_and_leave_export_unchanged(
    tmp_path: Path, plan: Path, fake: FakeOpenAI, point: str
) -> None:
    """A rebuild dying just before or just after its swap is reached and changes no export byte."""
    data = tmp_path / "data"
    assert genjournal(*run_args(plan, data, "--provider", "openai"), server=fake).returncode == 0
    before = genjournal("export", "--data-dir", str(data))
    died = genjournal("rebuild", "--data-dir", str(data), failpoint_spec=f"{point}=exit")
    assert died.returncode == FAILPOINT_EXIT_CODE, died.stderr
    assert f"failpoint {point} hit" in died.stderr
    assert genjournal("export", "--data-dir", str(data)).stdout == before.stdout


@pytest.mark.parametrize(
    ("point", "journaled", "batches_on_account"),
    [
        ("batch-after-upload", [], 0),
        ("batch-after-create", [], 1),
        ("batch-while-polling", ["BatchSubmitted"], 1),
        ("batch-mid-download", ["BatchSubmitted", "StyleCreated"], 1),
    ],
)
def test_batch_points_die_with_the_batch_in_the_promised_state(
    tmp_path: Path, plan: Path, fake: FakeOpenAI, point: str, journaled: list[str], batches_on_account: int
) -> None:
    """Each batch point leaves what it names; a re-run then completes with every step billed once.

    after-upload: a file, no batch; after-create: a batch on the account the journal does not
    know; while-polling: the batch journaled, not collected; mid-download: one line journaled.
    """
    data = tmp_path / "data"
    two_styles = plan.read_text().replace(
        "[[room_types]]", '[[subcategories]]\nslug = "japandi"\nname = "Japandi"\n\n[[room_types]]', 1
    )
    plan.write_text(two_styles)
    result = genjournal(
        *run_args(plan, data, "--provider", "openai", "--batch"),
        server=fake,
        failpoint_spec=f"{point}=exit@1",
    )
    assert result.returncode == FAILPOINT_EXIT_CODE, result.stderr
    kinds = [e["type"] for e in events(data) if e["type"] not in ("RunStarted",)]
    assert kinds == journaled
    assert len(fake.batches.server_state()) == batches_on_account
    done = genjournal(*run_args(plan, data, "--provider", "openai", "--batch"), server=fake)
    assert done.returncode == 0, done.stderr
    billed = [e.step for e in fake.ledger() if e.billable]
    assert len(billed) == len(set(billed)) == 2 * 4
    adopted = [e for e in events(data) if e["type"] == "BatchSubmitted" and e["data"]["adopted"]]  # type: ignore[index]
    assert len(adopted) == (1 if point == "batch-after-create" else 0)
