"""Results as events: one definition of what a success or a failure journals."""

from __future__ import annotations

from generator.providers.base import CallInfo, ImageResult, ProviderError, RoomResult
from generator.providers.offline import OfflineProvider
from generator.results import failure_event, step_meta, success_event
from generator.retry import AttemptLog
from generator.steps import Step, plan_steps
from genjournal.testing import samples
from journal.blobs import BlobRef
from journal.events import ImageGenerated, RoomFailed, RoomGenerated

PLAN = samples.small_plan(styles=1, rooms=1)


def _step(key: str) -> Step:
    return next(step for step in plan_steps(PLAN) if step.key == key)


def test_meta_sums_usage_over_every_billed_attempt() -> None:
    """Tokens of billed failed attempts are added to the answering call's; attempts are counted."""
    provider = OfflineProvider()
    log = AttemptLog(attempts=3)
    log.record(
        ProviderError("invalid_output", "bad", billed=CallInfo("m", 10, input_tokens=100, output_tokens=50))
    )
    log.record(ProviderError("rate_limited", "slow down", status=429))
    call = CallInfo("m", 20, request_id="req_1", input_tokens=120, output_tokens=60)
    meta = step_meta(provider, _step("room:room-0"), call, log)
    assert (meta.input_tokens, meta.output_tokens, meta.attempts) == (220, 110, 3)
    assert meta.request_id == "req_1" and meta.latency_ms == 20
    assert meta.prompt_version == provider.prompt_version("room")
    assert meta.image_size is None, "a text call has no image size"


def test_meta_without_usage_says_not_applicable_not_zero() -> None:
    """A call that reports no tokens leaves the fields absent (None), never 0."""
    meta = step_meta(
        OfflineProvider(), _step("image:style:0"), CallInfo("m", 5, images=1), AttemptLog(attempts=1)
    )
    assert meta.input_tokens is None and meta.output_tokens is None
    assert meta.images == 1
    assert meta.model_dump(exclude_none=True).get("input_tokens") is None


def test_an_image_success_names_the_stored_blob_and_its_place() -> None:
    """ImageGenerated carries the blob's hash, path and size and the room and index of the step."""
    step = _step("image:room:room-0:0")
    ref = BlobRef(sha256="ab" * 32, path=f"images/ab/{'ab' * 32}.png", size=123)
    result = ImageResult(png=b"png", width=8, height=4, prompt="a room", call=CallInfo("m", 1))
    meta = step_meta(OfflineProvider(), step, result.call, AttemptLog(attempts=1))
    event = success_event("run-1", step, result, meta, ref)
    assert isinstance(event, ImageGenerated)
    assert (event.step, event.run_id) == ("image:room:room-0:0", "run-1")
    data = event.data
    assert (data.target, data.room_type, data.index) == ("room", "room-0", 0)
    assert (data.sha256, data.path, data.bytes, data.width, data.height) == (ref.sha256, ref.path, 123, 8, 4)


def test_a_text_success_carries_the_provider_payload_unchanged() -> None:
    """RoomGenerated's data is the provider's RoomGeneratedData itself."""
    room = samples.room_generated("room-0")
    result = RoomResult(data=room.data, call=CallInfo("m", 1))
    step = _step("room:room-0")
    event = success_event(
        "run-1", step, result, step_meta(OfflineProvider(), step, result.call, AttemptLog()), None
    )
    assert isinstance(event, RoomGenerated)
    assert event.data == room.data


def test_a_failure_records_kind_status_and_a_bounded_message() -> None:
    """The failure event keeps the error's kind, status and retryability, and at most 500 characters."""
    step = _step("room:room-0")
    error = ProviderError("server_error", "x" * 900, status=503)
    meta = step_meta(OfflineProvider(), step, None, AttemptLog(attempts=4))
    event = failure_event("run-1", step, error, meta)
    assert isinstance(event, RoomFailed)
    reason = event.data.error
    assert (reason.kind, reason.status, reason.retryable) == ("server_error", 503, True)
    assert len(reason.message) == 500
    assert event.data.room_type == "room-0"
