"""Memory and disk to size a deployment from: the engine's disk per 1,000 chunks by what it holds, and
the steady-state memory of a fresh `kb serve` and of each model process, at 24,673 SciFact chunks and
with 271,403 synthetic chunks beside them (`bench.scale` builds them), against a service with no data.

Disk is counted twice: the blocks the files take (what a disk fills with) and their apparent length.
The engine preallocates its write-ahead logs and storage files as sparse files, so the apparent
length overstates what is used, and only the blocks are the figure to size a disk from.

Memory is read after the build, in a new process that has served 200 hybrid searches on every
dataset (so the indexes it reads are loaded), once the service is idle: resident memory, split into
the process's own (anonymous) memory and the pages of mapped files, which the kernel may drop and
read again.

    python -m bench.footprint [--copies N]
"""

import argparse
import json
import os
import re
import shutil
import time
from pathlib import Path

import httpx

from bench.corpus import RESULTS, load_test_queries
from bench.latency import retrieval_model
from bench.quality import WORK, prepare
from bench.scale import COPIES, build
from bench.service import EmbeddedServer, process_tree

SEARCHES = 200
# What a shard's files hold, by the first pattern their path inside the shard matches.
PARTS = [
    ("write-ahead log", r"^wal/"),
    ("HNSW graph", r"/vector_index/"),
    ("dense vectors", r"/vector_storage/"),
    ("term vectors and their index", r"/vector_(storage|index)-"),  # named after the sparse vector
    ("payload", r"/payload_storage/"),
    ("payload indexes", r"/payload_index/"),
    ("point ids and versions", r"/id_tracker|/mutable_id_tracker|version|segment\.json"),
]
OTHER = "other"


def shard_parts(shard: Path) -> dict[str, dict[str, int]]:
    """Bytes on disk (blocks) and apparent bytes of one collection, by part."""
    parts: dict[str, dict[str, int]] = {}
    for path in shard.rglob("*"):
        if not path.is_file():
            continue
        inner = path.relative_to(shard).as_posix()
        part = next((name for name, pattern in PARTS if re.search(pattern, inner)), OTHER)
        stat = path.stat()
        counted = parts.setdefault(part, {"blocks": 0, "apparent": 0})
        counted["blocks"] += stat.st_blocks * 512
        counted["apparent"] += stat.st_size
    return parts


def dataset_disk(engine: Path, dataset_id: str) -> dict:
    """Every collection of a dataset (its vectors and its three term collections), by part."""
    prefix = f"kb_{dataset_id.replace('-', '')}_"
    collections: dict[str, dict] = {}
    for shard in sorted(engine.iterdir()):
        if shard.name.startswith(prefix):
            kind = shard.name[len(prefix) :]
            collections["vectors" if kind.isdigit() else kind] = shard_parts(shard)
    return collections


def served_memory(workdir: Path, datasets: list[str], queries: list[str]) -> dict:
    """A new `kb serve` on the directory, after searches on every dataset, once idle. A first start
    does the one-time work a directory may hold (the start's sweeps, metadata to push, collections to
    optimise) and stops: its memory is not the steady state's."""
    settling = EmbeddedServer(workdir)
    if (key := settling.first_key()) is not None:
        (workdir / "api-key").write_text(key)
    settling.wait_until_idle(timeout=900)
    settling.stop()
    server = EmbeddedServer(workdir, QUERY_EMBEDDING_CACHE_SIZE="0")
    try:
        headers = {"Authorization": f"Bearer {(workdir / 'api-key').read_text().strip()}"}
        body = {"retrieval_model": retrieval_model("hybrid weighted", filtered=False)}
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
            for dataset_id in datasets:
                path = f"/v1/datasets/{dataset_id}/hit-testing"
                for query in queries[:SEARCHES]:
                    client.post(path, json=body | {"query": query}).raise_for_status()
        server.wait_until_idle(timeout=300)
        return process_tree(server.process.pid)
    finally:
        server.stop()


