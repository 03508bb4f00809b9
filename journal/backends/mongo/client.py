"""Connecting to MongoDB (or the in-process mongomock stand-in) and translating its errors."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from bson.errors import BSONError
from pymongo import MongoClient
from pymongo.errors import (
    BulkWriteError,
    ConfigurationError,
    ConnectionFailure,
    DuplicateKeyError,
    ExecutionTimeout,
    OperationFailure,
    PyMongoError,
    WriteConcernError,
)

from journal.backends.mongo.layout import DEFAULT_DATABASE, Doc
from journal.errors import ConfigError, JournalError, StoreError, StoreFullError, StoreUnavailableError
from journal.redaction import redact_url, scrub, url_secrets

DEFAULT_SERVER_SELECTION_TIMEOUT_MS = 5_000
# MongoDB error codes that mean "no room": OutOfDiskSpace, QuotaExceeded.
FULL_CODES = frozenset({14031, 12501})
# AtlasError: used for quota refusals, but also for unrelated ones (read the text).
ATLAS_ERROR = 8000
FULL_WORDS = ("quota", "out of disk", "disk full", "no space left", "space limit")
UNAUTHORIZED = 13
DUPLICATE_KEY_CODES = (11000, 11001)
AUTHENTICATION_FAILED = 18


def translate_error(
    exc: BaseException, *, where: str = "MongoDB", secrets: Iterable[str] = ()
) -> JournalError:
    """Maps a pymongo exception to the journal's error tree (the caller raises it)."""
    text = scrub(str(exc), secrets)
    if isinstance(exc, ConfigurationError):
        return ConfigError(f"bad MongoDB settings for {where}: {text}")
    if isinstance(exc, ConnectionFailure):
        # AutoReconnect, NetworkTimeout, NotPrimaryError, ServerSelectionTimeoutError…
        return StoreUnavailableError(f"cannot reach MongoDB at {where}: {text}")
    if isinstance(exc, ExecutionTimeout | WriteConcernError):
        return StoreUnavailableError(f"MongoDB at {where} did not confirm in time: {text}")
    if isinstance(exc, DuplicateKeyError):
        return StoreError(f"MongoDB at {where} refused a duplicate key: {text}")
    if isinstance(exc, OperationFailure):
        codes = {exc.code}
        if isinstance(exc, BulkWriteError):
            codes |= {err.get("code") for err in exc.details.get("writeErrors", ())}
        lowered = text.lower()
        if codes & FULL_CODES or any(word in lowered for word in FULL_WORDS):
            return StoreFullError(f"MongoDB at {where} is out of space or quota: {text}")
        if AUTHENTICATION_FAILED in codes:
            return ConfigError(f"MongoDB at {where} refused the credentials: {text}")
        if UNAUTHORIZED in codes:
            return StoreError(f"MongoDB at {where} does not allow this operation: {text}")
        return StoreError(f"MongoDB at {where} refused the operation: {text}")
    if isinstance(exc, BSONError):
        return StoreError(f"a document could not be encoded for MongoDB: {text}")
    return StoreError(f"MongoDB error at {where}: {text}")


_mock_client: Any = None
_mock_client_lock = threading.Lock()
#: serialises every mongomock operation in this process (see the module docstring)
MOCK_LOCK = threading.RLock()


def _shared_mock_client() -> Any:
    """Returns the process-wide mongomock client behind every ``mongomock://`` URL."""
    global _mock_client
    with _mock_client_lock:
        if _mock_client is None:
            import mongomock

            _mock_client = mongomock.MongoClient()
        return _mock_client


@dataclass
class Target:
    """A client and the database a URL names (``owned``: close it when done)."""

    client: Any
    database: str
    owned: bool


def _path_and_query(url: str) -> tuple[str, str]:
    """Returns the database path and the options of a MongoDB URL, split as pymongo splits it.

    The options start at the first "?", the database at the first "/" before them
    (pymongo's ``parse_uri``), so the database written to is the one the driver opens;
    ``urlsplit`` would stop at a "#" in a password and name another database.
    """
    host_and_path, _, query = url.partition("://")[2].partition("?")
    return host_and_path.partition("/")[2], query


def _new_client(url: str, kwargs: dict[str, Any], where: str, secrets: tuple[str, ...]) -> MongoClient[Doc]:
    """Builds the driver's client, passing on its warnings scrubbed of the URL's credentials.

    The driver warns about options it does not know, quoting them, and a password holding
    "?" reads as options; its warnings are scrubbed like its errors, and passed on whether
    the client could be built or not.
    """
    heard: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                return MongoClient(url, **kwargs)
            finally:
                heard = list(caught)
    finally:
        for warning in heard:
            warnings.warn(
                f"MongoDB URL {where}: {scrub(str(warning.message), secrets)}", UserWarning, stacklevel=3
            )


def connect(url: str) -> Target:
    """Opens a client for a ``mongodb://``, ``mongodb+srv://`` or ``mongomock://`` URL."""
    where = redact_url(url)
    if url.startswith("mongomock://"):
        # mongomock://[user:password@]NAME[?…]: the name follows the credentials.
        name = url[len("mongomock://") :].rpartition("@")[2].partition("?")[0].strip("/")
        return Target(_shared_mock_client(), name or DEFAULT_DATABASE, owned=False)
    if not url.startswith(("mongodb://", "mongodb+srv://")):
        raise ConfigError(f"not a MongoDB URL: {where}")
    secrets = url_secrets(url)
    try:
        path, query = _path_and_query(url)
        name = unquote_plus(path.lstrip("/")) or DEFAULT_DATABASE
        options = {key.lower() for key, _ in parse_qsl(query)}
    except ValueError as exc:
        raise ConfigError(f"bad MongoDB URL {where}: {scrub(str(exc), secrets)}") from exc
    kwargs: dict[str, Any] = {}
    if "serverselectiontimeoutms" not in options:
        # A journal that cannot be reached should say so in seconds, not after 30.
        kwargs["serverSelectionTimeoutMS"] = DEFAULT_SERVER_SELECTION_TIMEOUT_MS
    try:
        client: MongoClient[Doc] = _new_client(url, kwargs, where, secrets)
    except PyMongoError as exc:
        raise translate_error(exc, where=where, secrets=secrets) from exc
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"bad MongoDB URL {where}: {scrub(str(exc), secrets)}") from exc
    return Target(client, name, owned=True)
