"""A Celery worker running on a thread of the current process.

The embedded mode has no Redis: tasks travel over Celery's in-memory transport, which only a
worker in the same process can consume. The embedded engine (Qdrant Edge) also locks its directory to one
process, so the worker has to live beside the API anyway. Tests use it with the real Redis broker.
"""

import threading
from pathlib import Path

from celery.beat import EmbeddedService
from celery.platforms import EX_OK
from celery.utils.nodenames import anon_nodename
from celery.worker import WorkController, state

import worker.recovery  # noqa: F401 - registers the sweep on worker_ready
import worker.tasks  # noqa: F401 - registers the task functions
from core.queue import DATASET_QUEUE, celery_app
from core.settings import get_settings

START_TIMEOUT_SECONDS = 30


class _ThreadWorkController(WorkController):
    def __init__(self, *args, **kwargs):
        self.consuming = threading.Event()
        super().__init__(*args, **kwargs)

    def on_consumer_ready(self, consumer) -> None:
        self.consuming.set()


def beat_schedule_path() -> Path:
    """Where beat remembers when each periodic task last ran."""
    path = get_settings().data_dir / "celerybeat-schedule"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


class EmbeddedWorker:
    def __init__(self, concurrency: int = 1, beat: bool = False):
        self._controller = _ThreadWorkController(
            app=celery_app,
            hostname=anon_nodename(),
            concurrency=concurrency,
            pool="solo" if concurrency == 1 else "threads",
            queues=[DATASET_QUEUE],
            loglevel="WARNING",
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
        )
        self._thread = threading.Thread(target=self._controller.start, name="kb-worker", daemon=True)
        # The scheduler of periodic syncs, on a thread of its own (`kb worker --beat` in server mode).
        self._beat = (
            EmbeddedService(celery_app, thread=True, schedule_filename=str(beat_schedule_path()))
            if beat
            else None
        )

    def start(self) -> "EmbeddedWorker":
        state.should_stop = None  # a worker stopped earlier in this process left its request behind
        self._thread.start()
        if self._beat is not None:
            self._beat.start()
        if not self._controller.consuming.wait(START_TIMEOUT_SECONDS):
            raise RuntimeError("the embedded worker did not start consuming in time")
        return self

    def stop(self, timeout: float = 30) -> None:
        """Celery's warm shutdown: no new tasks, and running ones get up to `timeout` seconds. A run
        cut short when the process then exits is taken over at the next start: its lease names this
        process, which is gone."""
        if self._beat is not None:
            self._beat.stop()
        # Asked, not done from here: the worker's loop sees the request between two polls and shuts
        # down on its own thread. Closing its broker connection from another thread races the loop for
        # the reply to its pending BRPOP, and the loser waits out the whole timeout.
        state.should_stop = EX_OK
        self._thread.join(timeout)