def empty_workdir() -> Path:
    """A new data directory each run: only the model and the service's own tables."""
    workdir = WORK / "footprint-empty"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    return workdir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=COPIES)
    arguments = parser.parse_args()
    base_dir = prepare("chunks")
    workdir = WORK / f"scale-x{arguments.copies}"
    built = build(base_dir, workdir, arguments.copies)
    queries = list(load_test_queries().values())
    (workdir / "api-key").write_text((base_dir / "api-key").read_text())  # the copied database's key
    chunks = {"base": 24_673, "synthetic": built["synthetic_chunks"]}
    memory = {
        "empty": served_memory(empty_workdir(), [], queries),
        "base": served_memory(base_dir, [built["base_dataset"]], queries),
        "both": served_memory(workdir, [built["base_dataset"], built["synthetic_dataset"]], queries),
    }
    payload = {
        "chunks": chunks,
        # the base dataset as ingested (the scale directory holds a copy whose sparse files were filled)
        "disk": {
            "base": dataset_disk(base_dir / "data" / "qdrant-edge", built["base_dataset"]),
            "synthetic": dataset_disk(workdir / "data" / "qdrant-edge", built["synthetic_dataset"]),
        },
        "memory": memory,
        "load": round(os.getloadavg()[0], 2),
        "measured_at": time.strftime("%Y-%m-%d %H:%M"),
    }
    (RESULTS / "footprint.json").write_text(json.dumps(payload, indent=2) + "\n")
    write_report(payload)


def _mb(value: float) -> str:
    return f"{value / 2**20:,.1f}"


def _per_thousand(value: float, chunks: int) -> str:
    return f"{value / chunks * 1000 / 1024:,.1f}"


def write_report(payload: dict) -> None:
    chunks = payload["chunks"]
    lines = [
        "# Memory and disk per chunk",
        "",
        f"Measured {payload['measured_at']}, load average {payload['load']} at the end.",
        "",
        "## Engine disk, KB per 1,000 chunks (blocks on disk; apparent length in brackets)",
        "",
        "| collection · part | 24,673 SciFact chunks | 271,403 synthetic chunks |",
        "|---|---|---|",
    ]
    totals = {label: [0, 0] for label in chunks}
    rows: dict[str, dict[str, dict[str, int]]] = {}
    for label, collections in payload["disk"].items():
        for collection, parts in collections.items():
            for part, counted in parts.items():
                rows.setdefault(f"{collection} · {part}", {})[label] = counted
                totals[label][0] += counted["blocks"]
                totals[label][1] += counted["apparent"]
    for name, by_label in sorted(rows.items()):
        cells = [
            f"{_per_thousand(by_label[label]['blocks'], chunks[label])} "
            f"({_per_thousand(by_label[label]['apparent'], chunks[label])})"
            if label in by_label
            else "—"
            for label in chunks
        ]
        lines.append(f"| {name} | {' | '.join(cells)} |")
    cells = [
        f"**{_per_thousand(blocks, chunks[label])}** ({_per_thousand(apparent, chunks[label])})"
        for label, (blocks, apparent) in totals.items()
    ]
    lines += [f"| **all** | {' | '.join(cells)} |", ""]
    lines += [
        "## Resident memory of a fresh `kb serve` after searches, MB (own memory + mapped files)",
        "",
        "| data | API process | model processes | all |",
        "|---|---|---|---|",
    ]
    for label, title in (("empty", "none"), ("base", "24,673 chunks"), ("both", "296,076 chunks")):
        tree = payload["memory"][label]
        main, models = tree[0], [item for item in tree if item["model_process"]]
        model_rss = sum(item["rss"] for item in models)
        lines.append(
            f"| {title} | {_mb(main['anon'])} + {_mb(main['file'])} | "
            f"{len(models)} × {_mb(model_rss / max(1, len(models)))} | {_mb(main['rss'] + model_rss)} |"
        )
    empty, base, both = (payload["memory"][label][0] for label in ("empty", "base", "both"))
    growth_base = (base["anon"] - empty["anon"]) / chunks["base"]
    growth_both = (both["anon"] - base["anon"]) / chunks["synthetic"]
    lines += [
        "",
        f"Own memory of the API process above the loaded model: {growth_base:,.0f} bytes per chunk at "
        f"24,673 chunks, {growth_both:,.0f} bytes per chunk for the next 271,403.",
    ]
    (RESULTS / "footprint.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
