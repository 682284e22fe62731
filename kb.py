"""`kb`: the command line of the knowledge-base service (serve, worker, migrate, keys, workspaces)."""

import atexit
import gc
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from core.logs import configure_logging
from core.settings import get_settings
from core.tracing import configure_tracing, shutdown_tracing

app = typer.Typer(help="Knowledge-base service.", no_args_is_help=True)
keys_app = typer.Typer(help="Dataset API keys.", no_args_is_help=True)
workspaces_app = typer.Typer(help="Workspaces and their plans.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(workspaces_app, name="workspaces")
console = Console()

# The model's OpenMP threads share the cores with the API and the indexing work of the same process;
# spinning while idle (OpenMP's default) would take the CPU those need, at no gain for the model.
# Read when torch loads, so it is set before any command imports it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# The model loads from the installed package: transformers' progress bars and config notices (an
# unused `loss_type` of the packaged config) say nothing a person can act on.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

DEFAULT_WORKSPACE = "default"
# Uvicorn logs through the root logger (LOG_FORMAT applies); its access log gives way to the API's own
# request line (KB_ACCESS_LOG), which carries the request id.
UVICORN_LOGGING: dict[str, Any] = {"log_config": None, "access_log": False}
# How long Ctrl+C lets a running indexing step finish before the process exits.
SHUTDOWN_GRACE_SECONDS = 3
# The embedded engine's directory opens in one process (its write-ahead log is locked).
ENGINE_IN_ONE_PROCESS = (
    "{command} in server mode needs QDRANT_URL: the embedded engine opens in one process only, so "
    "separate API and worker processes must share a Qdrant server (or leave REDIS_URL unset to run "
    "everything embedded in kb serve)"
)
PlanOption = Annotated[str | None, typer.Option(help="sandbox, professional or team")]


@app.command()
def mcp() -> None:
    """Serve MCP over stdin and stdout for clients that start a process (Claude Desktop, Cursor, ...):
    it relays to a running service's /mcp with the key in KB_API_KEY (KB_MCP_URL, else
    http://127.0.0.1:5001/mcp)."""
    import anyio

    from api.mcp_stdio import serve_stdio, settings_from_environment

    url, key = settings_from_environment()
    anyio.run(serve_stdio, url, key)


@app.command()
def migrate() -> None:
    """Apply the database migrations."""
    from core.migrate import upgrade_database

    upgrade_database()
    console.print("database is up to date")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on", envvar="KB_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on", envvar="KB_PORT")] = 5001,
    workers: Annotated[int, typer.Option(help="API processes (server mode only)")] = 1,
) -> None:
    """Serve the API; without DATABASE_URL/REDIS_URL/QDRANT_URL it runs fully embedded."""
    import uvicorn

    from core.database import refresh_sqlite_statistics, session_scope
    from core.index.engines import warm_up_default_embedder
    from core.ingestion.reindex import prepare_engine

    settings = get_settings()
    if not settings.embedded_worker and not settings.qdrant_url:
        raise typer.BadParameter(ENGINE_IN_ONE_PROCESS.format(command="kb serve"))
    configure_logging(settings)
    configure_tracing()
    _prepare_embedded_database()
    first_key = _create_first_key()
    console.print("loading the embedding model and opening the search engine...")
    warm_up_default_embedder()
    prepare_engine(settings)
    with session_scope() as session:
        refresh_sqlite_statistics(session)
    _announce_when_ready(host, port, first_key)
    _freeze_startup_objects()
    if not settings.embedded_worker:
        if workers > 1:
            _share_metrics_between_processes(settings)
        uvicorn.run("api.app:create_served_app", factory=True, host=host, port=port, workers=workers,
                    **UVICORN_LOGGING)  # fmt: skip
        return
    if workers != 1:
        raise typer.BadParameter(
            "the embedded worker needs a single API process; set REDIS_URL and QDRANT_URL"
        )
    from api.app import create_app
    from worker.embedded import EmbeddedWorker
    from worker.recovery import run_start_sweeps

    embedded = EmbeddedWorker(concurrency=settings.kb_worker_concurrency, beat=True).start()
    run_start_sweeps()  # beat repeats them every few minutes
    try:
        uvicorn.run(create_app(), host=host, port=port, **UVICORN_LOGGING)
    finally:
        _stop(embedded)


