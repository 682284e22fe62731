"""Concurrent hit-testing: queries per second and latency as clients are added, before and after the
ONNX query encoder (int8), on the SciFact chunks (about 24,700) of a `kb serve`.

Each level runs `--seconds` with 1, 2, 3, 4, 6, 8, 16 and 64 clients, hybrid and semantic search, through
HTTP with keep-alive; the server keeps no query embeddings (QUERY_EMBEDDING_CACHE_SIZE=0), so every
request embeds its query as a new one would. Four servers run side by side on copies of the same data,
each level taken by each in turn (`measure`): the code before this work (`--before`, a git revision
served from a worktree), today's with the query encoder on torch (ONNX_QUERY_ENCODER=false), today's on
ONNX Runtime's int8 graph (the default), and today's on PostgreSQL and Redis (the dataset restored there
by `kb export` and `kb import`; the engine stays in-process) on the int8 graph. The knowledge request
rate limit is off, as no plan admits a benchmark. The sustained QPS of a configuration is the highest
measured with p99 at or under 100 ms. Two yardsticks from the same run: the raw torch encoder's limit
(cores ÷ one sentence-transformers `encode` of a query, on one thread) and the service's own encoder's
(cores ÷ one query on the int8 graph; one on the exact graph beside it).

    python -m bench.load [--seconds 15] [--levels 1,2,3,4,6,8,16,64] [--before REVISION]
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import redis

from bench.corpus import RESULTS, load_queries
from bench.quality import prepare
from bench.service import UNLIMITED, EmbeddedServer, checked_out, embedded_env

# 1, 4, 16 and 64 clients, and between 1 and 8 the levels where p99 crosses 100 ms on two cores: with
# only 1 and 4, the sustained rate of a server whose p99 at 4 clients is just above the budget was its
# 1-client rate, a third under what it sustains with 2 or 3.
LEVELS = (1, 2, 3, 4, 6, 8, 16, 64)
METHODS = {
    "hybrid": {"search_method": "hybrid_search", "reranking_mode": "weighted_score"},
    "semantic": {"search_method": "semantic_search"},
}
P99_BUDGET_MS = 100
ROUNDS = 3
# The last commit before the capacity work (the ONNX query encoder came next).
BEFORE = "c9169c6^"
SERVER_DATABASE = "kb_bench_load"
POSTGRES_ADMIN_DSN = os.environ.get(
    "BENCH_POSTGRES_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SERVER_MODE = {
    "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{SERVER_DATABASE}",
    "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"),
    "KB_EMBEDDED_WORKER": "true",  # the engine directory opens in one process: the worker runs in it
}


@dataclass
class Target:
    """A running server under test, with the dataset it searches and the key it takes."""

    server: EmbeddedServer
    dataset_id: str
    key: str


@dataclass
class Slice:
    latencies: list[float]
    errors: int
    seconds: float


async def _run_slice(target: Target, method: str, clients: int, seconds: float, queries: list[str]) -> Slice:
    """`clients` clients, each sending its next query as soon as the last is answered."""
    model = {"reranking_enable": False, "top_k": 10, "score_threshold_enabled": False, **METHODS[method]}
    latencies: list[float] = []
    errors = 0
    next_query = iter(range(10**9))
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {target.key}"}
    async with httpx.AsyncClient(
        base_url=target.server.url, headers=headers, timeout=60, limits=limits
    ) as client:

        async def one_client() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                body = {"query": queries[next(next_query) % len(queries)], "retrieval_model": model}
                started = time.perf_counter()
                response = await client.post(f"/v1/datasets/{target.dataset_id}/hit-testing", json=body)
                latencies.append((time.perf_counter() - started) * 1000)
                errors += response.status_code != 200

        began = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        return Slice(latencies, errors, time.perf_counter() - began)


def summarise(clients: int, slices: list[Slice]) -> dict:
    ordered = sorted(latency for piece in slices for latency in piece.latencies)
    return {
        "clients": clients,
        "requests": len(ordered),
        "errors": sum(piece.errors for piece in slices),
        "qps": round(len(ordered) / sum(piece.seconds for piece in slices), 1),
        "p50_ms": round(statistics.median(ordered), 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
    }


def measure(targets: dict[str, Target], levels: list[int], seconds: float) -> dict:
    """Every level of every method on every server, each level's time cut into ROUNDS slices taken
    in turn: a machine whose speed drifts (a shared host) slows every server alike."""
    queries = list(load_queries().values())
    for target in targets.values():
        target.server.wait_until_idle()
        asyncio.run(_run_slice(target, "hybrid", 4, 3, queries))  # warm-up
    results: dict[str, dict] = {name: {} for name in targets}
    for method in METHODS:
        rows: dict[str, list[dict]] = {name: [] for name in targets}
        for clients in levels:
            slices: dict[str, list[Slice]] = {name: [] for name in targets}
            for _ in range(ROUNDS):
                for name, target in targets.items():
                    slices[name].append(
                        asyncio.run(_run_slice(target, method, clients, seconds / ROUNDS, queries))
                    )
            for name in targets:
                rows[name].append(summarise(clients, slices[name]))
                print(name, method, rows[name][-1], flush=True)
        for name, measured in rows.items():
            within = [row["qps"] for row in measured if row["p99_ms"] <= P99_BUDGET_MS and not row["errors"]]
            results[name][method] = {"levels": measured, "sustained_qps": max(within, default=0.0)}
    return results


def server_mode_copy(workdir: Path, dataset_id: str) -> tuple[Path, str, str]:
    """The embedded dataset restored on a new PostgreSQL database, with its engine directory in a
    workdir of its own: (that workdir, the dataset's id there, a key)."""
    target = workdir.parent / f"{workdir.name}-server"
    shutil.rmtree(target, ignore_errors=True)
    (target / "data").mkdir(parents=True)
    with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{SERVER_DATABASE}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{SERVER_DATABASE}"')
    redis.Redis.from_url(SERVER_MODE["REDIS_URL"]).flushdb()
    archive = target / "dataset.zip"
    _kb(workdir, {}, "export", str(archive), "--dataset", dataset_id)
    env = server_env(target)
    _kb(target, env, "migrate")
    imported = re.search(r" as ([0-9a-f-]{36}) ", _kb(target, env, "import", str(archive)))
    assert imported is not None, "kb import did not name the dataset it made"
    key = _kb(target, env, "keys", "create", "--workspace", "default").strip()
    return target, imported.group(1), key


def engine_copies(workdir: Path, count: int) -> list[Path]:
    """Copies of the embedded data directory, for servers that run beside the one on the original."""
    copies = []
    for number in range(count):
        copy = workdir.parent / f"{workdir.name}-copy-{number}" / "data"
        shutil.rmtree(copy.parent, ignore_errors=True)
        shutil.copytree(workdir / "data", copy)
        copies.append(copy)
    return copies


def match_schema(data: Path, code: Path) -> None:
    """The copy's database taken back to the last migration `code` knows: today's servers and the other
    benchmarks migrate the original in place, and older code refuses a schema newer than its own."""
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from core.migrate import alembic_config

    theirs = Config()
    theirs.set_main_option("script_location", str(code / "core" / "migrations"))
    head = ScriptDirectory.from_config(theirs).get_current_head()
    command.downgrade(alembic_config(f"sqlite:///{data / 'kb.sqlite3'}"), head)


def server_env(workdir: Path) -> dict[str, str]:
    return {**SERVER_MODE, "KB_DATA_DIR": str(workdir / "data")}


def _kb(cwd: Path, env: dict[str, str], *arguments: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "kb", *arguments], cwd=cwd, env=embedded_env(**env), capture_output=True,
        text=True, check=True,
    )  # fmt: skip
    return done.stdout


