"""The SQLite journal: the embedded, durable default (stdlib ``sqlite3``).

Two modules, one concept each:

* ``file`` — the bytes in ``journal.db``: schema and triggers, the row encoding and its
  checksum, connections (read-only media included), SQLite errors as journal errors, and
  ``inspect_file``, which tells what a file is without writing to it;
* ``store`` — ``SqliteEventStore``, the event store port on that file: durable appends,
  reads, queries, the run lease, the self-check ``verify`` uses, and the stream scan the
  parallel rebuild uses.
"""

from journal.backends.sqlite.file import (
    SCHEMA_VERSION,
    connect,
    event_row,
    inspect_file,
    on_read_only_media,
    row_checksum,
    translate_error,
    undecodable_position,
)
from journal.backends.sqlite.store import SqliteEventStore, SqliteStreamScanner

__all__ = [
    "SCHEMA_VERSION",
    "SqliteEventStore",
    "SqliteStreamScanner",
    "connect",
    "event_row",
    "inspect_file",
    "on_read_only_media",
    "row_checksum",
    "translate_error",
    "undecodable_position",
]
