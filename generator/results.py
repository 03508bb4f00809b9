"""Results as events: what a step's success or failure looks like in the journal.

The live runner and any other way of getting results (a batch collector, say) build
their events here, so a result journals the same whichever path brought it: the same
event type and payload, and the same ``meta`` (model, prompt version, usage summed over
every billed attempt, latency, attempts, request id).
"""

from __future__ import annotations

from generator.prompts import PromptKind
from generator.providers.base import (
    CallInfo,
    ImageResult,
    Provider,
    ProviderError,
    RoomResult,
    StyleResult,
)
from generator.retry import AttemptLog
from generator.steps import Step
from journal.blobs import BlobRef
from journal.events import (
    Event,
    ImageFailed,
    ImageFailedData,
    ImageGenerated,
    ImageGeneratedData,
    Meta,
    RoomFailed,
    RoomFailedData,
    RoomGenerated,
    RoomGeneratedData,
    StepError,
    StyleCreated,
    StyleCreatedData,
    StyleFailed,
    StyleFailedData,
)


def success_event(
    run_id: str, step: Step, result: StyleResult | RoomResult | ImageResult, meta: Meta, ref: BlobRef | None
) -> Event:
    """Returns the success event of a step; an image's bytes must already be stored as ``ref``."""
    if isinstance(result, StyleResult):
        assert isinstance(result.data, StyleCreatedData)
        data = result.data.model_copy(update={"generation": step.generation})
        return StyleCreated(run_id=run_id, step=step.key, data=data, meta=meta)
    if isinstance(result, RoomResult):
        assert isinstance(result.data, RoomGeneratedData)
        room = result.data.model_copy(update={"generation": step.generation})
        return RoomGenerated(run_id=run_id, step=step.key, data=room, meta=meta)
    assert ref is not None, "an image is journaled only after its bytes are stored"
    return ImageGenerated(
        run_id=run_id,
        step=step.key,
        data=ImageGeneratedData(
            target="room" if step.kind == "room_image" else "style",
            room_type=step.room_type.slug if step.room_type else None,
            index=step.index or 0,
            sha256=ref.sha256,
            path=ref.path,
            bytes=ref.size,
            width=result.width,
            height=result.height,
            prompt=result.prompt,
            generation=step.generation,
        ),
        meta=meta,
    )


def step_meta(provider: Provider, step: Step, call: CallInfo | None, attempts: AttemptLog) -> Meta:
    """Returns a step's provenance and cost: the answering call plus every billed failed attempt."""
    billed = list(attempts.billed) + ([call] if call is not None else [])
    image = step.call_kind == "image"
    kind: PromptKind = "image" if image else ("style" if step.kind == "content" else "room")
    model = call.model if call else (provider.image_model if image else provider.text_model)
    return Meta(
        provider=provider.name,
        model=model,
        prompt_version=provider.prompt_version(kind),
        input_tokens=_sum([c.input_tokens for c in billed]),
        output_tokens=_sum([c.output_tokens for c in billed]),
        images=_sum([c.images for c in billed]),
        image_size=(call.image_size if call else provider.image_size) if image else None,
        image_quality=(call.image_quality if call else provider.image_quality) if image else None,
        latency_ms=call.latency_ms if call else None,
        attempts=attempts.attempts,
        request_id=call.request_id if call else None,
        request_id_source=call.request_id_source if call else None,
        gateway_retries=call.gateway_retries if call else None,
        input_image_tokens=_sum([c.input_image_tokens for c in billed]),
        output_text_tokens=_sum([c.output_text_tokens for c in billed]),
    )


def failure_event(run_id: str, step: Step, error: ProviderError, meta: Meta) -> Event:
    """Returns the failure event recording why a step failed (the step stays pending)."""
    reason = StepError(
        kind=error.kind, message=error.message[:500], status=error.status, retryable=error.retryable
    )
    if step.kind == "content":
        return StyleFailed(
            run_id=run_id,
            step=step.key,
            data=StyleFailedData(subcategory=step.subcategory.slug, error=reason, generation=step.generation),
            meta=meta,
        )
    if step.kind == "room":
        assert step.room_type is not None
        return RoomFailed(
            run_id=run_id,
            step=step.key,
            data=RoomFailedData(room_type=step.room_type.slug, error=reason, generation=step.generation),
            meta=meta,
        )
    return ImageFailed(
        run_id=run_id,
        step=step.key,
        data=ImageFailedData(
            target="room" if step.kind == "room_image" else "style",
            room_type=step.room_type.slug if step.room_type else None,
            index=step.index or 0,
            error=reason,
            generation=step.generation,
        ),
        meta=meta,
    )


def _sum(values: list[int | None]) -> int | None:
    present = [value for value in values if value is not None]
    return sum(present) if present else None
