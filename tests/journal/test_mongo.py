"""What only the MongoDB store has to prove: late commits, holes, layout, errors, URLs.

Runs on mongomock always and on a real server too when ``MONGODB_URI`` is set.
"""

from __future__ import annotations

import random
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson.errors import InvalidDocument
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    ConfigurationError,
    ConnectionFailure,
    CursorNotFound,
    DuplicateKeyError,
    ExecutionTimeout,
    InvalidURI,
    NetworkTimeout,
    NotPrimaryError,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
    WriteError,
    WTimeoutError,
)

from genjournal.testing import samples
from journal import failpoints
from journal.backends.mongo import (
    EVENT_INDEXES,
    HOLE_STREAM,
    MongoEventStore,
    translate_error,
)
from journal.config import open_store
from journal.errors import (
    ConcurrencyError,
    ConfigError,
    CorruptEventError,
    DuplicateStepError,
    IncompatibleStoreError,
    JournalError,
    LeaseHeldError,
    StoreError,
    StoreFullError,
    StoreUnavailableError,
)
from journal.redaction import url_secrets
from journal.store import LeaseHolder, StoredEvent, utcnow
from tests.journal.backends import BACKEND_PARAMS, MongoBackend, drop_mongo_database, make_backend

MONGO_PARAMS = [param for param in BACKEND_PARAMS if param != "sqlite"]


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Moves the clock forward."""
        self.now += timedelta(seconds=seconds)


@pytest.fixture(params=MONGO_PARAMS)
def mongo(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[MongoBackend]:
    """Yields a throwaway MongoDB journal: mongomock, and a real server when MONGODB_URI is set."""
    made = make_backend(request.param, tmp_path)
    assert isinstance(made, MongoBackend)
    try:
        yield made
    finally:
        made.cleanup()


@pytest.fixture
def clock() -> FakeClock:
    """Returns a clock shared by every handle a test opens."""
    return FakeClock()


@pytest.fixture
def handles(mongo: MongoBackend, clock: FakeClock) -> Iterator[list[MongoEventStore]]:
    """Yields three handles on one journal (two writers and a reader) on the fake clock."""
    opened = [mongo.open_mongo(clock=clock) for _ in range(3)]
    try:
        yield opened
    finally:
        for store in opened:
            store.close()


def ids(events: list[StoredEvent]) -> list[str]:
    """Returns the ids of stored events."""
    return [event.id for event in events]


# --- late commits and holes -----------------------------------------------------------


def test_late_commit_is_not_skipped_by_a_checkpointing_reader(
    handles: list[MongoEventStore],
) -> None:
    """A commit that lands after a higher position was read is still seen, in position order."""
    late, early, reader = handles
    first = early.append("style:a", [samples.room_failed("r0")])
    checkpoint = reader.read_all()[-1].position
    block = late._allocate(1)  # A holds position 2 and stalls before inserting
    b = early.append("style:b", [samples.room_failed("r1")])
    assert b[0].position == block.first + 1
    # A naive reader would return B here, checkpoint its position and skip A forever.
    assert reader.read_all(after_position=checkpoint) == []
    assert reader.last_position() == first[0].position
    assert reader.query(stream="style:b") == []
    a = late._commit("style:a", [samples.image_failed(0)], block=block, expected_version=None)
    assert a[0].position == block.first
    page = reader.read_all(after_position=checkpoint)
    assert ids(page) == [a[0].id, b[0].id]
    assert [e.position for e in page] == [block.first, block.first + 1]
    assert reader.last_position() == b[0].position
    assert reader.position_gaps() == []


def test_dead_hole_is_plugged_and_the_late_writer_lands_after_it(
    handles: list[MongoEventStore], clock: FakeClock
) -> None:
    """After the gap timeout a reader tombstones a hole; the late writer moves on and is seen."""
    late, early, reader = handles
    block = late._allocate(1)
    b = early.append("style:b", [samples.room_failed()])
    assert reader.read_all() == []
    clock.advance(11)
    seen = reader.read_all()
    assert ids(seen) == [b[0].id]
    assert reader.position_gaps() == [block.first]
    assert reader.last_position() == b[0].position
    a = late._commit("style:a", [samples.style_created("a")], block=block, expected_version=None)
    assert a[0].position > b[0].position
    assert ids(reader.read_all(after_position=seen[-1].position)) == [a[0].id]
    everything = reader.read_all()
    assert ids(everything) == [b[0].id, a[0].id]
    assert HOLE_STREAM not in {e.stream for e in everything}
    assert reader.query(stream_prefix="$") == []
    assert reader.stream_version("style:a") == 1
    assert reader.find_success("style:a", "content") is not None


def test_writer_that_beats_the_plug_is_returned_not_tombstoned(
    handles: list[MongoEventStore], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the late writer inserts between the reader's look and its plug, the reader returns it."""
    late, early, reader = handles
    block = late._allocate(1)
    b = early.append("style:b", [samples.room_failed()])
    clock.advance(11)
    landed: list[StoredEvent] = []
    real_plug = reader._plug

    def plug_after_the_writer_lands(first: int, last: int, *, evidence: Any) -> int | None:
        landed.extend(late._commit("style:a", [samples.room_failed()], block=block, expected_version=None))
        return real_plug(first, last, evidence=evidence)

    monkeypatch.setattr(reader, "_plug", plug_after_the_writer_lands)
    assert ids(reader.read_all()) == [landed[0].id, b[0].id]
    assert landed[0].position == block.first
    assert reader.position_gaps() == []


