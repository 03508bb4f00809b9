"""The MongoDB audit facts: whole-document replaces under a version guard, queries equal to SQLite's."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from genjournal.testing import samples
from journal.backends.mongo import MongoEventStore
from journal.backends.sqlite import SqliteEventStore
from journal.store import EventStore, RawEvent
from projector.backends.mongo import MongoViewStore
from projector.backends.mongo_facts import run_doc, run_facts_of, style_costs_doc, style_facts_of
from projector.facts import fold_facts
from projector.projector import Projector
from projector.store import FactsUpdate
from projector.views import open_views
from tests.journal.backends import BACKEND_PARAMS, MongoBackend, SqliteBackend, make_backend

MONGO_PARAMS = [param for param in BACKEND_PARAMS if param != "sqlite"]


@pytest.fixture(params=MONGO_PARAMS)
def events(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MongoEventStore]:
    """Yields a MongoDB event store (mongomock; a real server too when configured)."""
    backend = make_backend(request.param, tmp_path)
    assert isinstance(backend, MongoBackend)
    store = backend.open_mongo()
    try:
        yield store
    finally:
        store.close()
        backend.cleanup()


def _fill(store: EventStore) -> None:
    plan = samples.small_plan(styles=2, rooms=2)
    store.append("run:run-test-1", [samples.run_started(plan)])
    store.append("run:run-test-1", [samples.step_started("style:style-0", "content")])
    for i in range(2):
        stream = f"style:style-{i}"
        store.append(stream, [samples.style_created(f"style-{i}")])
        store.append(stream, [samples.room_generated("room-0")])
        store.append(stream, [samples.image_failed(0)])
        store.append(stream, [samples.image_generated(0, room="room-0")])
    store.append("run:run-test-1", [samples.run_finished()])


def test_facts_documents_round_trip_exactly() -> None:
    """A style's and a run's facts survive the trip into their documents and back unchanged."""
    styles, runs = fold_facts(_journal_events())
    for facts in styles.values():
        assert style_facts_of(style_costs_doc(facts)) == facts
    for run in runs.values():
        assert run_facts_of(run_doc(run)) == run


def _journal_events() -> list[RawEvent]:
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteEventStore(Path(tmp) / "journal.db")
        try:
            _fill(store)
            return store.read_all_raw(limit=1000)
        finally:
            store.close()


def test_a_replayed_fact_write_lands_once_and_an_older_one_never_wins(events: MongoEventStore) -> None:
    """Writing the same facts twice changes nothing; facts of a lower version never replace higher ones."""
    _fill(events)
    raw = events.read_all_raw(limit=1000)
    newer_styles, _ = fold_facts(raw)
    older_styles, _ = fold_facts([e for e in raw if not (e.stream == "style:style-0" and e.version == 4)])
    views = MongoViewStore.for_events(events)
    try:
        views._write_facts(FactsUpdate(styles=newer_styles))
        views._write_facts(FactsUpdate(styles=newer_styles))
        assert views.get_style_facts(["style-0", "style-1"]) == newer_styles
        assert older_styles["style-0"]["version"] < newer_styles["style-0"]["version"]
        views._write_facts(FactsUpdate(styles={"style-0": older_styles["style-0"]}))
        assert views.get_style_facts(["style-0"])["style-0"] == newer_styles["style-0"]
    finally:
        views.close()


def test_mongo_fact_queries_answer_what_the_sqlite_store_answers(
    events: MongoEventStore, tmp_path: Path
) -> None:
    """Cost sums, runs, progress totals and incomplete styles agree between the two view stores."""
    sqlite_backend = SqliteBackend(tmp_path)
    sqlite = sqlite_backend.open()
    try:
        answers = []
        for store in (events, sqlite):
            _fill(store)
            views = open_views(store)
            try:
                Projector(store, views).catch_up()
                answers.append(
                    (
                        sorted(views.cost_sums("model")),
                        sorted(views.cost_sums(None)),
                        sorted(views.cost_sums("style", run_ids=["run-test-1"])),
                        # Each store recorded its events at its own instants: compare all but times.
                        [{k: v for k, v in run.items() if not k.endswith("_at")} for run in views.runs()],
                        sorted(views.progress_totals()),
                        sorted(views.incomplete_styles()),
                        sorted(views.planned_slugs()),
                    )
                )
            finally:
                views.close()
        mongo_answer, sqlite_answer = answers
        assert mongo_answer == sqlite_answer
        assert mongo_answer[0], "the journal has costs to sum"
    finally:
        sqlite.close()