def _freeze_startup_objects() -> None:
    """What the start loaded (libraries, the query encoder, the engine: millions of objects kept for the
    life of the process) leaves the garbage collector's full passes. Each pass walked all of them: 150 to
    200 ms during which no request moved, about once a minute under load; 3 ms once they are frozen."""
    gc.collect()  # garbage of the start is freed, not frozen
    gc.freeze()


def _stop(embedded) -> None:
    """Ctrl+C: each part says it stops, and none waits long. Indexing cut short resumes at the next
    start (its lease names this process)."""
    from core.index.engines import close_embedders, close_vector_stores

    console.print("stopping the indexing worker (a run in progress resumes at the next start)...")
    embedded.stop(timeout=SHUTDOWN_GRACE_SECONDS)
    console.print("stopping the embedding model processes...")
    close_embedders()
    console.print("closing the search engine...")
    close_vector_stores()
    shutdown_tracing()
    console.print("stopped")


@app.command()
def reindex(
    dataset: Annotated[str | None, typer.Option(help="only this dataset's id")] = None,
) -> None:
    """Rebuild the search engine's collections from the database and the embedding cache (the model
    runs only for texts it lacks). In the embedded mode, stop `kb serve` first: the engine's directory
    opens in one process at a time."""
    _prepare_embedded_database()
    from core.index.engines import close_vector_stores
    from core.ingestion.reindex import reindex as rebuild

    try:
        rebuilt = rebuild(dataset)
    finally:
        close_vector_stores()
    for dataset_id, points in rebuilt.items():
        console.print(f"{dataset_id}: {points} points")
    console.print(f"rebuilt {len(rebuilt)} datasets")


@app.command("check")
def check_consistency(
    repair: Annotated[bool, typer.Option(help="also repair what can be repaired")] = False,
) -> None:
    """Compare the database with the search engine and the file storage: chunks missing from the engine,
    points and files of no row, uploads whose file is gone, collections of no dataset. Exits 1 when
    drift remains. In the embedded mode, stop `kb serve` first (the engine opens in one process)."""
    _prepare_embedded_database()
    from core.consistency import check
    from core.index.engines import close_embedders, close_vector_stores

    try:
        found = check(repair=repair)
    finally:
        close_vector_stores()
        close_embedders()
    for drift in found:
        state = "repaired" if drift.repaired else "found"
        shown = ", ".join(drift.ids[:5]) + (f" and {len(drift.ids) - 5} more" if len(drift.ids) > 5 else "")
        console.print(
            f"{state}: {drift.kind} ({drift.where}): {len(drift.ids)}: {shown}", markup=False, soft_wrap=True
        )
    remaining = [drift for drift in found if not drift.repaired]
    console.print(
        "consistent" if not found else f"{len(found) - len(remaining)} repaired, {len(remaining)} remain"
    )
    if remaining:
        raise typer.Exit(1)


@app.command("export")
def export_dataset(
    target: Annotated[Path, typer.Argument(help="the archive to write (a .zip)")],
    dataset: Annotated[str, typer.Option(help="the dataset's id")],
) -> None:
    """Write a dataset to one portable archive: settings, documents with their files, segments, child
    chunks, metadata, tags and the embeddings with their model (a restore needs no model call)."""
    _prepare_embedded_database()
    from core.database import session_scope
    from core.dataset_archive import export_dataset as export

    with session_scope() as session:
        counts = export(session, dataset, target)
    console.print(
        f"exported to {target}: " + ", ".join(f"{n} {name}" for name, n in counts.items()), soft_wrap=True
    )


