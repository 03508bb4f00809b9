"""verify: a read-only check of a journal, its image blobs and its projection.

Checks, each a ``Finding`` when it fails (``error`` fails verify; ``info`` is reported
and expected after crashes):

* every event decodes (a damaged row is named by its position; reading goes on past it);
* every ``ImageGenerated`` blob exists and hashes to its name; orphan blobs (files no
  event names) and leftover temp files are counted (info);
* the backend's own checks (``EventStore.self_check``): on SQLite ``PRAGMA
  integrity_check`` and gap-free positions, on MongoDB tombstoned positions as info (a
  crashed or refused writer's block, by design); on both, every stream's versions are
  1…n without gaps;
* the stored projection equals a fresh fold: each style document and its audit facts
  equal the fold of its stream up to their version, none lags the checkpoint, every
  style stream has a document, run facts equal the fold of their run stream, the plan
  is the latest ``RunStarted``'s, and the checkpoint has reached the journal's end.

It writes nothing: the projection is opened without creating or migrating anything,
and nothing is caught up or repaired (the report says how: ``genjournal rebuild`` for
the projection). It streams: one style's events and document at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from journal.blobs import BlobStore, is_sha256
from journal.errors import EventError
from journal.events import REGENERATION_TYPE, PlanSpec, generation_of
from journal.store import EventStore, RawEvent, StoredEvent
from journal.streams import RUN_PREFIX, STYLE_PREFIX
from projector.facts import fold_facts
from projector.fold import fold
from projector.reports import Finding, VerifyReport
from projector.store import ProjectionDamagedError, ViewStore

PAGE = 2000
EXAMPLES = 10
#: a lease whose heartbeat is this recent belongs to a live run
LIVE_LEASE_S = 60.0
Severity = Literal["error", "info"]


@dataclass
class _Check:
    severity: Severity
    message: str
    count: int = 0
    examples: list[str] = field(default_factory=list)


class Findings:
    """Collects findings by check, counting every one and keeping a few examples."""

    def __init__(self) -> None:
        self._checks: dict[str, _Check] = {}

    def add(
        self,
        check: str,
        severity: Severity,
        message: str,
        example: str | None = None,
        count: int = 1,
    ) -> None:
        """Records ``count`` occurrences of a finding (the message of the first one is kept)."""
        found = self._checks.get(check)
        if found is None:
            found = self._checks[check] = _Check(severity, message)
        found.count += count
        if example is not None and len(found.examples) < EXAMPLES:
            found.examples.append(example)

    def has(self, *checks: str) -> bool:
        """Tells whether any of these checks found something."""
        return any(check in self._checks for check in checks)

    def report(self) -> list[Finding]:
        """Returns the findings, errors first."""
        items = sorted(self._checks.items(), key=lambda item: (item[1].severity != "error", item[0]))
        return [
            Finding(
                check=check,
                severity=c.severity,
                count=c.count,
                message=c.message,
                examples=c.examples,
            )
            for check, c in items
        ]


@dataclass
class _Scan:
    """What one pass over the journal learned."""

    events: int = 0
    last_position: int = 0
    images: dict[str, int] = field(default_factory=dict)  # sha256 -> first position naming it
    streams: set[str] = field(default_factory=set)
    plan: PlanSpec | None = None
    #: per style stream, its last version at or before the projection's checkpoint
    style_versions: dict[str, int] = field(default_factory=dict)
    #: per (stream, step), the generation of each success event, in journal order
    generations: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    #: per (stream, step), the generations regeneration requests asked for
    requested: dict[tuple[str, str], set[int]] = field(default_factory=dict)


def _run_is_live(store: EventStore) -> bool:
    """Tells whether a run holds the journal's lease now (its projection may lag a little)."""
    holder = store.read_lease()
    return holder is not None and holder.is_alive(heartbeat_timeout_s=LIVE_LEASE_S)


