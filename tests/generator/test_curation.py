"""Replay and curation on a real offline journal: what a request makes pending, and what a selection marks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.curation import (
    RegenerationPlan,
    Selection,
    SelectionError,
    check_reason,
    journal_regeneration,
    latest_plan,
    plan_regeneration,
    step_kind,
)
from generator.prompts import load_prompts
from generator.providers.offline.provider import OFFLINE_PROMPT_VERSIONS
from generator.replay import replay_journal, select_steps
from genjournal.cli import cli
from genjournal.testing import samples
from journal.backends.sqlite import SqliteEventStore
from journal.events import PlanSpec, generation_of
from projector.prices import load_prices
from tests.journal.test_generations import of_generation

PROMPTS = load_prompts(None)
PRICES = load_prices(None)


def _run(plan: Path, data: Path, *extra: str) -> None:
    result = CliRunner().invoke(
        cli,
        ["run", "--provider", "offline", "--plan", str(plan), "--data-dir", str(data), *extra],
        env={"OPENAI_API_KEY": None, "OPENAI_BASE_URL": None},
    )
    assert result.exit_code == 0, result.output + result.stderr


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteEventStore]:
    """A journal of the small plan: art-deco by one offline run, the other styles by a second."""
    plan = tmp_path / "plan.toml"
    plan.write_text(samples.PLAN_TOML, encoding="utf-8")
    data = tmp_path / "data"
    _run(plan, data, "--subcategory", "art-deco")
    _run(plan, data)
    opened = SqliteEventStore(data / "journal.db", create=False)
    yield opened
    opened.close()


def marks(store: SqliteEventStore, selection: Selection) -> RegenerationPlan:
    """Plans a selection against the journal's recorded plan with the shipped prompts and prices."""
    return plan_regeneration(store, selection, plan=latest_plan(store), prompts=PROMPTS, prices=PRICES)


def keys(plan: RegenerationPlan) -> set[tuple[str, str]]:
    """Returns the (stream, step) a plan marks."""
    return {(m.stream, m.step) for m in plan.marks}


def done_steps(store: SqliteEventStore) -> set[tuple[str, str]]:
    """Returns every (stream, step) with a success."""
    return store.recorded_steps()


def recorded_plan(store: SqliteEventStore) -> PlanSpec:
    """Returns the plan of the newest run."""
    plan = latest_plan(store)
    assert plan is not None
    return plan


# --- replay -----------------------------------------------------------------------------


def test_a_requested_step_is_pending_again_and_selected_with_its_new_generation(
    store: SqliteEventStore,
) -> None:
    """After a request, the step leaves `done`, is awaiting generation 2 and the next run's only step."""
    chosen = marks(store, Selection(styles=("japandi",), steps=("image:style:0",)))
    journal_regeneration(store, chosen, reason="too dark")
    progress = replay_journal(store)
    key = ("style:japandi", "image:style:0")
    assert key not in progress.done
    assert progress.awaiting == {key: 2}
    assert progress.wanted(key) == 2
    assert progress.generations[key] == 1
    steps = select_steps(recorded_plan(store), progress)
    assert [(s.stream, s.key, s.generation) for s in steps] == [(*key, 2)]


def test_wanted_is_the_newest_generation_of_a_done_step_and_1_of_a_new_one(store: SqliteEventStore) -> None:
    """wanted() is the done generation for a finished step, and 1 for a step never recorded."""
    progress = replay_journal(store)
    assert {progress.wanted(key) for key in done_steps(store)} == {1}
    assert progress.wanted(("style:nowhere", "content")) == 1
    assert progress.awaiting == {}


def test_a_failure_of_the_new_generation_keeps_the_step_pending_and_failed(store: SqliteEventStore) -> None:
    """A failed generation-2 attempt leaves the step pending (still wanting 2) and lists it in `failed`."""
    key = ("style:art-deco", "room:kitchen")
    journal_regeneration(
        store, marks(store, Selection(steps=("room:kitchen",), keep_images=True)), reason="bland"
    )
    store.append(key[0], [of_generation(samples.room_failed("kitchen"), 2)])
    progress = replay_journal(store)
    assert key in progress.failed
    assert key not in progress.done
    assert progress.wanted(key) == 2
    only_failed = select_steps(recorded_plan(store), progress, only_failed=True)
    assert {(s.stream, s.key, s.generation) for s in only_failed} >= {(*key, 2)}
    store.append(key[0], [of_generation(samples.room_generated("kitchen"), 2)])
    after = replay_journal(store)
    assert key in after.done and key not in after.failed and after.generations[key] == 2


def test_a_failure_of_the_old_generation_does_not_count_against_the_new_one(store: SqliteEventStore) -> None:
    """A generation-1 failure recorded after the request does not put the step in `failed`."""
    key = ("style:art-deco", "image:style:0")
    journal_regeneration(store, marks(store, Selection(steps=(key[1],), styles=("art-deco",))), reason="r")
    store.append(key[0], [samples.image_failed(0)])
    assert key not in replay_journal(store).failed


