"""`kb export` then `kb import` into another deployment: from SQLite with local files into PostgreSQL
with S3 and back, the restored dataset answers hit-testing exactly as the original, with its
documents, files, metadata and tags, and without a model call; an archive without embeddings is
re-embedded with progress reported."""

import io
import json
import zipfile
from pathlib import Path

import pytest

from core import database
from core.api_keys import service as api_keys
from core.database import session_scope
from core.dataset_archive import export_dataset, import_dataset
from core.errors import InvalidParam
from core.index.engines import close_vector_stores
from core.settings import get_settings
from core.workspaces import service as workspaces
from tests.conftest import _truncate_postgres, _use_empty_bucket
from tests.helpers import create_dataset, create_text_document, upload_document, wait_for_batch

QUERIES = ("how do otters sleep", "kelp forest shelter fish", "sea urchins eat kelp", "otter fur density")
SEARCHES = ("semantic_search", "full_text_search", "hybrid_search")
OPTIONS = {"indexing_technique": "high_quality", "process_rule": {"mode": "automatic"}}
# Distinct texts: repeated ones score alike, and which of equal chunks fills the last place is a tie.
OTTER_FACTS = [
    "Sea otters hold hands while they sleep so they do not drift apart on the current.",
    "A raft of sleeping otters may hold a hundred animals wrapped in kelp fronds.",
    "Otter fur is the densest of any animal: about a million hairs per square inch keep them warm.",
    "Otters groom their fur for hours a day, blowing air into it for insulation.",
    "Mothers float on their backs and carry pups on their bellies while they sleep.",
    "An otter eats a quarter of its weight each day, mostly urchins, crabs and clams.",
    "Otters crack shells open with stones, one of the few tool uses among marine mammals.",
]
KELP_FACTS = [
    "Kelp forests shelter hundreds of fish species between their tall fronds.",
    "Sea urchins eat kelp holdfasts and can strip a forest bare within a season.",
    "Where otters hunt urchins, kelp forests recover and grow back thick.",
    "Giant kelp can grow half a metre in a single day in cold, nutrient-rich water.",
    "Storms tear kelp loose, and drifting mats of it feed life on the beaches.",
]


def _answers(client, headers: dict, dataset_id: str) -> list:
    found = []
    for query in QUERIES:
        for method in SEARCHES:
            model = {"search_method": method, "reranking_enable": False, "top_k": 3,
                     "score_threshold_enabled": False}  # fmt: skip
            body = {"query": query, "retrieval_model": model}
            response = client.post(f"/v1/datasets/{dataset_id}/hit-testing", json=body, headers=headers)
            assert response.status_code == 200, response.text
            found.append([(r["segment"]["content"], round(r["score"], 5), r["segment"]["document"]["name"])
                          for r in response.json()["records"]])  # fmt: skip
    return found


def _original(client, tenant) -> str:
    dataset = create_dataset(client, tenant, "marine notes")
    base = f"/v1/datasets/{dataset['id']}"
    otters = "\n\n".join(OTTER_FACTS)
    created = create_text_document(client, tenant, dataset["id"], "otters", otters, **OPTIONS).json()
    wait_for_batch(client, tenant, dataset["id"], created["batch"])
    kelp = ("# Kelp\n\n" + "\n\n".join(KELP_FACTS)).encode()
    uploaded = upload_document(client, tenant, dataset["id"], "kelp.md", kelp, OPTIONS).json()
    wait_for_batch(client, tenant, dataset["id"], uploaded["batch"])
    field = client.post(f"{base}/metadata", json={"type": "string", "name": "author"}, headers=tenant.headers)
    author = {"id": field.json()["id"], "name": "author", "value": "Ada"}
    operation = [
        {"document_id": created["document"]["id"], "partial_update": False, "metadata_list": [author]}
    ]
    client.post(f"{base}/documents/metadata", json={"operation_data": operation}, headers=tenant.headers)
    tag = client.post("/v1/datasets/tags", json={"name": "ocean"}, headers=tenant.headers).json()
    client.post("/v1/datasets/tags/binding", json={"tag_ids": [tag["id"]], "target_id": dataset["id"]},
                headers=tenant.headers)  # fmt: skip
    return dataset["id"]


def _exported(client, tenant, tmp_path: Path) -> tuple[str, Path, dict]:
    """The original dataset, its archive, and what the archive counts."""
    dataset_id = _original(client, tenant)
    archive = tmp_path / "marine.zip"
    with session_scope() as session:
        counts = export_dataset(session, dataset_id, archive)
    return dataset_id, archive, counts


def _rewritten(archive: Path, target: Path, change) -> Path:
    """A copy of the archive with `change(name, data)` applied to each member."""
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(target, "w") as copy:
        for item in source.infolist():
            copy.writestr(item, change(item.filename, source.read(item)))
    return target


