"""Retrieval quality on BEIR SciFact: nDCG@10 and recall@100 over the 300 test queries for each search
method, the published anchors beside them, baselines rebuilt on the same candidates (the fusion
before calibrated scores, Dify's weighted-score fusion), and p50/p95 search latency.

Calibration, for each method: the expected calibration error of the first 10 records' scores against
the judgements (a record is relevant when its document is), a reliability diagram, the share of
queries whose first record scores 0.999 or more, and how well the first record's score separates the
test queries from questions of unrelated fields (bench/data/out_of_domain_queries.txt), as an AUC.

The corpus goes through the real pipeline (API and embedded worker); searches then run in-process on
the same data. Documents are ranked by their best chunk.

    python -m bench.quality [--chunking abstracts|chunks] [--limit-queries N]
"""

import argparse
import json
import math
import os
import statistics
import time
from pathlib import Path

from bench.calibration import expected_calibration_error, reliability, separation_auc
from bench.corpus import RESULTS, load_corpus, load_qrels, load_test_queries
from bench.ingest import ingest
from bench.service import UNLIMITED, EmbeddedServer

WORK = Path(__file__).resolve().parent / ".work"
CLEANING = [{"id": "remove_extra_spaces", "enabled": True}]
CHUNKINGS = {
    # One chunk per abstract: a separator that never occurs, and Dify's largest chunk size.
    "abstracts": {"mode": "custom", "rules": {"pre_processing_rules": CLEANING,
                  "segmentation": {"separator": "\\n\\n\\n\\n", "max_tokens": 4000, "chunk_overlap": 0}}},
    "chunks": {"mode": "automatic"},
}  # fmt: skip
ANCHORS = {"BM25 (BEIR)": 0.665, "all-MiniLM-L6-v2 (MTEB)": 0.645, "Qdrant hybrid (published)": 0.7175}
WEIGHT_GRID = [0.3, 0.45, 0.5, 0.6, 0.7]  # 0.45, the default, scored best on the training queries
DEPTH = 100
OUT_OF_DOMAIN = Path(__file__).resolve().parent / "data" / "out_of_domain_queries.txt"


def load_out_of_domain() -> list[str]:
    lines = OUT_OF_DOMAIN.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def prepare(chunking: str) -> Path:
    """Ingests SciFact once per chunking into bench/.work; later runs reuse it."""
    workdir = WORK / chunking
    done = workdir / "ingested.json"
    if done.exists():
        return workdir
    workdir.mkdir(parents=True, exist_ok=True)
    import httpx

    server = EmbeddedServer(workdir, **UNLIMITED)
    try:
        (workdir / "api-key").write_text(server.first_key())  # later starts print no key
        headers = {"Authorization": f"Bearer {server.first_key()}"}
        dataset = httpx.post(f"{server.url}/v1/datasets", json={"name": "scifact"}, headers=headers).json()
        seconds = ingest(server.url, headers, dataset["id"], load_corpus(), CHUNKINGS[chunking])
    finally:
        server.stop()
    done.write_text(json.dumps({"dataset_id": dataset["id"], "ingest_seconds": seconds}))
    return workdir


def bring_up_to_date() -> None:
    """A data directory ingested by an older version gets its migrations and engine collections, as
    `kb serve` would give them at its start (KB_DATA_DIR points at it)."""
    from core.index.engines import close_vector_stores
    from core.ingestion.reindex import prepare_engine
    from core.migrate import upgrade_database
    from core.settings import get_settings

    upgrade_database()
    prepare_engine(get_settings())
    close_vector_stores()  # the engine's directory opens in one process: a server may open it next


def ndcg_at_10(ranked: list[str], relevant: dict[str, int]) -> float:
    gains = sum(relevant.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:10]))
    ideal = sum(1 / math.log2(rank + 2) for rank in range(min(10, len(relevant))))
    return gains / ideal if ideal else 0.0


def recall_at_100(ranked: list[str], relevant: dict[str, int]) -> float:
    return len(set(ranked[:DEPTH]) & set(relevant)) / len(relevant)


def documents_by_best_chunk(ranked: list[tuple[str, float]]) -> list[str]:
    """Documents in the order of their first record (in RRF mode, records are ranked by reciprocal rank
    and carry probabilities, so the order is not the scores')."""
    return list(dict.fromkeys(document for document, _ in ranked))


