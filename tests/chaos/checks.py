"""The invariant checks a chaos episode runs after every crash: pure functions returning findings.

Each function takes what was read from the journal (envelopes in position order, raw
SQLite rows, the data directory) and returns a list of human-readable violations; an
empty list means the invariant holds. They are independent of the code under test on
purpose: step keys, dependencies and the plan's steps are recomputed here, not imported.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

SUCCESS = frozenset({"StyleCreated", "RoomGenerated", "ImageGenerated"})
FAILURE = frozenset({"StyleFailed", "RoomFailed", "ImageFailed"})
REGENERATION = "StepRegenerationRequested"
TEMP_NAME = re.compile(r"^\.tmp-[0-9a-f]{16}-(?P<pid>\d+)-[0-9a-f]+$")
BLOB_NAME = re.compile(r"^(?P<sha>[0-9a-f]{64})\.png$")

Envelope = dict[str, Any]


def planned_keys(plan: dict[str, Any]) -> list[tuple[str, str]]:
    """Returns every (stream, step) a plan asks for, computed from the plan's own fields."""
    keys: list[tuple[str, str]] = []
    rooms = [room["slug"] for room in plan.get("room_types", [])]
    for sub in plan["subcategories"]:
        stream = f"style:{sub['slug']}"
        keys.append((stream, "content"))
        keys += [(stream, f"image:style:{i}") for i in range(plan.get("images_per_style", 3))]
        for room in rooms:
            keys.append((stream, f"room:{room}"))
            keys += [(stream, f"image:room:{room}:{i}") for i in range(plan.get("images_per_room", 3))]
    return keys


def dependency(step: str) -> str | None:
    """Returns the step whose result ``step`` needs (the content, or the room for a room image)."""
    if step.startswith(("room:", "image:style:")):
        return "content"
    if step.startswith("image:room:"):
        return "room:" + step.split(":")[2]
    return None


def generation(event: Envelope) -> int:
    """Returns the step generation an event is of or asks for (absent: 1)."""
    value = event["data"].get("generation", 1)
    return int(value)


def successes(events: Iterable[Envelope]) -> dict[tuple[str, str], Envelope]:
    """Returns the success event of each (stream, step) (the first, if there were several)."""
    found: dict[tuple[str, str], Envelope] = {}
    for event in events:
        if event["type"] in SUCCESS:
            found.setdefault((event["stream"], event["step"]), event)
    return found


def success_generations(events: Iterable[Envelope]) -> Counter[tuple[str, str, int]]:
    """Counts the success events of each (stream, step, generation)."""
    return Counter((e["stream"], e["step"], generation(e)) for e in events if e["type"] in SUCCESS)


def check_journal(events: Sequence[Envelope], *, gap_free_positions: bool) -> list[str]:
    """Checks one success per (stream, step, generation), generations asked for, gap-free versions and positions."""
    problems: list[str] = []
    counts = success_generations(events)
    problems += [
        f"duplicate success for {stream} {step} generation {gen} ({n} events)"
        for (stream, step, gen), n in counts.items()
        if n > 1
    ]
    asked = {(e["stream"], e["step"], generation(e)) for e in events if e["type"] == REGENERATION}
    problems += [
        f"{stream} {step} has a generation {gen} success nobody asked for"
        for (stream, step, gen) in counts
        if gen > 1 and (stream, step, gen) not in asked
    ]
    versions: dict[str, list[int]] = {}
    for event in events:
        versions.setdefault(event["stream"], []).append(event["version"])
    for stream, seen in versions.items():
        if sorted(seen) != list(range(1, len(seen) + 1)):
            problems.append(f"stream {stream} versions are not 1..{len(seen)}: {sorted(seen)[:20]}")
    positions = [e["position"] for e in events]
    if any(b <= a for a, b in itertools.pairwise(positions)):
        problems.append("positions are not strictly increasing")
    if gap_free_positions and positions != list(range(1, len(positions) + 1)):
        missing = sorted(set(range(1, (positions[-1] if positions else 0) + 1)) - set(positions))
        problems.append(f"positions have gaps: missing {missing[:20]}")
    ids = Counter(e["id"] for e in events)
    problems += [f"event id {eid} appears {n} times" for eid, n in ids.items() if n > 1]
    return problems


def check_integrity(verdict: Sequence[str]) -> list[str]:
    """Checks SQLite's ``PRAGMA integrity_check`` verdict."""
    return [] if list(verdict) == ["ok"] else [f"PRAGMA integrity_check: {'; '.join(verdict[:5])}"]


def check_prefix(before: Sequence[Any], after: Sequence[Any]) -> list[str]:
    """Checks that every row present before is still there, identical, at the same place."""
    if len(after) < len(before):
        return [f"the journal shrank from {len(before)} to {len(after)} rows"]
    for index, (old, new) in enumerate(zip(before, after, strict=False)):
        if old != new:
            return [f"row {index + 1} changed: {str(old)[:160]} -> {str(new)[:160]}"]
    return []


