"""`genjournal costs` and `Journal.costs()` on every backend: groups, prices, unknowns, crashes."""

from __future__ import annotations

from pathlib import Path

import pytest

from genjournal.testing import samples
from projector.audit import open_audit_log
from projector.facts import COST_FIELDS
from projector.reports import CostReport
from tests.projector.audit.conftest import (
    FAILED_IMAGE_USD,
    IMAGE_USD,
    STANDARD_TOTAL_USD,
    TEXT_CALL_USD,
    Audited,
    run_started,
    text_meta,
    with_meta,
)


def test_costs_by_model_prices_tokens_and_images_and_counts_billed_failures(
    journal_a: Audited,
) -> None:
    """Each model's line has its tokens, images and money; the failed-but-billed attempt counts."""
    report = CostReport.model_validate(journal_a.cli_json("costs", "--by", "model"))
    lines = {line.key: line for line in report.lines}
    assert set(lines) == {"gpt-5.4-mini", "dall-e-3", "gpt-image-1"}
    text = lines["gpt-5.4-mini"]
    assert (text.steps, text.input_tokens, text.output_tokens) == (6, 6000, 12000)
    assert text.usd == pytest.approx(6 * TEXT_CALL_USD)
    assert lines["dall-e-3"].images == 3
    assert lines["dall-e-3"].usd == pytest.approx(3 * IMAGE_USD)
    failed = lines["gpt-image-1"]
    assert (failed.failures, failed.billed_failures, failed.attempts) == (1, 1, 3)
    assert failed.usd == pytest.approx(FAILED_IMAGE_USD)
    assert report.total.usd == pytest.approx(STANDARD_TOTAL_USD)
    assert report.total.unknown_models == []


@pytest.mark.parametrize("by", ["style", "run", "day"])
def test_every_grouping_adds_up_to_the_same_total(journal_a: Audited, by: str) -> None:
    """--by style, run and day split the same usage: the totals equal --by model's."""
    report = CostReport.model_validate(journal_a.cli_json("costs", "--by", by))
    assert report.by == by
    assert report.total.usd == pytest.approx(STANDARD_TOTAL_USD)
    assert sum(line.usd or 0 for line in report.lines) == pytest.approx(STANDARD_TOTAL_USD)
    if by == "run":
        assert [line.key for line in report.lines] == ["run-a", "run-b"]
        assert report.lines[1].usd == pytest.approx(TEXT_CALL_USD)
    if by == "style":
        assert [line.key for line in report.lines] == ["style-0", "style-1", "style-2"]


def test_an_unpriced_model_is_unknown_never_zero_and_totals_say_how_much(
    journal_a: Audited,
) -> None:
    """A model missing from the table leaves its line and total unknown, naming what is unpriced."""
    journal_a.store.append(
        "style:style-1",
        [
            with_meta(
                samples.room_generated("room-1"),
                "run-a",
                **text_meta(model="mystery-9", tokens=(10, 20)),
            )
        ],
    )
    report = CostReport.model_validate(journal_a.cli_json("costs"))
    mystery = next(line for line in report.lines if line.key == "mystery-9")
    assert mystery.usd is None
    assert mystery.usd_priced == 0
    assert report.total.usd is None
    assert report.total.usd_priced == pytest.approx(STANDARD_TOTAL_USD)
    assert report.total.unpriced.model_dump() == {
        "steps": 1,
        "input_tokens": 10,
        "output_tokens": 20,
        "images": 0,
    }
    assert report.total.unknown_models == ["mystery-9"]
    human = journal_a.cli("costs")
    assert "unknown" in human.stdout
    assert "mystery-9" in human.stdout


def test_image_size_and_quality_variants_are_priced_or_unknown(audited: Audited) -> None:
    """DALL·E 3 hd and wide images have their own prices; a size the table lacks is unknown."""
    audited.store.append("run:r", [run_started("r")])
    for index, (size, quality) in enumerate(
        [("1024x1024", "hd"), ("1792x1024", "standard"), ("512x512", "standard")]
    ):
        meta = {"model": "dall-e-3", "images": 1, "image_size": size, "image_quality": quality}
        audited.store.append("style:style-0", [with_meta(samples.image_generated(index), "r", **meta)])
    report = CostReport.model_validate(audited.cli_json("costs", "--by", "model"))
    (line,) = report.lines
    assert line.usd is None
    assert line.usd_priced == pytest.approx(0.080 + 0.080)
    assert line.unpriced.images == 1


