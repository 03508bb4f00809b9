"""A chaos episode in batch mode: `run --batch` killed at every batch point, between collects,
detached runs, cancels, live runs and regenerations — and every step billed exactly once per
generation.

Each cycle draws an action from ``random.Random(seed)``:

* ``kill-at`` — `run --batch` dying (``os._exit``) at one of the batch failpoints
  (``batch-after-upload``, ``batch-after-create`` — the batch exists, its event does not —,
  ``batch-while-polling``, ``batch-mid-download``), the n-th time it gets there;
* ``sigkill`` — `run --batch` SIGKILLed at a random moment;
* ``detach`` — `run --batch --detach`, leaving the batches running;
* ``collect`` — `genjournal batches` (adopts, collects what finished);
* ``cancel`` — `genjournal batches --cancel` while batches are held open;
* ``live`` — a live `run` (it collects finished batches and leaves open ones alone);
* ``regenerate`` — a few done steps marked for their next generation.

The fake server runs batch lines on its own (time-scaled), with random 500s on lines and
live calls. After every process the journal (a copy) is checked: one success per (stream,
step, generation), gap-free versions and positions, earlier rows unchanged, rebuild ==
live projection. At the end, runs without faults finish the plan and: every planned step
is done; for every step, the billable requests in the fake's ledger equal its successes
(one per generation: nothing paid twice, no paid result lost); `verify` is clean.

Run it: ``.venv/bin/python -m tests.chaos.batch_soak --seed 3 --cycles 12``.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from genjournal.testing.fake_openai import FakeOpenAI
from journal.failpoints import FAILPOINT_EXIT_CODE
from tests.chaos import checks
from tests.chaos.snapshot import Snapshot, sqlite_snapshot

KEY = "sk-chaos-batch-0000000000000000000000"
BATCH_POINTS = ("batch-after-upload", "batch-after-create", "batch-while-polling", "batch-mid-download")
ACTIONS = (
    ("kill-at", 0.34),
    ("sigkill", 0.16),
    ("detach", 0.12),
    ("collect", 0.1),
    ("cancel", 0.06),
    ("live", 0.1),
    ("regenerate", 0.12),
)
PROCESS_TIMEOUT_S = 180.0


@dataclass
class BatchEpisodeStats:
    """What one batch episode did and found."""

    seed: int
    processes: int = 0
    kills: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    adopted: int = 0
    steps: int = 0
    regenerated: int = 0
    paid_lines: int = 0
    paid_calls: int = 0
    #: billable requests beyond one per journaled generation (paid twice, or paid and lost)
    paid_not_journaled: int = 0
    duplicates: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        """Returns a one-line summary."""
        return (
            f"seed {self.seed}: {sum(self.kills.values())} kills {dict(self.kills)}, "
            f"{self.processes} processes, {self.batches} batches ({self.adopted} adopted), "
            f"{self.steps} successes ({self.regenerated} regenerated), {self.paid_lines} paid batch lines + "
            f"{self.paid_calls} paid live calls, {self.paid_not_journaled} paid and not journaled "
            f"(twice or lost), {self.duplicates} duplicates, {self.seconds:.1f}s"
        )


def _plan(styles: int, rooms: int) -> str:
    names = ("art-deco", "japandi", "wabi-sabi", "bauhaus")[:styles]
    room_names = ("kitchen", "bedroom", "office")[:rooms]
    lines = ['languages = ["en"]', "images_per_style = 1", "images_per_room = 1", ""]
    for slug in names:
        lines += ["[[subcategories]]", f'slug = "{slug}"', f'name = "{slug.title()}"', ""]
    for slug in room_names:
        lines += ["[[room_types]]", f'slug = "{slug}"', f'name = "{slug.title()}"', ""]
    return "\n".join(lines)


class BatchEpisode:
    """Runs one seeded batch-mode chaos episode against an in-process fake server."""

    def __init__(self, seed: int, cycles: int, workdir: Path | None = None, styles: int = 3) -> None:
        self.seed = seed
        self.cycles = cycles
        self.rng = random.Random(f"batch-{seed}")
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix=f"genjournal-batch-chaos-{seed}-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data = self.workdir / "data"
        self.plan_file = self.workdir / "plan.toml"
        self.plan_text = _plan(styles, 2)
        self.plan_file.write_text(self.plan_text)
        self.plan = checks.plan_from_toml(self.plan_text)
        self.stats = BatchEpisodeStats(seed=seed)
        self.snapshot = Snapshot(events=[], rows=[])
        self.fake: FakeOpenAI | None = None

    # --- the episode ---------------------------------------------------------------------

    def run(self) -> BatchEpisodeStats:
        """Runs the cycles, then finishes the plan and checks the bill; raises AssertionError on a violation."""
        started = time.monotonic()
        faults = {"500": 0.05}
        with FakeOpenAI(
            seed=self.seed,
            text={"faults": faults, "latency_ms": 5},
            image={"faults": faults, "latency_ms": 5},
            image_px=16,
            batch={"validate_s": 0.05, "line_s": 0.01, "finalize_s": 0.05},
        ) as fake:
            self.fake = fake
            for _ in range(self.cycles):
                self._cycle()
            fake.configure({"clear": True, "batch": {"hold": False}})
            self._finish()
        self.stats.seconds = time.monotonic() - started
        shutil.rmtree(self.workdir, ignore_errors=True)
        return self.stats

    def _fail(self, problems: list[str]) -> None:
        raise AssertionError(
            f"batch chaos seed={self.seed} failed after {self.stats.processes} processes:\n  "
            + "\n  ".join(problems)
            + f"\nworkdir: {self.workdir}\nreplay: .venv/bin/python -m tests.chaos.batch_soak "
            f"--seed {self.seed} --cycles {self.cycles}"
        )

    def _cycle(self) -> None:
        draw, point, nth, delay = (
            self.rng.random(),
            self.rng.choice(BATCH_POINTS),
            self.rng.randint(1, 3),
            self.rng.uniform(0.3, 2.5),
        )
        pick = self.rng.getrandbits(32)
        action = ACTIONS[-1][0]
        for name, share in ACTIONS:
            if draw < share:
                action = name
                break
            draw -= share
        if not self.snapshot.events and action in ("collect", "cancel", "live", "regenerate"):
            action = "detach"
        self.stats.actions[action] += 1
        if action == "kill-at":
            self._run(["--batch"], failpoint=f"{point}=exit@{nth}", expect_kill=point)
        elif action == "sigkill":
            self._run(["--batch"], sigkill_after=delay)
        elif action == "detach":
            self._run(["--batch", "--detach"])
        elif action == "collect":
            self._command(["batches"])
        elif action == "cancel":
            assert self.fake is not None
            self.fake.configure({"batch": {"hold": True}})
            self._run(["--batch", "--detach"])
            self._command(["batches", "--cancel"])
            self.fake.configure({"batch": {"hold": False}})
        elif action == "live":
            self._run([])
        else:
            self._regenerate(pick)

    # --- processes -----------------------------------------------------------------------

    def _env(self, failpoint: str | None) -> dict[str, str]:
        assert self.fake is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "GENJOURNAL_"))}
        env.update({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": self.fake.base_url})
        if failpoint:
            env["GENJOURNAL_FAILPOINTS"] = failpoint
        return env

    def _spawn(
        self, args: list[str], *, failpoint: str | None = None, sigkill_after: float | None = None
    ) -> tuple[int, str]:
        self.stats.processes += 1
        err = self.workdir / f"process-{self.stats.processes}.stderr"
        with err.open("w+") as fh:
            proc = subprocess.Popen(
                [sys.executable, "-m", "genjournal", *args, "--data-dir", str(self.data)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=fh,
                env=self._env(failpoint),
            )
            if sigkill_after is not None:
                try:
                    proc.wait(timeout=sigkill_after)
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGKILL)
            try:
                code = proc.wait(timeout=PROCESS_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                self._fail([f"genjournal {' '.join(args)} did not finish in {PROCESS_TIMEOUT_S:.0f}s"])
            fh.seek(0)
            text = fh.read()
        return code, text

    def _run(
        self,
        extra: list[str],
        *,
        failpoint: str | None = None,
        expect_kill: str | None = None,
        sigkill_after: float | None = None,
    ) -> None:
        args = ["run", "--provider", "openai", "--plan", str(self.plan_file), "--max-attempts", "3", *extra]
        code, text = self._spawn(args, failpoint=failpoint, sigkill_after=sigkill_after)
        if code == -signal.SIGKILL:
            self.stats.kills["sigkill"] += 1
        elif code == FAILPOINT_EXIT_CODE:
            if expect_kill is None or f"failpoint {expect_kill} hit" not in text:
                self._fail([f"exit {code} without the failpoint {expect_kill} on stderr"])
            self.stats.kills[expect_kill] += 1
        elif code not in (0, 1):
            self._fail([f"run {' '.join(extra)} exited {code}: {text.strip()[-400:]}"])
        self._check(text)

    def _command(self, args: list[str]) -> None:
        code, text = self._spawn(args)
        if code != 0:
            self._fail([f"genjournal {' '.join(args)} exited {code}: {text.strip()[-400:]}"])
        self._check(text)

    def _regenerate(self, pick: int) -> None:
        waiting = set(checks.pending(self.snapshot.events, self.plan))
        done = sorted(key for key in checks.successes(self.snapshot.events) if key not in waiting)
        if not done:
            return
        stream, step = random.Random(pick).choice(done)
        self._command(["regenerate", stream.removeprefix("style:"), "--step", step, "--reason", "chaos"])

    # --- checks --------------------------------------------------------------------------

    def _check(self, stderr: str) -> None:
        if not (self.data / "journal.db").exists():
            return
        snap = sqlite_snapshot(self.data, self.workdir / "snapshot")
        problems = list(snap.errors)
        problems += checks.traceback_in(stderr)
        problems += checks.check_journal(snap.events, gap_free_positions=True)
        if snap.integrity is not None:
            problems += checks.check_integrity(snap.integrity)
        problems += checks.check_prefix(self.snapshot.rows, snap.rows)
        problems += checks.check_projection(snap.live_export, snap.rebuilt_export)
        if problems:
            self._fail(problems)
        self.snapshot = snap

    def _finish(self) -> None:
        for _ in range(4):
            self._run(["--batch"])
            if not checks.pending(self.snapshot.events, self.plan):
                break
        self._command(["batches"])
        left = checks.pending(self.snapshot.events, self.plan)
        if left:
            self._fail([f"the plan did not complete: {left[:5]}"])
        events = self.snapshot.events
        generations = checks.success_generations(events)
        per_step = Counter({(stream, step): 0 for stream, step, _ in generations})
        for stream, step, _ in generations:
            per_step[(stream, step)] += 1
        assert self.fake is not None
        ledger = [e for e in self.fake.ledger() if e.billable and e.step]
        billed = Counter(tuple(e.step.split("/", 1)) for e in ledger)
        problems = []
        for key in sorted(set(billed) | set(per_step)):
            paid, journaled = billed.get(key, 0), per_step.get(key, 0)  # type: ignore[call-overload]
            if paid > journaled:
                self.stats.paid_not_journaled += paid - journaled
                problems.append(f"{key} was billed {paid} times for {journaled} journaled generation(s)")
            elif paid < journaled:
                problems.append(f"{key} has {journaled} generation(s) but {paid} billed request(s)")
        verify = subprocess.run(
            [sys.executable, "-m", "genjournal", "verify", "--data-dir", str(self.data)],
            capture_output=True,
            text=True,
            env=self._env(None),
            timeout=PROCESS_TIMEOUT_S,
        )
        if verify.returncode != 0:
            problems.append(f"verify exited {verify.returncode}: {verify.stdout.strip()[-400:]}")
        submitted = [e for e in events if e["type"] == "BatchSubmitted"]
        self.stats.batches = len(submitted)
        self.stats.adopted = sum(1 for e in submitted if e["data"].get("adopted"))
        self.stats.steps = sum(generations.values())
        self.stats.regenerated = sum(1 for key in generations if key[2] > 1)
        self.stats.duplicates = self.stats.steps - len(generations)
        self.stats.paid_lines = sum(1 for e in ledger if e.batch_id)
        self.stats.paid_calls = len(ledger) - self.stats.paid_lines
        if problems:
            self._fail(problems)


def run_batch_episode(seed: int, cycles: int, workdir: Path | None = None) -> BatchEpisodeStats:
    """Runs one batch chaos episode; raises AssertionError naming the seed on any violation."""
    return BatchEpisode(seed, cycles, workdir).run()


def main(argv: list[str] | None = None) -> int:
    """Runs episodes from the command line and prints one line each."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.chaos.batch_soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=1, help="run this many seeds from --seed on")
    parser.add_argument("--cycles", type=int, default=12)
    args = parser.parse_args(argv)
    total: Counter[str] = Counter()
    for seed in range(args.seed, args.seed + args.seeds):
        stats = run_batch_episode(seed, args.cycles)
        print(stats.line(), flush=True)
        total.update(stats.kills)
    print(f"kills by point: {dict(total)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
