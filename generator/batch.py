"""The Batch API path: the same steps, half the price, journaled at every transition.

``genjournal run --batch`` sends the pending steps through OpenAI's Batch API in
*waves by dependency*: style contents; then style images and room profiles (they need
the content); then room images (they need their room). A wave is split into input
files within the API's limits (``MAX_LINES`` requests, ``MAX_INPUT_BYTES``; image
outputs are large, so at most ``MAX_IMAGE_LINES`` image requests per batch). Each line
is the request the live provider would send for the step (``OpenAIProvider.build_request``)
and each result line is read by the same parser (``OpenAIProvider.parse_reply``), so the
two paths cannot drift.

The custom_id of a line is ``<stream>|<step>|<generation>``; the batch's ``metadata``
carries ``genjournal_journal`` (the journal's id: the id of its first event),
``genjournal_run``, ``genjournal_wave`` and ``genjournal_steps`` (the steps hash).

Every transition is an event in the batch's own stream ``batch:<batch-id>``:
``BatchSubmitted`` once ``batches.create`` returned (or ``adopted: true`` when a batch
tagged with this journal is found on the account and the journal does not know it —
a crash between create and the append), then one ordinary success or failure event per
line as it is downloaded (image bytes first; ``meta.batch_id``/``meta.batch_line``),
then ``BatchFinished``. A crash anywhere is repaired by the next ``run`` (live or batch)
or ``genjournal batches``: it lists the account's batches, adopts the unknown ones of
this journal, polls the open ones and collects the finished ones; a line whose step is
already done is skipped, never journaled twice (the store refuses a duplicate success
anyway). A step in an open batch is never submitted again, nor called live.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import openai

from generator.providers.base import (
    ImageRequest,
    ImageResult,
    ProviderError,
    RoomRequest,
    StyleRequest,
)
from generator.providers.openai.errors import call_error, classify
from generator.replay import recorded_plans
from generator.results import failure_event, step_meta, success_event
from generator.retry import AttemptLog
from generator.steps import Step, plan_steps
from journal.blobs import BlobStore
from journal.errors import ConcurrencyError, DuplicateStepError
from journal.events import (
    BatchFinished,
    BatchFinishedData,
    BatchSubmitted,
    BatchSubmittedData,
    Event,
    Meta,
    PlanSpec,
    RoomGeneratedData,
    StyleCreatedData,
    generation_of,
)
from journal.failpoints import failpoint
from journal.redaction import redact_secrets
from journal.store import EventStore
from journal.streams import batch_stream
from projector.batches import BatchRecord, read_batches

if TYPE_CHECKING:
    from generator.providers.openai.provider import OpenAIProvider

T = TypeVar("T")

#: the Batch API's limits on one input file
MAX_LINES = 50_000
#: bytes of one input file (the API takes 200 MB; a margin for the multipart envelope)
MAX_INPUT_BYTES = 190 * 1024 * 1024
#: image requests per batch: each answer carries a base64 PNG of 1-3 MB, so this keeps
#: one output file to a few hundred MB, downloadable in one go
MAX_IMAGE_LINES = 200
#: seconds between polls of an open batch: doubling from the first to the last
POLL_FIRST_S = 0.5
POLL_MAX_S = 60.0
COMPLETION_WINDOW: Literal["24h"] = "24h"
#: the batch states after which nothing changes
FINAL_STATES = frozenset({"completed", "expired", "cancelled", "failed"})
#: the metadata keys a batch is tagged with
META_JOURNAL = "genjournal_journal"
META_RUN = "genjournal_run"
META_WAVE = "genjournal_wave"
META_STEPS = "genjournal_steps"
CUSTOM_ID_SEP = "|"
#: the wave of each kind of step (its depth in the dependency chain)
WAVES = {"content": 1, "style_image": 2, "room": 2, "room_image": 3}

StepTriple = tuple[str, str, int]
Request = StyleRequest | RoomRequest | ImageRequest


def custom_id(step: Step) -> str:
    """Returns the custom_id of a step's request line: ``<stream>|<step>|<generation>``."""
    return CUSTOM_ID_SEP.join((step.stream, step.key, str(step.generation)))


