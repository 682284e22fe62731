"""Search latency as the corpus grows: the SciFact chunks (24,673) beside a synthetic dataset of more
than 250,000 chunks made from them, in one data directory, measured in the same run.

The synthetic dataset holds 11 copies of every SciFact document. Copy 0 is the document itself; in
copy k > 0 every chunk keeps each of its words with probability 0.85 (so its terms and lengths vary)
and its vector moves by Gaussian noise of 0.5 times the average spread of one coordinate before it is
normalised again (its nearest neighbours change, so the index has real work to do). Rows go to the
database and points to the engine through the service's own writers (no model runs: the vectors are
the perturbed ones); every 10th document of every copy carries the metadata filter's value.

    python -m bench.scale [--copies N] [--queries N]
"""

import argparse
import json
import os
import random
import resource
import shutil
import time
from pathlib import Path

import numpy as np

from bench.corpus import RESULTS, load_test_queries
from bench.latency import FILTER_FIELD, percentiles, plot_pairs, searches, warm_up
from bench.quality import WORK, bring_up_to_date, prepare

COPIES = 11
KEEP_WORD = 0.85
NOISE = 0.5
BATCH = 512


def build(base_dir: Path, workdir: Path, copies: int) -> dict:
    """A copy of the base data directory with the synthetic dataset added; returns what it holds."""
    if (workdir / "built.json").exists():
        return json.loads((workdir / "built.json").read_text())
    shutil.rmtree(workdir, ignore_errors=True)
    shutil.copytree(base_dir / "data", workdir / "data")
    os.environ["KB_DATA_DIR"] = str(workdir / "data")
    bring_up_to_date()
    base_id = json.loads((base_dir / "ingested.json").read_text())["dataset_id"]
    started = time.perf_counter()
    synthetic_id, chunks = _write_synthetic(base_id, copies)
    from core.index.engines import close_vector_stores, get_vector_store

    get_vector_store().wait_for_optimizations()  # searches are measured on the built graph
    close_vector_stores()
    built = {
        "base_dataset": base_id,
        "synthetic_dataset": synthetic_id,
        "synthetic_chunks": chunks,
        "build_seconds": round(time.perf_counter() - started, 1),
        "build_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    (workdir / "built.json").write_text(json.dumps(built))
    return built


def _write_synthetic(base_id: str, copies: int) -> tuple[str, int]:
    from sqlalchemy import insert, select

    from core.database import new_id, session_scope
    from core.datasets.models import Dataset
    from core.documents.models import Document
    from core.index import keyword_index
    from core.index.engines import collection_name, get_vector_store
    from core.index.writer import indexed_texts, write_vectors
    from core.segments.models import Segment

    rng, words = np.random.default_rng(11), random.Random(11)
    with session_scope() as session:
        base = session.get(Dataset, base_id)
        store = get_vector_store()
        dataset = _copy_row(base, id=new_id(), name=f"{base.name} x{copies}")
        dataset.vector_collection = collection_name(dataset.id)
        session.add(dataset)
        session.commit()
        documents = session.scalars(select(Document).where(Document.dataset_id == base_id)).all()
        spread = None
        written = 0
        for copy in range(copies):
            for start in range(0, len(documents), BATCH // 5):
                originals = documents[start : start + BATCH // 5]
                rows, segment_rows = [], []
                for position, original in enumerate(originals, start=start):
                    bucket = {FILTER_FIELD: "a" if position % 10 == 0 else "b"}
                    document = _copy_row(original, id=new_id(), dataset_id=dataset.id,
                                         name=f"{original.name}#{copy}", doc_metadata=bucket)  # fmt: skip
                    rows.append(document)
                    for segment in session.scalars(select(Segment).where(Segment.document_id == original.id)):
                        content = segment.content if copy == 0 else _drop_words(segment.content, words)
                        segment_id = new_id()
                        segment_rows.append(_copy_row(segment, id=segment_id, index_node_id=segment_id,
                                                      document_id=document.id, dataset_id=dataset.id,
                                                      content=content, keywords=None))  # fmt: skip
                session.execute(insert(Document), [_columns(row) for row in rows])
                session.execute(insert(Segment), [_columns(row) for row in segment_rows])
                session.commit()
                originals_by_new = dict(zip([row.id for row in segment_rows], segment_rows, strict=True))
                vectors = store.vectors(base.vector_collection, [_source_key(row) for row in segment_rows])
                matrix = np.stack([vectors[_source_key(row)] for row in segment_rows])
                if spread is None:
                    spread = float(matrix.std(axis=0).mean())
                    store.ensure_collection(dataset.vector_collection, matrix.shape[1])
                if copy:
                    matrix = matrix + rng.normal(0, NOISE * spread, matrix.shape).astype(np.float32)
                    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
                segments = session.scalars(select(Segment).where(Segment.id.in_(originals_by_new))).all()
                texts = indexed_texts(session, list(segments))
                order = {row.id: i for i, row in enumerate(segment_rows)}
                write_vectors(dataset.vector_collection, texts, matrix[[order[t.segment_id] for t in texts]])
                keyword_index.write_texts(session, dataset.id, texts)
                written += len(texts)
            print(f"copy {copy + 1}/{copies}: {written} chunks", flush=True)
        return dataset.id, written


_SOURCES: dict[str, str] = {}


def _copy_row(row, **changes):
    """A new ORM object of the same class with the same column values, but for `changes`."""
    values = _columns(row) | changes
    copy = type(row)(**values)
    if "index_node_id" in changes:
        _SOURCES[changes["index_node_id"]] = row.index_node_id  # the vector comes from the original
    return copy


def _columns(row) -> dict:
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}


def _source_key(segment) -> str:
    return _SOURCES[segment.index_node_id]


def _drop_words(text: str, rng: random.Random) -> str:
    kept = [word for word in text.split() if rng.random() < KEEP_WORD]
    return " ".join(kept) or text


def measure(workdir: Path, built: dict, queries: list[str]) -> dict:
    os.environ["KB_DATA_DIR"] = str(workdir / "data")
    from core.database import session_scope
    from core.datasets.models import Dataset
    from core.search.service import search_dataset

    results: dict[str, dict] = {}
    with session_scope() as session:
        for label, dataset_id in (("base", built["base_dataset"]), ("synthetic", built["synthetic_dataset"])):
            dataset = session.get(Dataset, dataset_id)
            warm_up(session, dataset, queries)
            for name, model in searches():
                totals = [search_dataset(session, dataset, query, model).timings.total for query in queries]
                results.setdefault(name, {})[label] = percentiles(totals)
                print(label, name, results[name][label], flush=True)
    return results


def engine_footprint(workdir: Path) -> dict:
    """The engine's blocks on disk (its preallocated files are sparse: their apparent length is far
    larger), and the peak memory of this process, which built the data before searching it."""
    files = [path.stat() for path in (workdir / "data" / "qdrant-edge").rglob("*") if path.is_file()]
    return {
        "engine_disk_mb": round(sum(stat.st_blocks * 512 for stat in files) / 2**20),
        "engine_apparent_mb": round(sum(stat.st_size for stat in files) / 2**20),
        "build_and_search_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def write_results(payload: dict) -> None:
    (RESULTS / "scale.json").write_text(json.dumps(payload, indent=2) + "\n")
    built, footprint = payload["built"], payload["footprint"]
    lines = [
        f"# Search latency on SciFact chunks and on {built['synthetic_chunks']:,} synthetic chunks",
        "",
        f"{payload['queries']} queries per row, in-process, query embedding included (never cached); "
        f"load average {payload['load_before']} before, {payload['load_after']} after.",
        "",
        "| method | 24,673 chunks p50 / p95 ms | synthetic p50 / p95 ms | p50 growth |",
        "|---|---|---|---|",
    ]
    for name, row in payload["latency"].items():
        base, synthetic = row["base"], row["synthetic"]
        growth = synthetic["p50"] / base["p50"]
        lines.append(f"| {name} | {base['p50']} / {base['p95']} | {synthetic['p50']} / {synthetic['p95']} | "
                     f"{growth:.2f}x |")  # fmt: skip
    lines += [
        "",
        f"Building the synthetic dataset: {built['build_seconds']} s, "
        f"peak RSS {built['build_peak_rss_mb']} MB. "
        f"Engine on disk (both datasets): {footprint['engine_disk_mb']} MB in blocks "
        f"({footprint['engine_apparent_mb']} MB of apparent length: sparse preallocated files). "
        "Steady-state memory and disk per chunk are measured apart, in a fresh process: footprint.md.",
    ]
    (RESULTS / "scale.md").write_text("\n".join(lines) + "\n")
    _plot(payload)


def _plot(payload: dict) -> None:
    names = list(payload["latency"])
    plot_pairs(
        "scale.png", names,
        [(label, [payload["latency"][n][key]["p50"] for n in names])
         for label, key in (("24,673 chunks", "base"), ("synthetic chunks", "synthetic"))],
        xlabel="p50 milliseconds, in-process",
        title=f"Search latency at {payload['built']['synthetic_chunks']:,} chunks",
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=COPIES)
    parser.add_argument("--queries", type=int, default=100)
    arguments = parser.parse_args()
    os.environ["QUERY_EMBEDDING_CACHE_SIZE"] = "0"  # every query embedded, as on its first time
    base_dir = prepare("chunks")
    workdir = WORK / f"scale-x{arguments.copies}"
    load_before = round(os.getloadavg()[0], 2)
    built = build(base_dir, workdir, arguments.copies)
    queries = list(load_test_queries().values())[: arguments.queries]
    latency = measure(workdir, built, queries)
    write_results({"queries": len(queries), "built": built, "latency": latency,
                   "footprint": engine_footprint(workdir), "load_before": load_before,
                   "load_after": round(os.getloadavg()[0], 2)})  # fmt: skip


if __name__ == "__main__":
    main()