# --- what follows ------------------------------------------------------------------------


def test_a_room_brings_its_images_along_unless_keep_images(store: SqliteEventStore) -> None:
    """A room's images follow it (cause = the room) and a note says so; with keep_images they stay, noted."""
    selection = Selection(styles=("wabi-sabi",), steps=("room:bedroom",))
    followed = marks(store, selection)
    images = {
        key
        for key in done_steps(store)
        if key[0] == "style:wabi-sabi" and key[1].startswith("image:room:bedroom:")
    }
    assert images
    assert keys(followed) == {("style:wabi-sabi", "room:bedroom"), *images}
    assert {m.cause for m in followed.marks if (m.stream, m.step) in images} == {"room:bedroom"}
    assert any("follow it" in note for note in followed.notes)
    kept = marks(store, replace(selection, keep_images=True))
    assert keys(kept) == {("style:wabi-sabi", "room:bedroom")}
    assert any("keep their results" in note and "--keep-images" in note for note in kept.notes)


def test_content_brings_everything_along_only_with_cascade(store: SqliteEventStore) -> None:
    """A style's content alone marks only itself (a note offers --cascade); with cascade, every step of the style."""
    alone = marks(store, Selection(styles=("japandi",), steps=("content",)))
    assert keys(alone) == {("style:japandi", "content")}
    assert any("--cascade" in note for note in alone.notes)
    everything = marks(store, Selection(styles=("japandi",), steps=("content",), cascade=True))
    assert keys(everything) == {key for key in done_steps(store) if key[0] == "style:japandi"}
    assert {m.cause for m in everything.marks if m.step != "content"} == {"content"}
    assert any("follow it" in note for note in everything.notes)


def test_an_image_alone_has_no_followers_and_no_note(store: SqliteEventStore) -> None:
    """An image is built on by nothing: it is marked alone and nothing is noted."""
    only = marks(store, Selection(steps=("image:style:0",), styles=("art-deco",)))
    assert keys(only) == {("style:art-deco", "image:style:0")}
    assert only.notes == []


# --- filters -----------------------------------------------------------------------------


def test_filters_combine_with_and(store: SqliteEventStore) -> None:
    """kind, model, prompt_version, run, style and step patterns each narrow the others."""
    done = done_steps(store)
    events = {(e.stream, e.step): e for e in store.iter_all() if e.event.is_success}
    art_deco_run = events[("style:art-deco", "content")].event.run_id
    images = marks(store, Selection(kind="image", keep_images=True))
    assert keys(images) == {k for k in done if step_kind(k[1]) == "image"}
    by_run = marks(store, Selection(kind="image", run_id=art_deco_run))
    assert keys(by_run) == {k for k in done if k[0] == "style:art-deco" and step_kind(k[1]) == "image"}
    room_version = OFFLINE_PROMPT_VERSIONS["room"]
    by_version = marks(store, Selection(prompt_version=room_version, keep_images=True))
    assert keys(by_version) == {k for k in done if step_kind(k[1]) == "room"}
    image_model = events[("style:art-deco", "image:style:0")].event.meta.model
    by_model = marks(store, Selection(model=image_model, steps=("image:room:*",), styles=("japandi",)))
    assert keys(by_model) == {k for k in done if k[0] == "style:japandi" and k[1].startswith("image:room:")}
    with pytest.raises(SelectionError):
        marks(store, Selection(model=image_model, kind="room"))
    with pytest.raises(SelectionError):
        marks(store, Selection(prompt_version=room_version, kind="image"))


def test_before_selects_only_results_recorded_earlier(store: SqliteEventStore) -> None:
    """--before the second run's first success selects exactly the first run's results."""
    successes = [e for e in store.iter_all() if e.event.is_success]
    first_run = successes[0].event.run_id
    cutoff = next(e for e in successes if e.event.run_id != first_run).recorded_at
    chosen = marks(store, Selection(before=cutoff, keep_images=True))
    assert keys(chosen) == {(e.stream, str(e.step)) for e in successes if e.event.run_id == first_run}
    with pytest.raises(SelectionError):
        marks(store, Selection(before=successes[0].recorded_at - timedelta(seconds=1)))


def test_step_patterns_match_any_of_several(store: SqliteEventStore) -> None:
    """Several --step patterns select the union of what each matches (still within the style)."""
    chosen = marks(
        store, Selection(styles=("art-deco",), steps=("room:kitchen", "image:style:*"), keep_images=True)
    )
    assert keys(chosen) == {("style:art-deco", "room:kitchen"), ("style:art-deco", "image:style:0")}


