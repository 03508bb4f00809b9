"""Failpoints: named places where a test can make this process die or fail on purpose.

Switched on only by the environment, and a no-op costing one global lookup otherwise::

    GENJOURNAL_FAILPOINTS="blob-after-fsync=exit:0.05;append-before-commit=exit@3"
    GENJOURNAL_FAILPOINTS_SEED=42        # makes the probabilistic ones reproducible

Each entry is ``name=action[:probability][@nth]``. Actions:

``exit``     ``os._exit(FAILPOINT_EXIT_CODE)`` at once: no cleanup, no flush, like SIGKILL.
``raise``    raises ``FailpointError`` (an ``OSError``), for in-process tests.
``enospc``   raises ``OSError(ENOSPC)``, as a full disk would.
``sleep``    sleeps ``probability`` seconds instead (``name=sleep:0.5``), to widen races.

``@nth`` fires only on the nth time the point is reached (1-based); without it, every
time (subject to the probability). A fired ``exit`` first writes
``failpoint <name> hit`` to stderr with a raw ``write(2)`` so a driver can count hits.
"""

from __future__ import annotations

import errno
import os
import random
import threading
import time
from dataclasses import dataclass

FAILPOINT_EXIT_CODE = 77
ENV_VAR = "GENJOURNAL_FAILPOINTS"
SEED_VAR = "GENJOURNAL_FAILPOINTS_SEED"

#: every failpoint the code defines; ``configure`` refuses names not listed here
KNOWN = frozenset(
    {
        "provider-after-response",  # the provider answered; nothing written yet
        "blob-before-rename",  # blob bytes written and fsynced to the temp file
        "blob-after-rename",  # blob in place; its event not yet appended
        "blob-write",  # while writing blob bytes (use enospc here)
        "append-before-commit",  # the append is about to commit; nothing durable yet
        "append-after-commit",  # the append is durable; the projection not yet updated
        "projection-before-checkpoint",  # documents written, checkpoint not yet
        "rebuild-before-swap",  # the fresh projection is built, not yet swapped in
        "rebuild-after-swap",  # swapped in, not yet caught up
        "step-before-call",  # the step is about to call the provider
        "batch-after-upload",  # a batch's input file is uploaded; no batch created yet
        "batch-after-create",  # batches.create returned; its BatchSubmitted not yet journaled
        "batch-while-polling",  # a poll of an open batch returned
        "batch-mid-download",  # a finished batch's first result line is journaled, not the rest
    }
)


class FailpointError(OSError):
    """Raised by a failpoint configured with the ``raise`` action."""


@dataclass
class _Rule:
    action: str
    probability: float
    nth: int | None
    hits: int = 0
    fired: int = 0


_rules: dict[str, _Rule] = {}
_lock = threading.Lock()
_random = random.Random()


def configure(spec: str | None, seed: int | None = None) -> None:
    """Replaces the active failpoints with those in ``spec`` (empty or None: none)."""
    rules: dict[str, _Rule] = {}
    for raw in (spec or "").split(";"):
        entry = raw.strip()
        if not entry:
            continue
        name, sep, action = entry.partition("=")
        name = name.strip()
        if not sep or name not in KNOWN:
            raise ValueError(f"unknown failpoint {name!r} in {ENV_VAR}")
        nth: int | None = None
        if "@" in action:
            action, _, nth_text = action.partition("@")
            nth = int(nth_text)
        kind, _, prob = action.partition(":")
        if kind not in ("exit", "raise", "enospc", "sleep"):
            raise ValueError(f"unknown failpoint action {kind!r} for {name}")
        rules[name] = _Rule(kind, float(prob) if prob else 1.0, nth)
    with _lock:
        _rules.clear()
        _rules.update(rules)
        _random.seed(seed)


def active() -> bool:
    """Tells whether any failpoint is configured."""
    return bool(_rules)


def fired(name: str) -> int:
    """Returns how often the failpoint ``name`` has fired since it was configured (0 if not)."""
    rule = _rules.get(name)
    return rule.fired if rule is not None else 0


def failpoint(name: str) -> None:
    """Fires the failpoint ``name`` if it is configured; otherwise does nothing."""
    if not _rules:
        return
    rule = _rules.get(name)
    if rule is None:
        return
    with _lock:
        rule.hits += 1
        if rule.nth is not None and rule.hits != rule.nth:
            return
        if rule.action != "sleep" and _random.random() >= rule.probability:
            return
        rule.fired += 1
    if rule.action == "sleep":
        time.sleep(rule.probability)
    elif rule.action == "exit":
        os.write(2, f"failpoint {name} hit\n".encode())
        os._exit(FAILPOINT_EXIT_CODE)
    elif rule.action == "enospc":
        raise OSError(errno.ENOSPC, f"No space left on device (failpoint {name})")
    else:
        raise FailpointError(errno.EIO, f"failpoint {name} fired")


def _from_env() -> None:
    spec = os.environ.get(ENV_VAR)
    if spec:
        seed_text = os.environ.get(SEED_VAR)
        configure(spec, int(seed_text) if seed_text else None)


_from_env()
