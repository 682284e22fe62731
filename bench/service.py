"""Runs `kb serve` in the embedded mode as a child process, as a user would, for benchmarks and tests."""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "QDRANT_URL", "KB_DATA_DIR", "KB_EMBEDDED_WORKER")


# A benchmark loads a whole corpus at once, far above any plan's knowledge request rate limit.
UNLIMITED = {"KNOWLEDGE_RATE_LIMIT_ENABLED": "false"}


def embedded_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env.setdefault("HF_HUB_OFFLINE", "1")
    return {**env, **extra}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def checked_out(revision: str, into: Path) -> Iterator[Path]:
    """The code of a git revision in a worktree at `into`, removed afterwards. `python -m kb` imports
    from its working directory first, so an `EmbeddedServer` started there serves that code."""
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(into), revision],
        check=True,
        capture_output=True,
    )
    try:
        yield into
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(into)], check=False)


class EmbeddedServer:
    """`kb serve` in `cwd` (its data under `cwd/data`); the first start prints the API key."""

    def __init__(self, cwd: Path, startup_timeout: float = 120, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.output: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kb", "serve", "--port", str(self.port)],
            cwd=cwd,
            env=embedded_env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=lambda: self.output.extend(self.process.stdout), daemon=True).start()
        deadline = time.monotonic() + startup_timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health").status_code == 200 and self.ready_line() is not None:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("kb serve did not come up:\n" + "".join(self.output))

    def ready_line(self) -> int | None:
        """Where `kb serve` said it is ready (it says so, and shows a first key, once it answers)."""
        return next((n for n, line in enumerate(self.output) if line.startswith("Ready: ")), None)

    def first_key(self, wait: float = 5.0) -> str | None:
        """The key a first start prints just after its ready line (which may be read before it)."""
        deadline = time.monotonic() + wait
        while (key := next((line.strip() for line in self.output if line.startswith("ds-")), None)) is None:
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)
        return key

    def wait_until_idle(self, timeout: float = 120, quiet_seconds: int = 3) -> float:
        """Waits until the service has used under 5 % of a core for `quiet_seconds` running (a start
        sweeps the data and may build indexes in the background): the seconds waited."""
        started = time.monotonic()
        quiet, used = 0, self._cpu_seconds()
        while quiet < quiet_seconds and time.monotonic() - started < timeout:
            time.sleep(1)
            previous, used = used, self._cpu_seconds()
            quiet = quiet + 1 if used - previous < 0.05 else 0
        return round(time.monotonic() - started, 1)

    def _cpu_seconds(self) -> float:
        """CPU time of the service's process (all its threads) and of its model processes."""
        total = 0
        for pid in descendants(self.process.pid):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """As Ctrl+C stops it."""
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=60)


def descendants(pid: int) -> list[int]:
    """The process and every process it started, whichever of its threads started them."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, waiting = [], [pid]
    while waiting:
        current = waiting.pop(0)
        found.append(current)
        waiting += sorted(children.get(current, []))
    return found


def process_tree(pid: int) -> list[dict]:
    """Resident memory of the process and its descendants (bytes): all, own (anonymous), mapped files."""
    tree = []
    for member in descendants(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except FileNotFoundError:
            continue
        kilobytes = dict(re.findall(r"^(VmRSS|RssAnon|RssFile|RssShmem):\s+(\d+) kB", status, re.M))
        command = Path(f"/proc/{member}/cmdline").read_text().replace("\0", " ").strip()
        mapped = int(kilobytes.get("RssFile", 0)) + int(kilobytes.get("RssShmem", 0))
        rss, anon = int(kilobytes.get("VmRSS", 0)), int(kilobytes.get("RssAnon", 0))
        tree.append(
            {
                "pid": member,
                "command": command[:120],
                "rss": rss * 1024,
                "anon": anon * 1024,
                "file": mapped * 1024,
                "model_process": "spawn_main" in command,
            }
        )
    return tree