def _read_everything(store: EventStore, checkpoint: int, findings: Findings, *, until: int) -> _Scan:
    """Decodes every event up to position ``until`` in order, continuing past damaged ones."""
    scan = _Scan()
    position = 0

    def take(page: list[StoredEvent]) -> None:
        """Records what one page of events shows."""
        page = [stored for stored in page if stored.position <= until]
        for stored in page:
            scan.events += 1
            scan.streams.add(stored.stream)
            event = stored.event
            if stored.position <= checkpoint:
                if event.type == "RunStarted":
                    scan.plan = stored.data.plan
                if stored.stream.startswith(STYLE_PREFIX):
                    scan.style_versions[stored.stream] = max(
                        stored.version, scan.style_versions.get(stored.stream, 0)
                    )
            if event.type == "ImageGenerated":
                scan.images.setdefault(stored.data.sha256, stored.position)
            if stored.step is not None:
                if event.is_success:
                    scan.generations.setdefault((stored.stream, stored.step), []).append(generation_of(event))
                elif event.type == REGENERATION_TYPE:
                    scan.requested.setdefault((stored.stream, stored.step), set()).add(generation_of(event))
        if page:
            scan.last_position = page[-1].position

    while True:
        try:
            page = store.read_all(after_position=position, limit=PAGE)
        except EventError as exc:
            bad = exc.position
            if bad is None or bad <= position:
                findings.add(
                    "events-decode",
                    "error",
                    "events cannot be read: the journal is damaged (restore it from a backup)",
                    f"after position {position}: {exc}",
                )
                return scan
            if bad - position > 1:
                # The page failed at its first bad event: keep the good ones before it.
                take(store.read_all(after_position=position, limit=bad - position - 1))
            findings.add(
                "events-decode",
                "error",
                "events do not decode: damaged rows (restore the journal from a backup)",
                f"position {bad}: {exc}",
            )
            position = bad
            continue
        if not page or page[0].position > until:
            return scan
        take(page)
        position = page[-1].position
        if position >= until:
            return scan


def _check_generations(scan: _Scan, findings: Findings) -> None:
    """Each step's successes are generations 1, 2, 3… in order, each later one asked for."""
    for (stream, step), generations in sorted(scan.generations.items()):
        where = f"{stream} {step}"
        if len(set(generations)) != len(generations):
            findings.add(
                "generations-duplicate",
                "error",
                "a step has two successes of one generation (the unique index should have refused it)",
                f"{where}: generations {generations}",
            )
        distinct = sorted(set(generations))
        if generations != sorted(generations) or distinct != list(range(1, len(distinct) + 1)):
            findings.add(
                "generations-order",
                "error",
                "a step's generations are not 1, 2, 3… in journal order (one is missing or out of place)",
                f"{where}: generations {generations}",
            )
        asked = scan.requested.get((stream, step), set())
        unasked = [g for g in generations if g > 1 and g not in asked]
        if unasked:
            findings.add(
                "generations-unrequested",
                "error",
                "a later generation of a step has no regeneration request asking for it",
                f"{where}: generation {unasked[0]}",
            )


def _check_blobs(scan: _Scan, data_dir: Path, findings: Findings, *, live: bool) -> int:
    """Checks named blobs exist and match, counts orphans and temp files; returns the file count."""
    blobs = BlobStore(data_dir)
    for sha, position in scan.images.items():
        if not is_sha256(sha):
            findings.add(
                "blob-name",
                "error",
                "image events name something that is not a sha256",
                f"position {position}",
            )
            continue
        if not blobs.exists(sha):
            findings.add(
                "blob-missing",
                "error",
                "image files named by ImageGenerated events are missing (restore them from a backup)",
                f"{sha} (position {position})",
            )
        elif not blobs.matches(sha):
            findings.add(
                "blob-mismatch",
                "error",
                "image files do not match their sha256: altered or damaged (restore them from a backup)",
                f"{sha} (position {position})",
            )
    present = 0
    for sha in blobs.iter_blobs():
        present += 1
        if sha not in scan.images:
            findings.add(
                "blob-orphan",
                "info",
                "image files no event names yet (the live run is journaling them)"
                if live
                else "image files no event names (left by a crash between saving and journaling; harmless)",
                sha,
            )
    temps = blobs.temp_files()
    if temps:
        findings.add(
            "blob-temp",
            "info",
            "temp files of interrupted image writes (the next run removes them)",
            str(temps[0]),
            count=len(temps),
        )
    return present


