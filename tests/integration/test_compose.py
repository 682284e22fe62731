"""docker-compose.yaml is valid for the compose client and wires the production-like stack."""

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose_command() -> list[str]:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    assert legacy, (
        "neither `docker compose` nor `docker-compose` is installed (make test installs docker-compose)"
    )
    return [legacy]


def _resolved_config() -> dict:
    result = subprocess.run(
        [*_compose_command(), "-f", str(ROOT / "docker-compose.yaml"), "config"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_file_is_valid_and_complete():
    config = _resolved_config()
    services = config["services"]
    assert {"postgres", "redis", "qdrant", "api", "worker"} <= set(services)
    for name in ("postgres", "redis", "qdrant", "api", "worker"):
        assert "healthcheck" in services[name], f"{name} has no health check"
    assert {"postgres-data", "redis-data", "qdrant-data", "kb-data"} <= set(config["volumes"])

    for name in ("api", "worker"):
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"].startswith("postgresql+psycopg://")
        assert environment["REDIS_URL"].startswith("redis://redis:")
        assert environment["QDRANT_URL"] == "http://qdrant:6333"
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["api"]["command"][:2] == ["kb", "serve"]
    assert services["worker"]["command"][:2] == ["kb", "worker"]
    assert services["migrate"]["command"] == ["kb", "migrate"]