def test_failed_appends_tombstone_their_block_and_do_not_stall_readers(
    handles: list[MongoEventStore],
) -> None:
    """A writer that loses a race tombstones its own positions, so readers go on at once."""
    loser, winner, reader = handles
    winner.append("style:a", [samples.room_failed()], expected_version=0)
    block = loser._allocate(1)
    winner.append("style:a", [samples.room_failed()], expected_version=1)
    with pytest.raises(ConcurrencyError) as conflict:
        loser._commit("style:a", [samples.room_failed()], block=block, expected_version=1)
    assert (conflict.value.expected, conflict.value.actual) == (1, 2)
    step_block = loser._allocate(1)
    recorded = winner.append("style:a", [samples.room_generated("kitchen")])
    with pytest.raises(DuplicateStepError) as duplicate:
        loser._commit("style:a", [samples.room_generated("kitchen")], block=step_block, expected_version=None)
    assert duplicate.value.existing is not None
    assert duplicate.value.existing.id == recorded[0].id
    after = winner.append("style:a", [samples.room_failed()])
    # The default gap timeout (10 s) has not passed: only the tombstones let this through.
    assert [e.version for e in reader.read_all()] == [1, 2, 3, 4]
    assert reader.last_position() == after[0].position
    assert reader.position_gaps() == [block.first, step_block.first]


def test_append_interrupted_before_its_insert_leaves_no_stalling_hole(
    handles: list[MongoEventStore],
) -> None:
    """A writer failing between allocation and insert tombstones its block before raising."""
    writer, _, reader = handles
    failpoints.configure("append-before-commit=raise@1")
    try:
        with pytest.raises(failpoints.FailpointError):
            writer.append("style:a", [samples.room_failed()])
    finally:
        failpoints.configure(None)
    stored = writer.append("style:a", [samples.room_failed()])
    assert stored[0].version == 1
    assert ids(reader.read_all()) == ids(stored)
    assert reader.position_gaps() == [stored[0].position - 1]


def test_reader_polling_during_out_of_order_commits_sees_every_event_once(
    mongo: MongoBackend,
) -> None:
    """A reader checkpointing as it goes, while writers commit out of order, misses nothing."""
    writers = [mongo.open_mongo() for _ in range(4)]
    reader = mongo.open_mongo()
    appended: list[str] = []
    lock = threading.Lock()
    done = threading.Event()

    def write(index: int) -> None:
        rng = random.Random(index)
        for i in range(15):
            block = writers[index]._allocate(1)
            time.sleep(rng.uniform(0, 0.004))  # widen the window for a late commit
            stored = writers[index]._commit(
                f"style:s{index}", [samples.image_failed(i)], block=block, expected_version=None
            )
            with lock:
                appended.append(stored[0].id)

    seen: list[StoredEvent] = []

    def read() -> None:
        checkpoint = 0
        while True:
            finished = done.is_set()
            page = reader.read_all(after_position=checkpoint, limit=7)
            seen.extend(page)
            if page:
                checkpoint = page[-1].position
            elif finished:
                return
            else:
                time.sleep(0.001)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    poller = threading.Thread(target=read)
    poller.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    poller.join()
    try:
        assert sorted(ids(seen)) == sorted(appended)
        assert len(seen) == len(set(ids(seen))) == 60
        positions = [e.position for e in seen]
        assert positions == sorted(positions)
    finally:
        for store in [*writers, reader]:
            store.close()