def _check_store(store: EventStore, findings: Findings) -> None:
    """Adds the backend's own checks: integrity, positions, stream versions."""
    for found in store.self_check():
        findings.add(found.check, found.severity, found.message, found.example, count=found.count)


def _read_stream(store: EventStore, stream: str, findings: Findings) -> list[StoredEvent] | None:
    try:
        return store.read_stream(stream)
    except EventError:
        return None  # already reported by the decode pass


def _check_projection(
    store: EventStore, views: ViewStore, scan: _Scan, findings: Findings, *, live: bool
) -> int:
    """Compares every stored document and its facts with a fresh fold; returns documents checked."""
    state = views.load_state()
    checked = 0
    if state.checkpoint < scan.last_position and live:
        findings.add(
            "projection-behind",
            "info",
            "a run is in progress: its projection trails the journal by the events of its last seconds",
            f"checkpoint {state.checkpoint}, journal at {scan.last_position}",
        )
    elif state.checkpoint < scan.last_position:
        findings.add(
            "projection-behind",
            "error",
            "the projection has not folded the newest events (status/export catch it up; or rebuild)",
            f"checkpoint {state.checkpoint}, journal at {scan.last_position}",
        )
    if state.checkpoint > scan.last_position and not findings.has("events-decode"):
        findings.add(
            "projection-ahead",
            "error",
            "the projection's checkpoint is past the journal's end (a different journal?)",
            f"checkpoint {state.checkpoint}, journal at {scan.last_position}",
        )
    if state.plan != scan.plan:
        findings.add(
            "projection-plan",
            "error",
            "the projection measures against another plan than the latest RunStarted's",
            f"stored plan hash {state.plan.plan_hash()[:12] if state.plan else None}",
        )
    seen: set[str] = set()
    for doc in views.iter_documents():
        checked += 1
        slug = doc["slug"]
        stream = STYLE_PREFIX + slug
        seen.add(stream)
        stored_facts = views.get_style_facts([slug]).get(slug)
        events = _read_stream(store, stream, findings)
        if events is None:
            continue
        upto = [e for e in events if e.version <= doc["version"]]
        fresh = fold(upto, state.plan).get(slug)
        if doc["version"] > (events[-1].version if events else 0) or fresh != doc:
            findings.add(
                "projection-document",
                "error",
                "style documents differ from a fresh fold of their stream (run `genjournal rebuild`)",
                slug,
            )
        if doc["version"] < scan.style_versions.get(stream, 0):
            findings.add(
                "projection-lagging",
                "error",
                "style documents miss events their checkpoint covers (run `genjournal rebuild`)",
                f"{slug}: version {doc['version']} < {scan.style_versions[stream]}",
            )
        if stored_facts is None:
            findings.add(
                "projection-facts",
                "error",
                "audit facts differ from a fresh fold (run `genjournal rebuild`)",
                f"{slug}: no facts",
            )
        else:
            raw = [RawEvent.from_stored(e) for e in events if e.version <= stored_facts["version"]]
            styles, _ = fold_facts(raw)
            if styles.get(slug, {"slug": slug, "version": 0, "costs": {}}) != stored_facts:
                findings.add(
                    "projection-facts",
                    "error",
                    "audit facts differ from a fresh fold (run `genjournal rebuild`)",
                    slug,
                )
    for facts in views.iter_style_facts():
        if STYLE_PREFIX + facts["slug"] not in seen:
            findings.add(
                "projection-facts",
                "error",
                "audit facts differ from a fresh fold (run `genjournal rebuild`)",
                f"{facts['slug']}: facts without a document",
            )
    for stream in sorted(scan.style_versions):
        if stream not in seen:
            findings.add(
                "projection-missing",
                "error",
                "style streams have no document in the projection (run `genjournal rebuild`)",
                stream[len(STYLE_PREFIX) :],
            )
    runs = {run["run_id"]: run for run in views.runs()}
    run_streams = {s for s in scan.streams if s.startswith(RUN_PREFIX)}
    for stream in sorted(run_streams | {RUN_PREFIX + run_id for run_id in runs}):
        run_id = stream[len(RUN_PREFIX) :]
        stored = runs.get(run_id)
        events = _read_stream(store, stream, findings)
        if events is None:
            continue
        if stored is None:
            covered = [e for e in events if e.position <= state.checkpoint]
            if covered:
                findings.add(
                    "projection-runs",
                    "error",
                    "run facts differ from a fresh fold (run `genjournal rebuild`)",
                    f"{run_id}: missing",
                )
            continue
        raw = [RawEvent.from_stored(e) for e in events if e.version <= stored["version"]]
        _, fresh_runs = fold_facts(raw)
        if fresh_runs.get(run_id) != stored:
            findings.add(
                "projection-runs",
                "error",
                "run facts differ from a fresh fold (run `genjournal rebuild`)",
                run_id,
            )
    return checked


