"""`kb` end to end: the embedded `kb serve` with its in-process worker, and `kb keys` beside it."""

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bench.service import EmbeddedServer, embedded_env
from core.documents.models import Document
from core.workspaces.models import Account, Workspace


def _kb(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kb", *args],
        cwd=cwd,
        env=embedded_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def workdir(tmp_path) -> Path:
    return tmp_path


def test_keys_create_makes_workspace_with_plan(workdir):
    result = _kb("keys", "create", "--workspace", "research", "--plan", "sandbox", cwd=workdir)
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip()
    assert key.startswith("ds-") and len(key) == 27
    engine = create_engine(f"sqlite:///{workdir / 'data' / 'kb.sqlite3'}")
    with Session(engine) as session:
        assert session.scalar(select(Workspace.plan).where(Workspace.name == "research")) == "sandbox"
    assert _kb("workspaces", "set-plan", "research", "professional", cwd=workdir).returncode == 0
    with Session(engine) as session:
        assert session.scalar(select(Workspace.plan).where(Workspace.name == "research")) == "professional"
    listing = _kb("keys", "list", "--workspace", "research", cwd=workdir, COLUMNS="80")
    assert key[:6] in listing.stdout and key not in listing.stdout
    key_id = re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", listing.stdout)
    assert key_id, "the whole id fits an 80-column terminal:\n" + listing.stdout
    revoked = _kb("keys", "revoke", key_id.group()[:8], cwd=workdir)
    assert revoked.returncode == 0 and key_id.group() in revoked.stdout, revoked.stdout + revoked.stderr
    assert _kb("keys", "revoke", "zz", cwd=workdir).returncode != 0
    refused = _kb("keys", "create", "--workspace", "research", "--plan", "gold", cwd=workdir)
    assert refused.returncode != 0 and "plan must be one of" in refused.stderr


def test_embedded_serve_end_to_end(workdir):
    server = EmbeddedServer(workdir)
    try:
        key = server.first_key()
        assert key, "the first start prints an API key:\n" + "".join(server.output)
        listening = next(n for n, line in enumerate(server.output) if "Uvicorn running on" in line)
        key_line = server.output.index(key + "\n")
        assert listening < server.ready_line() < key_line  # shown once a request can use it
        _wait_for_line(server, "Another key: kb keys create --workspace default")
        started = "".join(server.output)
        assert len(server.output) <= 12 and "WARNING" not in started, started  # a quiet start
        headers = {"Authorization": f"Bearer {key}"}
        created = httpx.post(f"{server.url}/v1/datasets", json={"name": "docs"}, headers=headers)
        assert created.status_code == 200, created.text
        listing = httpx.get(f"{server.url}/v1/datasets", headers=headers).json()
        assert [d["name"] for d in listing["data"]] == ["docs"]
        _index_a_document(server.url, headers, created.json()["id"])
        assert "WARNING" not in "".join(server.output), "".join(server.output)  # nor a warning a document

        # `kb keys create` writes to the same SQLite database while the server runs.
        second = _kb("keys", "create", "--workspace", "second", cwd=workdir).stdout.strip()
        response = httpx.get(f"{server.url}/v1/datasets", headers={"Authorization": f"Bearer {second}"})
        assert response.status_code == 200 and response.json()["total"] == 0
        assert httpx.get(f"{server.url}/docs").status_code == 200
    finally:
        server.stop()
    assert (workdir / "data" / "kb.sqlite3").exists()

    # kb export, then kb import into another (fresh) data directory: no model call, the index rebuilt.
    exported = _kb("export", "--dataset", created.json()["id"], "docs.zip", cwd=workdir)
    assert exported.returncode == 0 and "1 documents" in exported.stdout, exported.stdout + exported.stderr
    elsewhere = workdir / "elsewhere"
    elsewhere.mkdir()
    imported = _kb("import", str(workdir / "docs.zip"), "--workspace", "restored", cwd=elsewhere)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "into workspace 'restored'" in imported.stdout and "0 texts embedded" in imported.stdout

    # A document left waiting while the server was down is picked up by the embedded worker on start.
    document_id = _insert_waiting_document(workdir / "data" / "kb.sqlite3", created.json()["id"])
    server = EmbeddedServer(workdir)
    try:
        assert server.first_key(wait=1) is None, "a key is printed on the first start only"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _status(workdir, document_id) == "waiting":
            time.sleep(0.2)
        assert _status(workdir, document_id) == "error"
    finally:
        server.stop()
    assert server.process.returncode == 0
    said = "".join(server.output)
    for part in ("stopping the indexing worker", "stopping the embedding model processes", "stopped\n"):
        assert part in said, said  # Ctrl+C says what it stops


def _wait_for_line(server: EmbeddedServer, text: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not any(line.startswith(text) for line in server.output):
        assert time.monotonic() < deadline, "".join(server.output)
        time.sleep(0.05)


def _index_a_document(url: str, headers: dict, dataset_id: str) -> None:
    """The embedded worker indexes into SQLite and Qdrant local mode, no Redis involved."""
    body = {"name": "cells", "text": "Mitochondria make ATP. " * 50, "indexing_technique": "high_quality",
            "process_rule": {"mode": "automatic"}}  # fmt: skip
    created = httpx.post(
        f"{url}/v1/datasets/{dataset_id}/document/create-by-text", json=body, headers=headers
    )
    assert created.status_code == 200, created.text
    status_url = f"{url}/v1/datasets/{dataset_id}/documents/{created.json()['batch']}/indexing-status"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = httpx.get(status_url, headers=headers).json()["data"][0]
        if status["indexing_status"] in ("completed", "error"):
            break
        time.sleep(0.2)
    assert status["indexing_status"] == "completed", status
    assert status["total_segments"] > 1 and status["completed_segments"] == status["total_segments"]


def _insert_waiting_document(path: Path, dataset_id: str) -> str:
    with Session(create_engine(f"sqlite:///{path}")) as session:
        account = session.scalars(select(Account)).first()
        document = Document(
            workspace_id=account.workspace_id,
            dataset_id=dataset_id,
            position=1,
            data_source_type="notion_import",
            batch="20261121000000123456",
            name="left behind",
            created_by=account.id,
        )
        session.add(document)
        session.commit()
        return document.id


def _status(workdir: Path, document_id: str) -> str:
    with Session(create_engine(f"sqlite:///{workdir / 'data' / 'kb.sqlite3'}")) as session:
        return session.get(Document, document_id).indexing_status


def test_processes_that_cannot_share_the_embedded_engine_refuse_to_start(workdir):
    for command in (["worker"], ["serve", "--port", "9"]):
        result = _kb(*command, cwd=workdir, REDIS_URL="redis://127.0.0.1:6379/15")
        assert result.returncode != 0
        message = re.sub(r"[\s│╭╮╰╯─]+", " ", result.stderr)
        assert f"kb {command[0]} in server mode needs QDRANT_URL" in message


def test_reindex_of_an_empty_directory(workdir):
    result = _kb("reindex", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "rebuilt 0 datasets" in result.stdout
