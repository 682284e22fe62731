"""The Celery app owned by `core`, and sending tasks only after the database commit.

`core` sends work by task name; `worker/` registers the functions under those names.
Tasks queued on a session are dropped if it rolls back, so no task can see a row that is not there.
"""

import logging
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun
from kombu.exceptions import OperationalError as KombuOperationalError
from sqlalchemy import event
from sqlalchemy.orm import Session

from core import logs, tracing
from core.settings import Settings, get_settings

DATASET_QUEUE = "dataset"
INDEX_DOCUMENT_TASK = "index_document"
BUILD_VECTORS_TASK = "build_dataset_vectors"
DROP_COLLECTION_TASK = "drop_unused_collection"
READ_SOURCE_TASK = "read_online_source"
SYNC_DOCUMENT_TASK = "sync_online_document"
SYNC_DUE_TASK = "sync_due_online_documents"
RECOVERY_SWEEP_TASK = "sweep_stranded_work"
# How often beat looks for datasets whose online documents are due for their periodic sync.
SYNC_CHECK_SECONDS = 60.0
# How often beat looks for documents no run will finish and for what interrupted deletes left behind.
RECOVERY_SWEEP_SECONDS = 300.0

# The task header carrying the id of the request that queued the task, for the worker's log lines.
REQUEST_ID_HEADER = "kb_request_id"

logger = logging.getLogger(__name__)
celery_app = Celery("kb")
# Celery resolves the app of a retry (autoretry included) through `current_app`, which on a thread the
# worker did not start itself (the embedded worker's) is the default app: an unconfigured one, whose
# broker is amqp://localhost. Retries then went to another broker and were never seen again.
celery_app.set_default()


def configure_celery(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    celery_app.conf.update(
        broker_url=settings.celery_broker_url,
        task_default_queue=DATASET_QUEUE,
        task_ignore_result=True,
        # A task whose worker dies mid-run is redelivered rather than lost; tasks are idempotent.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"polling_interval": 0.2},
        worker_hijack_root_logger=False,
        beat_schedule={
            "sync-due-online-documents": {
                "task": SYNC_DUE_TASK,
                "schedule": SYNC_CHECK_SECONDS,
                "options": {"queue": DATASET_QUEUE},
            },
            "sweep-stranded-work": {
                "task": RECOVERY_SWEEP_TASK,
                "schedule": RECOVERY_SWEEP_SECONDS,
                "options": {"queue": DATASET_QUEUE},
            },
        },
    )
    return celery_app


def queue_depth() -> int:
    """Tasks waiting in the indexing queue (Redis in server mode, the in-memory transport embedded)."""
    try:
        with celery_app.connection_for_read() as connection:
            return connection.default_channel.queue_declare(DATASET_QUEUE, passive=True).message_count
    except Exception:  # noqa: BLE001 - no queue declared yet: nothing waits
        return 0


def enqueue_after_commit(session: Session, task_name: str, *args: Any) -> None:
    if not session.in_transaction():
        session.begin()  # so that a rollback has a transaction to end, and drops the task
    session.info.setdefault("pending_tasks", []).append((task_name, args, logs.current("request_id")))


@event.listens_for(Session, "after_commit")
def _send_pending_tasks(session: Session) -> None:
    for task_name, args, request_id in session.info.pop("pending_tasks", []):
        try:
            send_task(task_name, *args, request_id=request_id)
        except KombuOperationalError:
            # The rows are committed and say what is to be done: the worker queues them again when
            # its broker connection comes back (or the periodic sweep does), so the request succeeds.
            logger.warning("the broker is unreachable: %s %s is queued once it is back", task_name, args)


def send_task(
    task_name: str, *args: Any, countdown: float | None = None, request_id: str | None = None
) -> None:
    """Queues a task now, carrying the request it serves (the current one unless given): its id for
    the worker's log lines, its trace for the worker's spans."""
    request_id = request_id or logs.current("request_id")
    headers = ({REQUEST_ID_HEADER: request_id} if request_id else {}) | tracing.current_carrier()
    celery_app.send_task(task_name, args=list(args), queue=DATASET_QUEUE, countdown=countdown,
                         headers=headers or None)  # fmt: skip


@task_prerun.connect
def _enter_request_context(task=None, **_) -> None:
    """Each task logs with the id of the request that queued it (a worker thread runs many tasks),
    and its spans join that request's trace."""
    if task is None:
        return
    logs.new_scope(request_id=getattr(task.request, REQUEST_ID_HEADER, None))
    traceparent = getattr(task.request, "traceparent", None)
    task.request.kb_trace_token = tracing.attach({"traceparent": traceparent} if traceparent else {})


@task_postrun.connect
def _leave_request_context(task=None, **_) -> None:
    if task is not None:
        tracing.detach(getattr(task.request, "kb_trace_token", None))


@event.listens_for(Session, "after_transaction_end")
def _drop_pending_tasks(session: Session, transaction) -> None:
    # Runs after after_commit, so only tasks of a transaction that did not commit are left here.
    if transaction.parent is None:
        session.info.pop("pending_tasks", None)


configure_celery()
