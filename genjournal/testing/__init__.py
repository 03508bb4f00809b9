"""Test doubles that are real code: a fake OpenAI server, sample plans and events.

``fake_openai`` is an OpenAI-compatible HTTP server with fault injection and a ledger of
what it would have billed (``python -m genjournal.testing.fake_openai``); ``samples``
holds a small plan and events built the way the generator builds them. Tests,
benchmarks and the chaos suite use them; so can a user testing their own pipeline.
"""
