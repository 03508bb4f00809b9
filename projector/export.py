"""Export: the style documents as one JSON array, byte-identical for identical journals."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from projector.fold import Document


def export_bytes(documents: Iterable[Document]) -> bytes:
    """Returns the documents as a JSON array sorted by slug (keys in document order)."""
    ordered = sorted(documents, key=lambda doc: doc["slug"])
    return (json.dumps(ordered, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def write_atomically(path: Path, data: bytes) -> None:
    """Writes a file via a temp file, fsync and rename, so readers never see half of it."""
    path = Path(path)
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with temp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fd = os.open(path.parent if str(path.parent) else ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