def test_allocation_and_appends_stay_unique_under_heavy_thread_preemption(
    mongo: MongoBackend,
) -> None:
    """Positions and versions stay unique while threads switch every microsecond."""
    stores = [mongo.open_mongo() for _ in range(8)]
    firsts: list[int] = []
    errors: list[BaseException] = []

    def allocate_and_append(index: int) -> None:
        try:
            for i in range(25):
                # Blocks left unused are harmless here: nothing reads along positions.
                firsts.extend(stores[index]._allocate(1).first for _ in range(4))
                stores[index].append("style:hot", [samples.image_failed(index * 100 + i)])
        except BaseException as exc:
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # makes mongomock's non-atomic counter race within a few calls
    try:
        threads = [threading.Thread(target=allocate_and_append, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    try:
        assert errors == []
        assert len(firsts) == len(set(firsts)) == 800
        assert [e.version for e in stores[0].read_stream("style:hot")] == list(range(1, 201))
    finally:
        for store in stores:
            store.close()


# --- commits, versions, pages ----------------------------------------------------------


def test_one_append_is_one_document_with_the_commit_layout(mongo: MongoBackend) -> None:
    """A batch is stored as one document: first version/position, count, events, success step."""
    store = mongo.open_mongo()
    try:
        batch = store.append(
            "style:a", [samples.room_failed(), samples.style_created("a"), samples.image_failed()]
        )
        store.append("style:a", [samples.room_failed("r2")])
    finally:
        store.close()
    with mongo.raw_database() as db:
        docs = list(db.events.find({}, sort=[("position", 1)]))
    assert len(docs) == 2
    first = docs[0]
    assert set(first) == {
        "_id",
        "stream",
        "version",
        "last_version",
        "position",
        "count",
        "success_step",
        "recorded_at",
        "events",
    }
    assert (first["_id"], first["version"], first["last_version"], first["count"]) == (
        batch[0].id,
        1,
        3,
        3,
    )
    assert (first["position"], first["success_step"]) == (batch[0].position, "content")
    assert isinstance(first["recorded_at"], datetime)
    assert [e["id"] for e in first["events"]] == ids(batch)
    assert set(first["events"][0]) == {
        "id",
        "type",
        "schema_version",
        "run_id",
        "step",
        "data",
        "meta",
    }
    assert "success_step" not in docs[1]
    assert docs[1]["position"] == batch[-1].position + 1


def test_a_page_cut_inside_a_commit_resumes_with_its_remaining_events(mongo: MongoBackend) -> None:
    """Paging by position and reading by version both resume in the middle of a commit."""
    store = mongo.open_mongo()
    try:
        batch = store.append("style:a", [samples.image_failed(i) for i in range(3)])
        tail = store.append("style:a", [samples.room_failed()])
        first_page = store.read_all(limit=2)
        assert ids(first_page) == ids(batch[:2])
        assert ids(store.read_all(after_position=first_page[-1].position)) == ids(batch[2:] + tail)
        assert ids(store.query(after_position=batch[0].position)) == ids(batch[1:] + tail)
        assert [e.version for e in store.read_stream("style:a", after=1)] == [2, 3, 4]
        assert ids(list(store.iter_all(page_size=1))) == ids(batch + tail)
    finally:
        store.close()


def test_expected_version_inside_a_multi_event_commit_is_a_conflict(mongo: MongoBackend) -> None:
    """Only a commit boundary can be expected: a version inside someone's batch is refused."""
    store = mongo.open_mongo()
    try:
        store.append("style:a", [samples.image_failed(i) for i in range(3)])
        with pytest.raises(ConcurrencyError) as caught:
            store.append("style:a", [samples.room_failed()], expected_version=2)
        assert (caught.value.expected, caught.value.actual) == (2, 3)
        stored = store.append("style:a", [samples.room_failed()], expected_version=3)
        assert stored[0].version == 4
    finally:
        store.close()


def test_reserved_stream_names_are_refused(mongo: MongoBackend) -> None:
    """Streams starting with '$' belong to the store (tombstones live in '$hole')."""
    store = mongo.open_mongo()
    try:
        with pytest.raises(ValueError, match="reserved"):
            store.append(HOLE_STREAM, [samples.room_failed()])
        assert store.last_position() == 0
    finally:
        store.close()


def test_malformed_commit_document_is_refused_naming_its_position(mongo: MongoBackend) -> None:
    """A commit whose events are not a list raises CorruptEventError naming its position."""
    store = mongo.open_mongo()
    try:
        with mongo.raw_database() as db:
            db.events.insert_one(
                {
                    "_id": "bad",
                    "stream": "style:a",
                    "version": 1,
                    "last_version": 1,
                    "position": 1,
                    "count": 1,
                    "recorded_at": datetime.now(UTC),
                    "events": "garbage",
                }
            )
        with pytest.raises(CorruptEventError) as caught:
            store.read_all()
        assert caught.value.position == 1
    finally:
        store.close()


def test_guarded_driver_calls_share_the_database_and_translate_errors(mongo: MongoBackend) -> None:
    """A co-located read model reaches the journal's database and gets journal errors back."""
    store = mongo.open_mongo()
    try:
        with store.guarded():
            store.database["views"].insert_one({"_id": "x"})
        with pytest.raises(StoreError, match="duplicate key"), store.guarded():
            store.database["views"].insert_one({"_id": "x"})
    finally:
        store.close()


def test_closed_store_refuses_to_work(mongo: MongoBackend) -> None:
    """A closed handle raises StoreError instead of touching the database."""
    store = mongo.open_mongo()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.read_all()


def test_racing_takeovers_of_a_dead_lease_have_one_winner(mongo: MongoBackend) -> None:
    """Several runs taking over one stale lease at once: one succeeds, the rest see it held."""
    stores = [mongo.open_mongo() for _ in range(6)]
    old = utcnow() - timedelta(minutes=10)
    stores[0].acquire_lease(
        LeaseHolder(run_id="run-old", host="elsewhere.example", pid=1, since=old, heartbeat=old)
    )
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def take(index: int) -> None:
        barrier.wait()
        try:
            previous = stores[index].acquire_lease(LeaseHolder.for_this_process(f"run-{index}"))
            outcomes.append("took" if previous is not None and previous.run_id == "run-old" else "odd")
        except LeaseHeldError:
            outcomes.append("held")

    threads = [threading.Thread(target=take, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert sorted(outcomes) == ["held"] * 5 + ["took"]
    finally:
        for store in stores:
            store.close()


# --- layout and refusals --------------------------------------------------------------


def test_create_makes_every_index_the_journal_relies_on(mongo: MongoBackend) -> None:
    """The unique keys and the filter indexes exist, with the partial filter on success steps."""
    mongo.open_mongo().close()
    with mongo.raw_database() as db:
        found = db.events.index_information()
        marker = db.meta.find_one({"_id": "genjournal"})
    for spec in EVENT_INDEXES:
        assert tuple((k, int(v)) for k, v in found[spec.name]["key"]) == spec.keys
        assert bool(found[spec.name].get("unique")) == spec.unique
    assert dict(found["stream_success_step"]["partialFilterExpression"]) == {
        "success_step": {"$type": "string"}
    }
    assert marker == {"_id": "genjournal", "schema": 1}


def test_filtered_reads_use_indexes(mongo: MongoBackend) -> None:
    """Every filtered read the store issues is planned on an index, never a collection scan."""
    if not mongo.real:
        pytest.skip("mongomock has no query planner; explain needs a real server (MONGODB_URI)")
    store = mongo.open_mongo()
    try:
        store.append("style:a", [samples.room_failed()])
        now = utcnow()
        base: dict[str, Any] = dict(
            stream=None,
            stream_prefix=None,
            types=None,
            run_id=None,
            since=None,
            until=None,
            lowest=1,
            highest=10,
        )
        filters = {
            "read_all": ({"position": {"$gte": 1}}, {"position": 1}),
            "read_stream": ({"stream": "style:a", "last_version": {"$gt": 0}}, {"last_version": 1}),
            "recorded_steps": (
                {
                    "success_step": {"$type": "string"},
                    "stream": {"$gte": "style:", "$lt": "style:\U0010ffff"},
                },
                None,
            ),
            "find_success": (
                {"stream": "style:a", "success_step": {"$eq": "content", "$type": "string"}},
                None,
            ),
            "position_gaps": ({"stream": HOLE_STREAM}, {"last_version": 1}),
        }
        for name, override in {
            "by type": {"types": ["RoomFailed"]},
            "by run": {"run_id": "r1"},
            "by stream": {"stream": "style:a"},
            "by prefix": {"stream_prefix": "style:"},
            "by time": {"since": now - timedelta(hours=1), "until": now},
        }.items():
            filters[f"query {name}"] = (
                store._query_filter(**{**base, **override}),
                {"position": 1},
            )
        with mongo.raw_database() as db:
            for name, (spec, sort) in filters.items():
                command: dict[str, Any] = {"find": "events", "filter": spec}
                if sort:
                    command["sort"] = sort
                plan = db.command("explain", command, verbosity="queryPlanner")
                assert "COLLSCAN" not in str(plan["queryPlanner"]["winningPlan"]), name
    finally:
        store.close()


def test_create_false_on_an_empty_database_refuses_and_writes_nothing(mongo: MongoBackend) -> None:
    """Opening a journal that does not exist, without create, is a ConfigError naming the URL."""
    with pytest.raises(ConfigError, match="no journal at"):
        mongo.open_mongo(create=False)
    with mongo.raw_database() as db:
        assert db.list_collection_names() == []


def test_foreign_database_is_refused_and_left_untouched(mongo: MongoBackend) -> None:
    """A database with an `events` collection but no genjournal marker is not written to."""
    with mongo.raw_database() as db:
        db.events.insert_one({"_id": 1, "hello": "world"})
        before = (db.list_collection_names(), list(db.events.find()), db.events.index_information())
    with pytest.raises(IncompatibleStoreError, match="untouched"):
        mongo.open_mongo(create=True)
    with mongo.raw_database() as db:
        assert (
            db.list_collection_names(),
            list(db.events.find()),
            db.events.index_information(),
        ) == before


def test_newer_schema_is_refused_and_left_untouched(mongo: MongoBackend) -> None:
    """A journal written by a newer genjournal is refused, and nothing is created in it."""
    with mongo.raw_database() as db:
        db.meta.insert_one({"_id": "genjournal", "schema": 2})
    with pytest.raises(IncompatibleStoreError, match="newer genjournal"):
        mongo.open_mongo(create=True)
    with mongo.raw_database() as db:
        assert db.list_collection_names() == ["meta"]
        assert list(db.meta.find()) == [{"_id": "genjournal", "schema": 2}]


def test_setup_cut_short_after_the_marker_is_finished_on_next_open(mongo: MongoBackend) -> None:
    """A marker without indexes (a crash during set-up) is healed by the next open."""
    with mongo.raw_database() as db:
        db.meta.insert_one({"_id": "genjournal", "schema": 1})
    store = mongo.open_mongo(create=False)
    try:
        store.append("style:a", [samples.style_created("a")])
        with pytest.raises(DuplicateStepError):
            store.append("style:a", [samples.style_created("a")])
    finally:
        store.close()
    with mongo.raw_database() as db:
        assert {spec.name for spec in EVENT_INDEXES} <= set(db.events.index_information())


# --- URLs -------------------------------------------------------------------------------


def test_same_mongomock_url_shares_one_journal_and_other_names_do_not() -> None:
    """Handles opened on one mongomock:// URL see each other's events; another name is separate."""
    url, other_url = "mongomock://genjournal_test_shared_a", "mongomock://genjournal_test_shared_b"
    try:
        writer = open_store(url)
        stored = writer.append("style:a", [samples.room_failed()])
        reader = MongoEventStore.from_url(url, create=False)
        assert ids(reader.read_all()) == ids(stored)
        elsewhere = MongoEventStore.from_url(other_url)
        assert elsewhere.read_all() == []
        for store in (writer, reader, elsewhere):
            store.close()
    finally:
        drop_mongo_database(url)
        drop_mongo_database(other_url)


def test_credentials_never_reach_the_error_of_an_unreachable_server() -> None:
    """A password in the URL appears nowhere in the error, its cause chain or its traceback."""
    url = "mongodb://alice:s3cret@127.0.0.1:1/genjournal_test?serverSelectionTimeoutMS=50"
    with pytest.raises(StoreUnavailableError) as caught:
        MongoEventStore.from_url(url, create=True)
    text = "".join(traceback.format_exception(caught.value))
    assert "s3cret" not in text
    assert "***@127.0.0.1:1" in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "mongodb://alice:s3cret@db.example:notaport/genjournal",
        "mongodb://alice:s3cret@/genjournal",
        "mongodb://alice:s3cret@db.example/bad.name$",
    ],
)
def test_credentials_never_reach_the_error_of_a_bad_url(url: str) -> None:
    """A malformed MongoDB URL is a one-line ConfigError that does not show the password."""
    with pytest.raises(ConfigError) as caught:
        MongoEventStore.from_url(url, create=True)
    assert "s3cret" not in "".join(traceback.format_exception(caught.value))


def test_driver_text_is_scrubbed_of_raw_and_percent_decoded_passwords() -> None:
    """Whatever the driver says, the user name and password (in either spelling) are masked."""
    secrets = url_secrets("mongodb://alice:s%33cret@db.example/genjournal")
    error = translate_error(
        OperationFailure("auth failed for alice with s3cret / s%33cret", code=18), secrets=secrets
    )
    for secret in ("s3cret", "s%33cret", "alice"):
        assert secret not in str(error)


# --- error mapping ----------------------------------------------------------------------

ERROR_TABLE: list[tuple[BaseException, type[JournalError]]] = [
    (ServerSelectionTimeoutError("no servers found"), StoreUnavailableError),
    (ConnectionFailure("connection closed"), StoreUnavailableError),
    (AutoReconnect("connection reset"), StoreUnavailableError),
    (NetworkTimeout("timed out"), StoreUnavailableError),
    (NotPrimaryError("not primary", {}), StoreUnavailableError),
    (ExecutionTimeout("operation exceeded time limit", code=50), StoreUnavailableError),
    (WTimeoutError("waiting for replication timed out", code=64), StoreUnavailableError),
    (WriteError("Out of disk space", code=14031), StoreFullError),
    (OperationFailure("quota exceeded", code=12501), StoreFullError),
    (
        OperationFailure("you are over your space quota, using 513 MB of 512 MB", code=8000),
        StoreFullError,
    ),
    (OperationFailure("user is not allowed to do action [insert]", code=8000), StoreError),
    (OperationFailure("No space left on device", code=1), StoreFullError),
    (BulkWriteError({"writeErrors": [{"index": 0, "code": 14031, "errmsg": "x"}]}), StoreFullError),
    (OperationFailure("Authentication failed.", code=18), ConfigError),
    (OperationFailure("not authorized on genjournal to execute command", code=13), StoreError),
    (DuplicateKeyError("E11000 duplicate key error", code=11000), StoreError),
    (CursorNotFound("cursor id not found", code=43), StoreError),
    (ConfigurationError("unknown option"), ConfigError),
    (InvalidURI("bad uri"), ConfigError),
    (InvalidDocument("cannot encode object"), StoreError),
    (PyMongoError("something else"), StoreError),
]


def _case_id(value: object) -> str:
    return type(value).__name__ if isinstance(value, BaseException) else getattr(value, "__name__", "")


@pytest.mark.parametrize(("driver_error", "expected"), ERROR_TABLE, ids=_case_id)
def test_driver_errors_map_onto_the_journal_error_tree(
    driver_error: BaseException, expected: type[JournalError]
) -> None:
    """Each pymongo exception becomes exactly the journal error its meaning calls for."""
    translated = translate_error(driver_error, where="mongodb://***@db.example/genjournal")
    assert type(translated) is expected
    assert "\n" not in str(translated)
