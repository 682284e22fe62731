"""`kb export` and `kb import`: a dataset as one portable archive, restorable on any deployment and
database kind.

The archive is a ZIP: `manifest.json`; one JSON-lines file per table (the dataset, its process rules,
documents, uploaded-file records, segments, child chunks, metadata fields and bindings) with columns
by name; the embeddings of its indexed texts with their model key (`embeddings.jsonl`, float32 as
base64); its tag names; and the uploaded files under `files/`, checked against their SHA-256 on
import. An import gives every row a new id (so a dataset can be restored beside its original), makes
the engine's collections from the database and the embeddings, and calls the model only for texts
whose embedding the archive lacks: none when the deployment offers the same model, every one when the
dataset moves to another model (the deployment's default, when the archive's is not offered here).
"""

import base64
import hashlib
import json
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import DateTime, LargeBinary, func, insert, select
from sqlalchemy.orm import Session

from core import model_providers
from core.database import existing, session_scope
from core.datasets.models import Dataset, IndexingTechnique
from core.documents.models import IN_PROGRESS, Document, ProcessRule, UploadFile
from core.errors import InvalidParam, NotFound
from core.files.storage import TEMP_DIR, file_storage
from core.index import keyword_index
from core.index.embedding_cache import embed_with_cache, model_key, text_hash
from core.index.engines import get_embedder
from core.index.live import live_chunk_condition
from core.index.models import EmbeddingCacheEntry
from core.index.writer import indexed_text, indexed_texts
from core.ingestion.reindex import reindex
from core.metadata.models import MetadataBinding, MetadataField
from core.models import Base
from core.segments.models import ChildChunk, Segment
from core.settings import get_settings
from core.tags.models import Tag, TagBinding
from core.tags.service import KNOWLEDGE
from core.workspaces.models import OWNER_ROLE, Account
from core.workspaces.service import get_or_create_workspace
from retrieval.embedders import Embedder

FORMAT, VERSION = "kb-dataset-archive", 1
# In the order an import inserts them (each refers only to those before it).
TABLES: tuple[tuple[str, type[Base]], ...] = (
    ("datasets", Dataset),
    ("process_rules", ProcessRule),
    ("upload_files", UploadFile),
    ("documents", Document),
    ("segments", Segment),
    ("child_chunks", ChildChunk),
    ("metadata_fields", MetadataField),
    ("metadata_bindings", MetadataBinding),
)
# Columns holding ids of rows in the archive: an import maps them to the rows' new ids.
ID_COLUMNS = {
    "id",
    "dataset_id",
    "document_id",
    "segment_id",
    "metadata_id",
    "upload_file_id",
    "dataset_process_rule_id",
    "index_node_id",
}
PEOPLE_COLUMNS = {"created_by", "updated_by", "disabled_by", "archived_by", "paused_by"}
# What belongs to the deployment, not to the dataset: the new one builds its own.
LOCAL_COLUMNS = {
    "vector_collection",
    "pending_vector_collection",
    "vector_model",
    "vector_model_provider",
    "last_synced_at",
    "heartbeat_at",
    "lease_holder",
}
ROWS_PER_INSERT = 500
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Imported:
    dataset_id: str
    name: str
    counts: dict[str, int]
    embedded: int  # texts the model embedded (those the archive had no embedding for)


