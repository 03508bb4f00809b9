"""Work steps: keys, priorities, dependencies and the pending selection."""

from __future__ import annotations

from generator.steps import limit_styles, pending_steps, plan_steps
from genjournal.testing.samples import small_plan


def test_every_planned_step_has_its_documented_key_in_priority_order() -> None:
    """A style's steps are content, its images, then each room followed by that room's images."""
    steps = plan_steps(small_plan(styles=1, rooms=2, images_per_style=2, images_per_room=1))
    assert [step.key for step in steps] == [
        "content",
        "image:style:0",
        "image:style:1",
        "room:room-0",
        "image:room:room-0:0",
        "room:room-1",
        "image:room:room-1:0",
    ]
    assert steps == sorted(steps), "plan order is priority order"
    assert {step.stream for step in steps} == {"style:style-0"}


def test_styles_come_in_plan_order_so_started_styles_finish_first() -> None:
    """Every step of the first style sorts before any step of the second."""
    steps = plan_steps(small_plan(styles=2, rooms=1))
    first = [i for i, step in enumerate(steps) if step.stream == "style:style-0"]
    second = [i for i, step in enumerate(steps) if step.stream == "style:style-1"]
    assert max(first) < min(second)
    assert sorted(reversed(steps)) == steps


def test_each_step_depends_on_the_result_it_builds_on() -> None:
    """Content needs nothing; style images and rooms need the content; room images their room."""
    by_key = {step.key: step for step in plan_steps(small_plan(styles=1, rooms=1))}
    assert by_key["content"].depends_on is None
    assert by_key["image:style:0"].depends_on == "content"
    assert by_key["room:room-0"].depends_on == "content"
    assert by_key["image:room:room-0:0"].depends_on == "room:room-0"


def test_call_kind_separates_text_from_image_calls() -> None:
    """Content and rooms are text calls; every image step is an image call."""
    kinds = {step.key: step.call_kind for step in plan_steps(small_plan(styles=1, rooms=1))}
    assert kinds == {
        "content": "text",
        "image:style:0": "image",
        "room:room-0": "text",
        "image:room:room-0:0": "image",
    }


def test_subcategories_restrict_the_plan_to_those_styles() -> None:
    """Asking for one sub-category lists only its stream's steps."""
    steps = plan_steps(small_plan(styles=3, rooms=1), ["style-1"])
    assert {step.stream for step in steps} == {"style:style-1"}
    assert steps[0].style_number == 2, "the style keeps its number in the whole plan"


def test_pending_steps_drop_exactly_the_done_pairs() -> None:
    """A step is pending unless its (stream, step) pair is done; order is kept."""
    steps = plan_steps(small_plan(styles=2, rooms=1))
    done = {("style:style-0", "content"), ("style:style-1", "image:style:0")}
    pending = pending_steps(steps, done)
    assert [(s.stream, s.key) for s in pending] == [
        (s.stream, s.key) for s in steps if (s.stream, s.key) not in done
    ]
    assert len(pending) == len(steps) - 2


def test_limit_keeps_the_first_styles_that_still_have_pending_work() -> None:
    """--limit N counts styles with pending steps, in plan order, skipping finished ones."""
    plan = small_plan(styles=3, rooms=1)
    steps = plan_steps(plan)
    finished = {(s.stream, s.key) for s in steps if s.stream == "style:style-0"}
    limited = limit_styles(pending_steps(steps, finished), 1)
    assert {step.stream for step in limited} == {"style:style-1"}
