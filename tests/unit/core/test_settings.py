"""Settings: the embedded defaults, the server switches, and that the configuration reference documents every
variable, as generated from the settings class."""

import re
from pathlib import Path

from core.configuration import render
from core.settings import Settings

CONFIGURATION = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"


def test_embedded_defaults(tmp_path, monkeypatch):
    for name in ("DATABASE_URL", "REDIS_URL", "QDRANT_URL", "KB_DATA_DIR", "KB_EMBEDDED_WORKER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    settings = Settings(_env_file=None)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'data' / 'kb.sqlite3'}"
    assert settings.resolved_qdrant_path == tmp_path / "data" / "qdrant-edge"
    assert settings.embedded_worker is True and settings.celery_broker_url == "memory://"
    assert settings.upload_file_size_limit == 15 and settings.upload_file_size_limit_bytes == 15 * 1024 * 1024
    assert settings.top_k_max_value == 10 and settings.indexing_max_segmentation_tokens_length == 4000


def test_server_mode_switches(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://kb@db/kb")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    settings = Settings(_env_file=None)
    assert settings.resolved_database_url == "postgresql+psycopg://kb@db/kb"
    assert settings.embedded_worker is False and settings.celery_broker_url == "redis://cache:6379/0"
    monkeypatch.setenv("KB_EMBEDDED_WORKER", "true")
    assert Settings(_env_file=None).embedded_worker is True


def test_dotenv_file_is_read(tmp_path, monkeypatch):
    monkeypatch.delenv("TOP_K_MAX_VALUE", raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("TOP_K_MAX_VALUE=7\n")
    assert Settings(_env_file=env_file).top_k_max_value == 7


def test_the_configuration_reference_documents_every_variable():
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", CONFIGURATION.read_text()))
    missing = {name.upper() for name in Settings.model_fields} - documented
    assert not missing, f"docs/configuration.md does not document {sorted(missing)}"


def test_the_configuration_reference_is_generated_from_the_settings():
    assert CONFIGURATION.read_text() == render(), "run: python -m core.configuration > docs/configuration.md"