def test_offline_results_are_never_stale_whatever_the_prompts_file(
    store: SqliteEventStore, tmp_path: Path
) -> None:
    """Offline results carry the offline prompt versions, so --stale-prompts matches none of them."""
    prompts = tmp_path / "prompts.toml"
    prompts.write_text('room = "Room {room_name} in {style_name}; {languages}."\n', encoding="utf-8")
    with pytest.raises(SelectionError, match="no done step"):
        plan_regeneration(
            store,
            Selection(stale_prompts=True),
            plan=latest_plan(store),
            prompts=load_prompts(prompts),
            prices=PRICES,
        )


# --- marking -----------------------------------------------------------------------------


def test_steps_already_awaiting_are_not_marked_twice(store: SqliteEventStore) -> None:
    """A second selection overlapping an earlier request marks only the new steps and lists the rest."""
    journal_regeneration(
        store, marks(store, Selection(styles=("art-deco",), steps=("image:style:0",))), reason="a"
    )
    second = marks(store, Selection(styles=("art-deco",), kind="image"))
    assert ("style:art-deco", "image:style:0") not in keys(second)
    assert second.already_awaiting == [("style:art-deco", "image:style:0")]
    assert keys(second)
    with pytest.raises(SelectionError, match="already awaits"):
        marks(store, Selection(styles=("art-deco",), steps=("image:style:0",)))


def test_a_room_awaiting_does_not_re_mark_its_awaiting_images(store: SqliteEventStore) -> None:
    """Regenerating a room whose image already awaits marks the room only; the image keeps its one request."""
    image = ("style:japandi", "image:room:kitchen:0")
    journal_regeneration(store, marks(store, Selection(styles=("japandi",), steps=(image[1],))), reason="a")
    plan = marks(store, Selection(styles=("japandi",), steps=("room:kitchen",)))
    assert keys(plan) == {("style:japandi", "room:kitchen")}
    journal_regeneration(store, plan, reason="b")
    requests = [e for e in store.iter_all() if e.type == "StepRegenerationRequested"]
    assert sorted((e.stream, e.step) for e in requests) == sorted([image, ("style:japandi", "room:kitchen")])


def test_journalled_requests_name_the_generation_supersedes_and_one_request_id(
    store: SqliteEventStore,
) -> None:
    """Each request asks for generation 2, supersedes the recorded success's id, and one call shares one id."""
    plan = marks(store, Selection(styles=("art-deco", "japandi"), steps=("room:bedroom",)))
    request = journal_regeneration(store, plan, reason="  too   plain ")
    requests = [e for e in store.iter_all() if e.type == "StepRegenerationRequested"]
    assert {(e.stream, e.step) for e in requests} == keys(plan)
    for stored in requests:
        success = store.find_success(stored.stream, str(stored.step))
        assert success is not None
        assert stored.event.data.supersedes == success.id
        assert generation_of(stored.event) == 2
        assert stored.event.data.request == request
        assert stored.event.data.reason == "too plain"


def test_a_second_round_asks_for_generation_3(store: SqliteEventStore) -> None:
    """After generation 2 lands, regenerating again asks for 3 and supersedes generation 2's event."""
    key = ("style:art-deco", "image:style:0")
    journal_regeneration(store, marks(store, Selection(styles=("art-deco",), steps=(key[1],))), reason="a")
    second = store.append(key[0], [of_generation(samples.image_generated(0, payload=b"v2"), 2)])[0]
    again = marks(store, Selection(styles=("art-deco",), steps=(key[1],)))
    assert [(m.generation, m.supersedes) for m in again.marks] == [(3, second.id)]


@pytest.mark.parametrize(
    "selection",
    [
        Selection(),
        Selection(cascade=True, keep_images=True),
        Selection(styles=("Not A Slug",)),
        Selection(styles=("no-such-style",)),
        Selection(steps=("   ",)),
        Selection(steps=("image:room:attic:*",)),
        Selection(steps=("content",), run_id="run-nobody"),
    ],
    ids=["bare", "only-modifiers", "bad-slug", "unknown-style", "blank-pattern", "no-match", "no-run"],
)
def test_empty_or_bad_selections_raise_selection_error(store: SqliteEventStore, selection: Selection) -> None:
    """A selection that is malformed or matches no done step raises SelectionError and writes nothing."""
    before = store.last_position()
    with pytest.raises(SelectionError):
        marks(store, selection)
    assert store.last_position() == before


@pytest.mark.parametrize(
    "reason",
    ["", "   ", "x" * 501, "bad\x07bell", "key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD"],
    ids=["empty", "blank", "too-long", "control", "secret"],
)
def test_check_reason_refuses_empty_long_unprintable_and_secret_reasons(reason: str) -> None:
    """check_reason raises SelectionError for a reason that must not be journalled."""
    with pytest.raises(SelectionError):
        check_reason(reason)
