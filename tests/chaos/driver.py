"""One chaos episode: ``genjournal run`` against the fault server, killed, restarted and checked.

An episode owns a data dir, a plan and a fake OpenAI server (random 429s with
Retry-After, 500s, dropped connections, latency, malformed replies). Each cycle picks an
action from a ``random.Random(seed)``:

* ``exit``   — a run with ``GENJOURNAL_FAILPOINTS=<point>=exit@<n>``: it dies (``os._exit``)
  the n-th time it reaches the point;
* ``sigkill`` — a run SIGKILLed after a random delay, mostly counted from the moment its
  steps start (its "N steps to run" line), sometimes from process start;
* ``rebuild`` / ``export`` — ``genjournal rebuild`` dying before or after its swap, or
  ``export`` dying inside the projection's checkpoint write;
* ``enospc`` — a run whose blob write or journal append finds the disk full: it must
  stop with a one-line message and no traceback;
* ``regenerate`` — ``genjournal regenerate`` marks one to three done steps (their
  dependants follow, or not, by the command's rules) for a new generation, sometimes
  dying just before its one commit: all of its requests are journaled, or none. Later
  runs do the new generations; the checks count successes per (stream, step,
  generation) and refuse a generation nobody asked for.

After every process the journal is copied and checked (``tests.chaos.checks``,
``tests.chaos.accounting``): ledger vs journal, duplicates, gap-free versions and
positions, ``PRAGMA integrity_check``, earlier rows byte-identical, dependencies,
rebuild == live projection, blob hashes, temp files. Ledger entries belong to the
process that was running when they *arrived*, so a killed run's last requests count
against it even if the server answered them after the next process started. When the
plan is complete it grows by one style, so there is always work to kill. At the end: a
run with faults (completes or leaves failure events saying why), a run without faults
(completes), a run that sends zero requests, and ``export``/``rebuild``/``export``
through the CLI.

Everything random is drawn from the seed (actions, failpoint occurrences, delays, the
server's faults), so a red episode replays with the printed command; the exact instant a
SIGKILL lands still depends on the machine's timing.

With ``in_process`` (the mongomock leg) runs are invoked in this process and crash
through ``raise`` failpoints instead of exits and SIGKILL.

Run it: ``.venv/bin/python -m tests.chaos.driver --seed 7 --kills 10``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from journal.failpoints import FAILPOINT_EXIT_CODE
from tests.chaos import checks
from tests.chaos.accounting import Account, reconcile
from tests.chaos.fakeproc import FakeServerProcess, InProcessServer, LedgerSource, settle
from tests.chaos.snapshot import Snapshot, sqlite_snapshot, store_snapshot

#: failpoints on the path of a run's step, in the order a step reaches them
RUN_POINTS = (
    "step-before-call",
    "provider-after-response",
    "blob-write",
    "blob-before-rename",
    "blob-after-rename",
    "append-before-commit",
    "append-after-commit",
    "projection-before-checkpoint",
)
REBUILD_POINTS = ("rebuild-before-swap", "rebuild-after-swap")
ENOSPC_POINTS = ("blob-write", "append-before-commit")
SLUGS = (
    "art-deco", "japandi", "wabi-sabi", "bauhaus", "memphis", "brutalist", "coastal", "shaker",
    "rococo", "gothic-revival", "chinoiserie", "de-stijl", "space-age", "tuscan", "gustavian",
    "regency", "prairie", "victorian", "moroccan", "alpine-chalet", "parisian-chic", "cottagecore",
    "biedermeier", "high-tech", "postmodern", "retro-seventies", "streamline-moderne", "georgian",
)  # fmt: skip
ROOMS = ("kitchen", "bedroom", "bathroom", "home-office", "dining-room", "living-room")
KEY = "sk-test-chaos-0123456789abcdefABCD"
PROCESS_TIMEOUT_S = 180.0


class ChaosFailure(AssertionError):
    """An invariant was broken; the message names the seed and the command that replays it."""


@dataclass
class ChaosConfig:
    """Says how an episode runs: its seed, how many kills, the plan and the server's fault rates."""

    seed: int = 1
    kills: int = 10
    styles: int = 2
    rooms: int = 2
    images_per_style: int = 1
    images_per_room: int = 1
    rate_429: float = 0.06
    rate_500: float = 0.04
    rate_drop: float = 0.03
    rate_malformed: float = 0.04
    latency_ms: float = 15.0
    jitter_ms: float = 10.0
    #: steps whose first requests all fail with 500, so failure events and blocked dependants occur
    poisoned_steps: int = 3
    sigkill_share: float = 0.35
    rebuild_share: float = 0.08
    export_share: float = 0.05
    enospc_share: float = 0.06
    regenerate_share: float = 0.18
    db: str | None = None
    in_process: bool = False
    workdir: Path | None = None
    keep: bool = False
    verbose: bool = False

    def replay_command(self) -> str:
        """Returns the one-line command that replays this episode."""
        defaults = ChaosConfig()
        parts = [".venv/bin/python", "-m", "tests.chaos.driver"]
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if item.name in ("workdir", "keep", "verbose", "in_process"):
                continue
            if item.name in ("seed", "kills") or value != getattr(defaults, item.name):
                parts += [f"--{item.name.replace('_', '-')}", str(value)]
        return shlex.join(parts)

    def server_settings(self) -> dict[str, Any]:
        """Returns the fake server's settings: latency, jitter and fault rates per family."""
        faults = {
            "429": self.rate_429,
            "500": self.rate_500,
            "drop": self.rate_drop,
            "malformed": self.rate_malformed,
        }
        family = {
            "latency_ms": self.latency_ms,
            "jitter_ms": self.jitter_ms,
            "faults": {name: rate for name, rate in faults.items() if rate > 0},
            "retry_after_s": 0.05,
        }
        return {
            "seed": self.seed,
            "text": family,
            "image": dict(family),
            "image_px": 32,
            "rules": self.poison(),
        }

    def poison(self) -> list[dict[str, Any]]:
        """Returns the seed's fault rules: a few steps failing 2-6 times in a row, then not."""
        rng = random.Random(f"poison-{self.seed}")
        keys = [
            f"style:{slug}/{step}"
            for slug in SLUGS[: self.styles + 1]
            for step in (
                "content",
                *(f"room:{room}" for room in ROOMS[: self.rooms]),
                "image:style:0",
            )
        ]
        return [
            {"match": key, "fault": "500", "times": rng.randint(2, 6)}
            for key in rng.sample(keys, min(self.poisoned_steps, len(keys)))
        ]


