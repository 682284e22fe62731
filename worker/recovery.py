"""Runs the start-up sweeps whenever a worker becomes ready to consume: unfinished documents are
re-queued, and what an interrupted delete left in the vector store or the upload directory is removed.
After a lost broker connection, documents no run holds are re-queued too: a broker that restarted
without persistence has lost their tasks."""

import logging
from datetime import timedelta

from celery import bootsteps
from celery.signals import worker_ready

from core import maintenance
from core.database import session_scope
from core.index import point_metadata
from core.ingestion.recovery import requeue_stranded_documents, requeue_unfinished_documents
from core.queue import celery_app
from core.settings import get_settings

logger = logging.getLogger(__name__)


def sweep_unfinished_documents() -> list[str]:
    with session_scope() as session:
        ids = requeue_unfinished_documents(session)
    if ids:
        logger.info("recovery sweep re-enqueued %d unfinished documents", len(ids))
    return ids


def push_stale_metadata() -> int:
    """Documents whose new metadata never reached the engine (or, after an upgrade, whose points were
    written before they carried metadata) get it on their points."""
    pushed = point_metadata.push_stale()
    if pushed:
        logger.info("metadata set on the points of %d documents", pushed)
    return pushed


def sweep_orphans() -> dict[str, int]:
    with session_scope() as session:
        return maintenance.sweep_orphans(session, get_settings())


def run_start_sweeps() -> None:
    """What every worker start does: `kb worker` on its ready signal, `kb serve` (embedded) itself."""
    sweep_unfinished_documents()
    push_stale_metadata()
    try:
        sweep_orphans()
    except Exception:  # noqa: BLE001 - a failed clean-up must not stop the worker; the periodic sweep retries
        logger.exception("the orphan sweep failed")


@worker_ready.connect
def _sweep_on_worker_ready(**_kwargs) -> None:
    run_start_sweeps()


class SweepAfterReconnect(bootsteps.StartStopStep):
    """Celery restarts the consumer's steps each time it reconnects to the broker; the first start is
    the worker's own (its ready signal sweeps)."""

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def start(self, parent) -> None:
        if parent.restart_count < 1:
            return
        try:
            with session_scope() as session:
                ids = requeue_stranded_documents(session, waiting_for=timedelta(0), reason="broker_reconnect")
        except Exception:  # noqa: BLE001 - the periodic sweep catches what this one could not
            logger.exception("the sweep after a broker reconnect failed")
            return
        if ids:
            logger.info(
                "re-enqueued %d documents no run holds after the broker connection came back", len(ids)
            )


celery_app.steps["consumer"].add(SweepAfterReconnect)
