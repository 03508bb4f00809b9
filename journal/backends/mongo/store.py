"""MongoEventStore: appends as single-document commits, reads that never skip a late commit.

The argument for both is in the package docstring (``journal.backends.mongo``).
"""

from __future__ import annotations

import contextlib
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar, cast

from bson.errors import BSONError
from pymongo import ReadPreference, ReturnDocument, WriteConcern
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import (
    BulkWriteError,
    DuplicateKeyError,
    OperationFailure,
    PyMongoError,
)
from pymongo.read_concern import ReadConcern

from journal.backends.mongo.client import (
    DUPLICATE_KEY_CODES,
    MOCK_LOCK,
    UNAUTHORIZED,
    connect,
    translate_error,
)
from journal.backends.mongo.layout import (
    COLLECTIONS,
    EVENT_INDEXES,
    HOLE_STREAM,
    MARKER_ID,
    SCHEMA_VERSION,
    Block,
    Doc,
    _as_utc,
    _ms,
    _success_step,
    _tombstone,
    query_filter,
    split_success_key,
    success_key,
)
from journal.backends.mongo.leases import MongoLeases
from journal.errors import (
    ConcurrencyError,
    ConfigError,
    CorruptEventError,
    DuplicateStepError,
    IncompatibleStoreError,
    StoreError,
)
from journal.events import (
    CURRENT_SCHEMA,
    SUCCESS_TYPES,
    Event,
    data_dict,
    decode_event,
    decode_raw,
    generation_of,
)
from journal.failpoints import failpoint
from journal.redaction import redact_url, scrub, url_secrets
from journal.store import (
    EventStore,
    LeaseHolder,
    RawEvent,
    StoredEvent,
    StoreFinding,
    format_time,
    utcnow,
    validate_batch,
)

Clock = Callable[[], datetime]
#: what a read along positions yields per event: ``StoredEvent`` or ``RawEvent``
E = TypeVar("E", StoredEvent, RawEvent)

DEFAULT_GAP_TIMEOUT_S = 10.0
#: appends at the end that lose the version race this many times in a row give up
MAX_APPEND_ATTEMPTS = 100
#: tombstones one plugging round inserts at most (the scan then goes on)
MAX_PLUG = 1_000
PAGE = 1_000

_MAJORITY = WriteConcern(w="majority", j=True)


@dataclass
class _Scan(Generic[E]):
    """What a walk along positions found: events, and how far the journal is whole."""

    events: list[E]
    covered: int
    last_event: int


class _PositionTaken(Exception):
    """Our block's first position holds a reader's tombstone: allocate again."""


class _VersionTaken(Exception):
    """Another commit holds the version we tried: someone appended first."""


