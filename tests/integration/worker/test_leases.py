"""Who may take a document's indexing run: a run names its process, a heartbeat thread keeps its lease
while it lives (however slow a step is), and a holder known to be gone is replaced at once."""

import subprocess
import sys
from datetime import timedelta

import pytest

from core.database import session_scope, utcnow
from core.documents.models import Document, IndexingStatus
from core.ingestion import lease
from core.ingestion.recovery import requeue_stranded_documents
from core.settings import get_settings
from tests.helpers import create_dataset, create_text_document, wait_until


@pytest.fixture
def document_id(client, tenant) -> str:
    dataset = create_dataset(client, tenant)
    return create_text_document(client, tenant, dataset["id"], "held", "A held document.").json()["document"][
        "id"
    ]


@pytest.fixture
def server_mode(monkeypatch):
    """A Qdrant server is shared by every worker, so other processes may hold runs."""
    monkeypatch.setenv("QDRANT_URL", "http://127.0.0.1:9")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _hold(document_id: str, holder: str, age: timedelta = timedelta(0)) -> bool:
    with session_scope() as session:
        document = session.get(Document, document_id)
        document.indexing_status = IndexingStatus.INDEXING
        document.lease_holder, document.heartbeat_at = holder, utcnow() - age
        session.commit()
        return lease.run_in_progress(document)


@pytest.fixture
def living_process() -> str:
    """The holder id of another process alive on this host."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield f"{lease.HOST}:{process.pid}:{lease._start_ticks(process.pid)}"
    process.kill()
    process.wait()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_embedded_mode_takes_over_from_any_other_process_at_once(document_id, living_process):
    """One process opens the embedded engine: a run held by another one died with it."""
    assert _hold(document_id, living_process) is False
    assert _hold(document_id, lease.PROCESS_ID) is False  # this process, but no run of it holds it
    with lease.holding() as held:
        held.add(document_id)
        assert _hold(document_id, lease.PROCESS_ID) is True


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_server_mode_keeps_a_living_holder_and_replaces_a_dead_one(document_id, server_mode, living_process):
    assert _hold(document_id, living_process) is True
    host, _, start = living_process.rsplit(":", 2)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    assert _hold(document_id, f"{host}:{dead.stdout.strip()}:{start}") is False  # gone from this host
    assert _hold(document_id, f"{host}:{living_process.split(':')[1]}:1") is False  # pid reused by another
    assert _hold(document_id, "elsewhere:123:456") is True  # cannot be looked at: the lease decides
    assert _hold(document_id, "elsewhere:123:456", lease.HEARTBEAT_LEASE + timedelta(seconds=1)) is False


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_slow_living_run_keeps_its_lease(document_id, server_mode, monkeypatch):
    """A parse that takes longer than the lease is heartbeated meanwhile, so it is never taken."""
    monkeypatch.setattr(lease, "HEARTBEAT_INTERVAL_SECONDS", 0.2)
    stale = lease.HEARTBEAT_LEASE + timedelta(seconds=5)
    assert _hold(document_id, lease.PROCESS_ID, stale) is False
    with lease.holding() as held:
        held.add(document_id)

        def fresh() -> bool:
            with session_scope() as session:
                return utcnow() - session.get(Document, document_id).heartbeat_at < timedelta(seconds=2)

        wait_until(fresh, timeout=15)
        with session_scope() as session:
            assert lease.run_in_progress(session.get(Document, document_id)) is True


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_periodic_sweep_requeues_only_what_no_run_will_finish(client, tenant, living_process):
    """A run gone with its process, and documents long waiting where no run lives (their queue message
    is lost); a living run keeps its document and takes its dataset's waiting ones itself."""
    busy = create_dataset(client, tenant, "busy")
    idle = create_dataset(client, tenant, "idle")
    names = ("held", "orphaned", "waits-behind-run", "waits-alone", "just-queued")
    ids = {}
    for n, name in enumerate(names):
        created = create_text_document(client, tenant, (busy if n < 3 else idle)["id"], name, "Text.")
        ids[name] = created.json()["document"]["id"]
    long_ago = utcnow() - timedelta(minutes=20)
    with session_scope() as session:
        for name in ("waits-behind-run", "waits-alone"):
            session.get(Document, ids[name]).created_at = long_ago
        session.commit()
    _hold(ids["orphaned"], living_process)  # another process: gone, in the embedded mode
    with lease.holding() as held:
        held.add(ids["held"])
        _hold(ids["held"], lease.PROCESS_ID)
        with session_scope() as session:
            assert sorted(requeue_stranded_documents(session)) == sorted(
                [ids["orphaned"], ids["waits-alone"]]
            )