def export_dataset(session: Session, dataset_id: str, target: Path) -> dict[str, int]:
    """Writes the archive; refuses while documents of the dataset are being indexed."""
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFound(f"Dataset {dataset_id} not found.")
    if session.scalar(
        select(Document.id)
        .where(Document.dataset_id == dataset_id, Document.indexing_status.in_(IN_PROGRESS))
        .limit(1)
    ):
        raise InvalidParam("Documents of this dataset are being indexed: export it once they finish.")
    rows = _dataset_rows(session, dataset)
    uploads = rows["upload_files"]
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        for name, items in rows.items():
            archive.writestr(f"{name}.jsonl", "".join(json.dumps(_encoded(item)) + "\n" for item in items))
        embeddings = _write_embeddings(session, dataset, archive)
        tags = [
            tag.name
            for tag in session.scalars(
                select(Tag)
                .join(TagBinding, TagBinding.tag_id == Tag.id)
                .where(TagBinding.target_id == dataset.id)
            )
        ]
        storage = file_storage(get_settings())
        for upload in {row["storage_key"]: row for row in uploads}.values():
            with archive.open(f"files/{upload['storage_key']}", "w", force_zip64=True) as member:
                for chunk in storage.chunks(upload["storage_key"]):
                    member.write(chunk)
        counts = {name: len(items) for name, items in rows.items()} | {"embeddings": embeddings}
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "exported_at": datetime.now(UTC).isoformat(),
            "dataset": dataset.name,
            "tags": tags,
            "counts": counts,
            "term_statistics": keyword_index.statistics(dataset.id),
        }
        archive.writestr("manifest.json", json.dumps(manifest, indent=2))
    return counts


def _dataset_rows(session: Session, dataset: Dataset) -> dict[str, list[dict]]:
    documents = session.scalars(select(Document).where(Document.dataset_id == dataset.id)).all()
    upload_ids = [document.upload_file_id for document in documents if document.upload_file_id]
    by_dataset = {
        name: model for name, model in TABLES if name not in ("datasets", "upload_files", "documents")
    }
    rows = {
        "datasets": [_columns(dataset)],
        "upload_files": [
            _columns(upload)
            for upload in session.scalars(select(UploadFile).where(UploadFile.id.in_(upload_ids)))
        ],
        "documents": [_columns(document) for document in documents],
    }
    for name, model in by_dataset.items():
        rows[name] = [
            _columns(row)
            for row in session.scalars(select(model).where(model.dataset_id == dataset.id))  # type: ignore[attr-defined]
        ]
    return {name: rows[name] for name, _ in TABLES}


def _write_embeddings(session: Session, dataset: Dataset, archive: zipfile.ZipFile) -> int:
    """The cached embeddings of the dataset's texts (segments and child chunks), every model's: cached
    by the text embedded, which starts with the chunk's context line where it has one."""
    chunks = list(
        session.execute(
            select(Segment.index_node_hash, Segment.context, Segment.content).where(
                Segment.dataset_id == dataset.id
            )
        ).all()
    )
    chunks += session.execute(
        select(ChildChunk.index_node_hash, Segment.context, ChildChunk.content)
        .join(Segment, Segment.id == ChildChunk.segment_id)
        .where(ChildChunk.dataset_id == dataset.id)
    ).all()
    hashes = {
        text_hash(indexed_text(context, content)) if context else digest
        for digest, context, content in chunks
    }
    hashes.discard(None)
    present: set[str] = {digest for digest in hashes if digest is not None}
    written = 0
    with archive.open("embeddings.jsonl", "w", force_zip64=True) as member:
        ordered = sorted(present)
        for start in range(0, len(ordered), ROWS_PER_INSERT):
            entries = session.scalars(
                select(EmbeddingCacheEntry).where(
                    EmbeddingCacheEntry.text_hash.in_(ordered[start : start + ROWS_PER_INSERT])
                )
            )
            for entry in entries:
                member.write((json.dumps(_encoded(_columns(entry))) + "\n").encode())
                written += 1
    return written


def import_dataset(source: Path, workspace_name: str, progress: Progress | None = None) -> Imported:
    """Restores an archive into `workspace_name` (created when missing) and builds its index."""
    with zipfile.ZipFile(source) as archive:
        manifest = _manifest(archive)
        with session_scope() as session:
            workspace = get_or_create_workspace(session, workspace_name)
            owner = session.scalars(  # every workspace is made with its owner
                select(Account.id).where(Account.workspace_id == workspace.id, Account.role == OWNER_ROLE)
            ).one()
            rows = {name: list(_jsonl(archive, f"{name}.jsonl")) for name, _ in TABLES}
            if len(rows["datasets"]) != 1:
                raise InvalidParam("The archive holds no dataset.")
            _restore_files(archive, rows["upload_files"])
            ids = _new_ids(rows)
            rows["datasets"][0]["name"] = _free_name(session, workspace.id, rows["datasets"][0]["name"])
            for name, model in TABLES:
                _insert(session, model, [_mapped(row, ids, workspace.id, owner) for row in rows[name]])
            dataset = existing(session, Dataset, ids[rows["datasets"][0]["id"]])
            _use_an_offered_model(dataset)
            _insert_missing_embeddings(session, archive)
            _bind_tags(session, workspace.id, owner, dataset.id, manifest.get("tags", []))
            counts = {name: len(rows[name]) for name, _ in TABLES}
            dataset_id, name = dataset.id, dataset.name
    embedded = _embed_missing(dataset_id, progress)
    reindex(dataset_id)
    keyword_index.restore_statistics(dataset_id, manifest.get("term_statistics", {}))
    return Imported(dataset_id, name, counts, embedded)