def evaluate(workdir: Path, limit_queries: int | None) -> dict:
    os.environ["KB_DATA_DIR"] = str(workdir / "data")
    os.environ["TOP_K_MAX_VALUE"] = str(DEPTH)
    from bench.methods import Searcher

    os.environ["QUERY_EMBEDDING_CACHE_SIZE"] = "0"  # each method embeds its queries, as the first would
    bring_up_to_date()

    dataset_id = json.loads((workdir / "ingested.json").read_text())["dataset_id"]
    queries = list(load_test_queries().items())[:limit_queries]
    qrels = load_qrels()
    searcher = Searcher(dataset_id)
    outside = load_out_of_domain()
    results = {}
    for name, method in searcher.methods(WEIGHT_GRID).items():
        ndcgs, recalls, latencies, top_scores, top_relevant, firsts = [], [], [], [], [], []
        for query_id, text in queries:
            started = time.perf_counter()
            scored = method(text)
            latencies.append((time.perf_counter() - started) * 1000)
            ranked = documents_by_best_chunk(scored)
            ndcgs.append(ndcg_at_10(ranked, qrels[query_id]))
            recalls.append(recall_at_100(ranked, qrels[query_id]))
            top_scores += [min(1.0, max(0.0, score)) for _, score in scored[:10]]
            top_relevant += [document in qrels[query_id] for document, _ in scored[:10]]
            firsts.append(scored[0][1] if scored else 0.0)
        outside_firsts = [next(iter(method(text)), ("", 0.0))[1] for text in outside]
        latencies.sort()
        results[name] = {
            "ndcg@10": round(statistics.mean(ndcgs), 4),
            "recall@100": round(statistics.mean(recalls), 4),
            "p50_ms": round(latencies[len(latencies) // 2], 1),
            "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1], 1),
            "ece@10": round(expected_calibration_error(top_scores, top_relevant), 4),
            "first_at_least_0.999": round(statistics.mean(score >= 0.999 for score in firsts), 4),
            "separation_auc": round(separation_auc(firsts, outside_firsts), 4),
            "reliability": [[round(mean, 4), round(rate, 4), len(members)]
                            for mean, rate, members in reliability(top_scores, top_relevant)],
        }  # fmt: skip
        print(name, {key: value for key, value in results[name].items() if key != "reliability"}, flush=True)
    return results


def write_results(chunking: str, results: dict, queries: int) -> None:
    RESULTS.mkdir(exist_ok=True)
    payload = {"chunking": chunking, "queries": queries, "anchors": ANCHORS, "methods": results}
    (RESULTS / f"quality-{chunking}.json").write_text(json.dumps(payload, indent=2) + "\n")
    lines = [f"# Retrieval quality on SciFact ({chunking}, {queries} test queries)", "",
             "| method | nDCG@10 | recall@100 | ECE@10 | first ≥ 0.999 | separation AUC | p50 ms | p95 ms |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, row in results.items():
        lines.append(
            f"| {name} | {row['ndcg@10']} | {row['recall@100']} | {row['ece@10']} "
            f"| {row['first_at_least_0.999']} | {row['separation_auc']} | {row['p50_ms']} | {row['p95_ms']} |"
        )
    lines += ["", "Published anchors: " + ", ".join(f"{k} {v}" for k, v in ANCHORS.items()),
              f"Out-of-domain questions: {len(load_out_of_domain())} ({OUT_OF_DOMAIN.name})."]  # fmt: skip
    (RESULTS / f"quality-{chunking}.md").write_text("\n".join(lines) + "\n")
    _plot(chunking, results)


def _plot(chunking: str, results: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    figure, axis = plt.subplots(figsize=(11, 5))
    axis.barh(names, [results[n]["ndcg@10"] for n in names], color="#2a6fdb")
    for label, value in ANCHORS.items():
        axis.axvline(value, linestyle="--", linewidth=1, color="#888888")
        axis.text(value, len(names) - 0.5, label, rotation=90, fontsize=7, va="top")
    axis.set_xlabel("nDCG@10")
    axis.set_xlim(0.5, 0.8)
    axis.set_title(f"SciFact test queries, {chunking}")
    figure.tight_layout()
    figure.savefig(RESULTS / f"quality-{chunking}.png", dpi=100)
    _plot_reliability(plt, chunking, results)


def _plot_reliability(plt, chunking: str, results: dict) -> None:
    """Mean score against the share of relevant records, per score bin, for our main methods and the
    fusion before calibration; the diagonal is perfect calibration."""
    from bench.methods import weight_pair
    from core.search.service import DEFAULT_WEIGHTS

    shown = [name for name in results if not name.startswith(("hybrid weighted", "Dify", "raw"))]
    shown += [f"hybrid weighted {weight_pair(DEFAULT_WEIGHTS[0])}"]
    figure, axis = plt.subplots(figsize=(6, 6))
    axis.plot([0, 1], [0, 1], linestyle="--", color="#888888", linewidth=1)
    for name in dict.fromkeys(shown):
        if name in results:
            points = results[name]["reliability"]
            axis.plot([p[0] for p in points], [p[1] for p in points], marker="o",
                      label=f"{name} (ECE {results[name]['ece@10']})")  # fmt: skip
    axis.set_xlabel("score (bin mean)")
    axis.set_ylabel("share of records relevant")
    axis.set_title(f"Reliability of the first 10 records, SciFact {chunking}")
    axis.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    figure.savefig(RESULTS / f"quality-{chunking}-calibration.png", dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunking", choices=sorted(CHUNKINGS), default="abstracts")
    parser.add_argument("--limit-queries", type=int, default=None)
    arguments = parser.parse_args()
    workdir = prepare(arguments.chunking)
    results = evaluate(workdir, arguments.limit_queries)
    write_results(arguments.chunking, results, arguments.limit_queries or len(load_test_queries()))


if __name__ == "__main__":
    main()