@dataclass
class Action:
    """One cycle's choice: what to start and how it is to die."""

    kind: str  # exit, sigkill, raise, enospc, rebuild, export, regenerate, clean
    point: str | None = None
    nth: int | None = None
    delay_s: float | None = None
    concurrency: int = 4
    max_attempts: int = 4
    workers: int = 1
    #: a SIGKILL's delay counts from the run's "N steps to run" line, not from its start
    after_start: bool = False
    #: how many done steps a ``regenerate`` picks, and the seed of its pick
    regen_count: int = 1
    regen_seed: int = 0

    def failpoints(self) -> str | None:
        """Returns the ``GENJOURNAL_FAILPOINTS`` spec of this action, if any."""
        if self.point is None:
            return None
        action = {
            "exit": "exit",
            "rebuild": "exit",
            "export": "exit",
            "raise": "raise",
            "enospc": "enospc",
            "regenerate": "exit",
        }[self.kind]
        return f"{self.point}={action}" + (f"@{self.nth}" if self.nth else "")

    def __str__(self) -> str:
        if self.kind == "sigkill":
            since = "its steps started" if self.after_start else "start"
            return f"sigkill {self.delay_s:.2f}s after {since} (concurrency {self.concurrency})"
        if self.point:
            return f"{self.kind} {self.failpoints()} (concurrency {self.concurrency})"
        return f"{self.kind} (concurrency {self.concurrency})"


@dataclass
class ProcessRecord:
    """What one started process did."""

    kind: str  # run, rebuild, export
    action: Action
    started: float
    returncode: int
    stderr: str
    pid: int
    killed_by: str | None = None
    raised: BaseException | None = None