def check_dependencies(events: Sequence[Envelope]) -> list[str]:
    """Checks that a step started (and succeeded) only after the result it needs was journaled.

    With regeneration: while the needed step awaits a new generation (a request newer than
    its newest success), nothing that needs it may start; it must wait for the new result.
    """
    problems: list[str] = []
    done_at = {key: event["position"] for key, event in successes(events).items()}
    newest: dict[tuple[str, str], int] = {}
    asked: dict[tuple[str, str], int] = {}
    for event in events:
        if event["type"] == REGENERATION:
            key = (event["stream"], event["step"])
            asked[key] = max(asked.get(key, 1), generation(event))
            continue
        if event["type"] == "StepStarted":
            stream, step = event["data"]["stream"], event["data"]["step"]
        elif event["type"] in SUCCESS:
            stream, step = event["stream"], event["step"]
        else:
            continue
        needed = dependency(step)
        if needed is not None:
            at = done_at.get((stream, needed))
            if at is None or at > event["position"]:
                problems.append(
                    f"{event['type']} of {stream} {step} at position {event['position']} came before "
                    f"its dependency {needed} was journaled "
                    f"({'never' if at is None else f'position {at}'})"
                )
            elif event["type"] == "StepStarted" and asked.get((stream, needed), 1) > newest.get(
                (stream, needed), 0
            ):
                problems.append(
                    f"{stream} {step} started at position {event['position']} while {needed} awaited "
                    f"generation {asked[(stream, needed)]}"
                )
        if event["type"] in SUCCESS:
            key = (stream, step)
            newest[key] = max(newest.get(key, 0), generation(event))
    return problems


def check_projection(live: bytes, rebuilt: bytes) -> list[str]:
    """Checks that a rebuild from the first event reproduces the live projection byte for byte."""
    if live == rebuilt:
        return []
    return [f"rebuild differs from the live projection ({len(live)} vs {len(rebuilt)} bytes)"]


def sha256_file(path: Path) -> str:
    """Returns the hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def temp_files(data_dir: Path) -> list[Path]:
    """Lists the temp files of interrupted blob writes under ``images/``."""
    root = data_dir / "images"
    return sorted(root.glob("*/.tmp-*")) if root.is_dir() else []


def check_blobs(events: Sequence[Envelope], data_dir: Path, *, stale_pids: Iterable[int] = ()) -> list[str]:
    """Checks every image event's blob and every blob file against its hash; no stale temp file."""
    problems: list[str] = []
    for event in events:
        if event["type"] != "ImageGenerated":
            continue
        data = event["data"]
        path = data_dir / data["path"]
        if not path.is_file():
            problems.append(f"{event['stream']} {event['step']}: blob {data['path']} is missing")
        elif sha256_file(path) != data["sha256"] or path.stat().st_size != data["bytes"]:
            problems.append(f"{event['stream']} {event['step']}: blob {data['path']} does not match its hash")
    root = data_dir / "images"
    if root.is_dir():
        for shard in sorted(root.iterdir()):
            for entry in sorted(shard.iterdir()) if shard.is_dir() else ():
                match = BLOB_NAME.match(entry.name)
                if match and (match["sha"][:2] != shard.name or sha256_file(entry) != match["sha"]):
                    problems.append(f"blob file {entry.relative_to(data_dir)} does not hash to its name")
    stale = set(stale_pids)
    for temp in temp_files(data_dir):
        match = TEMP_NAME.match(temp.name)
        if match is None or int(match["pid"]) in stale:
            problems.append(f"temp file {temp.relative_to(data_dir)} survived the next run")
    return problems


def check_no_temp_files(data_dir: Path) -> list[str]:
    """Checks that no temp file is left at all (after a run that completed)."""
    return [f"temp file {p.relative_to(data_dir)} left behind" for p in temp_files(data_dir)]


def pending(events: Sequence[Envelope], plan: dict[str, Any]) -> list[tuple[str, str]]:
    """Returns the planned (stream, step) pairs without a success of their newest requested generation."""
    done: dict[tuple[str, str], int] = {}
    asked: dict[tuple[str, str], int] = {}
    for event in events:
        key = (event["stream"], event["step"])
        if event["type"] in SUCCESS:
            done[key] = max(done.get(key, 0), generation(event))
        elif event["type"] == REGENERATION:
            asked[key] = max(asked.get(key, 1), generation(event))
    return [key for key in planned_keys(plan) if done.get(key, 0) < asked.get(key, 1)]


def check_completion(events: Sequence[Envelope], plan: dict[str, Any], run_id: str) -> list[str]:
    """Checks that every planned step is done, or that run ``run_id`` says why not (failure events).

    A step still pending must have a failure event in that run, or depend (transitively)
    on a step that has one: a failed room blocks its images, and says why for them.
    """
    failed = {(e["stream"], e["step"]) for e in events if e["type"] in FAILURE and e["run_id"] == run_id}
    missing = set(pending(events, plan))
    problems: list[str] = []
    for stream, step in sorted(missing):
        key: tuple[str, str] | None = (stream, step)
        while key is not None and key not in failed:
            parent = dependency(key[1])
            key = (stream, parent) if parent is not None and (stream, parent) in missing else None
        if key is None:
            problems.append(f"{stream} {step} is neither done nor explained by a failure event of {run_id}")
    return problems


def traceback_in(text: str) -> list[str]:
    """Checks that a process printed no Python traceback."""
    return (
        ["a traceback was printed: " + text[text.index("Traceback") :][:300]] if "Traceback" in text else []
    )


def plan_from_toml(text: str) -> dict[str, Any]:
    """Returns a plan file's fields as a dict (what ``planned_keys`` reads)."""
    import tomllib

    return tomllib.loads(text)
