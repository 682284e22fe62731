"""Search latency on the SciFact chunks indexed through the pipeline (5,183 documents, about 24,700
chunks): p50/p95 per method, without and with a metadata filter matching about 10 % of the documents,
in-process (the service's own search function, with the stage split it measures) and through HTTP
hit-testing of an embedded `kb serve`; beside, in the same run, numpy brute force top-10 over the same
vectors and the raw query embedding.

    python -m bench.latency [--queries N]
"""

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import httpx
import numpy as np

from bench.corpus import RESULTS, load_test_queries
from bench.quality import bring_up_to_date, prepare
from bench.service import UNLIMITED, EmbeddedServer

FILTER_FIELD = "bucket"
FILTER_SHARE = 10  # every 10th document carries the filtered value
METHODS = {
    "semantic": {"search_method": "semantic_search"},
    "full-text": {"search_method": "full_text_search"},
    "hybrid weighted": {
        "search_method": "hybrid_search", "reranking_mode": "weighted_score",
        "weights": {"weight_type": "customized", "vector_setting": {"vector_weight": 0.7},
                    "keyword_setting": {"keyword_weight": 0.3}},
    },
    "hybrid RRF": {"search_method": "hybrid_search", "reranking_mode": "rrf", "rrf_k": 60},
}  # fmt: skip
FILTER = {
    "logical_operator": "and",
    "conditions": [{"name": FILTER_FIELD, "comparison_operator": "is", "value": "a"}],
}
STAGES = ("query_embedding", "vector_search", "keyword_search", "fusion", "total")


def retrieval_model(method: str, filtered: bool) -> dict:
    model = {"reranking_enable": False, "top_k": 10, "score_threshold_enabled": False, **METHODS[method]}
    return model | ({"metadata_filtering_conditions": FILTER} if filtered else {})


def searches():
    """(row name, retrieval model) for every row: each method without and with the filter."""
    from core.search.schemas import RetrievalModel

    for method in METHODS:
        for filtered in (False, True):
            name = f"{method}{' filtered' if filtered else ''}"
            yield name, RetrievalModel.model_validate(retrieval_model(method, filtered))


def warm_up(session, dataset, queries: list[str]) -> None:
    """A few searches first: the model, the caches and the engine's segments."""
    from core.search.schemas import RetrievalModel
    from core.search.service import search_dataset

    model = RetrievalModel.model_validate(retrieval_model("hybrid weighted", False))
    for query in queries[:5]:
        search_dataset(session, dataset, query, model)


def tag_documents(url: str, headers: dict, dataset_id: str) -> int:
    """Every 10th document gets `bucket = a` (once per data directory); returns how many."""
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
        fields = client.get(f"/v1/datasets/{dataset_id}/metadata").json()["doc_metadata"]
        field = next((f for f in fields if f["name"] == FILTER_FIELD), None)
        if field is None:
            field = client.post(
                f"/v1/datasets/{dataset_id}/metadata", json={"type": "string", "name": FILTER_FIELD}
            ).json()
        ids, page = [], 1
        while True:
            listing = client.get(
                f"/v1/datasets/{dataset_id}/documents", params={"page": page, "limit": 100}
            ).json()
            ids += [document["id"] for document in listing["data"]]
            if not listing["has_more"]:
                break
            page += 1
        chosen = sorted(ids)[::FILTER_SHARE]
        for start in range(0, len(chosen), 100):
            operations = [{"document_id": document_id, "partial_update": True,
                           "metadata_list": [{"id": field["id"], "name": FILTER_FIELD, "value": "a"}]}
                          for document_id in chosen[start : start + 100]]  # fmt: skip
            client.post(
                f"/v1/datasets/{dataset_id}/documents/metadata", json={"operation_data": operations}
            ).raise_for_status()
    return len(chosen)


def percentiles(values: list[float]) -> dict:
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 2),
        "p95": round(ordered[int(len(ordered) * 0.95) - 1], 2),
    }


