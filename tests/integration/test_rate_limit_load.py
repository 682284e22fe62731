"""Issue 6's load test: two API processes in server mode (PostgreSQL, Redis) share one sliding window
per workspace. 1,000 counted requests of a professional workspace are sent in under a minute while a
team workspace works alongside."""

import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager

import httpx
import pytest

from tests.conftest import TEST_REDIS_URL

REFUSAL = "Sorry, you have reached the knowledge base request rate limit of your subscription."
PROFESSIONAL_REQUESTS, TEAM_REQUESTS = 1000, 300


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def _api_process(database_url: str, data_dir) -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": TEST_REDIS_URL,
        "QDRANT_URL": "http://127.0.0.1:9",  # server mode needs a shared engine; these requests never search
        "KB_DATA_DIR": str(data_dir),
        # These API processes embed through a remote API (never called here), so they start at once.
        "EMBEDDING_PROVIDER": "openai_api_compatible",
        "EMBEDDING_MODEL": "remote-model",
        "EMBEDDING_API_BASE_URL": "http://127.0.0.1:9/v1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "kb", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base_url, process)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_until_up(base_url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the API process exited"
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("the API process did not come up")


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_api_processes_share_each_workspace_window(database_url, broker, make_workspace, tmp_path):
    professional = make_workspace("pro-co", "professional")
    team = make_workspace("team-co", "team")
    with ExitStack() as stack, httpx.Client(timeout=30) as http:
        urls = [stack.enter_context(_api_process(database_url, tmp_path / f"api{i}")) for i in range(2)]

        def send(owner, dataset_id: str, n: int) -> tuple[float, httpx.Response]:
            started = time.monotonic()
            response = http.patch(
                f"{urls[n % 2]}/v1/datasets/{dataset_id}", json={"description": str(n)}, headers=owner.headers
            )
            return time.monotonic() - started, response

        def create(owner) -> str:  # counted as well
            response = http.post(f"{urls[0]}/v1/datasets", json={"name": "load"}, headers=owner.headers)
            assert response.status_code == 200, response.text
            return response.json()["id"]

        started = time.monotonic()
        pro_dataset, team_dataset = create(professional), create(team)
        with ThreadPoolExecutor(max_workers=8) as pool:
            pro = [pool.submit(send, professional, pro_dataset, n) for n in range(PROFESSIONAL_REQUESTS - 1)]
            team_calls = [pool.submit(send, team, team_dataset, n) for n in range(TEAM_REQUESTS - 1)]
            pro_results = [future.result() for future in pro]
            team_results = [future.result() for future in team_calls]
        elapsed = time.monotonic() - started

    assert elapsed < 60, "the run must fit in one window for the count below to mean one minute"
    accepted = [response for _, response in pro_results if response.status_code == 200]
    refused = [response for _, response in pro_results if response.status_code != 200]
    assert len(accepted) + 1 == 100  # with the create
    for response in refused:
        assert response.status_code == 403
        assert response.json() == {"code": "forbidden", "message": REFUSAL, "status": 403}
        assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert all(response.status_code == 200 for _, response in team_results)
    team_ms = statistics.median(seconds for seconds, _ in team_results) * 1000
    pro_ms = statistics.median(seconds for seconds, _ in pro_results) * 1000
    print(
        f"\n{PROFESSIONAL_REQUESTS} professional + {TEAM_REQUESTS} team requests over 2 API processes in "
        f"{elapsed:.1f} s; median latency team {team_ms:.1f} ms, professional {pro_ms:.1f} ms"
    )
