"""A fault-injecting, OpenAI-compatible HTTP server for tests, benchmarks and chaos runs.

It speaks the two endpoints genjournal pays for, honestly enough that the real
``openai`` client cannot tell the difference on the happy path:

* ``POST /v1/chat/completions`` answers a strict ``json_schema`` ``response_format``
  with a JSON object that validates against the schema *sent in the request* (objects,
  ``$defs``/``$ref``, arrays, enums, string patterns such as a hex colour), its text
  built from the property names and the quoted phrases of the prompt; ``usage`` is
  computed deterministically from text lengths.
* ``POST /v1/images/generations`` returns real PNGs (stdlib zlib/struct) whose pixels
  depend on the prompt and on the request (so every request yields its own picture);
  it honours ``n``/``size`` and rejects ``response_format`` for ``gpt-image*`` models
  with a 400, like the real API.

Faults, configurable at construction, in-process and over ``POST /_faults``: per-family
probabilities (``429``, ``500``, ``drop``, ``hang``, ``malformed``, ``schema``,
``refusal``, ``length``, ``content_filter``, ``quota``, billing, ``unverified``), latency
per family (with a log-normal spread, ``latency_sigma``), per-prompt rules (matched
against the ``X-Genjournal-Step`` header or the prompt), an outage window, 401 for
configured bad keys, and rate limits enforced at sub-minute granularity (a token bucket
per family holding ``burst_s`` seconds' worth, with OpenAI's ``x-ratelimit-*`` headers
or none, ``retry-after`` or none, and the 429 worded as the API words it), plus a
key-level limit over both families (``shared_rpm``), as gateways enforce.
``GET /v1/models`` lists the models it serves. Decisions are deterministic for a seed: each
request draws from a generator seeded by (seed, family, step or prompt, occurrence).

The Files and Batch APIs, in memory per process: ``POST /v1/files`` (multipart ``file`` and
``purpose``), ``GET /v1/files[?purpose=…]``, ``GET|DELETE /v1/files/{id}``,
``GET /v1/files/{id}/content``; ``POST /v1/batches``, ``GET /v1/batches`` (newest first,
``limit``/``after`` cursor pages), ``GET /v1/batches/{id}``, ``POST /v1/batches/{id}/cancel``.
A batch lives ``validating → in_progress → finalizing → completed`` in a thread, time-scaled by
the ``"batch"`` settings (``validate_s``, ``line_s``, ``finalize_s``, ``expire_after_s``,
``fail_validation``, ``hold``, ``max_requests``, ``max_bytes``); a bad input file fails it with
the API's ``errors.data`` (duplicate custom_id, url unlike the endpoint, mixed models, …), cancel
and expiry keep the lines done. Each line is answered like the live endpoint (rules and fault
probabilities apply; live rate limits, latency and outages do not) and its step is taken from
its ``custom_id``: ``<stream>|<step>|<n>`` is step ``<stream>/<step>``, as the live header
carries it; another custom_id is the step itself. ``GET /_batches`` shows the server's side.

Every API request lands in a ledger (``server.ledger()``, ``GET /_ledger``) saying what
it was, how it ended and whether the real API would have billed it.
Files and Batch API calls are entries that bill nothing; each batch line is an entry (its
``batch_id`` and ``custom_id`` set), billable when it succeeded.

Run it standalone with ``python -m genjournal.testing.fake_openai --port 0 --rules JSON``: it
prints its base URL (``http://127.0.0.1:PORT/v1``) on stdout and serves until killed.
"""

from genjournal.testing.fake_openai.batch_input import BatchSettings
from genjournal.testing.fake_openai.batches import step_of
from genjournal.testing.fake_openai.config import BILLABLE_OUTCOMES, FAULTS, STEP_HEADER, EndpointConfig, Rule
from genjournal.testing.fake_openai.ledger import LedgerEntry
from genjournal.testing.fake_openai.limits import go_duration
from genjournal.testing.fake_openai.schema import SchemaFaker, strict_schema_problem
from genjournal.testing.fake_openai.server import FakeOpenAI

__all__ = [
    "BILLABLE_OUTCOMES",
    "FAULTS",
    "STEP_HEADER",
    "BatchSettings",
    "EndpointConfig",
    "FakeOpenAI",
    "LedgerEntry",
    "Rule",
    "SchemaFaker",
    "go_duration",
    "step_of",
    "strict_schema_problem",
]