def encoder_limits(workdir: Path) -> dict:
    """Cores ÷ the median time of one query on each encoder, in this process. Each encode runs on one
    thread, as in each model process: "cores ÷ one encode" gives each encode a core of its own, and
    an encode timed on all the cores would count every core once per core."""
    from retrieval.embedders import SentenceTransformerEmbedder, bundled_minilm_path
    from retrieval.onnx_encoder import load_query_encoder

    queries = list(load_queries().values())[:300]
    cores = len(os.sched_getaffinity(0))
    model = SentenceTransformerEmbedder("all-MiniLM-L6-v2", bundled_minilm_path(), batch_size=1, threads=1)
    graphs = workdir / "data" / "models"
    exact = load_query_encoder(bundled_minilm_path(), graphs, model.embed_query)
    onnx = load_query_encoder(bundled_minilm_path(), graphs, model.embed_query, quantized=True)
    assert onnx is not None and exact is not None, "the ONNX encoder did not load"

    def median_ms(embed) -> float:
        times = []
        for query in queries:
            started = time.perf_counter()
            embed(query)
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    raw = median_ms(lambda query: model.embed_documents([query]))  # sentence-transformers `encode`
    ours = median_ms(onnx.embed_query)
    return {
        "cores": cores,
        "torch_encode_ms": round(raw, 2),
        "onnx_exact_query_ms": round(median_ms(exact.embed_query), 2),
        "onnx_query_ms": round(ours, 2),
        "torch_limit_qps": round(cores * 1000 / raw, 1),
        "onnx_limit_qps": round(cores * 1000 / ours, 1),
    }