@dataclass
class EpisodeStats:
    """An episode's figures, summed by the soak."""

    seed: int
    kills: int = 0
    kill_kinds: Counter[str] = field(default_factory=Counter)
    #: kills of a run that had at least one step started and not yet journaled
    kills_mid_step: int = 0
    processes: int = 0
    runs: int = 0
    disk_full_stops: int = 0
    disk_full_points: Counter[str] = field(default_factory=Counter)
    steps: int = 0
    failure_events: int = 0
    duplicates: int = 0
    #: successes of a generation 2 or later (steps done again after `regenerate`)
    regenerated: int = 0
    account: Account = field(default_factory=Account)
    seconds: float = 0.0

    def line(self) -> str:
        """Returns a one-line summary."""
        a = self.account
        return (
            f"seed {self.seed}: {self.kills} kills ({self.kills_mid_step} mid-step) "
            f"{dict(self.kill_kinds)}, {self.runs} runs, "
            f"{self.steps} steps, {a.paid_calls} paid calls, {a.extra_paid_calls} extra paid calls "
            f"({a.steps_in_flight} steps in flight), {a.lost_results} lost results, "
            f"{self.duplicates} duplicates, {self.regenerated} regenerated, "
            f"{self.disk_full_stops} disk-full stops, "
            f"{self.seconds:.1f}s"
        )


def plan_dict(styles: int, config: ChaosConfig) -> dict[str, Any]:
    """Returns the episode's plan with its first ``styles`` styles."""
    return {
        "languages": ["en"],
        "images_per_style": config.images_per_style,
        "images_per_room": config.images_per_room,
        "subcategories": [{"slug": slug, "name": slug.replace("-", " ").title()} for slug in SLUGS[:styles]],
        "room_types": [
            {"slug": slug, "name": slug.replace("-", " ").title()} for slug in ROOMS[: config.rooms]
        ],
    }


def plan_toml(plan: dict[str, Any]) -> str:
    """Renders a plan as TOML."""
    lines = [
        f"languages = {json.dumps(plan['languages'])}",
        f"images_per_style = {plan['images_per_style']}",
        f"images_per_room = {plan['images_per_room']}",
    ]
    for table in ("subcategories", "room_types"):
        for entry in plan[table]:
            lines += [
                "",
                f"[[{table}]]",
                f"slug = {json.dumps(entry['slug'])}",
                f"name = {json.dumps(entry['name'])}",
            ]
    return "\n".join(lines) + "\n"