def _manifest(archive: zipfile.ZipFile) -> dict:
    try:
        manifest = json.loads(archive.read("manifest.json"))
    except (KeyError, ValueError):
        raise InvalidParam("Not a dataset archive: manifest.json is missing or unreadable.") from None
    if manifest.get("format") != FORMAT or manifest.get("version", 0) > VERSION:
        raise InvalidParam(f"Not a dataset archive of version {VERSION} or older.")
    return manifest


def _restore_files(archive: zipfile.ZipFile, uploads: list[dict]) -> None:
    settings = get_settings()
    storage = file_storage(settings)
    temp_dir = settings.upload_dir / TEMP_DIR
    temp_dir.mkdir(parents=True, exist_ok=True)
    for upload in {row["storage_key"]: row for row in uploads}.values():
        key = upload["storage_key"]
        if storage.exists(key):
            continue  # content-addressed: the same bytes are already here
        digest = hashlib.sha256()
        with (
            tempfile.NamedTemporaryFile(dir=temp_dir, delete=False) as copy,
            archive.open(f"files/{key}") as member,
        ):
            while chunk := member.read(1024 * 1024):
                digest.update(chunk)
                copy.write(chunk)
        if digest.hexdigest() != upload["hash"]:
            Path(copy.name).unlink()
            raise InvalidParam(f"The archive's file {key} is damaged (its SHA-256 does not match).")
        storage.save(key, Path(copy.name))


def _new_ids(rows: dict[str, list[dict]]) -> dict[str, str]:
    return {row["id"]: str(uuid.uuid4()) for items in rows.values() for row in items}


def _mapped(row: dict, ids: dict[str, str], workspace_id: str, owner: str) -> dict:
    values = {}
    for column, value in row.items():
        if column in ID_COLUMNS and value is not None:
            value = ids.get(value, value)
        elif column == "workspace_id":
            value = workspace_id
        elif column in PEOPLE_COLUMNS and value is not None:
            value = owner
        elif column in LOCAL_COLUMNS:
            value = None
        values[column] = value
    info = values.get("data_source_info")
    if isinstance(info, dict) and info.get("upload_file_id") in ids:
        values["data_source_info"] = info | {"upload_file_id": ids[info["upload_file_id"]]}
    return values


def _insert(session: Session, model: type[Base], rows: list[dict]) -> None:
    decoded = [_decoded(model, row) for row in rows]
    for start in range(0, len(decoded), ROWS_PER_INSERT):
        session.execute(insert(model), decoded[start : start + ROWS_PER_INSERT])


def _free_name(session: Session, workspace_id: str, name: str) -> str:
    """The archive's name, or `name (2)`, ... when the workspace has a dataset of that name."""
    taken = set(session.scalars(select(Dataset.name).where(Dataset.workspace_id == workspace_id)))
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{name[:30]} ({number})"
    return candidate


def _use_an_offered_model(dataset: Dataset) -> None:
    """A dataset whose model this deployment does not offer moves to the default one (re-embedded)."""
    if dataset.indexing_technique != IndexingTechnique.HIGH_QUALITY:
        return
    settings = get_settings()
    offered = model_providers.is_available(
        settings,
        model_providers.TEXT_EMBEDDING,
        dataset.embedding_model_provider or "",
        dataset.embedding_model or "",
    )
    if not offered:
        default = model_providers.default_embedding_model(settings)
        dataset.embedding_model_provider, dataset.embedding_model = default.provider, default.model


