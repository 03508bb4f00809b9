"""The run lease in MongoDB: one document per lease name, taken by compare-and-swap.

A holder is replaced only if it is the one judged dead: the swap matches its ``run_id``
*and* its ``heartbeat``, so a holder that renewed meanwhile keeps the lease and the
would-be taker judges again. Times are whole milliseconds (BSON dates).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from journal.backends.mongo.layout import Doc, _as_utc, _ms
from journal.errors import LeaseHeldError, StoreError
from journal.store import LeaseHolder

#: compare-and-swap rounds before a lease that keeps changing hands is given up on
MAX_ATTEMPTS = 100


def lease_doc(name: str, holder: LeaseHolder) -> Doc:
    """Returns the document that records ``holder`` as the holder of lease ``name``."""
    return {
        "_id": name,
        "run_id": holder.run_id,
        "host": holder.host,
        "pid": holder.pid,
        "since": _ms(holder.since),
        "heartbeat": _ms(holder.heartbeat),
        "proc_start": holder.proc_start,
    }


def lease_holder(doc: Mapping[str, Any]) -> LeaseHolder:
    """Returns the holder a lease document records (``StoreError`` if it is damaged)."""
    since, heartbeat = _as_utc(doc.get("since")), _as_utc(doc.get("heartbeat"))
    if since is None or heartbeat is None:
        raise StoreError(f"the lease {doc.get('_id')!r} is damaged (no valid times)")
    return LeaseHolder(
        run_id=doc["run_id"],
        host=doc["host"],
        pid=doc["pid"],
        since=since,
        heartbeat=heartbeat,
        proc_start=doc.get("proc_start"),
    )


class MongoLeases:
    """Takes, renews, releases and reads leases in one collection."""

    def __init__(
        self,
        collection: Collection[Doc],
        calling: Callable[[], AbstractContextManager[None]],
        clock: Callable[[], datetime],
    ) -> None:
        self._leases = collection
        self._calling = calling
        self._clock = clock

    def acquire(
        self, holder: LeaseHolder, *, name: str = "run", heartbeat_timeout_s: float = 60.0
    ) -> LeaseHolder | None:
        """Takes the lease, or raises ``LeaseHeldError`` naming a live holder."""
        fresh = lease_doc(name, holder)
        for _ in range(MAX_ATTEMPTS):
            with self._calling():
                doc = self._leases.find_one({"_id": name})
                if doc is None:
                    try:
                        self._leases.insert_one(dict(fresh))
                    except DuplicateKeyError:
                        continue  # someone took it meanwhile: judge the new holder
                    return None
            previous = lease_holder(doc)
            if previous.run_id != holder.run_id and previous.is_alive(
                heartbeat_timeout_s=heartbeat_timeout_s, now=self._clock()
            ):
                raise LeaseHeldError(previous, name)
            # Compare-and-swap on what we judged: if the holder renewed or changed since
            # we read it, nothing is replaced and we judge again.
            with self._calling():
                swapped = self._leases.replace_one(
                    {"_id": name, "run_id": doc["run_id"], "heartbeat": doc["heartbeat"]}, fresh
                )
            if swapped.matched_count == 1:
                return previous if previous.run_id != holder.run_id else None
        raise StoreError(f"the {name!r} lease kept changing hands; try again")

    def renew(self, holder: LeaseHolder, *, name: str = "run") -> bool:
        """Refreshes our heartbeat; False if someone else holds the lease now."""
        with self._calling():
            result = self._leases.update_one(
                {"_id": name, "run_id": holder.run_id},
                {"$set": {"heartbeat": _ms(self._clock())}},
            )
        return result.matched_count == 1

    def release(self, holder: LeaseHolder, *, name: str = "run") -> None:
        """Gives the lease up if we still hold it."""
        with self._calling():
            self._leases.delete_one({"_id": name, "run_id": holder.run_id})

    def read(self, *, name: str = "run") -> LeaseHolder | None:
        """Returns the lease holder, alive or not."""
        with self._calling():
            doc = self._leases.find_one({"_id": name})
        return lease_holder(doc) if doc is not None else None
