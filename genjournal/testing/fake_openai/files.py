"""The Files API: uploads kept in memory, as ``openai.types.FileObject`` describes them."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from genjournal.testing.fake_openai.errors import Reply

#: the purposes ``POST /v1/files`` accepts (``openai.types.FilePurpose``)
UPLOAD_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")


@dataclass
class StoredFile:
    """One file the fake holds."""

    id: str
    data: bytes
    filename: str
    purpose: str
    created_at: int

    def to_dict(self) -> dict[str, Any]:
        """Returns the FileObject the API answers for it."""
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }


def not_found(file_id: str) -> Reply:
    """Returns the API's 404 for an unknown file id."""
    return Reply(404, f"No such File object: {file_id}", outcome="404", param="id")


def parse_multipart(content_type: str, raw: bytes) -> tuple[dict[str, str], tuple[str, bytes] | None]:
    """Returns a multipart/form-data body's text fields and its file part (filename, bytes)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + raw)
    fields: dict[str, str] = {}
    upload: tuple[str, bytes] | None = None
    if not message.is_multipart():
        return fields, None
    for part in message.iter_parts():
        assert isinstance(part, Message)
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if name == "file":
            upload = (filename or "upload", data)
        elif isinstance(name, str):
            fields[name] = data.decode("utf-8", "replace")
    return fields, upload


class FileStore:
    """Keeps files in memory, newest last."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[str, StoredFile] = {}

    def add(self, data: bytes, filename: str, purpose: str) -> StoredFile:
        """Stores a file and returns it."""
        stored = StoredFile(f"file-{secrets.token_hex(12)}", data, filename, purpose, int(time.time()))
        with self._lock:
            self._files[stored.id] = stored
        return stored

    def get(self, file_id: str) -> StoredFile:
        """Returns a file; raises the API's 404 for an unknown id."""
        with self._lock:
            found = self._files.get(file_id)
        if found is None:
            raise not_found(file_id)
        return found

    def find(self, file_id: str) -> StoredFile | None:
        """Returns a file or None."""
        with self._lock:
            return self._files.get(file_id)

    def delete(self, file_id: str) -> dict[str, Any]:
        """Deletes a file; returns the FileDeleted reply."""
        with self._lock:
            if self._files.pop(file_id, None) is None:
                raise not_found(file_id)
        return {"id": file_id, "object": "file", "deleted": True}

    def upload(self, content_type: str, raw: bytes) -> dict[str, Any]:
        """Answers ``POST /v1/files``: checks the form as the API does and stores the file."""
        if not content_type.lower().startswith("multipart/form-data"):
            raise Reply(
                400,
                "Invalid Content-Type header (application/json), expected multipart/form-data.",
                outcome="400",
            )
        fields, upload = parse_multipart(content_type, raw)
        if upload is None:
            raise Reply(
                400,
                "Missing required parameter: 'file'.",
                outcome="400",
                param="file",
                code="missing_required_parameter",
            )
        purpose = fields.get("purpose")
        if not purpose:
            raise Reply(
                400,
                "Missing required parameter: 'purpose'.",
                outcome="400",
                param="purpose",
                code="missing_required_parameter",
            )
        if purpose not in UPLOAD_PURPOSES:
            listed = ", ".join(f"'{p}'" for p in UPLOAD_PURPOSES)
            raise Reply(
                400,
                f"Invalid value: '{purpose}'. Supported values are: {listed}.",
                outcome="400",
                param="purpose",
                code="invalid_value",
            )
        return self.add(upload[1], upload[0], purpose).to_dict()

    def listing(self, query: dict[str, str]) -> dict[str, Any]:
        """Answers ``GET /v1/files`` (``purpose``, ``order``, ``limit``, ``after``)."""
        with self._lock:
            files = list(self._files.values())
        if query.get("purpose"):
            files = [f for f in files if f.purpose == query["purpose"]]
        if query.get("order", "desc") == "desc":
            files.reverse()
        return page([f.to_dict() for f in files], query, default_limit=10_000, max_limit=10_000)


def page(
    items: list[dict[str, Any]], query: dict[str, str], *, default_limit: int, max_limit: int
) -> dict[str, Any]:
    """Returns one cursor page of ``items`` (already in list order) as the API shapes it."""
    try:
        limit = int(query.get("limit") or default_limit)
    except ValueError:
        limit = -1
    if not 1 <= limit <= max_limit:
        raise Reply(
            400,
            f"Invalid 'limit': integer must be between 1 and {max_limit}, got {query.get('limit')!r}.",
            outcome="400",
            param="limit",
            code="integer_out_of_range",
        )
    start = 0
    after = query.get("after")
    if after:
        ids = [item["id"] for item in items]
        start = ids.index(after) + 1 if after in ids else len(items)
    chunk = items[start : start + limit]
    return {
        "object": "list",
        "data": chunk,
        "first_id": chunk[0]["id"] if chunk else None,
        "last_id": chunk[-1]["id"] if chunk else None,
        "has_more": start + limit < len(items),
    }
