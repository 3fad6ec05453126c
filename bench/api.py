"""Signing API throughput and latency (issue 8).

Two runs of the same work, in the same invocation, on the embedded default:

* ``in-process``: ``workflow`` called directly from N threads;
* ``api``: ``hsba serve`` (uvicorn) in its own process, this process being the
  load generator (N concurrent HTTP clients on loopback).

Each document: create an outpatient record (render PDF/A-3b) → the doctor
signs with PIN, which completes the form's policy → B-LTA → archived (WORM)
and indexed. Both sides are set up once, then run alternately (A B B A …) so
that a change in the machine's load during the run weighs on both alike.
Bounded by ``--docs``, ``--rounds`` and ``--max-seconds`` per run. Prints
p50/p95/p99 per document and documents per second, and the ratios the issue
targets (API ≥ 0.7× in-process; p95 ≤ 2× p50) with PASS/MISS.

    .venv/bin/python bench/api.py --clients 16 --docs 32 --rounds 2
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


FORM = "outpatient_record_15bv1"
"""A form whose policy has one staff step (the doctor), so one signature reaches B-LTA."""


def _form_data() -> dict[str, Any]:
    from templates.render import sample_data

    data = sample_data(FORM)
    now = datetime.now(UTC).astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    enc = dict(data.get("encounter") or {})
    enc["admission_time"] = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    enc.pop("discharge_time", None)
    data["encounter"] = enc
    return data


def _run(clients: int, docs: int, max_seconds: float,
         one: Callable[[int], None]) -> tuple[list[float], float, int]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.monotonic() + max_seconds
    started = time.perf_counter()

    def task(i: int) -> None:
        nonlocal errors
        if time.monotonic() > deadline:
            return
        t0 = time.perf_counter()
        try:
            one(i)
        except Exception as e:  # noqa: BLE001 - counted and reported
            with lock:
                errors += 1
            print(f"  error: {type(e).__name__}: {str(e)[:200]}", file=sys.stderr)
            return
        with lock:
            latencies.append(time.perf_counter() - t0)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(task, range(docs)))
    return latencies, time.perf_counter() - started, errors


class InProcess:
    """The same work through ``workflow`` in this process, from N threads."""

    name = "in-process (workflow)"

    def __init__(self, data_dir: Path) -> None:
        from core.settings import Settings
        from workflow.access import ActorRef
        from workflow.seeding import seed_demo
        from workflow.services import Services

        self.services = Services.from_settings(Settings(env="development", data_dir=data_dir))
        logins = {x.role: x for x in seed_demo(self.services)}
        self.doctor_login = logins["clinician"]
        self.doctor = ActorRef.of(self.services.accounts.find("staff", self.doctor_login.username))
        self.his = ActorRef.of(self.services.accounts.find("client",
                                                           logins["integration"].username))
        self.data = _form_data()
        self.one(-1)  # warm-up (fonts, keys, first TSA token)

    def one(self, _: int) -> None:
        wf = self.services.documents
        doc = wf.create(self.his, form_code=FORM, data=self.data,
                        care_team=[self.doctor.practitioner_id],
                        department=self.doctor.department)
        out = wf.sign(self.doctor, doc.id, pin=self.doctor_login.signing_pin,
                      expected_sha256=doc.sha256)
        assert out.document.status == "archived", out.document.status

    def close(self) -> None:
        self.services.close()


class OverApi:
    """``hsba serve`` (uvicorn) in its own process; this process is the load generator."""

    name = "API (uvicorn, loopback)"

    def __init__(self, data_dir: Path, clients: int) -> None:
        import httpx
        import pyotp

        from workflow.seeding import read_logins

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("HSBA_")}
        env.update(HSBA_DATA_DIR=str(data_dir), HSBA_ENV="development",
                   HSBA_CONFIG=str(data_dir / "none.toml"))
        log = Path(tempfile.gettempdir()) / "hsba-bench-api.log"
        self.server = subprocess.Popen(
            [sys.executable, "-c", "import sys; from api.cli import main; sys.exit(main())",
             "serve", "--port", str(self.port)], cwd=REPO, env=env,
            stdout=subprocess.DEVNULL, stderr=log.open("w"))
        base = f"http://127.0.0.1:{self.port}"
        for _ in range(600):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        logins = {x.role: x for x in read_logins(data_dir, "70001")}
        self.d, h = logins["clinician"], logins["integration"]
        self.http = httpx.Client(base_url=base, timeout=300,
                                 limits=httpx.Limits(max_connections=clients * 2))
        self.tok_his = self.http.post("/api/v1/oauth/token", data={
            "grant_type": "client_credentials", "client_id": h.username,
            "client_secret": h.secret}).json()["access_token"]
        self.tok_doc = self.http.post("/api/v1/auth/login", json={
            "username": self.d.username, "password": self.d.secret,
            "totp": pyotp.TOTP(self.d.totp_secret).now()}).json()["access_token"]
        self.data = _form_data()
        self.one(-1)  # warm-up

    def one(self, i: int) -> None:
        r = self.http.post("/api/v1/documents", headers={
            "Authorization": f"Bearer {self.tok_his}",
            "Idempotency-Key": f"bench-{i}-{time.monotonic_ns()}"},
            json={"form_code": FORM, "data": self.data,
                  "care_team": [self.d.practitioner_id], "department": self.d.department})
        r.raise_for_status()
        doc = r.json()
        r = self.http.post(f"/api/v1/documents/{doc['id']}/sign", headers={
            "Authorization": f"Bearer {self.tok_doc}", "If-Match": doc["etag"]},
            json={"pin": self.d.signing_pin})
        r.raise_for_status()
        assert r.json()["document"]["status"] == "archived"

    def close(self) -> None:
        self.http.close()
        self.server.send_signal(signal.SIGINT)
        try:
            self.server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.server.kill()


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--docs", type=int, default=32, help="documents per run")
    ap.add_argument("--rounds", type=int, default=2,
                    help="in-process and API runs alternate this many times (ABBA...)")
    ap.add_argument("--max-seconds", type=float, default=300, help="bound per run")
    ap.add_argument("--form", default=FORM, help="a form whose policy has one staff step")
    args = ap.parse_args()
    globals()["FORM"] = args.form
    results: dict[str, list[tuple[list[float], float, int]]] = {}
    with tempfile.TemporaryDirectory() as d1, tempfile.TemporaryDirectory() as d2:
        modes = [InProcess(Path(d1)), OverApi(Path(d2), args.clients)]
        try:
            for r in range(args.rounds):
                # alternate the order (A B, B A, ...) so a change in the machine's load
                # during the run weighs on both sides alike
                for mode in (modes if r % 2 == 0 else modes[::-1]):
                    out = _run(args.clients, args.docs, args.max_seconds, mode.one)
                    results.setdefault(mode.name, []).append(out)
                    print(f"  round {r + 1}: {mode.name}: {len(out[0])} docs in "
                          f"{out[1]:.1f} s", file=sys.stderr, flush=True)
        finally:
            for mode in modes:
                mode.close()
    rows = []
    for name, runs in results.items():
        lat = [x for run in runs for x in run[0]]
        wall = sum(run[1] for run in runs)
        errors = sum(run[2] for run in runs)
        rows.append((name, len(lat), errors, wall, len(lat) / wall if wall else 0.0,
                     _pct(lat, 50), _pct(lat, 95), _pct(lat, 99),
                     [len(run[0]) / run[1] if run[1] else 0.0 for run in runs]))
    print(f"\ncreate → sign (B-LTA) → archive, {args.clients} concurrent clients, "
          f"{args.rounds} alternating rounds of {args.docs} documents, {os.cpu_count()} CPUs")
    print(f"{'run':<26}{'docs':>6}{'err':>5}{'wall s':>9}{'docs/s':>9}"
          f"{'p50 s':>8}{'p95 s':>8}{'p99 s':>8}   docs/s per round")
    for r in rows:
        print(f"{r[0]:<26}{r[1]:>6}{r[2]:>5}{r[3]:>9.1f}{r[4]:>9.2f}"
              f"{r[5]:>8.2f}{r[6]:>8.2f}{r[7]:>8.2f}   "
              + " ".join(f"{x:.2f}" for x in r[8]))
    inproc, api = rows
    ratio = api[4] / inproc[4] if inproc[4] else float("nan")
    per_round = [a / b for a, b in zip(api[8], inproc[8], strict=True) if b]
    tail = api[6] / api[5] if api[5] else float("nan")
    ok_ratio, ok_tail, ok_err = ratio >= 0.7, tail <= 2.0, api[2] == 0 and inproc[2] == 0
    print(f"API / in-process throughput: {ratio:.2f} (per round: "
          f"{', '.join(f'{x:.2f}' for x in per_round)}) target ≥ 0.70 "
          f"{'PASS' if ok_ratio else 'MISS'}")
    print(f"API p95 / p50: {tail:.2f} target ≤ 2.0 {'PASS' if ok_tail else 'MISS'} "
          f"(in-process p95 / p50: {inproc[6] / inproc[5]:.2f})")
    print(f"errors: {api[2] + inproc[2]} {'PASS' if ok_err else 'MISS'}")
    return 0 if ok_ratio and ok_tail and ok_err else 1


if __name__ == "__main__":
    sys.exit(main())
