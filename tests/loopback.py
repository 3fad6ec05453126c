"""Real HTTP on loopback for tests: a free port, uvicorn serving an app in a thread, and
waiting for an ``hsba serve`` process to serve."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from typing import Any

import httpx
import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LoopbackServer:
    """uvicorn serving ``app`` in a thread on 127.0.0.1 (a free port)."""

    def __init__(self, app: Any, *, lifespan: str = "auto") -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning",
                                                    timeout_keep_alive=120, lifespan=lifespan))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LoopbackServer:  # noqa: PYI034
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def wait_until_serving(proc: subprocess.Popen[str], base: str, timeout: float = 120) -> str:
    """Read the banner ``hsba serve`` prints (up to its "API docs:" line), then wait
    until ``/healthz`` answers 200; returns the banner. Fails if the process ends."""
    assert proc.stdout is not None
    banner = []
    for line in proc.stdout:  # the banner is printed (flushed) before serving
        banner.append(line)
        if "API docs:" in line:
            break
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.3)
    return "".join(banner)
