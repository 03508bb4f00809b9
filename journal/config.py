"""Where the journal lives: ``--db`` URLs, the data directory, and opening a store.

``sqlite:///PATH`` (relative) or ``sqlite:////ABS/PATH`` selects ``SqliteEventStore``;
``mongodb://…`` and ``mongodb+srv://…`` select ``MongoEventStore``; ``mongomock://NAME``
is an in-process MongoDB stand-in for tests. Without ``--db`` the journal is
``sqlite:///<data-dir>/journal.db``. ``Location`` is the one resolver of both: every
command and the Python API find a journal through it.

A resolved location is absolute: its data directory and SQLite URL name the same files
whatever the working directory of whoever receives them. A run the dashboard starts, a
rebuild worker, a test driver's child all get a location's paths; a relative one would
silently name another, empty journal there — and a run on it pays for everything again.

Credentials in a URL are never printed: ``journal.redaction.redact_url`` is the only
form of a URL that reaches a message or a log line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from journal.errors import ConfigError
from journal.redaction import redact_url
from journal.store import EventStore

DATA_DIR_ENV = "GENJOURNAL_DATA_DIR"
DB_ENV = "GENJOURNAL_DB"
DEFAULT_DATA_DIR = "./genjournal-data"
SCHEMES = ("sqlite:///", "mongodb://", "mongodb+srv://", "mongomock://")


def resolve_data_dir(data_dir: str | os.PathLike[str] | None) -> Path:
    """Returns the data directory from the argument, the environment or the default."""
    chosen = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    # absolute(), not resolve(): ".." after a symlink keeps the meaning the kernel gives it.
    path = Path(chosen).absolute()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--data-dir {path} exists and is not a directory")
    return path


def resolve_db_url(db: str | None, data_dir: Path) -> str:
    """Returns the journal URL from the argument, the environment or the data-dir default."""
    url = db if db is not None else os.environ.get(DB_ENV)
    if not url:
        return f"sqlite:///{data_dir.absolute() / 'journal.db'}"
    if url.startswith("sqlite:///"):
        return f"sqlite:///{sqlite_path(url).absolute()}"
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
        from journal.backends.sqlite import SqliteEventStore

        return SqliteEventStore(sqlite_path(url), create=create)
    if url.startswith(("mongodb://", "mongodb+srv://", "mongomock://")):
        from journal.backends.mongo import MongoEventStore

        return MongoEventStore.from_url(url, create=create)
    raise ConfigError(f"unknown --db scheme in {redact_url(url)!r}")


@dataclass(frozen=True)
class Location:
    """Where one journal lives: its URL, and the data directory holding its images."""

    url: str
    data_dir: Path

    @classmethod
    def resolve(cls, data_dir: str | os.PathLike[str] | None = None, db: str | None = None) -> Location:
        """Returns the location from ``--data-dir``/``--db``, else the environment, else the defaults."""
        directory = resolve_data_dir(data_dir)
        return cls(url=resolve_db_url(db, directory), data_dir=directory)

    @classmethod
    def of(cls, where: str | os.PathLike[str], data_dir: str | os.PathLike[str] | None = None) -> Location:
        """Returns the location of a data directory or a journal URL (images beside a SQLite file)."""
        text = os.fspath(where)
        if "://" not in text:
            return cls.resolve(text)
        url = resolve_db_url(text, Path("."))
        if data_dir is not None:
            return cls(url=url, data_dir=resolve_data_dir(data_dir))
        if url.startswith("sqlite:///"):
            return cls(url=url, data_dir=sqlite_path(url).parent)
        return cls(url=url, data_dir=resolve_data_dir(None))

    @property
    def shown(self) -> str:
        """Returns the URL as it may be printed (credentials redacted)."""
        return redact_url(self.url)

    def open(self, *, create: bool = False) -> EventStore:
        """Opens the journal (``create=False`` refuses a missing one)."""
        return open_store(self.url, create=create)