@app.command("import")
def import_dataset(
    source: Annotated[
        Path, typer.Argument(help="an archive written by kb export", exists=True, dir_okay=False)
    ],
    workspace: Annotated[str, typer.Option(help="the workspace to restore into (made if missing)")] = (
        DEFAULT_WORKSPACE
    ),
) -> None:
    """Restore a dataset from `kb export`'s archive, on any deployment and database kind, and build its
    index; texts whose embedding the archive lacks (another model here) are embedded, with a progress
    bar. In the embedded mode, stop `kb serve` first: the engine's directory opens in one process."""
    _prepare_embedded_database()
    from rich.progress import Progress

    from core.dataset_archive import import_dataset as restore
    from core.index.engines import close_embedders, close_vector_stores

    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("embedding", total=None)
        try:
            imported = restore(
                source, workspace, lambda done, total: bar.update(task, completed=done, total=total)
            )
        finally:
            close_vector_stores()
            close_embedders()
    console.print(
        f"imported dataset {imported.name!r} as {imported.dataset_id} into workspace {workspace!r}: "
        + ", ".join(f"{n} {name}" for name, n in imported.counts.items())
        + f"; {imported.embedded} texts embedded",
        soft_wrap=True,
    )


@app.command("worker")
def run_worker(
    concurrency: Annotated[int | None, typer.Option(help="tasks run at once")] = None,
    beat: Annotated[
        bool, typer.Option(help="also run the scheduler of periodic syncs (in one worker only)")
    ] = False,
    metrics_port: Annotated[
        int | None, typer.Option(help="serve this worker's Prometheus metrics on this port")
    ] = None,
) -> None:
    """Run a Celery worker on queue `dataset` (server mode: needs REDIS_URL)."""
    if get_settings().redis_url is None:
        raise typer.BadParameter(
            "kb worker needs REDIS_URL; the embedded mode runs its worker inside `kb serve`"
        )
    if get_settings().qdrant_url is None:
        raise typer.BadParameter(ENGINE_IN_ONE_PROCESS.format(command="kb worker"))
    import worker.recovery  # noqa: F401 - registers the sweep on worker_ready
    import worker.tasks  # noqa: F401 - registers the task functions
    from core.index.engines import warm_up_default_embedder
    from core.queue import DATASET_QUEUE, celery_app
    from worker.embedded import beat_schedule_path

    concurrency = concurrency or get_settings().kb_worker_concurrency
    configure_logging(get_settings())
    if configure_tracing():
        atexit.register(shutdown_tracing)
    warm_up_default_embedder()
    if metrics_port is not None:
        from core.metrics import serve_worker_metrics

        serve_worker_metrics(metrics_port)
    # Threads, not processes: one model in memory, and the tasks' embedding calls batch together.
    arguments = [
        "worker",
        "-Q",
        DATASET_QUEUE,
        "-c",
        str(concurrency),
        "--pool",
        "threads",
        f"--loglevel={get_settings().log_level.upper()}",
    ]
    if beat:
        arguments += ["--beat", "--schedule", str(beat_schedule_path())]
    celery_app.worker_main(arguments)


@keys_app.command("create")
def create_key(
    workspace: Annotated[str, typer.Option(help="workspace name")],
    plan: PlanOption = None,
    datasets: Annotated[
        str | None, typer.Option(help="comma-separated dataset ids: the only datasets the key may reach")
    ] = None,
) -> None:
    """Create a key (and the workspace if missing, default plan team); prints it once."""
    _prepare_embedded_database()
    from core.api_keys import service as api_keys
    from core.database import session_scope
    from core.workspaces import service as workspaces

    with session_scope() as session:
        ws = workspaces.get_or_create_workspace(session, workspace, _plan(plan))
        scope = (
            [part.strip() for part in datasets.split(",") if part.strip()] if datasets is not None else None
        )
        token = api_keys.create_key(session, ws, scope)
    typer.echo(token)