class Episode:
    """Runs one seeded chaos episode and checks the invariants after every process."""

    def __init__(self, config: ChaosConfig) -> None:
        if config.styles > len(SLUGS) or config.rooms > len(ROOMS):
            raise ValueError(f"at most {len(SLUGS)} styles and {len(ROOMS)} rooms")
        self.config = config
        self.rng = random.Random(config.seed)
        self.workdir = config.workdir or Path(tempfile.mkdtemp(prefix=f"genjournal-chaos-{config.seed}-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.workdir / "data"
        self.plan_file = self.workdir / "plan.toml"
        self.styles = config.styles
        self.plan = plan_dict(self.styles, config)
        self.plan_file.write_text(plan_toml(self.plan))
        self.snapshot = Snapshot(events=[], rows=[], integrity=["ok"])
        self.stats = EpisodeStats(seed=config.seed)
        self.server: LedgerSource | None = None
        self.ledger_seen = 0
        self.run_pids: list[int] = []
        #: every process in start order, with the run it recorded (None: none, or not a run)
        self.windows: list[tuple[ProcessRecord, str | None]] = []
        self.records: list[ProcessRecord] = []

    # --- the episode -----------------------------------------------------------------

    def run(self) -> EpisodeStats:
        """Runs the episode to the end; raises ChaosFailure naming the seed on any violation."""
        started = time.monotonic()
        try:
            if self.config.in_process:
                from genjournal.testing.fake_openai import FakeOpenAI

                with FakeOpenAI(**_in_process_settings(self.config.server_settings())) as fake:
                    self.server = InProcessServer(fake)
                    self._loop()
            else:
                with FakeServerProcess(
                    self.config.server_settings(), self.workdir / "fakeserver.log"
                ) as server:
                    self.server = server
                    self._loop()
        except ChaosFailure:
            raise
        except Exception as exc:
            where = traceback.format_exc(limit=-3).strip().replace("\n", "\n    ")
            self._fail([f"the driver crashed: {type(exc).__name__}: {exc}\n    {where}"])
        self.stats.seconds = time.monotonic() - started
        if not self.config.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return self.stats

    def _loop(self) -> None:
        budget = self.config.kills * 6 + 10
        while self.stats.kills < self.config.kills:
            budget -= 1
            if budget < 0:
                self._fail([f"only {self.stats.kills} kills landed in {self.stats.processes} processes"])
            self._cycle(self._choose())
        self._finish()

    def _log(self, text: str) -> None:
        if self.config.verbose:
            print(f"chaos[{self.config.seed}] {text}", file=sys.stderr, flush=True)

    def _fail(self, problems: list[str]) -> None:
        last = self.records[-1].action if self.records else None
        keep = " (kept)" if self.workdir.exists() else ""
        raise ChaosFailure(
            f"chaos episode seed={self.config.seed} failed after {len(self.records)} processes "
            f"(last: {last}):\n  "
            + "\n  ".join(problems)
            + f"\nworkdir: {self.workdir}{keep}\nreplay: {self.config.replay_command()}"
        )

    # --- choosing ----------------------------------------------------------------------

    def _pending(self) -> tuple[int, int]:
        keys = checks.pending(self.snapshot.events, self.plan)
        return len(keys), sum(1 for _, step in keys if step.startswith("image:"))

    def _choose(self) -> Action:
        """Draws the next action; every cycle consumes the same random numbers in the same order.

        So the sequence of action kinds, points and draws depends on the seed alone, not on
        how far earlier (timing-dependent) runs got; the state only scales the draws.
        """
        rng, cfg = self.rng, self.config
        kind_draw, run_point, full_point = (
            rng.random(),
            rng.choice(RUN_POINTS),
            rng.choice(ENOSPC_POINTS),
        )
        rebuild_point, nth_draw, delay_draw = rng.choice(REBUILD_POINTS), rng.random(), rng.random()
        concurrency, attempts, workers = rng.randint(1, 4), rng.randint(2, 4), rng.randint(1, 2)
        after_start = rng.random() < 0.7
        regen_draw, regen_count, regen_kill, regen_seed = (
            rng.random(),
            rng.randint(1, 3),
            rng.random() < 0.4,
            rng.getrandbits(32),
        )
        steps, images = self._pending()
        has_journal = bool(self.snapshot.events)
        run = {"concurrency": concurrency, "max_attempts": attempts}

        def nth(point: str) -> int:
            return 1 + int(nth_draw * self._reach(point, steps, images))

        if has_journal and regen_draw < cfg.regenerate_share:
            return Action(
                "regenerate",
                "append-before-commit" if regen_kill and not cfg.in_process else None,
                regen_count=regen_count,
                regen_seed=regen_seed,
            )
        if cfg.in_process:
            if kind_draw < cfg.enospc_share * 2:
                return Action("enospc", full_point, nth(full_point), **run)
            return Action("raise", run_point, nth(run_point), **run)
        if has_journal and kind_draw < cfg.rebuild_share:
            return Action("rebuild", rebuild_point, workers=workers)
        kind_draw -= cfg.rebuild_share
        if has_journal and kind_draw < cfg.export_share:
            return Action("export", "projection-before-checkpoint", 1)
        kind_draw -= cfg.export_share
        if kind_draw < cfg.enospc_share:
            return Action("enospc", full_point, nth(full_point), **run)
        kind_draw -= cfg.enospc_share
        if kind_draw < cfg.sigkill_share:
            # Most SIGKILLs land while steps run; some anywhere from process start (replay,
            # temp-file cleanup, the first catch-up).
            low, high = (0.0, 0.15 + 0.06 * steps) if after_start else (0.2, 0.6 + 0.08 * steps)
            delay = low + (high - low) * delay_draw
            return Action("sigkill", delay_s=delay, after_start=after_start, **run)
        return Action("exit", run_point, nth(run_point), **run)

    @staticmethod
    def _reach(point: str, steps: int, images: int) -> int:
        """Returns about how often a run with this pending work reaches a failpoint."""
        return max(
            1,
            {
                "step-before-call": steps,
                "provider-after-response": steps,
                "blob-write": images,
                "blob-before-rename": images,
                "blob-after-rename": images,
                "append-before-commit": 2 * steps + 1,
                "append-after-commit": 2 * steps + 1,
                "projection-before-checkpoint": 3,
            }[point],
        )

    # --- one cycle -----------------------------------------------------------------------

    def _cycle(self, action: Action) -> None:
        self._log(f"{action}")
        if action.kind in ("rebuild", "export"):
            self._projection_kill(action)
            return
        if action.kind == "regenerate":
            self._regenerate(action)
            return
        record = self._start_run(action)
        self._after(record)
        if not checks.pending(self.snapshot.events, self.plan) and self.styles < len(SLUGS):
            self.styles += 1
            self.plan = plan_dict(self.styles, self.config)
            self.plan_file.write_text(plan_toml(self.plan))
            self._log(f"plan complete; grown to {self.styles} styles")

    def _run_args(self, action: Action) -> list[str]:
        args = [
            "run",
            "--provider",
            "openai",
            "--plan",
            str(self.plan_file),
            "--data-dir",
            str(self.data_dir),
            "--concurrency",
            str(action.concurrency),
            "--max-attempts",
            str(action.max_attempts),
        ]
        return args + (["--db", self.config.db] if self.config.db else [])

    def _start_run(self, action: Action) -> ProcessRecord:
        self.stats.runs += 1
        record = self._execute("run", self._run_args(action), action)
        return record

    def _execute(self, kind: str, args: list[str], action: Action) -> ProcessRecord:
        self.stats.processes += 1
        if self.config.in_process:
            record = self._invoke(kind, args, action)
        else:
            record = self._spawn(kind, args, action)
        self.records.append(record)
        if record.killed_by is not None:
            self.stats.kills += 1
            self.stats.kill_kinds[record.killed_by] += 1
        self._log(
            f"  -> {kind} exit {record.returncode}"
            + (f", killed by {record.killed_by}" if record.killed_by else "")
        )
        return record

    def _env(self, action: Action) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "GENJOURNAL_"))}
        assert self.server is not None
        env.update({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": self.server.base_url})
        spec = action.failpoints()
        if spec:
            env["GENJOURNAL_FAILPOINTS"] = spec
            env["GENJOURNAL_FAILPOINTS_SEED"] = str(self.config.seed)
        return env

    def _spawn(self, kind: str, args: list[str], action: Action) -> ProcessRecord:
        argv = [sys.executable, "-m", "genjournal", *args]
        err_path = self.workdir / f"process-{len(self.records) + 1}.stderr"
        started = time.time()
        with err_path.open("w+") as err:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=self._env(action),
            )
            if action.kind == "sigkill":
                assert action.delay_s is not None
                if action.after_start:
                    _wait_for_work(proc, err_path)
                try:
                    proc.wait(timeout=action.delay_s)
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGKILL)
            try:
                code = proc.wait(timeout=PROCESS_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                self._fail([f"{' '.join(argv)} did not finish in {PROCESS_TIMEOUT_S:.0f}s"])
            err.seek(0)
            text = err.read()
        record = ProcessRecord(kind, action, started, code, text, proc.pid)
        if code == -signal.SIGKILL:
            record.killed_by = "sigkill"
        elif code == FAILPOINT_EXIT_CODE:
            record.killed_by = f"regenerate:{action.point}" if kind == "regenerate" else action.point
        return record

    def _invoke(self, kind: str, args: list[str], action: Action) -> ProcessRecord:
        from click.testing import CliRunner

        from genjournal.cli import cli
        from journal import failpoints

        env = self._env(action)
        env.pop("GENJOURNAL_FAILPOINTS", None)
        started = time.time()
        failpoints.configure(action.failpoints(), self.config.seed)
        try:
            result = CliRunner().invoke(
                cli,
                args,
                env={**{k: None for k in os.environ if k.startswith("GENJOURNAL_")}, **env},
            )
            fired = failpoints.fired(action.point) if action.point else 0
        finally:
            failpoints.configure(None)
        record = ProcessRecord(
            kind,
            action,
            started,
            result.exit_code,
            result.stderr,
            os.getpid(),
            raised=result.exception,
        )
        if fired and action.kind == "raise":
            record.killed_by = f"raise:{action.point}"
        return record

    def _projection_kill(self, action: Action) -> None:
        """Kills ``rebuild`` (at its swap) or ``export`` (mid-checkpoint); the export stays."""
        before = self.snapshot.live_export
        out = self.workdir / "export"
        args = (
            ["rebuild", "--workers", str(action.workers)]
            if action.kind == "rebuild"
            else ["export", "--out", str(out.with_suffix(".during"))]
        )
        args += ["--data-dir", str(self.data_dir)] + (["--db", self.config.db] if self.config.db else [])
        record = self._execute(action.kind, args, action)
        if record.returncode not in (0, FAILPOINT_EXIT_CODE):
            self._fail([f"{action.kind} exited {record.returncode}: {record.stderr.strip()[-300:]}"])
        self._after(record)
        if self._export(out.with_suffix(".after")) != before:
            self._fail([f"export changed across a killed {action.kind}"])

    def _regenerate(self, action: Action) -> None:
        """Marks a few done steps for a new generation; a killed call journals none of them."""
        events = self.snapshot.events
        waiting = set(checks.pending(events, self.plan))
        done = sorted(key for key in checks.successes(events) if key not in waiting)
        if not done:
            return
        chosen = random.Random(action.regen_seed).sample(done, min(action.regen_count, len(done)))
        slugs = sorted({stream.removeprefix("style:") for stream, _ in chosen})
        args = ["regenerate", *slugs]
        for step in sorted({step for _, step in chosen}):
            args += ["--step", step]
        args += ["--reason", f"chaos cycle {len(self.records) + 1}", "--data-dir", str(self.data_dir)]
        args += ["--db", self.config.db] if self.config.db else []
        before = len(events)
        record = self._execute("regenerate", args, action)
        self._after(record)
        new = [e for e in self.snapshot.events[before:] if e["type"] == checks.REGENERATION]
        marked = {(e["stream"], e["step"]) for e in new}
        if record.killed_by is not None and new:
            self._fail([f"a regenerate killed before its commit journaled {len(new)} request(s)"])
        if record.killed_by is None and not set(chosen) <= marked:
            self._fail([f"regenerate marked {sorted(marked)}, not every chosen step {sorted(chosen)}"])

    def _export(self, path: Path) -> bytes:
        args = ["export", "--out", str(path), "--data-dir", str(self.data_dir)]
        args += ["--db", self.config.db] if self.config.db else []
        record = self._execute("export", args, Action("clean"))
        if record.returncode != 0:
            self._fail([f"export exited {record.returncode}: {record.stderr.strip()[-300:]}"])
        self._after(record)
        return path.read_bytes()

    # --- the checks after every process ---------------------------------------------------

    def _take_snapshot(self) -> Snapshot:
        if self.config.db is None:
            return sqlite_snapshot(self.data_dir, self.workdir / "snapshot")
        from journal.errors import ConfigError

        try:
            return store_snapshot(self.config.db)
        except ConfigError:  # no journal yet: every run so far died before creating it
            if self.snapshot.events:
                raise
            return Snapshot(events=[], rows=[])

    def _entries(self, ledger: list[dict[str, Any]], index: int) -> list[dict[str, Any]]:
        """Returns the ledger entries that arrived while process ``index`` was the one running."""
        start = self.windows[index][0].started
        stop = self.windows[index + 1][0].started if index + 1 < len(self.windows) else float("inf")
        return [e for e in ledger if start <= e["arrived"] < stop]

    def _after(self, record: ProcessRecord) -> None:
        assert self.server is not None
        quiet = 0.05 if record.returncode == 0 and record.killed_by is None else 0.25
        ledger = settle(self.server, quiet_s=quiet)
        self.ledger_seen = len(ledger)
        snap = self._take_snapshot()
        sqlite = self.config.db is None
        problems = list(snap.errors)
        problems += checks.check_journal(snap.events, gap_free_positions=sqlite)
        if snap.integrity is not None:
            problems += checks.check_integrity(snap.integrity)
        problems += checks.check_prefix(self.snapshot.rows, snap.rows)
        problems += checks.check_dependencies(snap.events)
        problems += checks.check_projection(snap.live_export, snap.rebuilt_export)
        last = self.snapshot.events[-1]["position"] if self.snapshot.events else 0
        new_runs = [e for e in snap.events if e["type"] == "RunStarted" and e["position"] > last]
        if len(new_runs) > 1:
            problems.append(f"one process recorded {len(new_runs)} RunStarted events")
        run_id = new_runs[0]["run_id"] if new_runs else None
        self.windows.append((record, run_id))
        entries = self._entries(ledger, len(self.windows) - 1)
        if record.kind == "run":
            problems += reconcile(run_id, snap.events, entries)[1]
        elif entries:
            problems.append(f"`genjournal {record.kind}` made {len(entries)} API requests")
        stale = set(self.run_pids) - {record.pid} if run_id and not self.config.in_process else set()
        problems += checks.check_blobs(snap.events, self.data_dir, stale_pids=stale)
        problems += self._expectations(record)
        if record.kind == "run":
            self.run_pids.append(record.pid)
        if problems:
            self._fail(problems)
        self.snapshot = snap

    def _recount(self) -> None:
        """Reconciles every run again against the whole ledger, for the episode's exact figures.

        A request of a killed run that the server answered only after the next process
        started is attributed by its arrival time, so it lands in its own run's account.
        """
        assert self.server is not None
        ledger = settle(self.server, quiet_s=0.05)
        problems: list[str] = []
        for index, (record, run_id) in enumerate(self.windows):
            if record.kind != "run":
                continue
            account, found = reconcile(run_id, self.snapshot.events, self._entries(ledger, index))
            problems += found
            self.stats.account.add(account)
            if record.killed_by is not None and account.steps_in_flight:
                self.stats.kills_mid_step += 1
        if sum(1 for e in ledger if e.get("family")) != sum(
            len(self._entries(ledger, i)) for i in range(len(self.windows))
        ):
            problems.append("some API requests arrived outside every process's lifetime")
        if problems:
            self._fail(problems)

    def _expectations(self, record: ProcessRecord) -> list[str]:
        """Checks how the process ended against what its action asked for."""
        action, code, text = record.action, record.returncode, record.stderr
        if record.killed_by is not None:
            if (
                action.kind in ("exit", "rebuild", "export", "regenerate")
                and f"failpoint {action.point} hit" not in text
            ):
                return [f"exit {code} without 'failpoint {action.point} hit' on stderr"]
            return []
        problems = checks.traceback_in(text)
        if record.raised is not None and not isinstance(record.raised, SystemExit):
            problems.append(f"{record.kind} raised {type(record.raised).__name__}: {record.raised}")
        if record.kind != "run":
            return problems + ([f"{record.kind} exited {code}"] if code != 0 else [])
        if action.kind == "enospc" and ("full" in text or "No space" in text):
            self.stats.disk_full_stops += 1
            self.stats.disk_full_points[str(action.point)] += 1
            if code not in (1, 2):
                problems.append(f"a run that found the disk full exited {code}")
            return problems
        if code not in (0, 1):
            problems.append(f"run exited {code}: {text.strip()[-400:]}")
        return problems

    # --- the end -----------------------------------------------------------------------

    def _finish(self) -> None:
        """Runs to completion and checks invariants 2, 4 and 5 through the CLI."""
        assert self.server is not None
        record = self._start_run(Action("clean", concurrency=self.rng.randint(1, 4)))
        self._after(record)
        run_id = self._last_run_id()
        if record.returncode == 1:
            if found := checks.check_completion(self.snapshot.events, self.plan, run_id):
                self._fail(found)
        elif record.returncode != 0:
            self._fail([f"the final run exited {record.returncode}"])
        self.server.configure({"clear": True})
        record = self._start_run(Action("clean", concurrency=self.rng.randint(1, 4)))
        self._after(record)
        left = checks.pending(self.snapshot.events, self.plan)
        if record.returncode != 0 or left:
            self._fail([f"the run without faults exited {record.returncode} leaving {left[:5]}"])
        seen = self.ledger_seen
        record = self._start_run(Action("clean"))
        self._after(record)
        if record.returncode != 0 or self.ledger_seen != seen:
            self._fail(
                [
                    f"a run on a complete journal exited {record.returncode} after "
                    f"{self.ledger_seen - seen} API requests (must be 0 and 0)"
                ]
            )
        problems = checks.check_no_temp_files(self.data_dir)
        before = self._export(self.workdir / "final.before")
        rebuild = self._execute(
            "rebuild",
            ["rebuild", "--data-dir", str(self.data_dir)]
            + (["--db", self.config.db] if self.config.db else []),
            Action("clean"),
        )
        self._after(rebuild)
        if rebuild.returncode != 0:
            problems.append(f"rebuild exited {rebuild.returncode}")
        if self._export(self.workdir / "final.after") != before:
            problems.append("export after rebuild differs from export before it")
        docs = json.loads(before)
        if sorted(doc["slug"] for doc in docs) != sorted(s["slug"] for s in self.plan["subcategories"]):
            problems.append("the export does not hold every planned style")
        if any(doc["status"] != "complete" for doc in docs):
            problems.append("a style of the completed plan is not complete in the export")
        if problems:
            self._fail(problems)
        events = self.snapshot.events
        self.stats.steps = sum(1 for e in events if e["type"] in checks.SUCCESS)
        self.stats.failure_events = sum(1 for e in events if e["type"] in checks.FAILURE)
        self.stats.duplicates = self.stats.steps - len(checks.success_generations(events))
        self.stats.regenerated = sum(1 for key in checks.success_generations(events) if key[2] > 1)
        self._recount()

    def _last_run_id(self) -> str:
        return next(e["run_id"] for e in reversed(self.snapshot.events) if e["type"] == "RunStarted")


def _wait_for_work(proc: subprocess.Popen[bytes], err_path: Path, timeout_s: float = 60.0) -> None:
    """Waits until a run reports its steps started (or ends), by polling its stderr file."""
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None and time.monotonic() < deadline:
        if "steps to run" in err_path.read_text(errors="replace"):
            return
        time.sleep(0.01)


def _in_process_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Maps the subprocess server's settings onto FakeOpenAI's constructor."""
    return {
        "seed": settings["seed"],
        "text": settings["text"],
        "image": settings["image"],
        "image_px": settings["image_px"],
        "rules": settings["rules"],
    }


def run_episode(config: ChaosConfig) -> EpisodeStats:
    """Runs one episode; raises ChaosFailure (naming the seed and replay command) on a violation."""
    return Episode(config).run()


def parser() -> argparse.ArgumentParser:
    """Returns the command line of the driver (every ChaosConfig field is an option)."""
    p = argparse.ArgumentParser(prog="python -m tests.chaos.driver", description=__doc__.split("\n")[0])
    defaults = ChaosConfig()
    for item in dataclasses.fields(ChaosConfig):
        flag = f"--{item.name.replace('_', '-')}"
        default = getattr(defaults, item.name)
        if isinstance(default, bool):
            p.add_argument(flag, action="store_true")
        elif item.name == "workdir":
            p.add_argument(flag, type=Path, default=None)
        elif item.name == "db":
            p.add_argument(flag, default=None, help="a mongodb:// URL (default: SQLite in the data dir)")
        else:
            p.add_argument(flag, type=type(default), default=default)
    return p


def main(argv: list[str] | None = None) -> int:
    """Runs one episode from the command line; exits 1 with seed and replay command on failure."""
    args = parser().parse_args(argv)
    config = ChaosConfig(**vars(args))
    try:
        stats = run_episode(config)
    except ChaosFailure as failure:
        print(str(failure), file=sys.stderr)
        return 1
    print(stats.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
