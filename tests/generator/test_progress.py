"""Progress reporters: journaled facts on stderr, never on stdout."""

from __future__ import annotations

import json

import pytest
import structlog
from structlog.testing import capture_logs

from generator.logs import configure_logging
from generator.outcome import RunReport
from generator.progress import JsonLogReporter, PlainReporter, describe_step, make_reporter, summary
from generator.providers.base import ProviderError
from generator.steps import plan_steps
from genjournal.testing import samples

PLAN = samples.small_plan(styles=2, rooms=2, images_per_style=1, images_per_room=2)
STEPS = {(s.stream, s.key): s for s in plan_steps(PLAN)}


def test_labels_name_the_style_room_and_image_in_plan_terms() -> None:
    """describe_step says which style, room and image of the plan a step is."""
    assert describe_step(STEPS[("style:style-1", "content")], PLAN) == "Style 2/2: Style 1 — content"
    assert describe_step(STEPS[("style:style-0", "room:room-1")], PLAN) == "Room 2/2: Room 1 (Style 0)"
    assert (
        describe_step(STEPS[("style:style-0", "image:room:room-1:1")], PLAN)
        == "Room 2/2: Room 1 (Style 0) — image 2/2"
    )


def test_plain_reporter_writes_one_line_per_journaled_step_to_stderr_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Started, saved, failed and finished lines go to stderr; stdout stays empty for --json."""
    reporter = make_reporter(log_json=False)
    assert isinstance(reporter, PlainReporter)
    steps = list(STEPS.values())
    reporter.started("run-1", PLAN, steps, steps[:2], {(steps[0].stream, "x")})
    reporter.step_saved(steps[0], samples.style_created("style-0"))
    reporter.step_failed(steps[1], ProviderError("server_error", "boom", status=500), 4)
    reporter.finished(RunReport("run-1", "failed", {"succeeded": 1, "failed": 1}, 1))
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == f"run-1: 2 steps to run (0/{len(steps)} of the plan already journaled)"
    assert lines[1] == "Style 1/2: Style 0 — content — saved"
    assert (
        lines[2] == "Style 1/2: Style 0 — image 1/1 — FAILED after 4 attempts: server_error (HTTP 500): boom"
    )
    assert lines[3] == "run-1: failed (failed 1, succeeded 1)"
    assert reporter.tally.saved == 1 and reporter.tally.failed == 1


def test_summary_lists_counts_sorted_and_the_message() -> None:
    """The outcome line is stable: counts in name order, then the message."""
    report = RunReport("r", "aborted", {"succeeded": 3, "blocked": 1}, 2, message="quota")
    assert summary(report) == "aborted (blocked 1, succeeded 3) — quota"


def test_json_reporter_logs_structured_saved_and_failed_events() -> None:
    """--log-json logs step.saved with the event's meta and step.failed with the error's kind and status."""
    reporter = JsonLogReporter()
    steps = list(STEPS.values())
    reporter.started("run-1", PLAN, steps, steps, set())
    with capture_logs() as logs:
        reporter.step_saved(steps[0], samples.style_created("style-0"))
        reporter.step_failed(steps[1], ProviderError("rate_limited", "slow", status=429), 2)
    saved, failed = logs
    assert (
        saved["event"] == "step.saved" and saved["stream"] == "style:style-0" and saved["step"] == "content"
    )
    assert saved["type"] == "StyleCreated"
    assert failed["event"] == "step.failed"
    assert (failed["kind"], failed["status"], failed["attempts"]) == ("rate_limited", 429, 2)


def test_json_log_lines_on_stderr_parse_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    """With configure_logging(json_lines=True) every reporter line is one JSON object on stderr."""
    configure_logging(json_lines=True)
    try:
        reporter = make_reporter(log_json=True)
        steps = list(STEPS.values())
        reporter.started("run-1", PLAN, steps, steps, set())
        reporter.step_saved(steps[0], samples.style_created("style-0"))
        reporter.finished(RunReport("run-1", "completed", {"succeeded": 1}, 0))
    finally:
        structlog.reset_defaults()
    out, err = capsys.readouterr()
    assert out == ""
    records = [json.loads(line) for line in err.splitlines()]
    assert [r["event"] for r in records][1] == "step.saved"
    assert all("timestamp" in r and "level" in r for r in records)
