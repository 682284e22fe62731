"""Admission: each API process works on at most API_CONCURRENCY requests at once; the others wait
their turn here, in arrival order, holding neither a worker thread nor a database connection.

A request's dependencies and its handler run on the thread pool one after another, and its database
session holds a connection from its first query to its end. Admitted without a bound, 64 concurrent
searches left every pool thread waiting for a connection while the requests holding the connections
waited for a thread: all of them waited out the connection pool's 30 s timeout, and 40 of 64
answered 500 (bench/load.py). With fewer requests in flight than connections, none waits for both.
"""

import asyncio
import weakref

from starlette.types import ASGIApp, Receive, Scope, Send

# Answered at once, whatever the load: a probe must not queue behind the work it watches.
UNQUEUED = ("/health", "/metrics")


class Admission:
    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit
        # One semaphore per event loop (a test may serve the same app from several).
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNQUEUED:
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        slots = self._slots.get(loop)
        if slots is None:
            slots = self._slots[loop] = asyncio.Semaphore(self.limit)
        async with slots:
            await self.app(scope, receive, send)
