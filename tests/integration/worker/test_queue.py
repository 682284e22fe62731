"""Tasks leave only after the commit, travel through the real Redis broker and a real Celery worker,
and the recovery sweep re-enqueues documents left unfinished."""

import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from core.database import open_session, session_scope
from core.documents.models import Document
from core.queue import DATASET_QUEUE, INDEX_DOCUMENT_TASK, enqueue_after_commit
from core.workspaces.models import Account
from tests.conftest import TEST_REDIS_URL
from tests.helpers import create_dataset
from worker.recovery import sweep_unfinished_documents

UNSUPPORTED = "Unsupported data source type: online_drive."


def _document(
    dataset_id: str, workspace_id: str, status: str, *, paused: bool = False, position: int = 1
) -> str:
    with session_scope() as session:
        owner = session.scalar(select(Account.id).where(Account.workspace_id == workspace_id))
        document = Document(
            workspace_id=workspace_id,
            dataset_id=dataset_id,
            position=position,
            data_source_type="online_drive",
            batch="20261121000000123456",
            name=f"{status}-{position}",
            created_by=owner,
            indexing_status=status,
            is_paused=paused,
        )
        session.add(document)
        session.flush()
        return document.id


def _wait_for(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _status(document_id: str) -> tuple[str, str | None]:
    with session_scope() as session:
        document = session.get(Document, document_id)
        return document.indexing_status, document.error


def test_task_is_sent_only_after_commit(database_url, broker):
    session = open_session()
    enqueue_after_commit(session, INDEX_DOCUMENT_TASK, "some-document")
    session.flush()
    assert broker.llen(DATASET_QUEUE) == 0
    session.commit()
    assert broker.llen(DATASET_QUEUE) == 1

    enqueue_after_commit(session, INDEX_DOCUMENT_TASK, "rolled-back-document")
    session.rollback()
    session.commit()
    assert broker.llen(DATASET_QUEUE) == 1
    session.close()


def test_recovery_sweep_requeues_only_unfinished_documents(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    waiting = _document(dataset["id"], tenant.workspace_id, "waiting", position=1)
    parsing = _document(dataset["id"], tenant.workspace_id, "parsing", position=2)
    paused = _document(dataset["id"], tenant.workspace_id, "indexing", paused=True, position=3)
    completed = _document(dataset["id"], tenant.workspace_id, "completed", position=4)

    assert sorted(sweep_unfinished_documents()) == sorted([waiting, parsing])
    assert _wait_for(lambda: _status(waiting)[0] == "error" and _status(parsing)[0] == "error")
    assert _status(waiting) == ("error", UNSUPPORTED)
    assert _status(paused) == ("indexing", None)
    assert _status(completed) == ("completed", None)
    with session_scope() as session:
        assert session.get(Document, waiting).stopped_at is not None


def test_redelivered_task_for_a_finished_or_missing_document_is_harmless(client, tenant, celery_worker):
    from core.queue import celery_app

    dataset = create_dataset(client, tenant)
    completed = _document(dataset["id"], tenant.workspace_id, "completed")
    celery_app.send_task(INDEX_DOCUMENT_TASK, args=[completed], queue=DATASET_QUEUE)
    celery_app.send_task(
        INDEX_DOCUMENT_TASK, args=["00000000-0000-4000-8000-000000000000"], queue=DATASET_QUEUE
    )
    waiting = _document(dataset["id"], tenant.workspace_id, "waiting", position=2)
    sweep_unfinished_documents()
    # Tasks run in order on the single worker: once the last is done, the first two have run.
    assert _wait_for(lambda: _status(waiting)[0] == "error")
    assert _status(completed) == ("completed", None)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_kb_worker_process_sweeps_on_start(client, tenant, broker, database_url):
    """Server mode: a separate `kb worker` process on PostgreSQL and Redis."""
    dataset = create_dataset(client, tenant)
    waiting = _document(dataset["id"], tenant.workspace_id, "waiting")
    # A separate worker needs a Qdrant server; these documents never reach it.
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": TEST_REDIS_URL,
        "QDRANT_URL": "http://127.0.0.1:9",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "kb", "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        assert _wait_for(lambda: _status(waiting)[0] == "error", timeout=60), (
            "the worker did not run the sweep"
        )
        assert _status(waiting) == ("error", UNSUPPORTED)
    finally:
        process.terminate()
        process.wait(timeout=30)
