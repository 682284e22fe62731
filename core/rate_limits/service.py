"""The knowledge request rate limit: N counted requests per workspace in any
sliding 60 seconds, N set by the workspace's plan.

Server mode keeps one Redis sorted set per workspace (member per admitted request, scored by the
Redis clock) and decides in one Lua script, so API processes cannot race each other between reading
the count and adding to it. The embedded mode, a single process, keeps the same window in memory.
Unlike Dify, a refused request is not added to the window: a client that waits the `Retry-After` it
was given is admitted, instead of pushing its own window forward with every refused attempt.
"""

import logging
import math
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from functools import lru_cache

import redis
from sqlalchemy.orm import Session

from core import metrics
from core.errors import ServiceError
from core.rate_limits.models import RateLimitLog
from core.settings import Settings, get_settings
from core.workspaces.models import Plan, Workspace

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
KNOWLEDGE = "knowledge"
KEY_PREFIX = "kb:rate_limit:"


@dataclass(frozen=True)
class Admission:
    admitted: bool
    remaining: int  # requests the window still takes
    reset: float  # seconds until the oldest request in the window leaves it (and frees a place)
    limit: int = 0

    def headers(self) -> dict[str, str]:
        """The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers), which Dify does not send."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(max(0, math.ceil(self.reset))),
        }


class RateLimited(ServiceError):
    code = "forbidden"
    status = 403
    default_message = "Sorry, you have reached the knowledge base request rate limit of your subscription."

    def __init__(self, admission: Admission):
        super().__init__()
        self.headers = {"Retry-After": str(max(1, math.ceil(admission.reset))), **admission.headers()}


class LocalSlidingWindow:
    """One process's windows (the embedded mode)."""

    def __init__(self):
        self._windows: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, key: str, limit: int, window: float) -> Admission:
        now = time.monotonic()
        with self._lock:
            admitted = self._windows.setdefault(key, deque())
            while admitted and admitted[0] <= now - window:
                admitted.popleft()
            if len(admitted) >= limit:
                return Admission(False, 0, admitted[0] + window - now, limit)
            admitted.append(now)
            return Admission(True, limit - len(admitted), admitted[0] + window - now, limit)


# KEYS[1] the workspace's set; ARGV limit, window in ms, a unique member.
# Returns {admitted, requests in the window, ms until its oldest leaves}.
_ADMIT_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local admitted = 0
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  admitted = 1
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {admitted, redis.call('ZCARD', KEYS[1]), tonumber(oldest[2]) + window - now}
"""


class RedisSlidingWindow:
    """Windows shared by every API process, in Redis. While Redis cannot be reached, each process
    counts in a window of its own instead (so N processes admit up to N times the limit) rather than
    refusing every request; the shared window takes over again once Redis answers."""

    def __init__(self, client: redis.Redis):
        self._script = client.register_script(_ADMIT_SCRIPT)
        self._fallback = LocalSlidingWindow()

    def admit(self, key: str, limit: int, window: float) -> Admission:
        try:
            admitted, used, reset_ms = self._script(
                keys=[key], args=[limit, int(window * 1000), uuid.uuid4().hex]
            )
        except redis.RedisError as error:
            logger.warning("rate limits count per process while Redis is unreachable: %s", error)
            return self._fallback.admit(key, limit, window)
        return Admission(bool(admitted), max(0, limit - used), reset_ms / 1000, limit)


@lru_cache(maxsize=4)
def _limiter(redis_url: str | None) -> LocalSlidingWindow | RedisSlidingWindow:
    if redis_url:
        return RedisSlidingWindow(redis.Redis.from_url(redis_url))
    return LocalSlidingWindow()


def plan_limit(settings: Settings, plan: str) -> int:
    limits: dict[str, int] = {
        Plan.SANDBOX: settings.knowledge_rate_limit_sandbox,
        Plan.PROFESSIONAL: settings.knowledge_rate_limit_professional,
        Plan.TEAM: settings.knowledge_rate_limit_team,
    }
    return limits.get(plan, settings.knowledge_rate_limit_sandbox)


def check_knowledge_request(session: Session, workspace: Workspace) -> Admission | None:
    """Counts one knowledge request of the workspace (None when limits are off), or raises RateLimited
    (and logs the refusal)."""
    settings = get_settings()
    if not settings.knowledge_rate_limit_enabled:
        return None
    admission = _limiter(settings.redis_url).admit(
        KEY_PREFIX + workspace.id, plan_limit(settings, workspace.plan), WINDOW_SECONDS
    )
    if admission.admitted:
        return admission
    session.add(
        RateLimitLog(workspace_id=workspace.id, subscription_plan=workspace.plan, operation=KNOWLEDGE)
    )
    session.commit()
    metrics.RATE_LIMIT_REFUSALS.labels(workspace.plan).inc()
    raise RateLimited(admission)
