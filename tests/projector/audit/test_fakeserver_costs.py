"""Against the fake OpenAI server: `costs` equals its billing ledger; `--budget-usd` stops in time.

The generator runs in-process (``CliRunner``) with ``--provider openai`` pointed at
``genjournal.testing.fake_openai.FakeOpenAI``, whose ledger records every request and what the
real API would have billed for it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from genjournal.cli import cli
from genjournal.testing.fake_openai import FakeOpenAI
from projector.prices import load_prices
from projector.reports import CostReport, StatusReport

KEY = "sk-test-audit-0123456789abcdefWXYZ"
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


def genjournal(server: FakeOpenAI, *args: str) -> Result:
    """Runs genjournal in-process with the OpenAI settings pointed at the fake server."""
    env = {
        "OPENAI_API_KEY": KEY,
        "OPENAI_BASE_URL": server.base_url,
        "GENJOURNAL_DB": None,
        "GENJOURNAL_DATA_DIR": None,
    }
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def run(server: FakeOpenAI, data: Path, plan: Path, *extra: str) -> Result:
    """Runs the plan against the fake server with the OpenAI provider."""
    return genjournal(
        server,
        "run",
        "--provider",
        "openai",
        "--plan",
        str(plan),
        "--data-dir",
        str(data),
        "--concurrency",
        "1",
        *extra,
    )


def ledger_usage(server: FakeOpenAI) -> dict[str, Any]:
    """Sums what the server billed: tokens, images, requests, and dollars at the shipped prices."""
    prices = load_prices()
    billed = [entry for entry in server.ledger() if entry.billable]
    usd = 0.0
    for entry in billed:
        cost = prices.cost(
            entry.model,
            None,
            input_tokens=entry.input_tokens or 0,
            output_tokens=entry.output_tokens or 0,
        )
        assert cost is not None
        usd += cost
    return {
        "requests": len(billed),
        "input_tokens": sum(entry.input_tokens or 0 for entry in billed),
        "output_tokens": sum(entry.output_tokens or 0 for entry in billed),
        "images": sum(entry.images or 0 for entry in billed),
        "usd": usd,
    }


def costs(server: FakeOpenAI, data: Path) -> CostReport:
    """Returns `costs --json` for a data dir."""
    result = genjournal(server, "costs", "--json", "--data-dir", str(data))
    assert result.exit_code == 0, result.stderr
    return CostReport.model_validate(json.loads(result.stdout))


def test_costs_totals_equal_the_fake_servers_billed_usage(tmp_path: Path) -> None:
    """With billed failures injected (bad JSON, refusals, garbage images), costs == the ledger."""
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN)
    faults = {
        "429": 0.1,
        "500": 0.05,
        "malformed": 0.15,
        "schema": 0.1,
        "refusal": 0.05,
        "length": 0.05,
    }
    with FakeOpenAI(
        seed=11,
        text={"faults": faults, "retry_after_s": 0.01},
        image={"faults": {"malformed": 0.2, "500": 0.1}, "retry_after_s": 0.01},
    ) as server:
        server.add_rule("japandi/room:bedroom", "content_filter", family="text")
        result = run(server, tmp_path / "data", plan, "--max-attempts", "3")
        assert result.exit_code == 1, result.stderr  # the bedroom room failed for good
        report = costs(server, tmp_path / "data")
        billed = ledger_usage(server)
        failed_but_billed = [e for e in server.ledger() if e.billable and e.outcome != "ok"]
    total = report.total
    assert (total.input_tokens, total.output_tokens, total.images) == (
        billed["input_tokens"],
        billed["output_tokens"],
        billed["images"],
    )
    assert total.usd == pytest.approx(billed["usd"])
    assert total.billed_failures >= 1
    assert total.unknown_models == []
    assert len(failed_but_billed) >= 2  # the faults did cost money, and it is counted above


def test_a_budget_stops_the_run_before_the_cap_and_no_request_follows(tmp_path: Path) -> None:
    """--budget-usd stops before the cap: outcome budget, exit 1, no request after."""
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN)
    data = tmp_path / "data"
    budget = 0.08
    with FakeOpenAI(seed=5) as server:
        result = run(server, data, plan, "--budget-usd", str(budget))
        assert result.exit_code == 1, result.stderr
        spent = ledger_usage(server)
        assert 0 < spent["requests"] < STEPS
        assert spent["usd"] <= budget
        status = StatusReport.model_validate(
            json.loads(genjournal(server, "status", "--json", "--data-dir", str(data)).stdout)
        )
        assert status.last_run is not None
        assert status.last_run.outcome == "budget"
        assert status.spent.usd == pytest.approx(spent["usd"])
        # The journal's spend for the plan counts: a second run under the same cap sends nothing.
        again = run(server, data, plan, "--budget-usd", str(budget))
        assert again.exit_code == 1
        assert ledger_usage(server)["requests"] == spent["requests"]
        # A higher cap lets the run go on, still never past it.
        more = run(server, data, plan, "--budget-usd", "0.25")
        assert more.exit_code in (0, 1)
        assert ledger_usage(server)["usd"] <= 0.25


def test_unknown_prices_with_a_budget_are_refused_before_anything_is_touched(
    tmp_path: Path,
) -> None:
    """A model without a price and --budget-usd: exit 2, one line, no request, no data dir."""
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN)
    with FakeOpenAI(seed=1) as server:
        result = run(server, tmp_path / "data", plan, "--budget-usd", "5", "--text-model", "mystery-1")
        assert result.exit_code == 2
        assert "mystery-1" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert server.ledger() == []
    assert not (tmp_path / "data").exists()