class MongoEventStore(EventStore):
    """Keeps the journal in MongoDB: one document per commit, unique indexes, no updates."""

    backend = "mongodb"
    min_poll_interval_s = 0.05

    def __init__(
        self,
        database: Database[Doc],
        *,
        create: bool = True,
        url: str | None = None,
        client: Any = None,
        clock: Clock = utcnow,
        gap_timeout_s: float = DEFAULT_GAP_TIMEOUT_S,
    ) -> None:
        self._db = database
        self._client = client
        self._where = redact_url(url) if url else f"MongoDB database {database.name}"
        self._secrets = url_secrets(url) if url else ()
        self._clock = clock
        self._gap_timeout = timedelta(seconds=gap_timeout_s)
        self._closed = False
        is_mock = type(database).__module__.startswith("mongomock")
        self._lock: contextlib.AbstractContextManager[Any] = (
            MOCK_LOCK if is_mock else contextlib.nullcontext()
        )
        primary = ReadPreference.PRIMARY
        majority_read = ReadConcern("majority")
        local_read = ReadConcern("local")
        # Readers see only what a failover cannot roll back; writer-side checks must see
        # what the unique indexes see.
        self._events: Collection[Doc] = database.get_collection(
            "events", write_concern=_MAJORITY, read_concern=majority_read, read_preference=primary
        )
        self._events_local: Collection[Doc] = database.get_collection(
            "events", write_concern=_MAJORITY, read_concern=local_read, read_preference=primary
        )
        self._counters: Collection[Doc] = database.get_collection(
            "counters", write_concern=_MAJORITY, read_concern=local_read, read_preference=primary
        )
        self._leases: Collection[Doc] = database.get_collection(
            "leases", write_concern=_MAJORITY, read_concern=local_read, read_preference=primary
        )
        self._meta: Collection[Doc] = database.get_collection(
            "meta", write_concern=_MAJORITY, read_concern=local_read, read_preference=primary
        )
        self._lease = MongoLeases(self._leases, self._calling, lambda: self._clock())
        # Everything up to `_covered` is committed or tombstoned, for good (nothing is
        # ever deleted), so last_position() walks on from there instead of from 1.
        self._frontier_lock = threading.Lock()
        self._covered = 0
        self._last_event = 0
        self._open(create=create)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        create: bool = True,
        clock: Clock = utcnow,
        gap_timeout_s: float = DEFAULT_GAP_TIMEOUT_S,
    ) -> MongoEventStore:
        """Opens the journal a ``mongodb://``, ``mongodb+srv://`` or ``mongomock://`` URL names."""
        target = connect(url)
        try:
            database = cast("Database[Doc]", target.client[target.database])
        except (PyMongoError, TypeError, ValueError) as exc:
            if target.owned:
                target.client.close()
            raise ConfigError(
                f"bad MongoDB database name in {redact_url(url)}: {scrub(str(exc), url_secrets(url))}"
            ) from exc
        try:
            return cls(
                database,
                create=create,
                url=url,
                client=target.client if target.owned else None,
                clock=clock,
                gap_timeout_s=gap_timeout_s,
            )
        except BaseException:
            if target.owned:
                target.client.close()
            raise

    @contextlib.contextmanager
    def _calling(self) -> Iterator[None]:
        """Runs driver calls serialised (on mongomock) and translated into journal errors."""
        if self._closed:
            raise StoreError("the store is closed")
        with self._lock:
            try:
                yield
            except (PyMongoError, BSONError) as exc:
                raise translate_error(exc, where=self._where, secrets=self._secrets) from exc

    @property
    def database(self) -> Database[Doc]:
        """Returns the database the journal lives in (for co-located read models)."""
        return self._db

    def guarded(self) -> contextlib.AbstractContextManager[None]:
        """Returns a context that runs driver calls as the store does (serialised, translated)."""
        return self._calling()

    def close(self) -> None:
        """Closes the client this store opened (a shared mongomock client stays up)."""
        self._closed = True
        if self._client is not None:
            self._client.close()
            self._client = None

    def __repr__(self) -> str:
        return f"MongoEventStore({self._where!r})"

    # --- opening -----------------------------------------------------------------------

    def _open(self, *, create: bool) -> None:
        """Checks the database is ours (or empty) before writing anything to it."""
        with self._calling():
            names = set(self._db.list_collection_names())
            marker = self._meta.find_one({"_id": MARKER_ID}) if "meta" in names else None
        if marker is None:
            ours = sorted(names & set(COLLECTIONS))
            if ours:
                raise IncompatibleStoreError(
                    f"{self._where} has collections {', '.join(ours)} but no genjournal marker, "
                    "so it is not a genjournal journal; it was left untouched"
                )
            if not create:
                raise ConfigError(f"no journal at {self._where} (run `genjournal run` first)")
            marker = self._write_marker()
        self._check_marker(marker)
        self._ensure_layout()

    def _write_marker(self) -> Doc:
        # The marker goes first: a set-up interrupted after it is finished by the next
        # open, while one interrupted before it leaves nothing behind.
        marker: Doc = {"_id": MARKER_ID, "schema": SCHEMA_VERSION}
        with self._calling():
            try:
                self._meta.insert_one(dict(marker))
            except DuplicateKeyError:
                found = self._meta.find_one({"_id": MARKER_ID})
                return found if found is not None else marker
        return marker

    def _check_marker(self, marker: Mapping[str, Any]) -> None:
        schema = marker.get("schema")
        if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1:
            raise IncompatibleStoreError(
                f"{self._where} has a genjournal marker with an unreadable schema ({schema!r}); "
                "it was left untouched"
            )
        if schema > SCHEMA_VERSION:
            raise IncompatibleStoreError(
                f"{self._where} was written by a newer genjournal (journal schema {schema}, "
                f"this one knows {SCHEMA_VERSION}); upgrade genjournal. It was left untouched"
            )

    def _ensure_layout(self) -> None:
        """Creates whatever index or counter is missing (idempotent; heals a cut-short set-up)."""
        with self._calling():
            existing = self._events_local.index_information()
            for spec in EVENT_INDEXES:
                found = existing.get(spec.name)
                if found is None:
                    options: dict[str, Any] = {"name": spec.name, "unique": spec.unique}
                    if spec.partial is not None:
                        options["partialFilterExpression"] = dict(spec.partial)
                    self._events_local.create_index(list(spec.keys), **options)
                    continue
                keys = tuple((field, int(order)) for field, order in found.get("key", ()))
                partial = found.get("partialFilterExpression")
                if (
                    keys != spec.keys
                    or bool(found.get("unique")) != spec.unique
                    or (dict(partial) if partial is not None else None) != spec.partial
                ):
                    raise IncompatibleStoreError(
                        f"{self._where}: index {spec.name} is not the one genjournal needs "
                        f"({keys}); the journal was left untouched"
                    )
            if self._counters.find_one({"_id": "position"}, {"_id": 1}) is None:
                with contextlib.suppress(DuplicateKeyError):
                    self._counters.insert_one({"_id": "position", "value": 0})

    # --- writing -----------------------------------------------------------------------

    def append(
        self,
        stream: str,
        events: Sequence[Event],
        *,
        expected_version: int | None = None,
    ) -> list[StoredEvent]:
        """Appends a batch to one stream as one document; returns it once majority-durable."""
        validate_batch(stream, events)
        if stream.startswith("$"):
            raise ValueError(f"stream names starting with '$' are reserved: {stream!r}")
        if not events:
            return []
        if expected_version is not None:
            # The current version is always a commit boundary, so equality proves the
            # expected one is too; a newer commit after this read loses on the index.
            current = self.stream_version(stream)
            if current != expected_version:
                raise ConcurrencyError(stream, expected_version, current)
        success = _success_step(events)
        if success is not None:
            # Spares a block and a tombstone in the common "retry of a recorded step"
            # case; the unique index still decides every race.
            existing = self._find_success(self._events_local, stream, *success)
            if existing is not None:
                raise DuplicateStepError(stream, success[0], existing, success[1])
        block = self._allocate(len(events))
        try:
            # A crash here leaves exactly the hole the dead-hole rule exists for.
            failpoint("append-before-commit")
        except BaseException:
            self._abandon(block)
            raise
        return self._commit(stream, events, block=block, expected_version=expected_version)

    def _allocate(self, count: int) -> Block:
        """Takes a block of ``count`` positions from the counter, stamped with the time."""
        with self._calling():
            try:
                doc = self._counters.find_one_and_update(
                    {"_id": "position"},
                    {"$inc": {"value": count}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                # Two first-ever upserts raced; the counter exists now.
                doc = self._counters.find_one_and_update(
                    {"_id": "position"},
                    {"$inc": {"value": count}},
                    return_document=ReturnDocument.AFTER,
                )
        if doc is None or not isinstance(doc.get("value"), int):
            raise StoreError(f"{self._where}: the position counter is missing or damaged")
        # Stamped after the counter answered: every lower position was handed out
        # before this moment (the dead-hole rule relies on it).
        return Block(first=doc["value"] - count + 1, count=count, recorded_at=_ms(self._clock()))

    def _commit(
        self,
        stream: str,
        events: Sequence[Event],
        *,
        block: Block,
        expected_version: int | None,
    ) -> list[StoredEvent]:
        """Inserts the commit in an allocated block, retrying what may be retried."""
        for attempt in range(MAX_APPEND_ATTEMPTS):
            try:
                if expected_version is not None:
                    version = expected_version + 1
                else:
                    version = self.stream_version(stream) + 1
                return self._insert_commit(stream, events, version=version, block=block)
            except _PositionTaken:
                # A reader gave up on this block and plugged its first position; the
                # commit moves to a fresh block, after that reader's checkpoint.
                self._abandon(block, start=1)
                block = self._allocate(len(events))
            except _VersionTaken as exc:
                if expected_version is not None:
                    self._abandon(block)
                    raise ConcurrencyError(stream, expected_version, self.stream_version(stream)) from exc
                # The block stays ours (nothing took its position): retry in it.
                time.sleep(random.uniform(0, min(0.02, 0.0005 * 2**attempt)))
            except BaseException:
                self._abandon(block)
                raise
        self._abandon(block)
        raise StoreError(
            f"stream {stream!r} stayed too contended to append at its end after "
            f"{MAX_APPEND_ATTEMPTS} attempts; nothing was written"
        )

    def _insert_commit(
        self, stream: str, events: Sequence[Event], *, version: int, block: Block
    ) -> list[StoredEvent]:
        """Inserts one commit document at ``version`` in ``block`` (a single attempt)."""
        doc: Doc = {
            "_id": events[0].id,
            "stream": stream,
            "version": version,
            "last_version": version + len(events) - 1,
            "position": block.first,
            "count": len(events),
            "recorded_at": block.recorded_at,
            "events": [
                {
                    "id": event.id,
                    "type": event.type,
                    "schema_version": event.schema_version,
                    "run_id": event.run_id,
                    "step": event.step,
                    "data": data_dict(event),
                    "meta": event.meta.model_dump(mode="json", exclude_none=True),
                }
                for event in events
            ],
        }
        success = _success_step(events)
        if success is not None:
            doc["success_step"] = success_key(*success)
        with self._calling():
            try:
                self._events.insert_one(doc)
            except DuplicateKeyError as exc:
                self._diagnose(exc, stream, success, version, block, doc["_id"])
        return [
            StoredEvent(
                position=block.first + offset,
                stream=stream,
                version=version + offset,
                recorded_at=block.recorded_at,
                event=event,
            )
            for offset, event in enumerate(events)
        ]

    def _diagnose(
        self,
        exc: DuplicateKeyError,
        stream: str,
        success: tuple[str, int] | None,
        version: int,
        block: Block,
        doc_id: str,
    ) -> None:
        """Finds which unique key refused a commit (by reading) and raises accordingly."""
        # The order matters: a recorded success refuses every retry, so it wins; a
        # taken position means a reader plugged it, whatever else collided.
        if success is not None:
            existing = self._find_success(self._events_local, stream, *success)
            if existing is not None:
                raise DuplicateStepError(stream, success[0], existing, success[1]) from exc
        if self._events_local.find_one({"position": block.first}, {"_id": 1}) is not None:
            raise _PositionTaken(block.first) from exc
        if self._events_local.find_one({"stream": stream, "version": version}, {"_id": 1}):
            raise _VersionTaken(version) from exc
        if self._events_local.find_one({"_id": doc_id}, {"_id": 1}) is not None:
            raise StoreError(
                f"event id {doc_id} is already recorded; nothing from this batch was written"
            ) from exc
        raise StoreError(
            f"{self._where} refused the batch on a unique index; nothing was written: "
            f"{scrub(str(exc), self._secrets)}"
        ) from exc

    def _abandon(self, block: Block, *, start: int = 0) -> None:
        """Tombstones a block this writer will not commit, so readers need not wait for it."""
        docs = [
            _tombstone(position, block.recorded_at) for position in range(block.first + start, block.last + 1)
        ]
        if not docs or self._closed:
            return
        # In order, stopping at the first refusal: a refused first position means the
        # commit did land (an uncertain failure) or a reader plugged it, and tombstones
        # must never overlap a commit. Best effort: if this fails, readers plug the
        # block once it is older than the gap timeout.
        with self._lock, contextlib.suppress(PyMongoError, BSONError):
            self._events.insert_many(docs, ordered=True)

    # --- reading: decoding -----------------------------------------------------------

    def _decode_doc(
        self,
        doc: Mapping[str, Any],
        *,
        min_position: int = 0,
        min_version: int = 0,
        keep: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> list[StoredEvent]:
        """Rebuilds the events of one commit document (tombstones have none)."""
        if doc.get("hole"):
            return []
        position, version, count = doc.get("position"), doc.get("version"), doc.get("count")
        if not isinstance(position, int):
            raise CorruptEventError(f"a commit in {self._where} has no valid position")
        items = doc.get("events")
        if (
            not isinstance(version, int)
            or not isinstance(items, list)
            or not isinstance(count, int)
            or count != len(items)
            or not isinstance(doc.get("stream"), str)
        ):
            raise CorruptEventError(f"the commit at position {position} is malformed", position=position)
        recorded_at = _as_utc(doc.get("recorded_at"))
        if recorded_at is None:
            raise CorruptEventError(
                f"the commit at position {position} has no valid recorded_at", position=position
            )
        found: list[StoredEvent] = []
        for offset, item in enumerate(items):
            here = position + offset
            if here <= min_position or version + offset <= min_version:
                continue
            if not isinstance(item, dict):
                raise CorruptEventError(f"event at position {here} is not a document", position=here)
            if keep is not None and not keep(item):
                continue
            type_name, schema_version = item.get("type"), item.get("schema_version")
            if not isinstance(type_name, str) or not isinstance(schema_version, int):
                raise CorruptEventError(
                    f"event at position {here} has no valid type or schema_version", position=here
                )
            data, meta = item.get("data"), item.get("meta", {})
            if not isinstance(data, dict | str) or not isinstance(meta, dict | str):
                raise CorruptEventError(f"event at position {here} has no valid data or meta", position=here)
            event = decode_event(
                position=here,
                event_id=str(item.get("id")),
                type_name=type_name,
                schema_version=schema_version,
                run_id=item.get("run_id"),
                step=item.get("step"),
                data=data,
                meta=meta,
            )
            found.append(
                StoredEvent(
                    position=here,
                    stream=doc["stream"],
                    version=version + offset,
                    recorded_at=recorded_at,
                    event=event,
                )
            )
        return found

    # --- reading: along positions -----------------------------------------------------

    def _straddling(self, after_position: int) -> Doc | None:
        """Returns the commit holding position ``after_position`` if it goes on past it."""
        if after_position <= 0:
            return None
        doc = self._events.find_one({"position": {"$lte": after_position}}, sort=[("position", -1)])
        if doc is None or doc.get("hole"):
            return None
        count = doc.get("count")
        if isinstance(count, int) and doc["position"] + count - 1 > after_position:
            return doc
        return None

    def _is_dead(self, doc: Mapping[str, Any]) -> bool:
        """Tells whether every position below this document was allocated long enough ago."""
        allocated = _as_utc(doc.get("recorded_at"))
        if allocated is None:
            return True
        return self._clock() - allocated >= self._gap_timeout

    def _plug(self, first: int, last: int, *, evidence: Any) -> int | None:
        """Tombstones dead positions in order; returns the first one refused (or None)."""
        # A tombstone carries the evidence's time: positions below it were allocated
        # before that time, which keeps the dead-hole rule true when a tombstone is
        # itself the evidence for an older hole.
        stamp = _as_utc(evidence) or _ms(self._clock())
        last = min(last, first + MAX_PLUG - 1)
        docs = [_tombstone(position, stamp) for position in range(first, last + 1)]
        with self._calling():
            try:
                self._events.insert_many(docs, ordered=True)
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors") or [{}]
                if errors[0].get("code") not in DUPLICATE_KEY_CODES:
                    raise
                return first + int(errors[0].get("index", 0))
            except OperationFailure as exc:
                if exc.code != UNAUTHORIZED:
                    raise
                # A read-only reader cannot plug; it waits at the hole instead.
                return first
        return None

    def _scan(
        self,
        after_position: int,
        *,
        limit: int | None,
        decode: Callable[[Mapping[str, Any], int], list[E]] | None,
    ) -> _Scan[E]:
        """Walks commits after a position in order, stopping at a live hole, plugging dead ones.

        ``decode(doc, after_position)`` turns a commit into events (typed or raw); without
        it the walk only measures how far the journal is whole.
        """
        events: list[E] = []
        expected = after_position + 1
        last_event = 0
        refused: set[int] = set()
        if decode:
            with self._calling():
                straddling = self._straddling(after_position)
            if straddling is not None:
                events += decode(straddling, after_position)
                expected = straddling["position"] + straddling["count"]
                last_event = expected - 1
        projection = None if decode else {"position": 1, "count": 1, "hole": 1, "recorded_at": 1}
        while limit is None or len(events) < limit:
            page = PAGE if limit is None else max(16, min(PAGE, limit - len(events)))
            with self._calling():
                docs = list(
                    self._events.find({"position": {"$gte": expected}}, projection)
                    .sort("position", 1)
                    .limit(page)
                )
            rescan = False
            for doc in docs:
                position, count = doc.get("position"), doc.get("count")
                if not isinstance(position, int) or not isinstance(count, int) or count < 1:
                    raise CorruptEventError(
                        f"the commit document {doc.get('_id')!r} has no valid position or count",
                        position=position if isinstance(position, int) else None,
                    )
                if position > expected:
                    if expected in refused or not self._is_dead(doc):
                        return _Scan(events[:limit], expected - 1, last_event)
                    failed = self._plug(expected, position - 1, evidence=doc.get("recorded_at"))
                    if failed is not None:
                        # Something holds that position now; read again to find it, and
                        # wait there if it is not visible yet.
                        refused.add(failed)
                    rescan = True
                    break
                end = position + count - 1
                if end < expected:
                    continue  # a tombstone inside a range already covered
                if not doc.get("hole"):
                    if decode:
                        events += decode(doc, after_position)
                    last_event = end
                expected = end + 1
                if limit is not None and len(events) >= limit:
                    break
            if not rescan and len(docs) < page:
                break
        if limit is not None and len(events) > limit:
            events = events[:limit]
            last_event = events[-1].position
        return _Scan(events, expected - 1, last_event)

    def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Returns a page of events after a position, never past a hole a late commit may fill."""
        if limit <= 0:
            return []
        return self._scan(after_position, limit=limit, decode=self._decode_after).events

    def _decode_after(self, doc: Mapping[str, Any], after_position: int) -> list[StoredEvent]:
        return self._decode_doc(doc, min_position=after_position)

    def read_all_raw(self, *, after_position: int = 0, limit: int = 1000) -> list[RawEvent]:
        """Returns a page like ``read_all`` as plain data, straight from the commit documents."""
        if limit <= 0:
            return []
        return self._scan(after_position, limit=limit, decode=self._raw_doc).events

    def _raw_doc(self, doc: Mapping[str, Any], after_position: int) -> list[RawEvent]:
        """Rebuilds one commit's events after a position as ``RawEvent`` (tombstones have none).

        The fold's hot path: payloads are BSON sub-documents already, so an event of the
        current schema is taken as stored; anything else goes through ``decode_raw``, which
        refuses unknown types and future schemas and upcasts old ones, as ``read_all`` does.
        """
        if doc.get("hole"):
            return []
        position, version, count = doc.get("position"), doc.get("version"), doc.get("count")
        items, stream = doc.get("events"), doc.get("stream")
        if not isinstance(position, int):
            raise CorruptEventError(f"a commit in {self._where} has no valid position")
        if (
            not isinstance(version, int)
            or not isinstance(items, list)
            or not isinstance(count, int)
            or count != len(items)
            or not isinstance(stream, str)
        ):
            raise CorruptEventError(f"the commit at position {position} is malformed", position=position)
        moment = _as_utc(doc.get("recorded_at"))
        if moment is None:
            raise CorruptEventError(
                f"the commit at position {position} has no valid recorded_at", position=position
            )
        # The same fixed-width text the typed path's envelope carries: the fold copies it
        # into documents, which must be byte-identical across backends.
        recorded_at = format_time(moment)
        current = CURRENT_SCHEMA
        found: list[RawEvent] = []
        for offset in range(max(0, after_position - position + 1), len(items)):
            item = items[offset]
            here = position + offset
            if not isinstance(item, dict):
                raise CorruptEventError(f"event at position {here} is not a document", position=here)
            type_name, schema_version = item.get("type"), item.get("schema_version")
            if not isinstance(type_name, str) or not isinstance(schema_version, int):
                raise CorruptEventError(
                    f"event at position {here} has no valid type or schema_version", position=here
                )
            data, meta = item.get("data"), item.get("meta", {})
            if not (
                current.get(type_name) == schema_version and isinstance(data, dict) and isinstance(meta, dict)
            ):
                if not isinstance(data, dict | str) or not isinstance(meta, dict | str):
                    raise CorruptEventError(
                        f"event at position {here} has no valid data or meta", position=here
                    )
                data, meta = decode_raw(
                    position=here,
                    type_name=type_name,
                    schema_version=schema_version,
                    data=data,
                    meta=meta,
                )
            found.append(
                RawEvent(
                    here,
                    stream,
                    version + offset,
                    type_name,
                    recorded_at,
                    item.get("run_id"),
                    item.get("step"),
                    data,
                    meta,
                )
            )
        return found

    def last_position(self) -> int:
        """Returns the newest position ``read_all`` can reach (0 when empty)."""
        with self._frontier_lock:
            covered, last_event = self._covered, self._last_event
        scan: _Scan[StoredEvent] = self._scan(covered, limit=None, decode=None)
        with self._frontier_lock:
            if scan.covered > self._covered:
                self._covered = scan.covered
                self._last_event = max(self._last_event, scan.last_event or last_event)
            return self._last_event

    def position_gaps(self) -> list[int]:
        """Returns the positions that hold a tombstone instead of an event."""
        with self._calling():
            docs = self._events.find({"stream": HOLE_STREAM}, {"position": 1}, sort=[("last_version", 1)])
            return [doc["position"] for doc in docs]

    def stream_versions_with_gaps(self) -> list[tuple[str, int, int]]:
        """Returns (stream, events, last version) for every stream whose versions are not 1…n."""
        pipeline: list[dict[str, Any]] = [
            {"$match": {"hole": {"$ne": True}}},
            {"$group": {"_id": "$stream", "events": {"$sum": "$count"}, "last": {"$max": "$last_version"}}},
        ]
        with self._calling():
            rows = list(self._events.aggregate(pipeline))
        return [(row["_id"], row["events"], row["last"]) for row in rows if row["events"] != row["last"]]

    def self_check(self) -> list[StoreFinding]:
        """Lists tombstoned positions (info: plugged by design) and gaps in stream versions."""
        findings = []
        gaps = self.position_gaps()
        if gaps:
            findings.append(
                StoreFinding(
                    "positions",
                    "info",
                    "tombstoned positions (blocks of crashed or refused writers, plugged by design)",
                    ", ".join(str(g) for g in gaps[:10]),
                    count=len(gaps),
                )
            )
        findings += [
            StoreFinding(
                "stream-versions",
                "error",
                "stream versions have gaps (events were removed)",
                f"{stream}: {count} events, last version {last}",
            )
            for stream, count, last in self.stream_versions_with_gaps()
        ]
        return findings

    # --- reading: by stream, step and filter ------------------------------------------

    def read_stream(self, stream: str, *, after: int = 0) -> list[StoredEvent]:
        """Returns a stream's events after a version, in version order."""
        with self._calling():
            docs = list(
                self._events.find({"stream": stream, "last_version": {"$gt": after}}).sort("last_version", 1)
            )
        found: list[StoredEvent] = []
        for doc in docs:
            found += self._decode_doc(doc, min_version=after)
        return found

    def stream_version(self, stream: str) -> int:
        """Returns a stream's newest version (0 when empty), read where writers decide."""
        with self._calling():
            doc = self._events_local.find_one(
                {"stream": stream}, {"last_version": 1}, sort=[("last_version", -1)]
            )
        return int(doc["last_version"]) if doc is not None else 0

    def _find_success(
        self, collection: Collection[Doc], stream: str, step: str, generation: int | None = None
    ) -> StoredEvent | None:
        if generation is not None:
            spec: Doc = {
                "stream": stream,
                "success_step": {"$eq": success_key(step, generation), "$type": "string"},
            }
        else:
            spec = {
                "stream": stream,
                "$or": [
                    {"success_step": {"$eq": step, "$type": "string"}},
                    {"success_step": {"$regex": f"^{re.escape(step)}@[0-9]+$"}},
                ],
            }
        with self._calling():
            docs = list(collection.find(spec))
        found = [
            stored
            for doc in docs
            for stored in self._decode_doc(
                doc, keep=lambda item: item.get("step") == step and item.get("type") in SUCCESS_TYPES
            )
        ]
        return max(found, key=lambda stored: generation_of(stored.event), default=None)

    def find_success(self, stream: str, step: str, generation: int | None = None) -> StoredEvent | None:
        """Returns a step's success event of that generation (None: its newest), or None."""
        return self._find_success(self._events, stream, step, generation)

    def recorded_steps(self, *, stream_prefix: str = "") -> set[tuple[str, str]]:
        """Returns every (stream, step) with a success event (from the partial unique index)."""
        spec: Doc = {"success_step": {"$type": "string"}}
        if stream_prefix:
            spec["stream"] = {"$gte": stream_prefix, "$lt": stream_prefix + "\U0010ffff"}
        with self._calling():
            docs = list(self._events.find(spec, {"stream": 1, "success_step": 1, "_id": 0}))
        return {(doc["stream"], split_success_key(doc["success_step"])[0]) for doc in docs}

    def query(
        self,
        *,
        stream: str | None = None,
        stream_prefix: str | None = None,
        types: Iterable[str] | None = None,
        run_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_position: int = 0,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[StoredEvent]:
        """Returns events matching every filter, in position order, up to ``last_position()``."""
        type_list = sorted(set(types)) if types is not None else None
        if type_list == [] or (limit is not None and limit <= 0):
            return []
        highest = self.last_position()
        if highest <= after_position:
            return []
        with self._calling():
            straddling = self._straddling(after_position)
        lowest = straddling["position"] if straddling is not None else after_position + 1
        spec = query_filter(
            stream=stream,
            stream_prefix=stream_prefix,
            types=type_list,
            run_id=run_id,
            since=since,
            until=until,
            lowest=lowest,
            highest=highest,
        )
        wanted_types = set(type_list) if type_list is not None else None

        def keep(item: Mapping[str, Any]) -> bool:
            if wanted_types is not None and item.get("type") not in wanted_types:
                return False
            return run_id is None or item.get("run_id") == run_id

        found: list[StoredEvent] = []
        with self._calling():
            cursor = self._events.find(spec).sort("position", -1 if newest_first else 1)
            try:
                for doc in cursor:
                    matched = self._decode_doc(doc, min_position=after_position, keep=keep)
                    matched = [e for e in matched if e.position <= highest]
                    found += reversed(matched) if newest_first else matched
                    if limit is not None and len(found) >= limit:
                        break
            finally:
                cursor.close()
        if limit is not None:
            found = found[:limit]
        if newest_first:
            found.reverse()
        return found

    # --- the run lease (``leases.MongoLeases``) -------------------------------------------

    def acquire_lease(
        self, holder: LeaseHolder, *, name: str = "run", heartbeat_timeout_s: float = 60.0
    ) -> LeaseHolder | None:
        """Takes the lease, or raises ``LeaseHeldError`` naming a live holder."""
        return self._lease.acquire(holder, name=name, heartbeat_timeout_s=heartbeat_timeout_s)

    def renew_lease(self, holder: LeaseHolder, *, name: str = "run") -> bool:
        """Refreshes our heartbeat; False if someone else holds the lease now."""
        return self._lease.renew(holder, name=name)

    def release_lease(self, holder: LeaseHolder, *, name: str = "run") -> None:
        """Gives the lease up if we still hold it."""
        self._lease.release(holder, name=name)

    def read_lease(self, *, name: str = "run") -> LeaseHolder | None:
        """Returns the lease holder, alive or not."""
        return self._lease.read(name=name)
