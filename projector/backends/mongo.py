"""MongoViewStore: the projection next to the journal in MongoDB, without transactions.

Collections in the journal's own database:

* ``styles``: one document per style, ``_id`` = slug and otherwise *exactly* the document
  ``projector.fold.finalize`` returns (same keys, same order), so any MongoDB or Prisma
  app reads it as-is. An index on ``status`` serves ``status_counts``.
* ``projection``: the state document ``{_id: "state", checkpoint, plan, extras, token}``
  (``plan`` a sub-document; ``token`` a fresh random value on every state write, so a
  compare-and-swap on it fails after *any* other write), plus a ``fence`` while a
  rebuild swaps itself in.
* ``style_costs`` and ``runs``: the audit facts (``projector.backends.mongo_facts``), one document
  per style or run stream, written with the same version guard as the style documents
  and keeping the same invariants (read "facts" for "document" below).

Sessions and transactions are not used (mongomock has none), so every promise below
rests on single-document atomicity and on the order of the writes. Two invariants:

* **I1** every stored document is the fold of its stream's versions 1…v (v = its
  ``version``), finalized under some plan;
* **I2** for every style stream, the stored document's version is at least the stream's
  last version at or before the checkpoint: documents may run *ahead* of the checkpoint,
  never behind it.

**Catch-up (``commit``).** (1) Read the state: refuse (``False``) unless the checkpoint
is still ``expected`` and no live rebuild fences it; remember its token. (2) Upsert each
document guarded by its stream version, ``replace_one({_id, version: {$lte: v}}, doc,
upsert=True)``: a stored document with a *higher* version never gives way to a lower one
(the filter misses, the upsert's insert hits the unique ``_id``, and that refusal is the
answer); an *equal* version is replaced, which is how a plan change re-finalizes
documents. (3) Compare-and-swap the state on ``{checkpoint: expected, token}``; ``False``
when someone else moved it.

*A crash between (2) and (3)* leaves documents ahead of the checkpoint, which I2 allows.
The next catch-up reads again from the old checkpoint and re-applies those events onto
the stored documents; ``projector.fold.apply`` ignores an event whose version is not
newer than the document's, so each event lands exactly once and the documents come out
the same. *No late commit is skipped*: the checkpoint only ever becomes the last
position of a page ``read_all_raw`` returned, and that read never passes a hole a late
commit may still fill (see ``journal.backends.mongo``), so every event at or below the checkpoint
has been folded.

**Plans.** Plan-derived fields (``status``, ``progress``, ``inPlan``…) are what an
equal-version replace can get wrong: a projector that loses the race may write, at the
same version, a document finalized under the plan it saw over one finalized under a
newer plan. So every writer keeps one rule: after writing documents it reads the state,
and while the state's plan differs from the one it finalized under, it re-finalizes
what it wrote under the state's plan and reads again; and a writer whose own state write
changes the plan re-finalizes every document afterwards. The last write to a document
is then followed by a read that saw the plan it used, and any later plan change
re-finalizes it, so at rest every document matches the state's plan. (A writer that
*dies* between such a stale write and its check leaves that one document's plan fields
stale until the style's next event, the next plan change or ``rebuild``; ``verify``
reports it.)

**Rebuild.** ``begin_rebuild`` drops the debris of an interrupted rebuild
(``styles_next``, ``projection_next``), creates ``styles_next`` (with its index, so even
an empty one can be renamed) and marks ``projection_next`` with a random rebuild token.
The target writes only there, unguarded: nothing else writes it. ``swap_in(state)``:

1. writes the new state into ``projection_next`` if it still carries this rebuild's
   token (a second rebuild that cleared it makes this one fail rather than swap in a
   collection two rebuilds wrote);
2. failpoint ``rebuild-before-swap``;
3. fences the live state in one compare-and-swap: sets ``fence`` (host, pid, start time)
   and lowers the checkpoint to ``min(live, N)``, N being the rebuild's checkpoint;
4. renames ``styles_next`` → ``styles`` (``renameCollection``, ``dropTarget``), just
   after ``style_costs_next`` and ``runs_next`` (each covers N on its own, so any order
   among these three is one of the states below);
5. renames ``projection_next`` → ``projection`` (same), which also lifts the fence;
6. re-finalizes every document if the plan changed (the plan rule).

The two renames are not atomic together. What a reader or a crash can see:

* before 3: the old projection, untouched. A rebuild dying here leaves only
  ``*_next`` collections, which nothing reads and the next ``begin_rebuild`` drops.
* after 3: old documents under a checkpoint no higher than before: documents ahead of
  the checkpoint (I2), whose events replay as no-ops.
* after 4: new documents under the lowered checkpoint L ≤ N. They cover N ≥ L, so a
  catch-up from L replays (L, N] as no-ops and goes on. This is why 3 lowers the
  checkpoint: while the rebuild finished, live catch-ups may have moved the old one
  past N, and new documents under *that* checkpoint would never get the events between.
* after 5: the new projection.

A rebuild that dies during steps 3 to 5 leaves a fence whose holder is dead; the next commit that
finds it lifts it (same host: the process is gone; another host: it is older than
``FENCE_TIMEOUT_S``), and the state under it is one of the safe ones above.

The fence also makes catch-ups running *during* the swap safe. Without it, one could
commit a checkpoint past N into the old state between 4 and 5 (its documents having
gone to the collection 4 dropped), or fold events past N onto new documents under an
old checkpoint past N (documents missing events, sticky under the version guard). With
it, a commit that pre-checked before 3 fails its compare-and-swap (the token changed),
and its documents were computed from old documents covering its checkpoint, so they are
right wherever they land (I1); a commit arriving during steps 3 to 5 is refused; after 5 it must
have started from N.

**Reads.** ``get`` and ``iter_documents`` page by ``_id``; each document is consistent
on its own, but a listing is not one snapshot (there is none without transactions).
Every driver call runs under the event store's ``guarded()``: on mongomock that is the
process-wide lock (mongomock checks unique indexes after storing, and would show other
threads half-done state), and driver errors come out as the journal's errors.

Two rebuilds at once are not supported: the second clears the first's target, and
step 1 then makes the first fail, but until then the first can still write into the
second's target. Nothing serialises ``genjournal rebuild`` runs yet (it takes no lease).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, suppress
from typing import Any

from pydantic import ValidationError
from pymongo import ReadPreference, WriteConcern
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError
from pymongo.read_concern import ReadConcern

from journal.errors import ConfigError, JournalError, StoreError
from journal.events import PlanSpec
from journal.failpoints import failpoint
from journal.store import EventStore, LeaseHolder, format_time, parse_time, utcnow
from projector.backends.mongo_facts import COSTS, RUNS, MongoFactsMixin, find_style_facts, write_facts
from projector.fold import Document, finalize
from projector.store import FactsUpdate, RebuildTarget, ViewState, ViewStore

Doc = dict[str, Any]
Guard = Callable[[], AbstractContextManager[None]]

STYLES = "styles"
STATE = "projection"
NEXT = "_next"
STATE_ID = "state"
#: a fence whose holder runs on another host is taken as dead after this long
FENCE_TIMEOUT_S = 60.0
#: how long a refused commit or a waiting swap sleeps before the caller tries again
FENCE_POLL_S = 0.01
#: bounded retries of loops that only repeat when another writer got in between
MAX_ATTEMPTS = 100
PAGE = 500

_MAJORITY = WriteConcern(w="majority", j=True)


def _new_token() -> str:
    return uuid.uuid4().hex


def _chunks(items: list[str], size: int = PAGE) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _state_doc(state: ViewState, *, token: str) -> Doc:
    """Returns the state document for a view state (the plan as a sub-document)."""
    return {
        "_id": STATE_ID,
        "checkpoint": state.checkpoint,
        "plan": state.plan.model_dump(mode="json") if state.plan is not None else None,
        "extras": dict(state.extras),
        "token": token,
    }


def _view_state(doc: Mapping[str, Any] | None) -> ViewState:
    """Reads a state document back (zero and no plan when there is none yet)."""
    if doc is None:
        return ViewState()
    try:
        plan = PlanSpec.model_validate(doc["plan"]) if doc.get("plan") is not None else None
        checkpoint = doc.get("checkpoint", 0)
        if not isinstance(checkpoint, int):
            raise TypeError(f"checkpoint {checkpoint!r} is not an integer")
        return ViewState(checkpoint=checkpoint, plan=plan, extras=dict(doc.get("extras") or {}))
    except (ValidationError, TypeError, ValueError) as exc:
        raise StoreError(
            "the projection state in MongoDB is damaged; `genjournal rebuild` recreates it"
        ) from exc


def _fence_holder(token: str) -> Doc:
    """Describes this process as the holder of a swap fence."""
    me = LeaseHolder.for_this_process(token)
    return {
        "rebuild": token,
        "host": me.host,
        "pid": me.pid,
        "proc_start": me.proc_start,
        "since": format_time(me.since),
    }


def _fence_alive(fence: Mapping[str, Any]) -> bool:
    """Tells whether the rebuild that set a fence may still be swapping."""
    try:
        since = parse_time(str(fence["since"]))
        holder = LeaseHolder(
            run_id=str(fence.get("rebuild", "")),
            host=str(fence["host"]),
            pid=int(fence["pid"]),
            since=since,
            heartbeat=since,
            proc_start=fence.get("proc_start"),
        )
    except (KeyError, TypeError, ValueError):
        return False  # a fence nobody can identify protects nobody: lift it
    return holder.is_alive(heartbeat_timeout_s=FENCE_TIMEOUT_S, now=utcnow())


class MongoViewStore(MongoFactsMixin, ViewStore):
    """Keeps style documents and the projection state in the journal's MongoDB database."""

    def __init__(self, database: Database[Doc], *, guarded: Guard, create: bool = True) -> None:
        self._guarded = guarded
        self._closed = False

        def collection(name: str) -> Collection[Doc]:
            # Majority writes and reads, as the journal's: a failover never rolls back
            # a checkpoint someone has already built on.
            return database.get_collection(
                name,
                write_concern=_MAJORITY,
                read_concern=ReadConcern("majority"),
                read_preference=ReadPreference.PRIMARY,
            )

        self._database = database
        self._styles = collection(STYLES)
        self._state = collection(STATE)
        self._styles_next = collection(STYLES + NEXT)
        self._state_next = collection(STATE + NEXT)
        # The audit facts (style_costs, runs): see projector.backends.mongo_facts.
        self._init_facts()
        if not create:
            return  # read-only use (verify): write nothing, not even an index
        with self._calling():
            self._styles.create_index([("status", 1)], name="status")

    @classmethod
    def for_events(cls, events: EventStore, *, create: bool = True) -> MongoViewStore:
        """Returns the view store in a MongoDB event store's database, sharing its lock."""
        from journal.backends.mongo import MongoEventStore

        if not isinstance(events, MongoEventStore):
            raise ConfigError(f"a MongoDB projection needs a MongoDB journal, not {events.backend}")
        return cls(events.database, guarded=events.guarded, create=create)

    def _calling(self) -> AbstractContextManager[None]:
        if self._closed:
            raise StoreError("the view store is closed")
        return self._guarded()

    # --- state -------------------------------------------------------------------------

    def _read_state(self) -> Doc | None:
        with self._calling():
            return self._state.find_one({"_id": STATE_ID})

    def load_state(self) -> ViewState:
        """Returns the checkpoint and plan as last committed."""
        return _view_state(self._read_state())

    def _replace_state(
        self, read: Mapping[str, Any] | None, doc: Doc, *, checkpoint: int | None = None
    ) -> bool:
        """Writes the state document if it is still the one ``read`` (None: there was none)."""
        with self._calling():
            if read is None:
                try:
                    self._state.insert_one(doc)
                except DuplicateKeyError:
                    return False
                return True
            # Every state write draws a new token, so this matches only the state we read.
            spec: Doc = {"_id": STATE_ID, "token": read.get("token")}
            if checkpoint is not None:
                spec["checkpoint"] = checkpoint
            return self._state.replace_one(spec, doc).matched_count == 1

    def _lift_fence(self, current: Mapping[str, Any]) -> None:
        """Removes a fence from the state it was read in (nothing if the state moved on)."""
        doc = {key: value for key, value in current.items() if key != "fence"}
        doc["token"] = _new_token()
        self._replace_state(current, doc)

    def _fence(self, state: ViewState, token: str) -> PlanSpec | None:
        """Fences the live state for a swap, lowering its checkpoint to the rebuild's.

        Returns the plan the state held before, to tell whether the swap changes it.
        """
        deadline = time.monotonic() + FENCE_TIMEOUT_S
        while time.monotonic() < deadline:
            current = self._read_state()
            fence = current.get("fence") if current is not None else None
            if fence is not None and _fence_alive(fence):
                time.sleep(FENCE_POLL_S)  # another rebuild is swapping: let it finish
                continue
            live = _view_state(current)
            lowered = live
            if live.checkpoint > state.checkpoint:
                lowered = ViewState(checkpoint=state.checkpoint, plan=state.plan, extras=live.extras)
            doc = _state_doc(lowered, token=_new_token())
            doc["fence"] = _fence_holder(token)
            if self._replace_state(current, doc):
                return live.plan
        raise StoreError(
            "the projection state kept changing or stayed fenced by another rebuild; "
            "the live projection is untouched; run `genjournal rebuild` again"
        )

    # --- documents ---------------------------------------------------------------------

    def _upsert(self, documents: Mapping[str, Document]) -> None:
        """Writes documents unless the stored one has a higher stream version."""
        for slug, doc in documents.items():
            if not self._upsert_one(slug, doc):
                raise StoreError(
                    f"the style document {slug!r} in MongoDB could not be written "
                    "(a stored one without a version?); `genjournal rebuild` recreates them"
                )

    def _upsert_one(self, slug: str, doc: Document) -> bool:
        """Writes one document unless a higher version is stored; False if it cannot decide."""
        version = doc["version"]
        body = {"_id": slug, **doc}
        for _ in range(MAX_ATTEMPTS):
            with self._calling():
                try:
                    self._styles.replace_one({"_id": slug, "version": {"$lte": version}}, body, upsert=True)
                    return True
                except DuplicateKeyError:
                    # The filter missed and the insert found the slug taken: a newer
                    # version is stored (keep it), or someone inserted the slug between
                    # our filter and our insert (try again: the filter matches now).
                    stored = self._styles.find_one({"_id": slug}, {"version": 1})
            stored_version = stored.get("version") if stored is not None else None
            if isinstance(stored_version, int) and stored_version > version:
                return True
        return False

    def get(self, slugs: Iterable[str]) -> dict[str, Document]:
        """Returns the stored documents for these slugs."""
        return _find_by_slug(self._styles, sorted(set(slugs)), self._calling)

    def iter_documents(self, page_size: int = PAGE) -> Iterator[Document]:
        """Yields every document sorted by slug, a page at a time."""
        return _iter_by_slug(self._styles, page_size, self._calling)

    def status_counts(self) -> dict[str, int]:
        """Returns how many documents have each status (served by the status index)."""
        with self._calling():
            rows = list(self._styles.aggregate([{"$group": {"_id": "$status", "count": {"$sum": 1}}}]))
        return {row["_id"]: int(row["count"]) for row in rows}

    def _refinalize(self, slugs: list[str] | None, plan: PlanSpec | None) -> None:
        """Re-finalizes documents (all when ``slugs`` is None) under a plan; writes the changed."""
        docs: Iterable[Document] = self.get(slugs).values() if slugs is not None else self.iter_documents()
        changed: dict[str, Document] = {}
        for doc in docs:
            fresh = finalize(doc, plan)
            if fresh != doc:
                changed[doc["slug"]] = fresh
            if len(changed) >= PAGE:
                self._upsert(changed)
                changed = {}
        self._upsert(changed)

    def _settle(self, slugs: list[str] | None, plan: PlanSpec | None) -> None:
        """Re-finalizes what was written under ``plan`` until the state holds that plan."""
        for _ in range(MAX_ATTEMPTS):
            current = self.load_state().plan
            if current == plan:
                return
            plan = current
            self._refinalize(slugs, plan)
        raise StoreError("the projection's plan kept changing; run `genjournal rebuild`")

    def commit(
        self,
        documents: Mapping[str, Document],
        *,
        expected: int,
        state: ViewState,
        facts: FactsUpdate | None = None,
    ) -> bool:
        """Writes documents and facts (version-guarded), then the checkpoint if still expected."""
        current = self._read_state()
        if current is not None and (fence := current.get("fence")) is not None:
            if _fence_alive(fence):
                # A rebuild is swapping itself in (milliseconds): come back after it.
                time.sleep(FENCE_POLL_S)
            else:
                self._lift_fence(current)
            return False
        before = _view_state(current)
        if before.checkpoint != expected:
            return False
        self._upsert(documents)
        # Facts land before the checkpoint moves, guarded like documents: a crash here
        # leaves them ahead of it, and replaying their events is a no-op.
        self._write_facts(facts)
        failpoint("projection-before-checkpoint")
        won = self._replace_state(current, _state_doc(state, token=_new_token()), checkpoint=expected)
        if won:
            # The compare-and-swap read the state after our writes and found our plan,
            # unless this very commit changed it: then everything is re-finalized.
            if state.plan != before.plan:
                self._refinalize(None, state.plan)
                self._settle(None, state.plan)
        else:
            self._settle(list(documents), state.plan)
        return won

    # --- rebuild -----------------------------------------------------------------------

    def begin_rebuild(self) -> RebuildTarget:
        """Drops leftovers of an interrupted rebuild and creates fresh ``*_next`` collections."""
        token = _new_token()
        with self._calling():
            self._styles_next.drop()
            self._state_next.drop()
            self._costs_next.drop()
            self._runs_next.drop()
            # Created with its index, so even a rebuild of an empty journal can be renamed.
            self._styles_next.create_index([("status", 1)], name="status")
            self._database.create_collection(COSTS + NEXT)
            self._database.create_collection(RUNS + NEXT)
            self._state_next.insert_one({"_id": STATE_ID, "rebuild": token})
        return MongoRebuildTarget(self, token)

    def debris(self) -> list[str]:
        """Lists collections an interrupted rebuild left behind (the next rebuild drops them)."""
        with self._calling():
            names = set(self._database.list_collection_names())
        return sorted(names & {STYLES + NEXT, STATE + NEXT, COSTS + NEXT, RUNS + NEXT})

    def close(self) -> None:
        """Releases nothing of its own: the client belongs to the event store."""
        self._closed = True


