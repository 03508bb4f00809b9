"""The audit facts of the MongoDB projection (``projector.facts``), and the queries over them.

Two collections next to ``styles``, written with the same guarded upserts as the style
documents (see ``projector.backends.mongo``):

* ``style_costs``: ``{_id: slug, version, costs: [{run_id, day, kind, model,
  image_size, image_quality, steps, failures, …}, …]}`` — a style's whole usage sums,
  replaced as one document unless the stored one has a higher stream ``version``;
* ``runs``: ``{_id: run_id, version, started_at, finished_at, outcome, …}`` — likewise,
  by run-stream version.

Why whole documents under a version guard and not ``$inc``: without transactions, a
projector can die after writing facts and before moving the checkpoint, and the next
catch-up folds the same events again. A ``$inc`` would count them twice; a replace of
"the fold of versions 1…v" guarded by ``version`` lands them exactly once, and two
projectors racing both write folds of one stream's prefixes, so the higher version
wins whichever order they land in (the same invariants I1/I2 as the documents).

``MongoFactsMixin`` is mixed into ``MongoViewStore``; it relies on that class's
``_database`` and ``_calling`` (the event store's guard).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

from pymongo import ReadPreference, WriteConcern
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError
from pymongo.read_concern import ReadConcern

from journal.errors import StoreError
from projector.facts import (
    COST_FIELDS,
    COST_KEY_FIELDS,
    RUN_FIELDS,
    RunFacts,
    StyleFacts,
)
from projector.store import GROUPS, CostSum, FactsUpdate, ProgressTotal, StyleProgress

Doc = dict[str, Any]
COSTS = "style_costs"
RUNS = "runs"
NEXT = "_next"
MAX_ATTEMPTS = 100
PAGE = 500
_MAJORITY = WriteConcern(w="majority", j=True)
_COST_DOC_FIELDS = (*COST_KEY_FIELDS, *COST_FIELDS)


def facts_collection(database: Database[Doc], name: str) -> Collection[Doc]:
    """Returns a facts collection with the projection's majority concerns."""
    return database.get_collection(
        name,
        write_concern=_MAJORITY,
        read_concern=ReadConcern("majority"),
        read_preference=ReadPreference.PRIMARY,
    )


def style_costs_doc(facts: StyleFacts) -> Doc:
    """Returns the ``style_costs`` document of a style's facts."""
    return {
        "_id": facts["slug"],
        "version": facts["version"],
        "costs": [
            dict(zip(_COST_DOC_FIELDS, (*key, *sums), strict=True))
            for key, sums in sorted(facts["costs"].items())
        ],
    }


def style_facts_of(doc: Mapping[str, Any]) -> StyleFacts:
    """Rebuilds a style's facts from its ``style_costs`` document."""
    costs: dict[tuple[Any, ...], list[int]] = {}
    for row in doc.get("costs") or ():
        key = tuple(row[field] for field in COST_KEY_FIELDS)
        # A field added since the document was written counts 0 (its events predate it).
        costs[key] = [int(row.get(field) or 0) for field in COST_FIELDS]
    return {"slug": doc["_id"], "version": int(doc["version"]), "costs": costs}


def run_doc(run: RunFacts) -> Doc:
    """Returns the ``runs`` document of a run's facts."""
    body = {field: run[field] for field in RUN_FIELDS if field != "run_id"}
    return {"_id": run["run_id"], **body}


def run_facts_of(doc: Mapping[str, Any]) -> RunFacts:
    """Rebuilds a run's facts from its ``runs`` document."""
    found = {field: doc.get(field) for field in RUN_FIELDS}
    found["run_id"] = doc["_id"]
    found["started_text"] = int(found["started_text"] or 0)
    found["started_image"] = int(found["started_image"] or 0)
    return found


def guarded_replace(
    collection: Collection[Doc],
    bodies: Iterable[Doc],
    calling: Callable[[], AbstractContextManager[None]],
) -> None:
    """Replaces each document unless the stored one has a higher ``version`` (upserting)."""
    for body in bodies:
        key, version = body["_id"], body["version"]
        for _ in range(MAX_ATTEMPTS):
            with calling():
                try:
                    collection.replace_one({"_id": key, "version": {"$lte": version}}, body, upsert=True)
                    break
                except DuplicateKeyError:
                    # The filter missed and the insert found the id taken: a newer version
                    # is stored (keep it), or someone inserted it in between (try again).
                    stored = collection.find_one({"_id": key}, {"version": 1})
            if stored is not None and isinstance(stored.get("version"), int) and stored["version"] > version:
                break
        else:
            raise StoreError(f"the facts of {key!r} could not be written")


def write_facts(
    costs: Collection[Doc],
    runs: Collection[Doc],
    facts: FactsUpdate | None,
    calling: Callable[[], AbstractContextManager[None]],
) -> None:
    """Writes a facts update with version-guarded replaces."""
    if not facts:
        return
    guarded_replace(costs, [style_costs_doc(f) for f in facts.styles.values()], calling)
    guarded_replace(runs, [run_doc(r) for r in facts.runs.values()], calling)


def find_style_facts(
    collection: Collection[Doc],
    slugs: Iterable[str],
    calling: Callable[[], AbstractContextManager[None]],
) -> dict[str, StyleFacts]:
    """Returns the facts of these styles from a ``style_costs`` collection."""
    wanted = sorted(set(slugs))
    found: dict[str, StyleFacts] = {}
    for start in range(0, len(wanted), PAGE):
        with calling():
            docs = list(collection.find({"_id": {"$in": wanted[start : start + PAGE]}}))
        for doc in docs:
            found[doc["_id"]] = style_facts_of(doc)
    return found