def parse_custom_id(text: object) -> StepTriple | None:
    """Returns the (stream, step, generation) a custom_id names, or None if it is not ours."""
    if not isinstance(text, str):
        return None
    parts = text.split(CUSTOM_ID_SEP)
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return parts[0], parts[1], int(parts[2])


def steps_hash(steps: Iterable[StepTriple]) -> str:
    """Returns the sha256 of the sorted steps' JSON (what a batch's metadata carries)."""
    canonical = json.dumps(sorted([list(s) for s in steps]), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def journal_id(store: EventStore) -> str | None:
    """Returns the journal's stable id: the id of its first event (None: an empty journal)."""
    first = store.read_all(limit=1)
    return first[0].id if first else None


@dataclass
class BatchTally:
    """What one collection or sync did (for the command line and the run's counts)."""

    adopted: list[str] = field(default_factory=list)
    collected: list[str] = field(default_factory=list)
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0


Say = Callable[[str], None]


def say_on_stderr(line: str) -> None:
    """Writes one progress line on stderr."""
    sys.stderr.write(f"genjournal: {line}\n")
    sys.stderr.flush()


class BatchDesk:
    """Submits, adopts, polls and collects this journal's batches.

    ``call`` runs a blocking store function off the event loop (the run's store thread);
    ``append`` appends one event and returns once it is durable.
    """

    def __init__(
        self,
        *,
        provider: OpenAIProvider,
        store: EventStore,
        blobs: BlobStore,
        plan: PlanSpec,
        run_id: str,
        call: Callable[..., Awaitable[Any]],
        append: Callable[[str, Event], Awaitable[Any]],
        say: Say = say_on_stderr,
        secret: str | None = None,
    ) -> None:
        self.provider = provider
        self.client = provider._client
        self.store = store
        self.blobs = blobs
        self.plan = plan
        self.run_id = run_id
        self._call = call
        self._append = append
        self.say = say
        self._secret = secret if secret is not None else provider._secret
        self._steps = {(step.stream, step.key): step for step in plan_steps(plan)}
        self._journal_id: str | None = None
        self.records: dict[str, BatchRecord] = {}
        #: API calls made for batches, by kind (uploads, creates, polls, downloads, lists)
        self.api_calls: dict[str, int] = {}
        #: hooks for the run: a step's event was journaled (success True/False)
        self.on_result: Callable[[Step, Event, bool], None] | None = None

    def _count(self, kind: str) -> None:
        self.api_calls[kind] = self.api_calls.get(kind, 0) + 1

    async def _api(self, kind: str, coro: Awaitable[T]) -> T:
        self._count(kind)
        try:
            return await coro
        except openai.OpenAIError as exc:
            raise call_error(exc, self._secret) from exc

    # --- what the journal knows -----------------------------------------------------

    async def refresh(self) -> dict[str, BatchRecord]:
        """Re-reads the journal's batches (and, once, the steps of every plan a run recorded)."""
        self.records = await self._call(read_batches, self.store)
        if self._journal_id is None:
            self._journal_id = await self._call(journal_id, self.store)
            # A batch submitted under an earlier plan holds paid lines for steps the current
            # plan may not list: they are collected all the same, never dropped.
            for plan in await self._call(recorded_plans, self.store):
                for step in plan_steps(plan):
                    self._steps.setdefault((step.stream, step.key), step)
        return self.records

    def open_keys(self) -> set[tuple[str, str]]:
        """Returns the steps in batches whose results are not collected yet."""
        return {key for record in self.records.values() if record.open for key in record.keys}

    def open_records(self) -> list[BatchRecord]:
        """Returns the batches not collected yet."""
        return [record for record in self.records.values() if record.open]

    # --- the account ----------------------------------------------------------------

    async def adopt(self) -> list[str]:
        """Journals the account's batches tagged with this journal that the journal does not know."""
        if self._journal_id is None:
            return []
        adopted: list[str] = []
        self._count("list")
        try:
            async for batch in self.client.batches.list(limit=100):
                metadata = batch.metadata or {}
                if metadata.get(META_JOURNAL) != self._journal_id or batch.id in self.records:
                    continue
                record = await self._adopt_one(batch, metadata)
                if record is not None:
                    adopted.append(batch.id)
        except openai.OpenAIError as exc:
            raise call_error(exc, self._secret) from exc
        return adopted

    async def _adopt_one(self, batch: Any, metadata: dict[str, str]) -> BatchRecord | None:
        content = await self._download(batch.input_file_id)
        triples = []
        for line in _lines(content):
            found = parse_custom_id(line.get("custom_id"))
            if found is not None:
                triples.append(found)
        wave = metadata.get(META_WAVE, "0")
        data = BatchSubmittedData(
            batch_id=batch.id,
            input_file_id=batch.input_file_id,
            endpoint=batch.endpoint,
            wave=int(wave) if wave.isdigit() else 0,
            steps=tuple(triples),
            steps_hash=steps_hash(triples),
            adopted=True,
            journal_id=self._journal_id,
        )
        run_id = metadata.get(META_RUN) or self.run_id
        try:
            await self._append_expected(batch_stream(batch.id), BatchSubmitted(run_id=run_id, data=data))
        except ConcurrencyError:
            return None  # another process adopted it first
        record = BatchRecord(batch.id, data, run_id)
        self.records[batch.id] = record
        self.say(f"adopted batch {batch.id} ({len(triples)} steps, submitted by {run_id}, not yet journaled)")
        return record

    async def _append_expected(self, stream: str, event: Event) -> None:
        # The batch's first event: a second writer (a concurrent adopter) gets a conflict.
        await self._call(lambda: self.store.append(stream, [event], expected_version=0))

    async def _download(self, file_id: str) -> bytes:
        response = await self._api("download", self.client.files.content(file_id))
        return bytes(response.content)

    # --- submit ---------------------------------------------------------------------

    async def submit(
        self, steps: list[Step], *, estimate: Callable[[Step], float | None] | None = None
    ) -> list[BatchRecord]:
        """Submits steps (whose dependencies are journaled) as batches, one wave and endpoint per batch."""
        groups: dict[tuple[int, str], list[tuple[Step, bytes]]] = {}
        requests = await self._requests(steps)
        for step in steps:
            built = self.provider.build_request(requests[(step.stream, step.key)])
            line = json.dumps(
                {"custom_id": custom_id(step), "method": "POST", "url": built.endpoint, "body": built.body},
                ensure_ascii=False,
                separators=(",", ":"),
            ).encode()
            groups.setdefault((WAVES[step.kind], built.endpoint), []).append((step, line + b"\n"))
        submitted = []
        for (wave, endpoint), lines in sorted(groups.items()):
            for chunk in _chunks(lines, image=endpoint.endswith("/images/generations")):
                submitted.append(await self._submit_one(wave, endpoint, chunk, estimate))
        return submitted

    async def _submit_one(
        self,
        wave: int,
        endpoint: str,
        chunk: list[tuple[Step, bytes]],
        estimate: Callable[[Step], float | None] | None,
    ) -> BatchRecord:
        assert self._journal_id is not None, "a run journals RunStarted before it submits"
        triples = [(step.stream, step.key, step.generation) for step, _ in chunk]
        digest = steps_hash(triples)
        payload = b"".join(line for _, line in chunk)
        uploaded = await self._api(
            "upload",
            self.client.files.create(file=(f"genjournal-wave{wave}.jsonl", payload), purpose="batch"),
        )
        failpoint("batch-after-upload")
        metadata = {
            META_JOURNAL: self._journal_id,
            META_RUN: self.run_id,
            META_WAVE: str(wave),
            META_STEPS: digest,
        }
        batch = await self._api(
            "create",
            self.client.batches.create(
                input_file_id=uploaded.id,
                endpoint=endpoint,  # type: ignore[arg-type]
                completion_window=COMPLETION_WINDOW,
                metadata=metadata,
            ),
        )
        failpoint("batch-after-create")
        cost: float | None = None
        if estimate is not None:
            costs = [estimate(step) for step, _ in chunk]
            cost = None if any(c is None for c in costs) else sum(c for c in costs if c is not None)
        data = BatchSubmittedData(
            batch_id=batch.id,
            input_file_id=uploaded.id,
            endpoint=endpoint,
            wave=wave,
            steps=tuple(triples),
            steps_hash=digest,
            estimated_cost_usd=cost,
            adopted=False,
            journal_id=self._journal_id,
        )
        await self._append_expected(batch_stream(batch.id), BatchSubmitted(run_id=self.run_id, data=data))
        record = BatchRecord(batch.id, data, self.run_id)
        self.records[batch.id] = record
        self.say(f"submitted batch {batch.id}: wave {wave}, {len(chunk)} requests to {endpoint}")
        return record

    async def _requests(self, steps: Iterable[Step]) -> dict[tuple[str, str], Request]:
        """Builds the provider request of each step, its dependencies read from the journal."""
        steps = list(steps)
        needed: set[tuple[str, str]] = set()
        for step in steps:
            if step.kind != "content":
                needed.add((step.stream, "content"))
            if step.kind == "room_image":
                assert step.room_type is not None
                needed.add((step.stream, f"room:{step.room_type.slug}"))

        def load() -> dict[tuple[str, str], Any]:
            found: dict[tuple[str, str], Any] = {}
            for stream, key in needed:
                stored = self.store.find_success(stream, key)
                if stored is not None:
                    found[(stream, key)] = stored.data
            return found

        results = await self._call(load)
        out: dict[tuple[str, str], Request] = {}
        languages = self.plan.languages
        for step in steps:
            sub = step.subcategory
            if step.kind == "content":
                out[(step.stream, step.key)] = StyleRequest(sub, languages, step.stream, step.key)
                continue
            style = results.get((step.stream, "content"))
            if not isinstance(style, StyleCreatedData):
                raise LookupError(f"{step.stream}/{step.key}: its style content is not journaled")
            if step.kind == "room":
                assert step.room_type is not None
                out[(step.stream, step.key)] = RoomRequest(
                    sub, style, step.room_type, languages, step.stream, step.key
                )
                continue
            assert step.index is not None
            room = None
            if step.kind == "room_image":
                assert step.room_type is not None
                room = results.get((step.stream, f"room:{step.room_type.slug}"))
                if not isinstance(room, RoomGeneratedData):
                    raise LookupError(f"{step.stream}/{step.key}: its room profile is not journaled")
            out[(step.stream, step.key)] = ImageRequest(
                sub, style, step.index, step.stream, step.key, step.room_type, room
            )
        return out

    # --- poll and collect -----------------------------------------------------------

    async def sync(self, *, adopt: bool = True) -> BatchTally:
        """Adopts unknown batches of this journal, collects the finished ones; leaves open ones running."""
        tally = BatchTally()
        await self.refresh()
        if adopt:
            tally.adopted = await self.adopt()
        for record in self.open_records():
            batch = await self._api("poll", self.client.batches.retrieve(record.batch_id))
            if batch.status in FINAL_STATES:
                await self.collect(record, batch, tally)
        return tally

    async def wait(self, stop: asyncio.Event, tally: BatchTally | None = None) -> BatchTally:
        """Polls the open batches (backing off), collecting each as it ends, until none is open or stop."""
        tally = tally or BatchTally()
        delay = POLL_FIRST_S
        shown: dict[str, str] = {}
        while self.open_records() and not stop.is_set():
            for record in self.open_records():
                batch = await self._api("poll", self.client.batches.retrieve(record.batch_id))
                failpoint("batch-while-polling")
                counts = batch.request_counts
                line = (
                    f"batch {record.batch_id} (wave {record.submitted.wave}): {batch.status}, "
                    f"{(counts.completed + counts.failed) if counts else 0}/"
                    f"{counts.total if counts else len(record.submitted.steps)} lines done"
                )
                if shown.get(record.batch_id) != line:
                    shown[record.batch_id] = line
                    self.say(line)
                if batch.status in FINAL_STATES:
                    await self.collect(record, batch, tally)
                    delay = POLL_FIRST_S
            if not self.open_records():
                break
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
            except TimeoutError:
                pass
            delay = min(POLL_MAX_S, delay * 2)
        return tally

    async def cancel_open(self) -> list[str]:
        """Asks the API to cancel this journal's open batches; returns their ids."""
        cancelled = []
        for record in self.open_records():
            batch = await self._api("cancel", self.client.batches.cancel(record.batch_id))
            cancelled.append(record.batch_id)
            self.say(f"cancelling batch {record.batch_id} ({batch.status})")
        return cancelled

    async def collect(self, record: BatchRecord, batch: Any, tally: BatchTally) -> None:
        """Journals every line of a finished batch (skipping steps already done), then ``BatchFinished``."""
        done_lines, done_steps = await self._call(self._journaled, record)
        seen: set[tuple[str, str]] = set()
        succeeded = failed = skipped = 0
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            content = await self._download(file_id)
            for index, line in enumerate(_lines(content)):
                if index == 1:
                    failpoint("batch-mid-download")
                triple = parse_custom_id(line.get("custom_id"))
                step = self._steps.get((triple[0], triple[1])) if triple else None
                if triple is None or step is None or (step.stream, step.key) not in record.keys:
                    skipped += 1
                    continue
                # The line is for the generation its custom_id names (a regeneration's is > 1).
                step = replace(step, generation=triple[2])
                seen.add((step.stream, step.key))
                line_id = str(line.get("id") or line.get("custom_id"))
                if (step.stream, step.key) in done_steps or line_id in done_lines:
                    skipped += 1
                    continue
                ok = await self._journal_line(record, step, line, line_id)
                if ok is None:
                    skipped += 1
                elif ok:
                    succeeded += 1
                    done_steps.add((step.stream, step.key))
                else:
                    failed += 1
        # Lines the batch never answered (cancelled or failed before they ran).
        for stream, key, generation in record.submitted.steps:
            step = self._steps.get((stream, key))
            if step is None or (stream, key) in seen or (stream, key) in done_steps:
                continue
            step = replace(step, generation=generation)
            line_id = f"{record.batch_id}:{stream}|{key}"
            if line_id in done_lines:
                continue
            error = ProviderError(
                "timeout" if batch.status == "expired" else "unknown",
                f"batch {record.batch_id} ended {batch.status} without a result for this step",
            )
            await self._journal_failure(record, step, error, line_id, None)
            failed += 1
        counts = batch.request_counts
        finished = BatchFinishedData(
            batch_id=record.batch_id,
            status=batch.status,
            request_counts=(
                {"total": counts.total, "completed": counts.completed, "failed": counts.failed}
                if counts
                else {}
            ),
            output_file_id=batch.output_file_id,
            error_file_id=batch.error_file_id,
            succeeded=succeeded,
            failed=failed,
            skipped=skipped,
        )
        await self._append(batch_stream(record.batch_id), BatchFinished(run_id=record.run_id, data=finished))
        record.finished = finished
        tally.collected.append(record.batch_id)
        tally.succeeded += succeeded
        tally.failed += failed
        tally.skipped += skipped
        self.say(
            f"collected batch {record.batch_id} ({batch.status}): {succeeded} saved, {failed} failed, "
            f"{skipped} skipped"
        )

    def _journaled(self, record: BatchRecord) -> tuple[set[str], set[tuple[str, str]]]:
        """Returns the batch's lines already journaled and the batch's steps already done."""
        lines: set[str] = set()
        done: set[tuple[str, str]] = set()
        wanted = {(stream, key): generation for stream, key, generation in record.submitted.steps}
        for stream in sorted({stream for stream, _, _ in record.submitted.steps}):
            for stored in self.store.read_stream(stream):
                if stored.meta.batch_id == record.batch_id and stored.meta.batch_line:
                    lines.add(stored.meta.batch_line)
                key = (stream, stored.step or "")
                # Done means a success of the generation the batch was for (or a later one).
                if stored.event.is_success and generation_of(stored.event) >= wanted.get(key, 1):
                    done.add(key)
        return lines, done & record.keys

    async def _journal_line(
        self, record: BatchRecord, step: Step, line: dict[str, Any], line_id: str
    ) -> bool | None:
        """Journals one result line; returns True (success), False (failure) or None (already done)."""
        raw_response = line.get("response")
        response: dict[str, Any] = raw_response if isinstance(raw_response, dict) else {}
        status = response.get("status_code")
        raw_body = response.get("body")
        body: dict[str, Any] = raw_body if isinstance(raw_body, dict) else {}
        if status == 200 and line.get("error") is None:
            request = (await self._requests([step]))[(step.stream, step.key)]
            rid = response.get("request_id")
            headers = {"x-request-id": str(rid)} if rid else {}
            try:
                result = self.provider.parse_reply(request, body, headers=headers)
            except ProviderError as refused:
                return await self._journal_failure(record, step, refused, line_id, refused.billed)
            meta = self._meta(record, step, result.call, AttemptLog(attempts=1), line_id)
            ref = None
            if isinstance(result, ImageResult):
                ref = await asyncio.to_thread(self.blobs.put, result.png)
            event = success_event(record.run_id or self.run_id, step, result, meta, ref)
            try:
                await self._append(step.stream, event)
            except DuplicateStepError:
                return None
            if self.on_result is not None:
                self.on_result(step, event, True)
            return True
        raw_error = line.get("error")
        error_obj: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
        raw_api = body.get("error")
        api_error: dict[str, Any] = raw_api if isinstance(raw_api, dict) else {}
        code = api_error.get("code") or error_obj.get("code")
        message = str(api_error.get("message") or error_obj.get("message") or "the line failed")
        error = line_error(code, message, status, api_error)
        return await self._journal_failure(record, step, error, line_id, None)

    async def _journal_failure(
        self, record: BatchRecord, step: Step, error: ProviderError, line_id: str, billed: Any
    ) -> bool:
        error = ProviderError(
            error.kind, redact_secrets(error.message, secrets=(self._secret,)), status=error.status
        )
        attempts = AttemptLog(attempts=1, billed=[billed] if billed is not None else [])
        meta = self._meta(record, step, None, attempts, line_id)
        event = failure_event(record.run_id or self.run_id, step, error, meta)
        await self._append(step.stream, event)
        if self.on_result is not None:
            self.on_result(step, event, False)
        return False

    def _meta(self, record: BatchRecord, step: Step, call: Any, attempts: AttemptLog, line_id: str) -> Meta:
        meta = step_meta(self.provider, step, call, attempts)
        return meta.model_copy(
            update={"batch_id": record.batch_id, "batch_line": line_id, "latency_ms": None}
        )


def line_error(code: object, message: str, status: object, api_error: dict[str, Any]) -> ProviderError:
    """Classifies a failed batch line as the live call's error would be."""
    if code == "batch_expired":
        return ProviderError("timeout", f"the batch expired before this line ran: {message}")
    if code == "batch_cancelled":
        return ProviderError("unknown", f"the batch was cancelled before this line ran: {message}")
    if isinstance(status, int):
        kind = classify(status, code, api_error.get("type"), message, api_error.get("param"))
        return ProviderError(kind, message, status=status)
    return ProviderError("unknown", f"{code or 'error'}: {message}")


def _chunks(lines: list[tuple[Step, bytes]], *, image: bool) -> list[list[tuple[Step, bytes]]]:
    """Splits a wave's lines into input files within the API's (and our output-size) limits."""
    cap = min(MAX_LINES, MAX_IMAGE_LINES) if image else MAX_LINES
    chunks: list[list[tuple[Step, bytes]]] = []
    current: list[tuple[Step, bytes]] = []
    size = 0
    for item in lines:
        if current and (len(current) >= cap or size + len(item[1]) > MAX_INPUT_BYTES):
            chunks.append(current)
            current, size = [], 0
        current.append(item)
        size += len(item[1])
    if current:
        chunks.append(current)
    return chunks


def _lines(content: bytes) -> list[dict[str, Any]]:
    out = []
    for raw in content.splitlines():
        raw = raw.strip()
        if not raw:
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            continue
        if isinstance(value, dict):
            out.append(value)
    return out
