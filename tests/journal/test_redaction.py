"""Secret redaction: keys, masked keys, bearer tokens and URL credentials never survive."""

from __future__ import annotations

import pytest

from journal.redaction import redact_secrets


def test_removes_the_configured_key_and_anything_key_shaped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The OPENAI_API_KEY value, sk- keys (masked or not) and extra secrets are all masked."""
    monkeypatch.setenv("OPENAI_API_KEY", "proxy-key-without-prefix-123456")
    text = (
        "key proxy-key-without-prefix-123456; Incorrect API key provided: sk-ab**********wxyz; "
        "other sk-proj-AbCdEf0123456789; custom zzz-secret-value-42"
    )
    cleaned = redact_secrets(text, secrets=("zzz-secret-value-42", None, "short"))
    for secret in (
        "proxy-key-without-prefix-123456",
        "wxyz",
        "AbCdEf0123456789",
        "zzz-secret-value-42",
    ):
        assert secret not in cleaned
    assert "Incorrect API key provided: sk-***" in cleaned


def test_removes_bearer_tokens_query_secrets_and_url_credentials() -> None:
    """Bearer tokens, api_key= parameters and user:password@ in URLs are masked."""
    text = "Authorization: Bearer abc.def.ghi via https://bob:hunter2@proxy.example/v1?api_key=s3cr3t&x=1"
    cleaned = redact_secrets(text)
    assert "abc.def.ghi" not in cleaned
    assert "hunter2" not in cleaned
    assert "s3cr3t" not in cleaned
    assert "proxy.example/v1" in cleaned
    assert "x=1" in cleaned


def test_leaves_ordinary_text_alone() -> None:
    """A message without secrets comes back unchanged."""
    text = "Error code: 500 - The server had an error (request req_123)"
    assert redact_secrets(text) == text