class MongoRebuildTarget(RebuildTarget):
    """The ``styles_next``/``projection_next`` collections a rebuild fills, then swaps in."""

    def __init__(self, views: MongoViewStore, token: str) -> None:
        self._views = views
        self.token = token

    def load(self, slugs: Iterable[str]) -> dict[str, Document]:
        """Returns documents already written to the target."""
        views = self._views
        return _find_by_slug(views._styles_next, sorted(set(slugs)), views._calling)

    def write(self, documents: Mapping[str, Document], facts: FactsUpdate | None = None) -> None:
        """Inserts new documents in one call and replaces the others (the target is private)."""
        views = self._views
        write_facts(views._costs_next, views._runs_next, facts, views._calling)
        if not documents:
            return
        target = views._styles_next
        with views._calling():
            existing = {
                doc["_id"]
                for chunk in _chunks(sorted(documents))
                for doc in target.find({"_id": {"$in": chunk}}, {"_id": 1})
            }
            fresh = [{"_id": slug, **doc} for slug, doc in documents.items() if slug not in existing]
            if fresh:
                target.insert_many(fresh, ordered=True)
            for slug in existing:
                target.replace_one({"_id": slug}, {"_id": slug, **documents[slug]})

    def load_facts(self, slugs: Iterable[str]) -> dict[str, Any]:
        """Returns style facts already written to the target."""
        views = self._views
        return find_style_facts(views._costs_next, slugs, views._calling)

    def iter_documents(self, page_size: int = PAGE) -> Iterator[Document]:
        """Yields the target's documents by slug."""
        views = self._views
        return _iter_by_slug(views._styles_next, page_size, views._calling)

    def swap_in(self, state: ViewState) -> None:
        """Stores the state, fences the live one, renames the target in (see module docstring)."""
        views = self._views
        with views._calling():
            claimed = views._state_next.replace_one(
                {"_id": STATE_ID, "rebuild": self.token}, _state_doc(state, token=_new_token())
            ).matched_count
        if claimed != 1:
            raise StoreError(
                "another rebuild replaced this one's collections; the live projection is "
                "untouched; run `genjournal rebuild` again"
            )
        failpoint("rebuild-before-swap")
        plan_before = views._fence(state, self.token)
        try:
            # The facts first: every collection renamed before the state is, under the
            # fence, by the same argument as the documents (module docstring).
            with views._calling():
                views._costs_next.rename(COSTS, dropTarget=True)
            with views._calling():
                views._runs_next.rename(RUNS, dropTarget=True)
            with views._calling():
                views._styles_next.rename(STYLES, dropTarget=True)
            with views._calling():
                views._state_next.rename(STATE, dropTarget=True)
        except BaseException:
            # Whatever renamed, the fenced state is a safe one to serve (lowered to N).
            with suppress(JournalError):
                current = views._read_state()
                if current is not None and (current.get("fence") or {}).get("rebuild") == self.token:
                    views._lift_fence(current)
            raise
        if state.plan != plan_before:
            views._refinalize(None, state.plan)
            views._settle(None, state.plan)

    def abandon(self) -> None:
        """Drops the target's collections."""
        views = self._views
        with views._calling():
            views._styles_next.drop()
            views._state_next.drop()
            views._costs_next.drop()
            views._runs_next.drop()


def _find_by_slug(collection: Collection[Doc], slugs: list[str], calling: Guard) -> dict[str, Document]:
    """Returns the documents of these slugs, ``_id`` stripped, key order kept."""
    found: dict[str, Document] = {}
    for chunk in _chunks(slugs):
        with calling():
            docs = list(collection.find({"_id": {"$in": chunk}}))
        for doc in docs:
            found[doc.pop("_id")] = doc
    return found


def _iter_by_slug(collection: Collection[Doc], page_size: int, calling: Guard) -> Iterator[Document]:
    """Yields documents sorted by slug, one short query per page (no cursor held open)."""
    last: str | None = None
    while True:
        spec: Doc = {} if last is None else {"_id": {"$gt": last}}
        with calling():
            docs = list(collection.find(spec).sort("_id", 1).limit(page_size))
        for doc in docs:
            last = doc.pop("_id")
            yield doc
        if len(docs) < page_size:
            return