def verify_journal(store: EventStore, data_dir: Path) -> VerifyReport:
    """Runs every check (read-only) and returns the report."""
    from projector.views import open_views

    findings = Findings()
    views = open_views(store, create=False)
    try:
        with views.snapshot():
            return _verify(store, views, data_dir, findings)
    finally:
        views.close()


def _verify(store: EventStore, views: ViewStore, data_dir: Path, findings: Findings) -> VerifyReport:
    """Checks one snapshot of the projection against the journal up to a cut taken after it.

    The projection's checkpoint is read first, inside ``views.snapshot()``; the journal is
    then read up to its end at that moment. Events are only ever appended and the
    projection only folds committed ones, so the cut is at or past the checkpoint, and a
    run appending meanwhile can neither move the checkpoint nor change what is compared.
    """
    usable = getattr(views, "usable", True)
    checkpoint = 0
    if usable:
        try:
            checkpoint = views.load_state().checkpoint
        except ProjectionDamagedError as exc:
            usable = False
            findings.add(
                "projection-damaged",
                "error",
                "the projection cannot be read back (derived data: run `genjournal rebuild`)",
                str(exc),
            )
    cut = store.last_position()
    live = _run_is_live(store)
    scan = _read_everything(store, checkpoint, findings, until=cut)
    blobs = _check_blobs(scan, data_dir, findings, live=live)
    _check_generations(scan, findings)
    _check_store(store, findings)
    documents = 0
    if not usable and not findings.has("projection-damaged"):
        findings.add(
            "projection-layout",
            "error",
            "there is no projection, or one of an older layout (run `genjournal rebuild`)",
        )
    else:
        try:
            documents = _check_projection(store, views, scan, findings, live=live)
        except EventError:
            pass  # already reported by the decode pass
        except ProjectionDamagedError as exc:
            findings.add(
                "projection-damaged",
                "error",
                "the projection cannot be read back (derived data: run `genjournal rebuild`)",
                str(exc),
            )
    found = findings.report()
    repair = []
    if any(f.check.startswith("projection") for f in found if f.severity == "error"):
        repair.append("genjournal rebuild  # recomputes the projection from the journal")
    if any(f.check.startswith("blob-m") for f in found):
        repair.append(
            "restore the named image files from a backup, or redo their steps: "
            "genjournal regenerate --step STEP --reason 'image file lost'"
        )
    if any(
        f.check in ("events-decode", "sqlite-integrity", "positions", "stream-versions")
        for f in found
        if f.severity == "error"
    ):
        repair.append("restore the journal from a backup: it is the source of truth and cannot be rebuilt")
    return VerifyReport(
        ok=not any(f.severity == "error" for f in found),
        backend=store.backend,
        events=scan.events,
        streams=len(scan.streams),
        images_checked=len(scan.images),
        blobs=blobs,
        documents_checked=documents,
        findings=found,
        repair=repair,
    )