def measure_http(workdir: Path, dataset_id: str, queries: list[str]) -> tuple[dict, int, float]:
    server = EmbeddedServer(workdir, **UNLIMITED, QUERY_EMBEDDING_CACHE_SIZE="0")
    try:
        headers = {"Authorization": f"Bearer {first_key(workdir, server)}"}
        tagged = tag_documents(server.url, headers, dataset_id)
        settled = server.wait_until_idle()  # the start's sweeps are not what a search costs
        results = {}
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
            for method in METHODS:
                for filtered in (False, True):
                    latencies = []
                    for query in queries:
                        body = {"query": query, "retrieval_model": retrieval_model(method, filtered)}
                        started = time.perf_counter()
                        client.post(f"/v1/datasets/{dataset_id}/hit-testing", json=body).raise_for_status()
                        latencies.append((time.perf_counter() - started) * 1000)
                    results[f"{method}{' filtered' if filtered else ''}"] = percentiles(latencies)
                    print(
                        "http",
                        method,
                        filtered,
                        results[f"{method}{' filtered' if filtered else ''}"],
                        flush=True,
                    )
    finally:
        server.stop()
    return results, tagged, settled


def first_key(workdir: Path, server: EmbeddedServer) -> str:
    """The key printed at the first start, which `prepare` keeps beside the data."""
    return server.first_key(wait=0) or (workdir / "api-key").read_text().strip()


def measure_in_process(workdir: Path, dataset_id: str, queries: list[str]) -> tuple[dict, dict]:
    os.environ["KB_DATA_DIR"] = str(workdir / "data")
    from core.database import session_scope
    from core.datasets.models import Dataset
    from core.search.service import search_dataset

    results = {}
    with session_scope() as session:
        dataset = session.get(Dataset, dataset_id)
        warm_up(session, dataset, queries)
        for name, model in searches():
            stages = {stage: [] for stage in STAGES}
            for query in queries:
                timings = search_dataset(session, dataset, query, model).timings.as_dict()
                for stage in STAGES:
                    stages[stage].append(timings[stage])
            results[name] = {stage: percentiles(values) for stage, values in stages.items()}
            print("in-process", name, results[name]["total"], flush=True)
        baseline = brute_force(session, dataset, queries)
    return results, baseline


def brute_force(session, dataset, queries: list[str]) -> dict:
    """numpy top-10 over every vector of the collection (and over the filtered documents' vectors),
    and the raw query embedding of the model in this process."""
    from sqlalchemy import select

    from core.documents.models import Document
    from core.index.engines import get_vector_store
    from core.segments.models import Segment
    from retrieval.embedders import SentenceTransformerEmbedder, bundled_minilm_path

    store = get_vector_store()
    keys = sorted(store.keys(dataset.vector_collection))
    stored = store.vectors(dataset.vector_collection, keys)
    matrix = np.stack([stored[key] for key in keys])
    payload_documents = dict(session.execute(select(Segment.index_node_id, Segment.document_id)
                                             .where(Segment.dataset_id == dataset.id)).all())  # fmt: skip
    in_filter = Document.doc_metadata[FILTER_FIELD].as_string() == "a"
    tagged = set(session.scalars(select(Document.id).where(Document.dataset_id == dataset.id, in_filter)))
    subset = matrix[[i for i, key in enumerate(keys) if payload_documents[key] in tagged]]
    model = SentenceTransformerEmbedder("all-MiniLM-L6-v2", Path(bundled_minilm_path()), batch_size=1)
    embed, full, filtered = [], [], []
    for query in queries:
        started = time.perf_counter()
        vector = model.embed_query(query)
        embed.append((time.perf_counter() - started) * 1000)
        for target, times in ((matrix, full), (subset, filtered)):
            started = time.perf_counter()
            scores = target @ vector
            np.argpartition(-scores, 10)[:10]
            times.append((time.perf_counter() - started) * 1000)
    return {"vectors": len(keys), "filtered_vectors": len(subset), "raw_query_embedding": percentiles(embed),
            "numpy_top10": percentiles(full), "numpy_top10_filtered": percentiles(filtered)}  # fmt: skip


