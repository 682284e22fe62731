"""Runs the start-up sweeps whenever a worker becomes ready to consume: unfinished documents are
re-queued, and what an interrupted delete left in the vector store or the upload directory is removed."""

import logging

from celery.signals import worker_ready

from core import maintenance
from core.database import session_scope
from core.documents.recovery import requeue_unfinished_documents
from core.settings import get_settings

logger = logging.getLogger(__name__)


def sweep_unfinished_documents() -> list[str]:
    with session_scope() as session:
        ids = requeue_unfinished_documents(session)
    if ids:
        logger.info("recovery sweep re-enqueued %d unfinished documents", len(ids))
    return ids


def sweep_orphans() -> dict[str, int]:
    with session_scope() as session:
        return maintenance.sweep_orphans(session, get_settings())


def run_start_sweeps() -> None:
    """What every worker start does: `kb worker` on its ready signal, `kb serve` (embedded) itself."""
    sweep_unfinished_documents()
    try:
        sweep_orphans()
    except Exception:  # noqa: BLE001 - a failed clean-up must not stop the worker; the periodic sweep retries
        logger.exception("the orphan sweep failed")


@worker_ready.connect
def _sweep_on_worker_ready(**_kwargs) -> None:
    run_start_sweeps()
