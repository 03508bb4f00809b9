"""Where the journal lives: ``--db`` URLs, the data directory, and opening a store.

``sqlite:///PATH`` (relative) or ``sqlite:////ABS/PATH`` selects ``SqliteEventStore``;
``mongodb://…`` and ``mongodb+srv://…`` select ``MongoEventStore``; ``mongomock://NAME``
is an in-process MongoDB stand-in for tests. Without ``--db`` the journal is
``sqlite:///<data-dir>/journal.db``. Credentials in a URL are never printed:
``redact_url`` is the only form of a URL that reaches a message or a log line.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from journal.errors import ConfigError
from journal.store import EventStore

DATA_DIR_ENV = "GENJOURNAL_DATA_DIR"
DB_ENV = "GENJOURNAL_DB"
DEFAULT_DATA_DIR = "./genjournal-data"
SCHEMES = ("sqlite:///", "mongodb://", "mongodb+srv://", "mongomock://")


def redact_url(url: str) -> str:
    """Returns the URL with any user name and password replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"//[^/@]*@", "//***@", url)
    if parts.username is None and parts.password is None and "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


def resolve_data_dir(data_dir: str | os.PathLike[str] | None) -> Path:
    """Returns the data directory from the argument, the environment or the default."""
    chosen = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    path = Path(chosen)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--data-dir {path} exists and is not a directory")
    return path


def resolve_db_url(db: str | None, data_dir: Path) -> str:
    """Returns the journal URL from the argument, the environment or the data-dir default."""
    url = db if db is not None else os.environ.get(DB_ENV)
    if not url:
        return f"sqlite:///{data_dir / 'journal.db'}"
    if not url.startswith(SCHEMES):
        scheme = url.split(":", 1)[0] if ":" in url else url
        raise ConfigError(
            f"unknown --db scheme in {redact_url(url)!r} ({scheme!r}); use sqlite:///PATH, "
            "mongodb://HOST/DB or mongodb+srv://HOST/DB"
        )
    return url


def sqlite_path(url: str) -> Path:
    """Returns the file path of a ``sqlite:///`` URL."""
    path = url[len("sqlite:///") :]
    if not path:
        raise ConfigError("--db sqlite:/// needs a file path, e.g. sqlite:///genjournal-data/journal.db")
    return Path(path)


def open_store(url: str, *, create: bool = True) -> EventStore:
    """Opens the event store a URL names (``create=False`` refuses a missing journal)."""
    if url.startswith("sqlite:///"):
        from journal.sqlite import SqliteEventStore

        return SqliteEventStore(sqlite_path(url), create=create)
    if url.startswith(("mongodb://", "mongodb+srv://", "mongomock://")):
        from journal.mongo import MongoEventStore

        return MongoEventStore.from_url(url, create=create)
    raise ConfigError(f"unknown --db scheme in {redact_url(url)!r}")