class MongoFactsMixin:
    """Audit facts and queries for ``MongoViewStore`` (see the module docstring)."""

    _database: Database[Doc]
    _calling: Callable[[], AbstractContextManager[None]]

    def _init_facts(self) -> None:
        self._costs = facts_collection(self._database, COSTS)
        self._runs = facts_collection(self._database, RUNS)
        self._costs_next = facts_collection(self._database, COSTS + NEXT)
        self._runs_next = facts_collection(self._database, RUNS + NEXT)

    def _write_facts(self, facts: FactsUpdate | None) -> None:
        write_facts(self._costs, self._runs, facts, self._calling)

    def get_style_facts(self, slugs: Iterable[str]) -> dict[str, StyleFacts]:
        """Returns the stored facts of these styles."""
        return find_style_facts(self._costs, slugs, self._calling)

    def get_runs(self, run_ids: Iterable[str]) -> dict[str, RunFacts]:
        """Returns the stored facts of these runs."""
        wanted = sorted(set(run_ids))
        found: dict[str, RunFacts] = {}
        for start in range(0, len(wanted), PAGE):
            with self._calling():
                docs = list(self._runs.find({"_id": {"$in": wanted[start : start + PAGE]}}))
            for doc in docs:
                found[doc["_id"]] = run_facts_of(doc)
        return found

    def iter_style_facts(self) -> Iterator[StyleFacts]:
        """Yields every style's facts sorted by slug, a page at a time."""
        last: str | None = None
        while True:
            spec: Doc = {} if last is None else {"_id": {"$gt": last}}
            with self._calling():
                docs = list(self._costs.find(spec).sort("_id", 1).limit(PAGE))
            for doc in docs:
                last = doc["_id"]
                yield style_facts_of(doc)
            if len(docs) < PAGE:
                return

    def runs(self) -> list[RunFacts]:
        """Returns every run's facts, oldest start first (runs without a start last)."""
        with self._calling():
            docs = list(self._runs.find({}))
        found = [run_facts_of(doc) for doc in docs]
        found.sort(key=lambda r: (r["started_position"] is None, r["started_position"] or 0, r["run_id"]))
        return found

    def progress_totals(self) -> list[ProgressTotal]:
        """Returns per-status sums of the planned styles' progress (one aggregation)."""
        pipeline: list[Doc] = [
            {"$match": {"inPlan": True}},
            {
                "$group": {
                    "_id": "$status",
                    "styles": {"$sum": 1},
                    "rooms_done": {"$sum": "$progress.roomsDone"},
                    "rooms_failed": {"$sum": "$progress.roomsFailed"},
                    "images_done": {"$sum": "$progress.imagesDone"},
                    "images_failed": {"$sum": "$progress.imagesFailed"},
                }
            },
        ]
        with self._calling():
            rows = list(self._database.get_collection("styles").aggregate(pipeline))
        return sorted(
            (
                str(row["_id"]),
                int(row["styles"]),
                int(row["rooms_done"]),
                int(row["rooms_failed"]),
                int(row["images_done"]),
                int(row["images_failed"]),
            )
            for row in rows
        )

    def incomplete_styles(self) -> list[StyleProgress]:
        """Returns the progress of the planned styles whose document is not complete."""
        with self._calling():
            docs = list(
                self._database.get_collection("styles")
                .find({"inPlan": True, "status": {"$ne": "complete"}}, {"status": 1, "progress": 1})
                .sort("_id", 1)
            )
        out: list[StyleProgress] = []
        for doc in docs:
            p = doc.get("progress") or {}
            out.append(
                (
                    doc["_id"],
                    doc["status"],
                    int(p.get("roomsDone", 0)),
                    int(p.get("roomsFailed", 0)),
                    int(p.get("roomsPlanned", 0)),
                    int(p.get("imagesDone", 0)),
                    int(p.get("imagesFailed", 0)),
                    int(p.get("imagesPlanned", 0)),
                )
            )
        return out

    def planned_slugs(self) -> list[str]:
        """Returns the slugs of the planned styles that have a document."""
        with self._calling():
            docs = list(
                self._database.get_collection("styles").find({"inPlan": True}, {"_id": 1}).sort("_id", 1)
            )
        return [doc["_id"] for doc in docs]

    def cost_sums(self, by: str | None = None, *, run_ids: Iterable[str] | None = None) -> list[CostSum]:
        """Returns usage sums grouped by ``by`` and the price dimensions (one aggregation)."""
        if by is not None and by not in GROUPS:
            raise ValueError(f"cannot group costs by {by!r}; use one of {', '.join(GROUPS)}")
        group: Any = {
            None: {"$literal": ""},
            "style": "$_id",
            "run": "$costs.run_id",
            "model": "$costs.model",
            "day": "$costs.day",
        }[by]
        pipeline: list[Doc] = [{"$unwind": "$costs"}]
        if run_ids is not None:
            chosen = sorted(set(run_ids))
            if not chosen:
                return []
            pipeline.append({"$match": {"costs.run_id": {"$in": chosen}}})
        key: Doc = {"g": group}
        for field in ("day", "kind", "model", "image_size", "image_quality"):
            key[field] = f"$costs.{field}"
        pipeline.append(
            {
                "$group": {
                    "_id": key,
                    **{field: {"$sum": f"$costs.{field}"} for field in COST_FIELDS},
                }
            }
        )
        with self._calling():
            rows = list(self._costs.aggregate(pipeline))
        out = [
            (
                row["_id"]["g"],
                row["_id"]["day"],
                row["_id"]["kind"],
                row["_id"]["model"],
                row["_id"]["image_size"],
                row["_id"]["image_quality"],
                *(int(row.get(field) or 0) for field in COST_FIELDS),
            )
            for row in rows
        ]
        out.sort(key=lambda r: tuple(str(v) for v in r[:6]))
        return out
