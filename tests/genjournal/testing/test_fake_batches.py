"""The fake's Files and Batch APIs, through the real ``openai`` client."""

from __future__ import annotations

import base64
import json
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.types import Batch
from openai.types.chat import ChatCompletion
from openai.types.images_response import ImagesResponse

from genjournal.testing.fake_openai import FakeOpenAI

FAST = {"validate_s": 0.05, "line_s": 0.0, "finalize_s": 0.05}


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    """Yields a running fake with a fast batch lifecycle."""
    with FakeOpenAI(seed=3, batch=FAST) as server:
        yield server


@pytest.fixture
def client(fake: FakeOpenAI) -> openai.OpenAI:
    """Returns the real SDK client pointed at the fake."""
    return openai.OpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0)


def chat_line(custom_id: str, prompt: str = 'Name "Aurora"', model: str = "gpt-5.4-mini") -> dict[str, Any]:
    """Returns one chat completion request line."""
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": model, "messages": [{"role": "user", "content": prompt}]},
    }


def upload(client: openai.OpenAI, lines: list[dict[str, Any]]) -> str:
    """Uploads request lines as a batch input file; returns its id."""
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    return client.files.create(file=("input.jsonl", data), purpose="batch").id


def submit(client: openai.OpenAI, lines: list[dict[str, Any]], **kwargs: Any) -> Batch:
    """Uploads lines and creates a chat batch over them."""
    return client.batches.create(
        input_file_id=upload(client, lines),
        endpoint=kwargs.pop("endpoint", "/v1/chat/completions"),
        completion_window="24h",
        **kwargs,
    )


def wait(client: openai.OpenAI, batch_id: str, statuses: set[str], timeout: float = 10.0) -> Batch:
    """Polls a batch until it reaches one of ``statuses``."""
    deadline = time.monotonic() + timeout
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status in statuses:
            return batch
        assert time.monotonic() < deadline, f"batch stuck in {batch.status}"
        time.sleep(0.02)


def jsonl(client: openai.OpenAI, file_id: str | None) -> list[dict[str, Any]]:
    """Downloads a file and parses its lines."""
    assert file_id is not None
    return [json.loads(t) for t in client.files.content(file_id).text.splitlines() if t.strip()]


def test_chat_batch_completes_with_chat_completion_bodies(client: openai.OpenAI) -> None:
    """A chat batch goes validating → in_progress → finalizing → completed; each output body is a ChatCompletion."""
    batch = submit(client, [chat_line("s|a|1"), chat_line("s|b|1", 'Name "Borealis"')])
    assert batch.status == "validating"
    done = wait(client, batch.id, {"completed"})
    assert done.request_counts is not None
    assert (done.request_counts.total, done.request_counts.completed, done.request_counts.failed) == (2, 2, 0)
    assert done.in_progress_at and done.finalizing_at and done.completed_at
    assert done.error_file_id is None and done.model == "gpt-5.4-mini"
    assert done.usage is not None and done.usage.total_tokens > 0
    rows = jsonl(client, done.output_file_id)
    assert sorted(r["custom_id"] for r in rows) == ["s|a|1", "s|b|1"]
    for row in rows:
        assert row["id"].startswith("batch_req_") and row["error"] is None
        assert row["response"]["status_code"] == 200
        ChatCompletion.model_validate(row["response"]["body"])
    output = client.files.retrieve(done.output_file_id or "")
    assert output.purpose == "batch_output"


def test_image_batch_outputs_images_responses(client: openai.OpenAI) -> None:
    """An images batch answers each line with an ImagesResponse carrying a real PNG."""
    line = {
        "custom_id": "art|cover|1",
        "method": "POST",
        "url": "/v1/images/generations",
        "body": {"model": "gpt-image-2", "prompt": "a lighthouse #336699"},
    }
    batch = submit(client, [line], endpoint="/v1/images/generations")
    done = wait(client, batch.id, {"completed"})
    (row,) = jsonl(client, done.output_file_id)
    reply = ImagesResponse.model_validate(row["response"]["body"])
    assert reply.data and base64.b64decode(reply.data[0].b64_json or "")[:8] == b"\x89PNG\r\n\x1a\n"


