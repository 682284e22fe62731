"""An upload over the size limit is 413 file_too_large on every upload route, and a client sends its
body whole and reads that answer (no reset connection) from a real HTTP server; a client that waits
for `100 Continue` gets the answer without sending the body at all."""

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from api.app import create_app
from core.settings import get_settings
from tests.helpers import assert_error, create_dataset, upload_document

OPTIONS = {"indexing_technique": "economy", "process_rule": {"mode": "automatic"}}
BOUNDARY = "kbtestboundary"


@pytest.fixture
def one_megabyte_limit(database_url, monkeypatch):
    monkeypatch.setenv("UPLOAD_FILE_SIZE_LIMIT", "1")
    get_settings.cache_clear()


@pytest.fixture
def server(one_megabyte_limit) -> Iterator[tuple[str, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield "127.0.0.1", port
    running.should_exit = True
    thread.join(30)


def _multipart(size: int) -> bytes:
    disposition = 'Content-Disposition: form-data; name="file"; filename="big.txt"'
    head = f"--{BOUNDARY}\r\n{disposition}\r\nContent-Type: text/plain\r\n\r\n".encode()
    return head + b"x" * size + f"\r\n--{BOUNDARY}--\r\n".encode()


def _head(path: str, host: str, port: int, key: str, length: int, expect: bool) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        f"Authorization: Bearer {key}",
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
        f"Content-Length: {length}",
    ]
    if expect:
        lines.append("Expect: 100-continue")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _status_line(connection: socket.socket) -> bytes:
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = connection.recv(65536)
        if not chunk:
            break
        answer += chunk
    return answer


def test_create_and_update_paths_answer_413(client, tenant, one_megabyte_limit):
    dataset = create_dataset(client, tenant)
    big = b"x" * (2 * 2**20)
    created = upload_document(client, tenant, dataset["id"], "big.txt", big, OPTIONS)
    assert_error(created, 413, "file_too_large")
    uploaded = client.post(
        "/v1/datasets/pipeline/file-upload", files={"file": ("big.txt", big)}, headers=tenant.headers
    )
    assert_error(uploaded, 413, "file_too_large")
    text = {"name": "big", "text": "x" * (2 * 2**20), **OPTIONS}
    by_text = client.post(
        f"/v1/datasets/{dataset['id']}/document/create-by-text", json=text, headers=tenant.headers
    )
    assert_error(by_text, 413, "file_too_large")
    assert client.get(f"/v1/datasets/{dataset['id']}/documents", headers=tenant.headers).json()["total"] == 0


@pytest.mark.parametrize("declared", [True, False], ids=["declared-length", "chunked-past-limit"])
def test_a_client_that_sends_everything_first_reads_the_413(client, tenant, server, declared):
    """A Content-Length past the form's limit is refused before reading; a body within the form's limit
    whose file is past the file limit is refused while streaming. Both read the rest first."""
    host, port = server
    dataset = create_dataset(client, tenant)
    body = _multipart(3 * 2**20 if declared else 2**20 + 4096)
    path = f"/v1/datasets/{dataset['id']}/document/create-by-file"
    with socket.create_connection((host, port), timeout=30) as connection:
        connection.sendall(_head(path, host, port, tenant.key, len(body), expect=False) + body)
        answer = _status_line(connection)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_a_client_waiting_for_100_continue_is_answered_before_sending(client, tenant, server):
    host, port = server
    dataset = create_dataset(client, tenant)
    path = f"/v1/datasets/{dataset['id']}/document/create-by-file"
    with socket.create_connection((host, port), timeout=30) as connection:
        connection.sendall(_head(path, host, port, tenant.key, 50 * 2**20, expect=True))
        answer = _status_line(connection)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
