"""Who holds a document's indexing run. A run names its process (host, pid and the process's start
time, so a reused pid is not mistaken for it) and a heartbeat thread of that process refreshes the
lease every few seconds while the run lives, however long one step takes. Another run may take the
document at once when the holder is known to be gone: in the embedded mode any other process (one
process opens the engine's directory), on the same host a process that no longer runs; elsewhere
only once the heartbeat is older than the lease."""

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import update

from core.database import session_scope, utcnow
from core.documents.models import Document, IndexingStatus
from core.settings import get_settings

logger = logging.getLogger(__name__)

HEARTBEAT_LEASE = timedelta(seconds=30)
HEARTBEAT_INTERVAL_SECONDS = 5.0
HOST = socket.gethostname()


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or None."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


PROCESS_ID = f"{HOST}:{os.getpid()}:{_start_ticks(os.getpid()) or int(time.time())}"
_held: set[str] = set()
_held_lock = threading.Lock()
_keeper: threading.Thread | None = None


def run_in_progress(document: Document) -> bool:
    """Whether a living run holds the document (so another must not start)."""
    if document.indexing_status == IndexingStatus.WAITING or document.heartbeat_at is None:
        return False
    if document.lease_holder == PROCESS_ID:
        with _held_lock:
            return document.id in _held
    if _holder_is_gone(document.lease_holder):
        return False
    return utcnow() - document.heartbeat_at < HEARTBEAT_LEASE


def _holder_is_gone(holder: str | None) -> bool:
    if holder is None:
        return False  # a run of a release before holders were named: the lease decides
    if get_settings().qdrant_url is None:
        return True  # the embedded engine opens in one process: this one
    host, pid, start = holder.rsplit(":", 2)
    return host == HOST and _start_ticks(int(pid)) != start


class Holding:
    """The documents of one run, heartbeated by this process until the run ends."""

    def __init__(self) -> None:
        self.document_ids: set[str] = set()

    def add(self, document_id: str) -> None:
        self.document_ids.add(document_id)
        with _held_lock:
            _held.add(document_id)


@contextmanager
def holding() -> Iterator[Holding]:
    held = Holding()
    _start_keeper()
    try:
        yield held
    finally:
        with _held_lock:
            _held.difference_update(held.document_ids)


def _start_keeper() -> None:
    global _keeper
    with _held_lock:
        if _keeper is None or not _keeper.is_alive():
            _keeper = threading.Thread(target=_keep_leases, name="lease-heartbeat", daemon=True)
            _keeper.start()


def _keep_leases() -> None:
    while True:
        time.sleep(HEARTBEAT_INTERVAL_SECONDS)
        with _held_lock:
            held = list(_held)
        if not held:
            continue
        try:
            with session_scope() as session:
                session.execute(
                    update(Document)
                    .where(Document.id.in_(held), Document.lease_holder == PROCESS_ID)
                    .values(heartbeat_at=utcnow())
                )
                session.commit()
        except Exception:  # noqa: BLE001 - a database outage: the next beat tries again
            logger.warning("refreshing indexing leases failed", exc_info=True)
