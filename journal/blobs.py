"""BlobStore: content-addressed image files under ``<data-dir>/images``.

A blob is written to a temp file in its final directory, fsynced, renamed onto
``images/<sha256[:2]>/<sha256>.png`` and the directory fsynced — all *before* the
``ImageGenerated`` event naming the hash is appended. A crash can therefore leave a
temp file (removed by the next run, which holds the run lease) or a blob no event names
(an orphan, counted by ``verify``), but never an event whose blob is missing or torn.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from journal.errors import StoreFullError
from journal.events import blob_relpath
from journal.failpoints import failpoint

_SHA = re.compile(r"^[0-9a-f]{64}$")
TEMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class BlobRef:
    """Names a stored blob: its hash, data-dir-relative path and size."""

    sha256: str
    path: str
    size: int


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_sha256(value: str) -> bool:
    """Tells whether a string is a lowercase hex sha256."""
    return bool(_SHA.match(value))


class BlobStore:
    """Stores image bytes by their sha256, durably and atomically."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / "images"

    def path_for(self, sha256: str) -> Path:
        """Returns the absolute path of a blob (the hash is checked, never a raw path)."""
        if not is_sha256(sha256):
            raise ValueError(f"not a sha256: {sha256!r}")
        return self.data_dir / blob_relpath(sha256)

    def _ensure_dir(self, directory: Path) -> None:
        if directory.is_dir():
            return
        for parent in (self.data_dir, self.root, directory):
            if not parent.is_dir():
                parent.mkdir(exist_ok=True)
                _fsync_dir(parent.parent)

    def put(self, data: bytes) -> BlobRef:
        """Writes bytes durably under their hash and returns the reference."""
        sha = hashlib.sha256(data).hexdigest()
        target = self.path_for(sha)
        ref = BlobRef(sha256=sha, path=blob_relpath(sha), size=len(data))
        if target.exists() and self.matches(sha):
            return ref
        directory = target.parent
        temp = directory / f"{TEMP_PREFIX}{sha[:16]}-{os.getpid()}-{os.urandom(4).hex()}"
        try:
            self._ensure_dir(directory)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                failpoint("blob-write")
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            failpoint("blob-before-rename")
            os.replace(temp, target)
            _fsync_dir(directory)
        except OSError as exc:
            try:
                temp.unlink()
            except OSError:
                pass
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StoreFullError(
                    f"the disk holding {self.root} is full; the image was not saved"
                ) from exc
            raise
        failpoint("blob-after-rename")
        return ref

    def exists(self, sha256: str) -> bool:
        """Tells whether a blob file exists."""
        return self.path_for(sha256).is_file()

    def read(self, sha256: str) -> bytes:
        """Returns a blob's bytes."""
        return self.path_for(sha256).read_bytes()

    def matches(self, sha256: str) -> bool:
        """Tells whether the blob exists and its bytes hash to its name."""
        path = self.path_for(sha256)
        digest = hashlib.sha256()
        try:
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
        except FileNotFoundError:
            return False
        return digest.hexdigest() == sha256

    def iter_blobs(self) -> Iterator[str]:
        """Yields the hash of every blob file present."""
        if not self.root.is_dir():
            return
        for shard in sorted(self.root.iterdir()):
            if not shard.is_dir() or len(shard.name) != 2:
                continue
            for entry in sorted(shard.iterdir()):
                stem, dot, ext = entry.name.partition(".")
                if dot and ext == "png" and is_sha256(stem) and stem[:2] == shard.name:
                    yield stem

    def temp_files(self) -> list[Path]:
        """Lists leftover temp files of interrupted writes."""
        if not self.root.is_dir():
            return []
        return sorted(self.root.glob(f"*/{TEMP_PREFIX}*"))

    def remove_temp_files(self) -> int:
        """Deletes leftover temp files (call only while holding the run lease)."""
        removed = 0
        for temp in self.temp_files():
            try:
                temp.unlink()
                removed += 1
            except FileNotFoundError:
                pass
        return removed