@keys_app.command("list")
def list_keys(workspace: Annotated[str, typer.Option(help="workspace name")]) -> None:
    """List a workspace's keys, masked."""
    _prepare_embedded_database()
    from core.api_keys import service as api_keys
    from core.database import session_scope
    from core.workspaces import service as workspaces

    # One key per entry, the whole id first: `kb keys revoke` takes it (or a unique prefix), and a
    # table would cut it in an 80-column terminal.
    with session_scope() as session:
        for key in api_keys.list_keys(session, workspaces.find_workspace(session, workspace)):
            state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
            datasets = ", ".join(key.dataset_ids) if key.dataset_ids is not None else "all"
            last_used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
            console.print(f"{key.id}  {key.masked_token}  {state}", markup=False, highlight=False)
            console.print(f"    datasets: {datasets}; created {key.created_at:%Y-%m-%d %H:%M}; "
                          f"last used {last_used}", markup=False, highlight=False)  # fmt: skip


@keys_app.command("revoke")
def revoke_key(
    key_id: Annotated[str, typer.Argument(help="the key's id, or a prefix no other id shares")],
) -> None:
    """Revoke a key by id; requests with it fail at once."""
    _prepare_embedded_database()
    from core.api_keys import service as api_keys
    from core.database import session_scope

    with session_scope() as session:
        key_id = api_keys.find_key_id(session, key_id)
        api_keys.revoke_key(session, key_id)
    console.print(f"revoked {key_id}")


@workspaces_app.command("set-plan")
def set_plan(workspace: str, plan: str) -> None:
    """Change a workspace's plan (sandbox, professional, team)."""
    _prepare_embedded_database()
    from core.database import session_scope
    from core.workspaces import service as workspaces

    with session_scope() as session:
        workspaces.set_plan(session, workspace, plan)
    console.print(f"{workspace}: plan {plan}")


def _share_metrics_between_processes(settings) -> None:
    """Several API processes write their metrics under one directory, emptied at each start, and a
    scrape of any of them reports all (prometheus-client's multiprocess mode)."""
    import shutil

    directory = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(settings.data_dir / "metrics"))
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)


def _prepare_embedded_database() -> None:
    """The embedded SQLite database is created and migrated by whichever command touches it first."""
    if get_settings().database_url is None:
        from core.migrate import upgrade_database

        upgrade_database()


def _plan(plan: str | None):
    from core.workspaces.models import Plan

    if plan is None:
        return None
    if plan not in set(Plan):
        raise typer.BadParameter(f"plan must be one of {', '.join(Plan)}")
    return Plan(plan)


def _create_first_key() -> str | None:
    """The first start's workspace and key; the key is shown once the server answers."""
    from core.api_keys import service as api_keys
    from core.database import session_scope
    from core.workspaces import service as workspaces

    with session_scope() as session:
        if workspaces.count_workspaces(session):
            return None
        ws = workspaces.get_or_create_workspace(session, DEFAULT_WORKSPACE)
        return api_keys.create_key(session, ws)


def _announce_when_ready(host: str, port: int, first_key: str | None) -> None:
    """Says where the service is (and prints the first start's key) only once `/health` answers, so
    nobody tries a key against a server that is not listening yet."""
    import threading
    import time

    import httpx

    local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = f"http://{local}:{port}"

    def announce() -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            return
        console.print(f"Ready: {url}  (admin UI {url}/ui/, API reference {url}/docs)", soft_wrap=True)
        if first_key:
            console.print(
                f"First start: created workspace '{DEFAULT_WORKSPACE}' (plan team). API key, shown once:"
            )
            console.print(first_key, markup=False, highlight=False)
        console.print(f"Another key: kb keys create --workspace {DEFAULT_WORKSPACE}")

    threading.Thread(target=announce, name="announce-ready", daemon=True).start()


def main() -> None:
    from core.errors import ServiceError

    try:
        app()
    except ServiceError as error:
        console.print(f"[red]error:[/red] {error.message}")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
