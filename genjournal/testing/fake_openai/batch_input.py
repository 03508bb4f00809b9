"""A batch's input: its settings' limits, the create parameters and the lines, checked as the API does."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from typing import Any

from genjournal.testing.fake_openai.errors import Reply


@dataclass
class BatchSettings:
    """How batches behave (the ``"batch"`` key of ``configure`` / ``POST /_faults``)."""

    #: seconds a batch stays ``validating``
    validate_s: float = 0.2
    #: seconds each line takes (raise it to SIGKILL a client mid-batch)
    line_s: float = 0.01
    #: seconds a batch stays ``finalizing``
    finalize_s: float = 0.2
    #: seconds after creation a batch not yet finalizing becomes ``expired``; None: never
    expire_after_s: float | None = None
    #: make every new batch fail validation
    fail_validation: bool = False
    #: hold batches ``in_progress`` (no line runs) until set back to False
    hold: bool = False
    #: the API's limits on an input file
    max_requests: int = 50_000
    max_bytes: int = 200 * 1024 * 1024

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: BatchSettings) -> BatchSettings:
        """Returns settings patched by JSON-shaped data."""
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown batch setting(s) {sorted(unknown)}")
        return replace(base, **data)


def bad_request(message: str, param: str | None, code: str | None = "invalid_value") -> Reply:
    """Returns a 400 as the API words them."""
    return Reply(400, message, outcome="400", param=param, code=code)


def check_metadata(metadata: object) -> None:
    """Refuses metadata the API refuses (16 keys, keys ≤ 64 chars, string values ≤ 512)."""
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise bad_request(
            f"Invalid type for 'metadata': expected an object, but got {type(metadata).__name__} instead.",
            "metadata",
            "invalid_type",
        )
    if len(metadata) > 16:
        raise bad_request(
            "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, "
            f"but got an object with {len(metadata)} properties instead.",
            "metadata",
            "object_above_max_properties",
        )
    for key, value in metadata.items():
        if len(key) > 64:
            raise bad_request(
                f"Invalid 'metadata': string too long. Expected a string with maximum length 64, "
                f"but got a string with length {len(key)} instead.",
                "metadata",
                "string_above_max_length",
            )
        if not isinstance(value, str):
            kind = (
                "an array"
                if isinstance(value, list)
                else "an object"
                if isinstance(value, dict)
                else type(value).__name__
            )
            raise bad_request(
                f"Invalid type for 'metadata.{key}': expected a string, but got {kind} instead.",
                f"metadata.{key}",
                "invalid_type",
            )
        if len(value) > 512:
            raise bad_request(
                f"Invalid 'metadata.{key}': string too long. Expected a string with maximum length 512, "
                f"but got a string with length {len(value)} instead.",
                f"metadata.{key}",
                "string_above_max_length",
            )


def line_error(code: str, message: str, line: int | None, param: str | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "param": param, "line": line}


def validate_lines(
    data: bytes, endpoint: str, settings: BatchSettings
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Returns (lines, errors): the parsed request lines and the API's validation errors."""
    errors: list[dict[str, Any]] = []
    if len(data) > settings.max_bytes:
        errors.append(
            line_error(
                "file_too_large",
                f"The batch input file is larger than the {settings.max_bytes} maximum bytes allowed.",
                None,
                "input_file_id",
            )
        )
        return [], errors
    lines: list[dict[str, Any]] = []
    seen: set[str] = set()
    model: str | None = None
    texts = [t for t in data.decode("utf-8", "replace").splitlines()]
    numbered = [(n, t) for n, t in enumerate(texts, 1) if t.strip()]
    if not numbered:
        errors.append(line_error("empty_file", "The batch input file is empty.", None, "input_file_id"))
    if len(numbered) > settings.max_requests:
        errors.append(
            line_error(
                "too_many_requests",
                f"The batch input file contains {len(numbered)} requests, more than the maximum of "
                f"{settings.max_requests:,} requests per batch.",
                None,
                "input_file_id",
            )
        )
        return [], errors
    for number, text in numbered:
        try:
            line = json.loads(text)
        except ValueError:
            line = None
        if not isinstance(line, dict):
            errors.append(
                line_error("invalid_json_line", "This line is not parseable as valid JSON.", number)
            )
            continue
        missing = [k for k in ("custom_id", "method", "url", "body") if k not in line]
        if missing:
            errors.append(
                line_error(
                    "missing_required_parameter",
                    f"Missing required parameter: '{missing[0]}'.",
                    number,
                    missing[0],
                )
            )
            continue
        custom_id, body = str(line["custom_id"]), line["body"]
        if custom_id in seen:
            errors.append(
                line_error(
                    "duplicate_custom_id",
                    f"The custom_id '{custom_id}' for this request is a duplicate of another request. "
                    "The custom_id parameter must be unique for each request in a batch.",
                    number,
                    "custom_id",
                )
            )
            continue
        seen.add(custom_id)
        if line["method"] != "POST":
            errors.append(
                line_error("invalid_method", "The method for this request must be POST.", number, "method")
            )
            continue
        if line["url"] != endpoint:
            errors.append(
                line_error(
                    "invalid_url",
                    "The URL provided for this request does not match the batch endpoint.",
                    number,
                    "url",
                )
            )
            continue
        if not isinstance(body, dict):
            errors.append(line_error("invalid_request", "Body must be a JSON object.", number, "body"))
            continue
        if body.get("stream"):
            errors.append(
                line_error(
                    "streaming_unsupported",
                    "Chat Completions: Streaming is not supported in the Batch API.",
                    number,
                    "body.stream",
                )
            )
            continue
        line_model = body.get("model")
        if endpoint == "/v1/chat/completions" and not line_model:
            errors.append(line_error("invalid_request", "Model parameter is required.", number, "body.model"))
            continue
        line_model = str(line_model) if line_model else None
        if model is not None and line_model != model:
            errors.append(
                line_error(
                    "mismatched_model",
                    f"The model '{line_model}' for this request does not match the rest of the batch. "
                    "Each batch must contain requests for a single model.",
                    number,
                    "body.model",
                )
            )
            continue
        model = model or line_model
        lines.append({"custom_id": custom_id, "url": line["url"], "body": body, "line": number})
    return lines, errors