def write_results(payload: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "load.json").write_text(json.dumps(payload, indent=2) + "\n")
    limits = payload["limits"]
    lines = [
        f"# Concurrent hit-testing on SciFact chunks ({payload['seconds']} s a level)",
        "",
        f"Load average before / after: {payload['load_before']} / {payload['load_after']}. "
        "Yardsticks, same run: one sentence-transformers `encode` of a query on one thread "
        f"{limits['torch_encode_ms']} ms, so the raw torch "
        f"limit is {limits['torch_limit_qps']} QPS on {limits['cores']} cores; one ONNX query on the int8 "
        f"graph {limits['onnx_query_ms']} ms ({limits['onnx_limit_qps']} QPS), on the exact graph "
        f"{limits['onnx_exact_query_ms']} ms.",
        "",
        "| server | method | clients | QPS | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for server, methods in payload["servers"].items():
        for method, result in methods.items():
            for row in result["levels"]:
                lines.append(
                    f"| {server} | {method} | {row['clients']} | {row['qps']} | {row['p50_ms']} "
                    f"| {row['p99_ms']} | {row['errors']} |"
                )
    lines += [
        "",
        "| server | method | sustained QPS (p99 ≤ 100 ms) | share of the raw torch limit |",
        "|---|---|---|---|",
    ]
    for server, methods in payload["servers"].items():
        for method, result in methods.items():
            share = result["sustained_qps"] / limits["torch_limit_qps"]
            lines.append(f"| {server} | {method} | {result['sustained_qps']} | {share:.2f} |")
    (RESULTS / "load.md").write_text("\n".join(lines) + "\n")
    _plot(payload)


def _plot(payload: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (qps_axis, p99_axis) = plt.subplots(1, 2, figsize=(11, 4.5))
    for server, methods in payload["servers"].items():
        for method, result in methods.items():
            clients = [row["clients"] for row in result["levels"]]
            label = f"{method}, {server}"
            qps_axis.plot(clients, [row["qps"] for row in result["levels"]], marker="o", label=label)
            p99_axis.plot(clients, [row["p99_ms"] for row in result["levels"]], marker="o", label=label)
    qps_axis.axhline(payload["limits"]["torch_limit_qps"], linestyle="--", color="#888888", linewidth=1)
    qps_axis.text(1, payload["limits"]["torch_limit_qps"], "raw torch encoder limit", fontsize=7, va="bottom")
    p99_axis.axhline(P99_BUDGET_MS, linestyle="--", color="#888888", linewidth=1)
    for axis, title in ((qps_axis, "queries per second"), (p99_axis, "p99 latency, ms")):
        axis.set_xscale("log", base=2)
        axis.set_xlabel("concurrent clients")
        axis.set_title(title)
    p99_axis.set_yscale("log")
    qps_axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(RESULTS / "load.png", dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)))
    parser.add_argument("--before", default=BEFORE, help="git revision measured as the code before")
    arguments = parser.parse_args()
    levels = [int(level) for level in arguments.levels.split(",")]
    workdir = prepare("chunks")
    dataset_id = json.loads((workdir / "ingested.json").read_text())["dataset_id"]
    key = (workdir / "api-key").read_text().strip()
    server_workdir, server_dataset_id, server_key = server_mode_copy(workdir, dataset_id)
    copies = engine_copies(workdir, 2)  # an engine directory opens in one process: one per server
    load_before = round(os.getloadavg()[0], 2)
    with ExitStack() as stack:
        before_code = stack.enter_context(
            checked_out(arguments.before, Path(stack.enter_context(tempfile.TemporaryDirectory())) / "code")
        )
        match_schema(copies[0], before_code)
        plans = {  # name: (working directory, environment, dataset id, key)
            f"before this work ({arguments.before}), torch": (
                before_code, {"KB_DATA_DIR": str(copies[0])}, dataset_id, key,
            ),
            "embedded, torch": (
                workdir, {"KB_DATA_DIR": str(copies[1]), "ONNX_QUERY_ENCODER": "false"}, dataset_id, key,
            ),
            "embedded, ONNX Runtime int8": (workdir, {"ONNX_QUERY_ENCODER": "true"}, dataset_id, key),
            "PostgreSQL and Redis, ONNX Runtime int8": (
                server_workdir, {"ONNX_QUERY_ENCODER": "true", **server_env(server_workdir)},
                server_dataset_id, server_key,
            ),
        }  # fmt: skip
        targets = {}
        for name, (cwd, env, dataset, token) in plans.items():
            server = EmbeddedServer(cwd, **UNLIMITED, QUERY_EMBEDDING_CACHE_SIZE="0", **env)
            stack.callback(server.stop)
            targets[name] = Target(server, dataset, token)
        results = measure(targets, levels, arguments.seconds)
    limits = encoder_limits(workdir)
    payload = {
        "seconds": arguments.seconds,
        "load_before": load_before,
        "load_after": round(os.getloadavg()[0], 2),
        "limits": limits,
        "servers": results,
    }
    write_results(payload)
    print(json.dumps(limits), flush=True)


if __name__ == "__main__":
    main()
