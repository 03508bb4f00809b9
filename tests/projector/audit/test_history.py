"""`genjournal history` and `Journal.history()` on every backend: filters, order, limits, errors."""

from __future__ import annotations

from pydantic import TypeAdapter

from projector.audit import open_audit_log
from projector.reports import HistoryEntry
from tests.projector.audit.conftest import Audited

ENTRIES = TypeAdapter(list[HistoryEntry])


def test_history_of_a_style_is_its_stream_in_position_order(journal_a: Audited) -> None:
    """history STYLE --json is a JSON array of that style's envelopes, oldest first."""
    entries = ENTRIES.validate_python(journal_a.cli_json("history", "style-0"))
    assert [e.stream for e in entries] == ["style:style-0"] * 6
    assert [e.version for e in entries] == [1, 2, 3, 4, 5, 6]
    positions = [e.position for e in entries]
    assert positions == sorted(positions)
    stored = [e.to_envelope() for e in journal_a.store.read_stream("style:style-0")]
    assert [e.model_dump(mode="json") for e in entries] == stored


def test_history_with_a_type_and_a_limit_takes_the_newest_matching_events(
    journal_a: Audited,
) -> None:
    """--type RoomGenerated --limit 2 returns the two newest room events, still oldest first."""
    every = ENTRIES.validate_python(journal_a.cli_json("history", "--type", "RoomGenerated"))
    assert len(every) == 3
    newest = ENTRIES.validate_python(journal_a.cli_json("history", "--type", "RoomGenerated", "--limit", "2"))
    assert [e.position for e in newest] == [e.position for e in every[-2:]]


def test_history_filters_by_run_and_by_several_types(journal_a: Audited) -> None:
    """--run keeps one run's events; repeated --type keeps any of the types."""
    run_b = ENTRIES.validate_python(journal_a.cli_json("history", "--run", "run-b"))
    assert {e.run_id for e in run_b} == {"run-b"}
    assert [e.type for e in run_b] == [
        "RunStarted",
        "StepStarted",
        "StepStarted",
        "StepStarted",
        "StyleCreated",
    ]
    runs = ENTRIES.validate_python(
        journal_a.cli_json("history", "--type", "RunStarted", "--type", "RunFinished")
    )
    assert [e.type for e in runs] == ["RunStarted", "RunFinished", "RunStarted"]


def test_history_time_window_accepts_iso_and_ages(journal_a: Audited) -> None:
    """--since 1h keeps everything just written; --until an ISO date in the past keeps nothing."""
    total = len(journal_a.cli_json("history"))
    assert len(journal_a.cli_json("history", "--since", "1h")) == total
    assert journal_a.cli_json("history", "--until", "2000-01-01") == []
    assert len(journal_a.cli_json("history", "--since", "2000-01-01T00:00:00Z")) == total


def test_an_unknown_style_is_an_empty_result_not_an_error(journal_a: Audited) -> None:
    """history no-such-style prints an empty array and exits 0."""
    assert journal_a.cli_json("history", "no-such-style") == []
    human = journal_a.cli("history", "no-such-style")
    assert human.exit_code == 0
    assert "no events match" in human.stdout


def test_an_unknown_type_is_exit_2_naming_the_valid_types(journal_a: Audited) -> None:
    """--type Nope is refused with one line listing the valid event types."""
    result = journal_a.cli("history", "--type", "Nope")
    assert result.exit_code == 2
    assert "ImageGenerated" in result.stderr
    assert "RunStarted" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unparsable_time_is_exit_2_naming_the_accepted_forms(journal_a: Audited) -> None:
    """--since yesterday-ish is refused with one line saying which forms are accepted."""
    result = journal_a.cli("history", "--since", "yesterday-ish")
    assert result.exit_code == 2
    assert "--since" in result.stderr
    assert "ISO 8601" in result.stderr
    assert "2h" in result.stderr


def test_the_human_table_shows_model_usage_cost_and_error(journal_a: Audited) -> None:
    """The table names the model, the tokens, the cost of a priced call and a failure's error."""
    result = journal_a.cli("history", "style-1")
    assert result.exit_code == 0
    text = result.stdout
    assert "gpt-5.4-mini" in text
    assert "1,000→2,000 tok" in text
    assert "$0.00975" in text  # one text call: 1,000 in at $0.75/1M + 2,000 out at $4.50/1M
    assert "connection: connection reset" in text


def test_the_python_api_history_equals_the_cli_json(journal_a: Audited) -> None:
    """Journal.history(...) dumps to exactly what `history --json` prints."""
    printed = journal_a.cli_json("history", "style-1", "--limit", "2")
    with open_audit_log(journal_a.url, data_dir=journal_a.data_dir) as journal:
        entries = journal.history("style-1", limit=2)
    assert [e.model_dump(mode="json") for e in entries] == printed