def test_the_offline_provider_costs_zero_not_unknown(audited: Audited) -> None:
    """offline-* models are priced at $0: their usage is known and free."""
    audited.store.append("run:r", [samples.run_started(samples.small_plan())])
    audited.store.append("style:style-0", [samples.style_created("style-0")])
    audited.store.append("style:style-0", [samples.image_generated(0)])
    meta = {"model": "offline-image-1", "images": 1, "image_size": "256x256"}
    audited.store.append("style:style-1", [with_meta(samples.image_generated(0), "r", **meta)])
    report = CostReport.model_validate(audited.cli_json("costs"))
    assert report.total.usd == 0.0
    assert report.total.unknown_models == []


def test_prices_file_overrides_the_models_it_names_and_the_rest_fall_through(
    journal_a: Audited, tmp_path: Path
) -> None:
    """--prices FILE prices the models it lists; others are priced by the layers below it."""
    prices = tmp_path / "prices.toml"
    prices.write_text(
        'version = 1\nas_of = 2026-01-01\n\n[[model]]\nname = "gpt-5.4-mini"\nfrom = 2020-01-01\n'
        "input_per_1m = 1.0\noutput_per_1m = 1.0\n"
    )
    report = CostReport.model_validate(journal_a.cli_json("costs", "--prices", str(prices)))
    assert report.prices.source.startswith(f"{prices}, then genai-prices ")
    assert report.prices.source.endswith(", then shipped prices.toml")
    lines = {line.key: line for line in report.lines}
    assert lines["gpt-5.4-mini"].usd == pytest.approx(18000 / 1e6)
    assert lines["gpt-5.4-mini"].priced_by == [str(prices)]
    # DALL·E 3 (retired, per image) is in neither the user's file nor the database.
    assert lines["dall-e-3"].usd is not None and lines["dall-e-3"].usd > 0
    assert lines["dall-e-3"].priced_by == ["shipped prices.toml"]


def test_a_bad_prices_file_is_one_line_and_exit_2(journal_a: Audited, tmp_path: Path) -> None:
    """A price table that does not validate is refused with one line, exit 2."""
    prices = tmp_path / "prices.toml"
    prices.write_text('as_of = 2026-01-01\n[[model]]\nname = "x"\nfrom = 2020-01-01\ninput_per_1m = -1\n')
    result = journal_a.cli("costs", "--prices", str(prices))
    assert result.exit_code == 2
    assert "input_per_1m" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_crash_overhead_counts_and_estimates_lost_calls_and_names_re_requests(
    journal_a: Audited,
) -> None:
    """A crashed run's 2 unjournaled calls are counted, estimated, and a later re-request named."""
    journal_a.store.append("run:run-c", [run_started("run-c")])
    journal_a.store.append(
        "style:style-2", [with_meta(samples.room_generated("room-0"), "run-c", **text_meta())]
    )
    report = CostReport.model_validate(journal_a.cli_json("costs"))
    crash = report.crash_overhead
    assert crash.crashed_runs == ["run-b", "run-c"]  # run-c has no RunFinished either
    assert (crash.lost_calls, crash.lost_text_calls, crash.lost_image_calls) == (2, 1, 1)
    assert crash.estimated_usd == pytest.approx(TEXT_CALL_USD + IMAGE_USD, rel=0.01)
    by_step = {call.step: call for call in crash.calls}
    assert by_step["room:room-0"].re_requested_by == "run-c"
    assert by_step["image:style:0"].re_requested_by is None
    assert crash.re_requested == 1


def test_the_python_api_costs_equal_the_cli_json(journal_a: Audited) -> None:
    """Journal.costs(by=...) dumps to exactly what `costs --json` prints."""
    printed = journal_a.cli_json("costs", "--by", "style")
    with open_audit_log(journal_a.url, data_dir=journal_a.data_dir) as journal:
        assert journal.costs(by="style").model_dump(mode="json") == printed


@pytest.mark.parametrize("by", [None, "style", "run", "model", "day"])
def test_the_view_store_groups_usage_sums_in_the_database(journal_a: Audited, by: str | None) -> None:
    """ViewStore.cost_sums groups in SQL / an aggregation exactly as the report derives it."""

    def summed(rows: list[tuple[object, ...]]) -> dict[tuple[object, ...], list[int]]:
        out: dict[tuple[object, ...], list[int]] = {}
        for row in rows:
            sums = out.setdefault(tuple(row[:6]), [0] * len(COST_FIELDS))
            for i, value in enumerate(row[6:]):
                sums[i] += int(value)  # type: ignore[call-overload]
        return out

    with open_audit_log(journal_a.url, data_dir=journal_a.data_dir) as journal:
        snap = journal.snapshot()
        in_database = snap.views.cost_sums(by)
        derived = snap.rows(by)  # type: ignore[arg-type]
    assert summed(in_database) == summed(derived)
    assert len(in_database) == len(summed(in_database))  # the database already grouped them
    assert sum(row[6] for row in in_database) == 10  # outcome events
