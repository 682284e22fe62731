"""Runs the recovery sweep whenever a worker becomes ready to consume."""

import logging

from celery.signals import worker_ready

from core.database import session_scope
from core.documents.recovery import requeue_unfinished_documents

logger = logging.getLogger(__name__)


def sweep_unfinished_documents() -> list[str]:
    with session_scope() as session:
        ids = requeue_unfinished_documents(session)
    if ids:
        logger.info("recovery sweep re-enqueued %d unfinished documents", len(ids))
    return ids


@worker_ready.connect
def _sweep_on_worker_ready(**_kwargs) -> None:
    sweep_unfinished_documents()