def _move_to_other_deployment(request, tmp_path: Path, monkeypatch) -> None:
    """Points the settings at a fresh deployment of the other kind: new data directory and database."""
    source_kind = request.node.callspec.params["database_url"]
    close_vector_stores()
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "restored"))
    if source_kind == "sqlite":
        url = request.getfixturevalue("postgres_url")
        _truncate_postgres(url)
        _use_empty_bucket(request.getfixturevalue("s3_endpoint"), monkeypatch)
    else:
        url = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        from core.migrate import upgrade_database

        upgrade_database(url)
        for name in ("STORAGE_TYPE", "S3_ENDPOINT", "S3_BUCKET_NAME"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    database.dispose_engines()


def _key(workspace: str) -> dict:
    with session_scope() as session:
        key = api_keys.create_key(session, workspaces.get_or_create_workspace(session, workspace))
    return {"Authorization": f"Bearer {key}"}


def test_a_restored_dataset_answers_as_the_original(
    request, client, tenant, celery_worker, database_url, tmp_path, monkeypatch
):
    dataset_id, archive, counts = _exported(client, tenant, tmp_path)
    before = _answers(client, tenant.headers, dataset_id)
    assert (
        counts["documents"] == 2
        and counts["upload_files"] == 2
        and counts["embeddings"] >= counts["segments"]
    )

    _move_to_other_deployment(request, tmp_path, monkeypatch)
    imported = import_dataset(archive, "restored")
    assert imported.embedded == 0  # every embedding came from the archive: no model call
    headers = _key("restored")
    assert _answers(client, headers, imported.dataset_id) == before

    restored = client.get(f"/v1/datasets/{imported.dataset_id}", headers=headers).json()
    assert restored["name"] == "marine notes" and restored["document_count"] == 2
    assert [tag["name"] for tag in restored["tags"]] == ["ocean"]
    documents = client.get(f"/v1/datasets/{imported.dataset_id}/documents", headers=headers).json()["data"]
    otters = next(d for d in documents if d["name"] == "otters")
    assert {m["name"]: m["value"] for m in otters["doc_metadata"]} == {"author": "Ada"}
    kelp = next(d for d in documents if d["name"] == "kelp.md")
    url = client.get(f"/v1/datasets/{imported.dataset_id}/documents/{kelp['id']}/download", headers=headers)
    fetched = client.get(url.json()["url"].removeprefix("http://testserver"))
    assert fetched.content.startswith(b"# Kelp\n\nKelp forests shelter")

    # Restored once more beside the first copy: new ids, a free name.
    again = import_dataset(archive, "restored")
    assert again.dataset_id != imported.dataset_id and again.name == "marine notes (2)"


def test_an_archive_without_embeddings_is_embedded_again(
    request, client, tenant, celery_worker, database_url, tmp_path, monkeypatch
):
    dataset_id, archive, _ = _exported(client, tenant, tmp_path)
    before = _answers(client, tenant.headers, dataset_id)
    stripped = _rewritten(archive, tmp_path / "stripped.zip",
                          lambda name, data: b"" if name == "embeddings.jsonl" else data)  # fmt: skip
    _move_to_other_deployment(request, tmp_path, monkeypatch)
    progress: list = []
    imported = import_dataset(stripped, "copies", lambda done, total: progress.append((done, total)))
    with session_scope() as session:
        from core.segments.models import Segment

        segments = session.query(Segment).filter(Segment.dataset_id == imported.dataset_id).count()
    assert imported.embedded > 0 and progress[-1] == (segments, segments)
    # The same model embeds the same texts to the same vectors: the answers agree up to float noise.
    after = _answers(client, _key("copies"), imported.dataset_id)
    assert [[content for content, _, _ in records] for records in after] == [
        [content for content, _, _ in records] for records in before
    ]


def test_a_damaged_archive_is_refused_and_changes_nothing(
    request, client, tenant, celery_worker, database_url, tmp_path, monkeypatch
):
    _, archive, _ = _exported(client, tenant, tmp_path)

    def damage(name: str, data: bytes) -> bytes:
        return data[:-3] + b"XXX" if name.startswith("files/") else data

    broken = _rewritten(archive, tmp_path / "broken.zip", damage)
    _move_to_other_deployment(request, tmp_path, monkeypatch)
    with pytest.raises(InvalidParam, match="damaged"):
        import_dataset(broken, "copies")
    with pytest.raises(InvalidParam, match="Not a dataset archive"):
        import_dataset(_not_an_archive(tmp_path), "copies")
    with session_scope() as session:
        assert workspaces.count_workspaces(session) == 0  # the refused imports made nothing


def _not_an_archive(tmp_path: Path) -> Path:
    path = tmp_path / "other.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.json", json.dumps({"format": "something-else"}))
    path.write_bytes(buffer.getvalue())
    return path
