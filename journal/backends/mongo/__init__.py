"""MongoEventStore: the journal in MongoDB, for production and scale-out (pymongo).

**One document per append is one commit.** MongoDB makes a single-document write
atomic without a transaction, so a batch is all-or-nothing because it *is* one
document. Collection ``events``::

    {_id: <first event id>, stream, version, last_version, position, count,
     success_step: <step of the batch's success event; absent if none>,
     recorded_at: <BSON datetime, store-assigned, UTC, millisecond precision>,
     events: [{id, type, schema_version, run_id, step, data, meta}, ...]}

Event *i* of a commit has version ``version + i`` and position ``position + i``.
``data`` and ``meta`` are BSON sub-documents (browsable and queryable with Mongo
tools); reads decode them through ``journal.events.decode_event``.

**Uniqueness is the server's job.** Unique indexes on ``(stream, version)``, on
``(stream, success_step)`` (partial: only where ``success_step`` is a string, so at
most one success per step) and on ``position``; plus indexes that keep every
filtered read off a collection scan: ``(stream, last_version)``,
``(events.type, position)``, ``(events.run_id, position)``, ``recorded_at``. A unique
index over the array ``events.id`` is deliberately absent: mongomock does not
enforce multikey unique indexes, and the tests must not pass on a guarantee the
stand-in does not give. ``DuplicateKeyError`` is diagnosed by reading afterwards
(mongomock leaves ``details`` empty), in this order: the success step exists →
``DuplicateStepError`` with the recorded event; our position is taken → a reader
plugged it, allocate again; our version is taken → ``ConcurrencyError`` (or, for
``expected_version=None``, re-read the end of the stream and retry).

**Optimistic concurrency cannot race.** An ``expected_version`` must be the stream's
current version, which is always a *commit boundary* (0, or some commit's
``last_version``); a version inside someone's multi-event commit, or a stale one, is
refused up front. The insert then puts ``version = expected + 1``; if another
writer got there first, the unique ``(stream, version)`` index refuses it. Every
commit starts right after an existing boundary, so versions form one gap-free chain.
``expected_version=None`` reads the last commit, inserts after it, and on a version
collision re-reads and retries (bounded, with a tiny random backoff).

**Global positions, and why a reader never skips a late commit.** A counter
document (``counters``, ``$inc`` by the batch size) hands out blocks of positions.
They are unique and monotonic in *allocation* order, but a writer can allocate,
stall, and commit after a writer that allocated later: a reader that checkpoints
"last position seen" would then skip the late commit forever. So ``read_all`` never
returns an event beyond a **hole** (a position no document covers yet) unless the
hole is provably dead: the first document after it was allocated more than
``gap_timeout_s`` ago (default 10 s). A writer stamps ``recorded_at`` right after its
allocation returns, and allocation order is position order, so every position below
that document was allocated at least that long ago. A reader that finds a dead hole
**plugs** it: it inserts tombstones (``stream: "$hole"``, ``hole: true``, no events,
one per position, in order, stopping at the first refusal). Whoever inserts at the
position first wins, and the unique ``position`` index is the referee:

* the reader won: the late writer's insert fails on ``position``; it allocates a
  new block and commits there, after the reader's checkpoint, where it is seen;
* the writer won: the tombstone is refused; the reader reads again and returns the
  event.

Positions are therefore unique, gaps exist only where tombstones are, and no reader
skips a commit. A writer whose append fails for good (``ConcurrencyError``,
``DuplicateStepError``, a driver error) tombstones its own block at once, so a
failed append does not stall readers for the timeout. Clocks only decide *when* a
hole is plugged, never whether an event is lost: a skewed clock costs a retry.
``last_position()`` is the newest event below the first live hole (so it is what
``read_all`` can reach), and ``query`` reads up to the same point; ``read_stream``
and the step lookups are by version and step, not position, and see every commit.
Reading plugs dead holes as a side effect, so a reader needs write access to keep
moving past a crashed writer's hole (without it, it stops there). ``position_gaps()``
lists the tombstoned positions: in MongoDB a gap is an explained tombstone (a crashed
or refused writer's block), where in SQLite any gap is an error.

**Durability.** Writes use ``WriteConcern(w="majority", j=True)``; event reads use
read concern ``majority`` on the primary, so a reader never sees a commit that a
failover could roll back. Writer-side checks (the stream's version, duplicate
diagnosis) read ``local`` on the primary: they must see what the unique indexes see.

**Layout marker.** ``meta`` holds ``{_id: "genjournal", schema: 1}``. ``create=True``
on an empty database writes the marker first, then the indexes (idempotently, so an
interrupted set-up heals on the next open); ``create=False`` refuses an empty one
with ``ConfigError``. A database with our collections but no marker, or with a newer
schema, is refused with ``IncompatibleStoreError`` before anything is written.

**URLs.** ``mongodb://`` and ``mongodb+srv://`` take the database from the path
(default ``genjournal``), split as pymongo splits them (the options from the first
"?", the database from the first "/" before them, credentials up to the last "@"), and
pass every URL option to ``MongoClient``; server
selection gives up after 5 s unless the URL sets ``serverSelectionTimeoutMS``.

**mongomock.** ``mongomock://NAME`` is an in-process stand-in: every handle opened on
the same URL shares one module-level client. mongomock checks a unique index *after*
storing the document and rolls back on a clash, and its ``find_one_and_update`` is
not atomic across threads; two racing inserts could then both fail, and a reader
could see a document that is about to vanish. Every operation on a mongomock store
therefore runs under one process-wide lock, which gives the atomicity a real server
gives per document. Sessions, transactions and change streams are not used.

Nothing here updates or deletes an event. ``counters``, ``leases`` and ``meta`` are
not events. Credentials in a URL never reach a message: ``redact_url`` names the
store, and driver text (errors and warnings) is scrubbed of the user name and password.

Modules: ``client`` (URLs, connections, driver errors), ``layout`` (document shapes,
indexes, query filters), ``leases`` (the run lease), ``store`` (``MongoEventStore``).
"""

from journal.backends.mongo.client import MOCK_LOCK, Target, connect, translate_error
from journal.backends.mongo.layout import EVENT_INDEXES, HOLE_STREAM
from journal.backends.mongo.store import MongoEventStore

__all__ = [
    "EVENT_INDEXES",
    "HOLE_STREAM",
    "MOCK_LOCK",
    "MongoEventStore",
    "Target",
    "connect",
    "translate_error",
]