def _insert_missing_embeddings(session: Session, archive: zipfile.ZipFile) -> None:
    batch: list[dict] = []
    for row in _jsonl(archive, "embeddings.jsonl"):
        batch.append(_decoded(EmbeddingCacheEntry, row))
        if len(batch) == ROWS_PER_INSERT:
            _insert_new_entries(session, batch)
            batch = []
    _insert_new_entries(session, batch)


def _insert_new_entries(session: Session, entries: list[dict]) -> None:
    if not entries:
        return
    present = set(
        map(
            tuple,
            session.execute(
                select(EmbeddingCacheEntry.model_key, EmbeddingCacheEntry.text_hash).where(
                    EmbeddingCacheEntry.text_hash.in_([entry["text_hash"] for entry in entries])
                )
            ),
        )
    )
    new = [entry for entry in entries if (entry["model_key"], entry["text_hash"]) not in present]
    if new:
        session.execute(insert(EmbeddingCacheEntry), new)


def _bind_tags(session: Session, workspace_id: str, owner: str, dataset_id: str, names: list[str]) -> None:
    for name in names:
        tag = session.scalar(
            select(Tag).where(Tag.workspace_id == workspace_id, Tag.type == KNOWLEDGE, Tag.name == name)
        )
        if tag is None:
            tag = Tag(workspace_id=workspace_id, type=KNOWLEDGE, name=name, created_by=owner)
            session.add(tag)
            session.flush()
        session.add(
            TagBinding(workspace_id=workspace_id, tag_id=tag.id, target_id=dataset_id, created_by=owner)
        )


def _embed_missing(dataset_id: str, progress: Progress | None) -> int:
    """Embeds the live texts the cache lacks for the dataset's model, reporting (done, total)."""
    with session_scope() as session:
        dataset = existing(session, Dataset, dataset_id)
        if dataset.indexing_technique != IndexingTechnique.HIGH_QUALITY:
            return 0
        embedder = get_embedder(dataset.embedding_model_provider, dataset.embedding_model)
        segment_ids = session.scalars(
            select(Segment.id)
            .join(Document, Document.id == Segment.document_id)
            .where(Segment.dataset_id == dataset_id, live_chunk_condition())
        ).all()
        embedded_before = _cache_size(session, embedder)
        for start in range(0, len(segment_ids), 64):
            batch = session.scalars(
                select(Segment).where(Segment.id.in_(segment_ids[start : start + 64]))
            ).all()
            embed_with_cache(session, embedder, [unit.text for unit in indexed_texts(session, list(batch))])
            session.commit()
            if progress:
                progress(min(start + 64, len(segment_ids)), len(segment_ids))
        return _cache_size(session, embedder) - embedded_before


def _cache_size(session: Session, embedder: Embedder) -> int:
    counted = select(func.count()).where(EmbeddingCacheEntry.model_key == model_key(embedder))
    return session.scalar(counted) or 0


def _columns(row: Base) -> dict:
    return {column.key: getattr(row, column.key) for column in row.__mapper__.column_attrs}


def _encoded(row: dict) -> dict:
    return {key: _encoded_value(value) for key, value in row.items()}


def _encoded_value(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _decoded(model: type[Base], row: dict) -> dict:
    columns = model.__table__.columns
    values = {}
    for key, value in row.items():
        if key not in columns:
            continue  # a column of a newer version
        kind = columns[key].type
        if value is not None and isinstance(kind, DateTime):
            value = datetime.fromisoformat(value)
        elif value is not None and isinstance(kind, LargeBinary):
            value = base64.b64decode(value)
        values[key] = value
    return values


def _jsonl(archive: zipfile.ZipFile, name: str) -> Iterator[dict]:
    try:
        with archive.open(name) as member:
            for line in member:
                if line.strip():
                    yield json.loads(line)
    except KeyError:
        raise InvalidParam(f"Not a complete dataset archive: {name} is missing.") from None