def test_rule_on_a_line_step_fails_that_line_into_the_error_file(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    """A rule matching a line's step (from its custom_id) sends that line, with the API's error body, to the error file."""
    fake.add_rule("s/bad", "quota")
    done = wait(client, submit(client, [chat_line("s|good|1"), chat_line("s|bad|1")]).id, {"completed"})
    assert done.request_counts is not None and done.request_counts.failed == 1
    (error,) = jsonl(client, done.error_file_id)
    assert error["custom_id"] == "s|bad|1" and error["error"] is None
    assert error["response"]["status_code"] == 429
    assert error["response"]["body"]["error"]["code"] == "insufficient_quota"
    assert [r["custom_id"] for r in jsonl(client, done.output_file_id)] == ["s|good|1"]


def test_live_rate_limits_do_not_apply_to_batch_lines(client: openai.OpenAI) -> None:
    """With a live limit of 1 RPM, a 5-line batch still completes every line: batches have their own pool."""
    with FakeOpenAI(seed=1, batch=FAST, text={"rpm": 1}) as limited:
        sdk = openai.OpenAI(base_url=limited.base_url, api_key="sk-test", max_retries=0)
        done = wait(sdk, submit(sdk, [chat_line(f"s|{i}|1") for i in range(5)]).id, {"completed"})
        assert done.request_counts is not None and done.request_counts.completed == 5


def test_expiry_keeps_done_lines_billed_and_expires_the_rest(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    """A batch past expire_after_s is expired: done lines are in the output (billed), the rest are batch_expired."""
    fake.configure({"batch": {"line_s": 0.1, "expire_after_s": 0.35}})
    done = wait(client, submit(client, [chat_line(f"s|{i}|1") for i in range(10)]).id, {"expired"})
    assert done.expired_at is not None
    output, errors = jsonl(client, done.output_file_id), jsonl(client, done.error_file_id)
    assert output and errors and len(output) + len(errors) == 10
    assert all(e["error"]["code"] == "batch_expired" and e["response"] is None for e in errors)
    assert errors[0]["error"]["message"] == (
        "This request could not be executed before the completion window expired."
    )
    billed = {e.custom_id for e in fake.ledger() if e.billable}
    assert billed == {r["custom_id"] for r in output}


def test_cancel_keeps_the_done_part(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    """Cancelling goes cancelling → cancelled; the lines done before are in the output file and billed."""
    fake.configure({"batch": {"line_s": 0.1}})
    batch = submit(client, [chat_line(f"s|{i}|1") for i in range(20)])
    wait(client, batch.id, {"in_progress"})
    time.sleep(0.25)
    assert client.batches.cancel(batch.id).status == "cancelling"
    done = wait(client, batch.id, {"cancelled"})
    assert done.cancelling_at and done.cancelled_at
    output = jsonl(client, done.output_file_id)
    assert 0 < len(output) < 20
    assert done.request_counts is not None and done.request_counts.completed == len(output)
    assert sum(e.billable for e in fake.ledger()) == len(output)
    with pytest.raises(openai.ConflictError, match="Cannot cancel a batch with status 'completed'"):
        client.batches.cancel(wait(client, submit(client, [chat_line("x")]).id, {"completed"}).id)


def test_hold_keeps_a_batch_in_progress_until_released(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    """With hold set no line runs (a client can be killed mid-batch); releasing it lets the batch finish."""
    fake.configure({"batch": {"hold": True}})
    batch = submit(client, [chat_line("s|a|1")])
    wait(client, batch.id, {"in_progress"})
    time.sleep(0.1)
    assert client.batches.retrieve(batch.id).request_counts.completed == 0  # type: ignore[union-attr]
    with urllib.request.urlopen(fake.url + "/_batches", timeout=5) as reply:
        (state,) = json.loads(reply.read())
    assert state["batch"]["id"] == batch.id and state["done_lines"] == []
    fake.configure({"batch": {"hold": False}})
    assert wait(client, batch.id, {"completed"}).request_counts.completed == 1  # type: ignore[union-attr]


def test_list_pages_newest_first_with_metadata(client: openai.OpenAI) -> None:
    """batches.list pages newest first (has_more, first_id, last_id) and the SDK auto-pages over all of them."""
    file_id = upload(client, [chat_line("a")])
    made = [
        client.batches.create(
            input_file_id=file_id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
            metadata={"n": str(i)},
        ).id
        for i in range(5)
    ]
    first = client.batches.list(limit=2)
    assert [b.id for b in first.data] == made[::-1][:2] and first.has_more
    assert [b.id for b in client.batches.list(limit=2)] == made[::-1]
    assert [b.metadata for b in client.batches.list(limit=100)] == [{"n": str(i)} for i in reversed(range(5))]


def test_create_refuses_bad_parameters_with_400(client: openai.OpenAI) -> None:
    """A completion_window other than 24h, an unknown endpoint and oversized metadata are 400s, as in the API."""
    file_id = upload(client, [chat_line("a")])
    with pytest.raises(openai.BadRequestError, match="Supported values are: '24h'"):
        client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="1h")  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError, match="Invalid value: '/v1/nope'"):
        client.batches.create(input_file_id=file_id, endpoint="/v1/nope", completion_window="24h")  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError, match="at most 16 properties"):
        client.batches.create(
            input_file_id=file_id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
            metadata={str(i): "v" for i in range(17)},
        )
    with pytest.raises(openai.BadRequestError, match="maximum length 512"):
        client.batches.create(
            input_file_id=file_id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
            metadata={"k": "v" * 513},
        )


def test_bad_input_files_make_the_batch_failed_with_errors(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    """A duplicate custom_id, a url unlike the endpoint or a second model fail the batch with errors.data per line."""
    wrong_url = {**chat_line("b"), "url": "/v1/embeddings"}
    lines = [chat_line("a"), chat_line("a"), wrong_url, chat_line("c", model="gpt-5.4")]
    done = wait(client, submit(client, lines).id, {"failed"})
    assert done.failed_at is not None and done.errors is not None and done.errors.data
    found = {(e.code, e.line, e.param) for e in done.errors.data}
    assert found == {
        ("duplicate_custom_id", 2, "custom_id"),
        ("invalid_url", 3, "url"),
        ("mismatched_model", 4, "body.model"),
    }
    assert not any(e.billable for e in fake.ledger())
    missing = wait(
        client,
        client.batches.create(
            input_file_id="file-nope", endpoint="/v1/chat/completions", completion_window="24h"
        ).id,
        {"failed"},
    )
    assert (
        missing.errors
        and missing.errors.data
        and "Cannot find file file-nope" in str(missing.errors.data[0].message)
    )


def test_too_many_requests_and_fail_validation_fail_the_batch(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    """More lines than max_requests, or the fail_validation fault, make a batch failed."""
    fake.configure({"batch": {"max_requests": 2}})
    done = wait(client, submit(client, [chat_line(str(i)) for i in range(3)]).id, {"failed"})
    assert done.errors and done.errors.data and done.errors.data[0].code == "too_many_requests"
    fake.configure({"batch": {"max_requests": 50_000, "fail_validation": True}})
    assert wait(client, submit(client, [chat_line("a")]).id, {"failed"}).errors is not None


def test_unknown_ids_are_404s(client: openai.OpenAI) -> None:
    """Unknown file and batch ids answer 404 with the API's text."""
    for call in (client.files.retrieve, client.files.content, client.files.delete):
        with pytest.raises(openai.NotFoundError, match="No such File object: file-missing"):
            call("file-missing")
    with pytest.raises(openai.NotFoundError, match="No batch found"):
        client.batches.retrieve("batch_missing")
    with pytest.raises(openai.NotFoundError):
        client.batches.cancel("batch_missing")


def test_files_round_trip_list_filter_and_delete(client: openai.OpenAI) -> None:
    """Uploaded files keep their bytes and name, list by purpose, and are gone once deleted."""
    batch_file = client.files.create(file=("in.jsonl", b'{"x": 1}\n'), purpose="batch")
    other = client.files.create(file=("notes.txt", b"hello"), purpose="user_data")
    assert (batch_file.bytes, batch_file.filename, batch_file.object) == (9, "in.jsonl", "file")
    assert client.files.content(other.id).content == b"hello"
    assert [f.id for f in client.files.list(purpose="batch")] == [batch_file.id]
    assert client.files.delete(other.id).deleted
    assert [f.id for f in client.files.list()] == [batch_file.id]


def test_ledger_bills_every_line_exactly_once_and_never_api_calls(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    """Each successful line is one billable entry with its step, model, batch_id and custom_id; API calls bill nothing."""
    batch = submit(client, [chat_line(f"s|step{i}|1") for i in range(4)])
    wait(client, batch.id, {"completed"})
    entries = fake.ledger()
    billable = [e for e in entries if e.billable]
    assert Counter(e.step for e in billable) == {f"s/step{i}": 1 for i in range(4)}
    assert all(e.batch_id == batch.id and e.model == "gpt-5.4-mini" and e.custom_id for e in billable)
    api_calls = [e for e in entries if e.path.startswith(("/v1/files", "/v1/batches"))]
    assert api_calls and not any(e.billable for e in api_calls)
    assert any(e.batch_id == batch.id and e.path == "/v1/batches" for e in api_calls)