def write_results(payload: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latency.json").write_text(json.dumps(payload, indent=2) + "\n")
    lines = [
        f"# Search latency on SciFact chunks ({payload['baseline']['vectors']} vectors, "
        f"{payload['queries']} queries)",
        "", f"Load average before / after: {payload['load_before']} / {payload['load_after']}; filter: "
        f"{payload['filtered_documents']} documents ({payload['baseline']['filtered_vectors']} vectors). "
        f"HTTP is measured once `kb serve` has been idle for 3 s ({payload['http_settled_after']} s after "
        "its start and the tagging: the start's sweeps run first).", "",
        "| method | in-process p50 / p95 ms | vector leg p50 | keyword leg p50 | query embedding p50 "
        "| HTTP p50 / p95 ms |",
        "|---|---|---|---|---|---|",
    ]  # fmt: skip
    for name, row in payload["in_process"].items():
        http = payload["http"][name]
        lines.append(
            f"| {name} | {row['total']['p50']} / {row['total']['p95']} | {row['vector_search']['p50']} | "
            f"{row['keyword_search']['p50']} | {row['query_embedding']['p50']} | "
            f"{http['p50']} / {http['p95']} |"
        )
    base = payload["baseline"]
    lines += ["", f"Same run: numpy brute-force top-10 {base['numpy_top10']['p50']} ms p50 "
              f"({base['numpy_top10_filtered']['p50']} ms over the filtered vectors); raw query embedding "
              f"{base['raw_query_embedding']['p50']} ms p50 (sentence-transformers `encode` in this "
              "process, torch's default threads)."]  # fmt: skip
    (RESULTS / "latency.md").write_text("\n".join(lines) + "\n")
    _plot(payload)


def _plot(payload: dict) -> None:
    names = list(payload["in_process"])
    plot_pairs(
        "latency.png", names,
        [("in-process p50", [payload["in_process"][n]["total"]["p50"] for n in names]),
         ("HTTP hit-testing p50", [payload["http"][n]["p50"] for n in names])],
        xlabel="milliseconds", title="Search latency, SciFact chunks",
        reference=("numpy top-10", payload["baseline"]["numpy_top10"]["p50"]),
    )  # fmt: skip


def plot_pairs(
    filename: str, names: list[str], pairs: list[tuple[str, list[float]]], *, xlabel: str, title: str,
    reference: tuple[str, float] | None = None,
) -> None:  # fmt: skip
    """Two bars per row (one per (label, values) of `pairs`), and an optional reference line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    positions = np.arange(len(names))
    figure, axis = plt.subplots(figsize=(11, 5))
    for offset, (label, values) in zip((-0.2, 0.2), pairs, strict=True):
        axis.barh(positions + offset, values, 0.4, label=label)
    if reference is not None:
        axis.axvline(reference[1], linestyle="--", color="#888888", label=reference[0])
    axis.set_yticks(positions, names)
    axis.set_xlabel(xlabel)
    axis.legend()
    axis.set_title(title)
    figure.tight_layout()
    figure.savefig(RESULTS / filename, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=100)
    arguments = parser.parse_args()
    workdir = prepare("chunks")
    os.environ["KB_DATA_DIR"] = str(workdir / "data")
    os.environ["QUERY_EMBEDDING_CACHE_SIZE"] = "0"  # every query embedded, as on its first time
    bring_up_to_date()
    dataset_id = json.loads((workdir / "ingested.json").read_text())["dataset_id"]
    queries = list(load_test_queries().values())[: arguments.queries]
    load_before = round(os.getloadavg()[0], 2)
    http, tagged, settled = measure_http(workdir, dataset_id, queries)
    in_process, baseline = measure_in_process(workdir, dataset_id, queries)
    load_after = round(os.getloadavg()[0], 2)
    write_results({"queries": len(queries), "filtered_documents": tagged, "http": http,
                   "http_settled_after": settled, "in_process": in_process, "baseline": baseline,
                   "load_before": load_before, "load_after": load_after})  # fmt: skip


if __name__ == "__main__":
    main()
