"""`genjournal status` and `Journal.status()` on every backend: counts, styles, runs, spend."""

from __future__ import annotations

import json
import os

import pytest

from genjournal.testing import samples
from journal.store import LeaseHolder
from projector.audit import open_audit_log
from projector.reports import StatusReport
from tests.projector.audit.conftest import (
    IMAGE_USD,
    PLAN,
    STANDARD_TOTAL_USD,
    TEXT_CALL_USD,
    Audited,
    fill_complete_style,
    run_started,
)


def test_status_json_counts_styles_rooms_and_images_against_the_plan(journal_a: Audited) -> None:
    """status --json is a StatusReport counting complete/partial/basic and done/failed/pending."""
    report = StatusReport.model_validate(journal_a.cli_json("status"))
    assert report.planned_styles == 3
    assert report.styles.model_dump() == {
        "complete": 1,
        "partial": 1,
        "basic": 1,
        "missing": 0,
        "failed": 0,
    }
    assert report.rooms.model_dump() == {"planned": 6, "done": 3, "failed": 0, "pending": 3}
    assert report.images.model_dump() == {"planned": 9, "done": 3, "failed": 1, "pending": 5}
    assert report.incomplete == ["style-1", "style-2"]
    first = report.incomplete_detail[0]
    assert (first.status, first.rooms_done, first.rooms_planned, first.images_failed) == (
        "partial",
        1,
        2,
        1,
    )


def test_status_reports_a_crashed_run_with_its_lost_calls(journal_a: Audited) -> None:
    """A last run with no RunFinished and a dead lease holder is crashed, 2 of 3 calls lost."""
    report = StatusReport.model_validate(journal_a.cli_json("status"))
    assert report.last_run is not None
    assert report.last_run.run_id == "run-b"
    assert report.last_run.state == "crashed"
    assert (
        report.last_run.calls_started,
        report.last_run.calls_recorded,
        report.last_run.calls_lost,
    ) == (3, 1, 2)
    assert report.crashed_runs == ["run-b"]
    assert report.runs == 2
    human = journal_a.cli("status")
    assert human.exit_code == 0
    assert "CRASHED" in human.stdout


def test_status_spend_totals_the_priced_usage_and_estimates_the_crash_overhead(
    journal_a: Audited,
) -> None:
    """spent.usd prices every recorded call; the crash overhead is one text call and one image."""
    report = StatusReport.model_validate(journal_a.cli_json("status"))
    assert report.spent.usd == pytest.approx(STANDARD_TOTAL_USD)
    assert report.spent.crash_overhead_usd == pytest.approx(TEXT_CALL_USD + IMAGE_USD)


def test_a_run_holding_a_live_lease_is_running_not_crashed(audited: Audited) -> None:
    """A run without RunFinished whose lease holder is this (live) process is reported running."""
    audited.store.append("run:run-live", [run_started("run-live")])
    audited.store.acquire_lease(LeaseHolder.for_this_process("run-live"))
    report = StatusReport.model_validate(audited.cli_json("status"))
    assert report.last_run is not None
    assert report.last_run.state == "running"
    assert report.crashed_runs == []


def test_missing_styles_are_listed_in_plan_order_and_exit_is_zero_with_work_pending(
    audited: Audited,
) -> None:
    """Planned styles without events are missing, listed in plan order; status still exits 0."""
    audited.store.append("run:r", [run_started("r")])
    fill_complete_style(audited.store, audited.data_dir, "style-1", "r")
    result = audited.cli("status", "--json")
    assert result.exit_code == 0
    report = StatusReport.model_validate(json.loads(result.stdout))
    assert report.styles.complete == 1
    assert report.styles.missing == 2
    assert report.incomplete == ["style-0", "style-2"]
    assert [item.status for item in report.incomplete_detail] == ["missing", "missing"]


def test_a_failed_style_counts_as_failed(audited: Audited) -> None:
    """A style whose content step failed (and never succeeded) is counted failed."""
    audited.store.append("run:r", [run_started("r")])
    audited.store.append("style:style-0", [samples.style_failed("style-0")])
    report = StatusReport.model_validate(audited.cli_json("status"))
    assert report.styles.failed == 1
    assert report.styles.missing == 2
    assert report.incomplete_detail[0].status == "failed"


def test_status_on_a_missing_journal_is_one_line_and_exit_2(tmp_path: os.PathLike[str]) -> None:
    """A data dir without a journal is a one-line error with exit code 2, not a traceback."""
    from click.testing import CliRunner

    from genjournal.cli import cli

    result = CliRunner().invoke(cli, ["status", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "no journal" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_python_api_returns_what_the_cli_prints(journal_a: Audited) -> None:
    """open_audit_log(url).status() dumps to exactly the JSON `status --json` prints."""
    printed = journal_a.cli_json("status")
    with open_audit_log(journal_a.url, data_dir=journal_a.data_dir) as journal:
        assert journal.status().model_dump(mode="json") == printed


def test_status_catches_the_projection_up_before_reporting(journal_a: Audited) -> None:
    """Events appended after the last catch-up are counted: status folds them in first."""
    journal_a.cli_json("status")
    fill_complete_style(journal_a.store, journal_a.data_dir, "style-9", "run-b")
    journal_a.store.append("style:style-2", [samples.room_generated("room-1", run_id="run-b")])
    report = StatusReport.model_validate(journal_a.cli_json("status"))
    assert report.rooms.done == 4
    assert report.projection.behind == 0


def test_status_with_no_run_yet_reports_no_plan(audited: Audited) -> None:
    """A journal without RunStarted has no plan: zero planned, no last run, nothing spent."""
    audited.store.append("style:style-0", [samples.style_created("style-0")])
    report = StatusReport.model_validate(audited.cli_json("status"))
    assert report.planned_styles == 0
    assert report.last_run is None
    assert report.spent.usd == pytest.approx(0.0) or report.spent.usd is None


def test_plan_is_the_small_plan() -> None:
    """The fixture plan has 3 styles of 2 rooms and 3 images each (the numbers above rely on it)."""
    assert len(PLAN.subcategories) == 3
    assert len(PLAN.room_types) == 2
