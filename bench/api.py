"""Signing API throughput and latency (issue 8).

Two runs of the same work, in the same invocation, on the embedded default:

* ``in-process``: ``workflow`` called directly from N threads;
* ``api``: ``hsba serve`` (uvicorn) in its own process, this process being the
  load generator (N concurrent HTTP clients on loopback).

Each document: create a prescription (render PDF/A-3b) → the doctor signs
with PIN, which completes the form's policy → B-LTA → archived (WORM) and
indexed. Bounded by ``--docs`` and ``--max-seconds``. Prints p50/p95/p99 per
document and documents per second, and the ratios the issue targets
(API ≥ 0.7× in-process; p95 ≤ 2× p50).

    .venv/bin/python bench/api.py --clients 16 --docs 32
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


def in_process(data_dir: Path, clients: int, docs: int, max_s: float) -> tuple[Any, ...]:
    from core.settings import Settings
    from workflow.access import ActorRef
    from workflow.seeding import seed_demo
    from workflow.services import Services

    services = Services.from_settings(Settings(env="development", data_dir=data_dir))
    logins = {x.role: x for x in seed_demo(services)}
    doctor_login = logins["clinician"]
    doctor = ActorRef.of(services.accounts.find("staff", doctor_login.username))
    his = ActorRef.of(services.accounts.find("client", logins["integration"].username))
    data = _form_data()
    wf = services.documents

    def one(_: int) -> None:
        doc = wf.create(his, form_code=FORM, data=data,
                        care_team=[doctor.practitioner_id], department=doctor.department)
        out = wf.sign(doctor, doc.id, pin=doctor_login.signing_pin, expected_sha256=doc.sha256)
        assert out.document.status == "archived", out.document.status

    one(-1)  # warm-up (fonts, keys, first TSA token)
    try:
        return _run(clients, docs, max_s, one)
    finally:
        services.close()


def over_api(data_dir: Path, clients: int, docs: int, max_s: float) -> tuple[Any, ...]:
    import httpx
    import pyotp

    from workflow.seeding import read_logins

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HSBA_")}
    env.update(HSBA_DATA_DIR=str(data_dir), HSBA_ENV="development",
               HSBA_CONFIG=str(data_dir / "none.toml"))
    server = subprocess.Popen(
        [sys.executable, "-c", "import sys; from api.cli import main; sys.exit(main())",
         "serve", "--port", str(port)], cwd=REPO, env=env,
        stdout=subprocess.DEVNULL, stderr=(Path(tempfile.gettempdir()) / "hsba-bench-api.log").open("w"))
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        logins = {x.role: x for x in read_logins(data_dir, "70001")}
        d, h = logins["clinician"], logins["integration"]
        http = httpx.Client(base_url=base, timeout=300,
                            limits=httpx.Limits(max_connections=clients * 2))
        tok_his = http.post("/api/v1/oauth/token", data={
            "grant_type": "client_credentials", "client_id": h.username,
            "client_secret": h.secret}).json()["access_token"]
        tok_doc = http.post("/api/v1/auth/login", json={
            "username": d.username, "password": d.secret,
            "totp": pyotp.TOTP(d.totp_secret).now()}).json()["access_token"]
        data = _form_data()

        def one(i: int) -> None:
            r = http.post("/api/v1/documents", headers={
                "Authorization": f"Bearer {tok_his}", "Idempotency-Key": f"bench-{i}-{port}"},
                json={"form_code": FORM, "data": data,
                      "care_team": [d.practitioner_id], "department": d.department})
            r.raise_for_status()
            doc = r.json()
            r = http.post(f"/api/v1/documents/{doc['id']}/sign", headers={
                "Authorization": f"Bearer {tok_doc}", "If-Match": doc["etag"]},
                json={"pin": d.signing_pin})
            r.raise_for_status()
            assert r.json()["document"]["status"] == "archived"

        one(-1)  # warm-up
        return _run(clients, docs, max_s, one)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--docs", type=int, default=32)
    ap.add_argument("--max-seconds", type=float, default=600)
    ap.add_argument("--form", default=FORM, help="a form whose policy has one staff step")
    args = ap.parse_args()
    globals()["FORM"] = args.form
    rows = []
    with tempfile.TemporaryDirectory() as d1, tempfile.TemporaryDirectory() as d2:
        for name, fn, d in (("in-process (workflow)", in_process, d1),
                            ("API (uvicorn, loopback)", over_api, d2)):
            lat, wall, errors = fn(Path(d), args.clients, args.docs, args.max_seconds)
            rows.append((name, len(lat), errors, wall, len(lat) / wall if wall else 0.0,
                         _pct(lat, 50), _pct(lat, 95), _pct(lat, 99)))
    print(f"\ncreate → sign (B-LTA) → archive, {args.clients} concurrent clients, "
          f"{os.cpu_count()} CPUs")
    print(f"{'run':<26}{'docs':>6}{'err':>5}{'wall s':>9}{'docs/s':>9}"
          f"{'p50 s':>8}{'p95 s':>8}{'p99 s':>8}")
    for r in rows:
        print(f"{r[0]:<26}{r[1]:>6}{r[2]:>5}{r[3]:>9.1f}{r[4]:>9.2f}"
              f"{r[5]:>8.2f}{r[6]:>8.2f}{r[7]:>8.2f}")
    inproc, api = rows
    ratio = api[4] / inproc[4] if inproc[4] else float("nan")
    print(f"API / in-process throughput: {ratio:.2f} (target ≥ 0.70)")
    print(f"API p95 / p50: {api[6] / api[5]:.2f} (target ≤ 2.0); "
          f"in-process p95 / p50: {inproc[6] / inproc[5]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
