"""The chaos CI leg: real runs killed at failpoints and by SIGKILL, restarted, invariants checked.

Seeds are fixed, so the leg is the same every time; a failure message carries the seed
and the one-line command that replays it (``.venv/bin/python -m tests.chaos.driver …``).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from tests.chaos.batch_soak import run_batch_episode
from tests.chaos.driver import (
    Action,
    ChaosConfig,
    ChaosFailure,
    Episode,
    main,
    parser,
    plan_dict,
    run_episode,
)
from tests.journal.backends import MONGODB_URI, MongoBackend

pytestmark = pytest.mark.slow

#: the CI leg: ≈ 20 kills over two seeded episodes (different fault streams and kill schedules)
CI_SEEDS = (1, 2)
CI_KILLS_PER_SEED = 10


@pytest.mark.timeout(300)
def test_ci_leg_twenty_kills_on_sqlite_lose_nothing_and_duplicate_nothing(tmp_path: Path) -> None:
    """Runs killed ≈ 20 times (failpoints, SIGKILL, rebuild/export deaths) keep the invariants."""
    kills, kinds, lost, duplicates, paid = 0, set(), 0, 0, 0
    for seed in CI_SEEDS:
        stats = run_episode(
            ChaosConfig(seed=seed, kills=CI_KILLS_PER_SEED, workdir=tmp_path / f"seed-{seed}")
        )
        kills += stats.kills
        kinds |= set(stats.kill_kinds)
        lost += stats.account.lost_results
        duplicates += stats.duplicates
        paid += stats.account.paid_calls
    assert kills >= len(CI_SEEDS) * CI_KILLS_PER_SEED
    assert "sigkill" in kinds
    assert len(kinds) >= 6
    assert lost == duplicates == 0
    assert paid > 0


def test_ci_leg_with_regenerations_keeps_one_success_per_generation(tmp_path: Path) -> None:
    """Regenerate calls (some killed before their commit) mixed with killed runs: no duplicate generation, nothing lost."""
    stats = run_episode(ChaosConfig(seed=13, kills=8, regenerate_share=0.35, workdir=tmp_path / "episode"))
    assert stats.kill_kinds["regenerate:append-before-commit"] >= 1
    assert stats.regenerated >= 1
    assert stats.account.lost_results == stats.duplicates == stats.account.rerequested == 0


def test_ci_leg_batch_mode_bills_every_step_once_per_generation(tmp_path: Path) -> None:
    """`run --batch` killed at batch points and by SIGKILL, among collects, cancels, live runs and regenerations: paid once."""
    stats = run_batch_episode(seed=1, cycles=10, workdir=tmp_path / "batch")
    assert sum(stats.kills.values()) >= 3
    assert stats.batches >= 1 and stats.paid_lines >= 1
    assert stats.paid_not_journaled == stats.duplicates == 0


def test_mongomock_leg_crashes_runs_in_process_with_raise_failpoints(tmp_path: Path) -> None:
    """On MongoDB (mongomock, in-process) runs crashed by raise-failpoints keep the invariants.

    mongomock lives in this process, so a killed child could not share its journal:
    here a failpoint raises instead, and the run dies or aborts the way an I/O error makes it.
    """
    backend = MongoBackend(real=False)
    try:
        stats = run_episode(
            ChaosConfig(seed=3, kills=8, db=backend.url, in_process=True, workdir=tmp_path / "episode")
        )
    finally:
        backend.cleanup()
    assert stats.kills >= 8
    assert all(kind.startswith("raise:") for kind in stats.kill_kinds)
    assert stats.account.lost_results == stats.duplicates == 0


@pytest.mark.mongo
@pytest.mark.timeout(300)
@pytest.mark.skipif(
    not MONGODB_URI, reason="MONGODB_URI is not set: no real MongoDB server to kill runs against"
)
def test_real_mongodb_leg_kills_subprocess_runs(tmp_path: Path) -> None:
    """Against a real MongoDB, runs killed by failpoint exits and SIGKILL keep the invariants."""
    backend = MongoBackend(real=True)
    try:
        stats = run_episode(ChaosConfig(seed=4, kills=10, db=backend.url, workdir=tmp_path / "episode"))
    finally:
        backend.cleanup()
    assert stats.kills >= 10
    assert stats.account.lost_results == stats.duplicates == 0


def test_an_episode_is_scheduled_by_its_seed_alone() -> None:
    """The same seed draws the same actions whatever earlier runs got done; another seed differs."""

    def first_actions(seed: int, styles: int = 2) -> list[Action]:
        episode = Episode(ChaosConfig(seed=seed))
        episode.plan = plan_dict(styles, episode.config)  # as if earlier runs left more work
        try:
            return [episode._choose() for _ in range(12)]
        finally:
            shutil.rmtree(episode.workdir)

    assert first_actions(5) == first_actions(5)
    assert first_actions(5) != first_actions(6)
    busy = first_actions(5, styles=10)
    assert [(a.kind, a.point) for a in busy] == [(a.kind, a.point) for a in first_actions(5)]


def test_the_replay_command_parses_back_to_the_same_episode() -> None:
    """The printed replay command names every non-default setting, so it rebuilds the config."""
    config = ChaosConfig(seed=9, kills=7, rate_429=0.2, rooms=3)
    command = config.replay_command()
    assert command.startswith(".venv/bin/python -m tests.chaos.driver --seed 9 --kills 7")
    args = parser().parse_args(command.split()[3:])
    assert ChaosConfig(**vars(args)) == config


def test_a_broken_invariant_fails_naming_the_seed_and_a_replay_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A blob not matching its hash fails the episode: exit 1, the seed and a replay line."""
    workdir = tmp_path / "episode"
    sha = hashlib.sha256(b"the real bytes").hexdigest()
    torn = workdir / "data" / "images" / sha[:2] / f"{sha}.png"
    torn.parent.mkdir(parents=True)
    torn.write_bytes(b"torn")
    assert main(["--seed", "12", "--kills", "1", "--workdir", str(workdir)]) == 1
    err = capsys.readouterr().err
    assert "chaos episode seed=12 failed" in err
    assert "does not hash to its name" in err
    assert "replay: .venv/bin/python -m tests.chaos.driver --seed 12 --kills 1" in err
    with pytest.raises(ChaosFailure, match="seed=12"):
        run_episode(ChaosConfig(seed=12, kills=1, workdir=workdir))
