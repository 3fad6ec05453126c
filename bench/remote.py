"""Remote signing through hsba's CSC service: one authorisation for a batch against one
authorisation per document, same run.

hsba runs in a separate process (uvicorn on a loopback port, embedded default:
SQLite, software keys, development PKI) so the client and the service do not share a
GIL. The client is ``hsm.remote.csc.open_csc_signer`` (pyHanko's ``CSCSigner`` with
hsba's ``PinOtpAuthorization``; its subclass ``HsbaCscSigner`` encodes the signer's
signing-certificate attribute once per credential instead of once per document, about
20 ms of asn1crypto work saved per document), the SAME client in both arms; every
document is a real PAdES B-B signature over the same one-page PDF (same level in both
arms), and one output of each arm is checked with ``pdfsig``.

Target (issue 6): batch >= 5x faster than per document, same run.

    .venv/bin/python bench/remote.py [--n 50] [--rounds 3]

Rows:
- batch: ONE ``credentials/authorize`` (numSignatures = n, the n hashes) and ONE
  ``signatures/signHash`` with n hashes (``CSCSigner(batch_size=n)``, documents
  prepared concurrently in one event loop);
- per document: n times authorise-and-sign (``batch_size=1``, one document after the
  other, each with its own SAD);
- the same two without any PDF work ("CSC calls only"): n hashes under one SAD
  against n ``credentials/authorize`` + ``signatures/signHash`` pairs, over HTTP
  keep-alive. This isolates what batching saves; the rows above add pyHanko's
  client-side CMS assembly, which is the same per document in both modes.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


ROWS = ("per document", "batch", "per document, CSC calls only", "batch, CSC calls only")


def _settings(data_dir: Path) -> Any:
    from core.settings import Settings

    return Settings(env="test", data_dir=data_dir, hospital_code="70001", database_url="",
                    store="fs", keystore="software", pki="dev", tsa_urls=[])


def _serve(data_dir: str, port: int) -> None:
    import logging

    import uvicorn

    from api.app import create_app
    from api.csc.service import CscService
    from api.middleware import ApiLimits
    from workflow.services import Services

    logging.disable(logging.WARNING)
    settings = _settings(Path(data_dir))
    services = Services.from_settings(settings)
    app = create_app(settings, services=services,
                     limits=ApiLimits(max_upload_bytes=2 * 1024 * 1024, rate_per_s=100000,
                                      burst=1000000))
    # 50 per-document authorisations cannot each get a new TOTP step (30 s): the OTP
    # single-use check is off here. It costs one UPDATE per authorisation, so leaving
    # it out only makes the per-document arm faster (the ratio conservative).
    app.state.csc = CscService(services, otp_replay_check=False)
    # a keep-alive longer than the client's pauses (aiohttp reuses idle connections)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", timeout_keep_alive=120)


async def _sign(url: str, token: str, login: Any, pdfs: list[bytes], batch: bool,
                check: Path | None = None) -> int:
    import aiohttp
    import pyotp
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    from hsm.remote.csc import CscEndpoint, open_csc_signer

    meta = signers.PdfSignatureMetadata(field_name="BacSi", md_algorithm="sha256")
    async with aiohttp.ClientSession() as http:
        signer = await open_csc_signer(
            CscEndpoint(url, login.key_id, token, "v2"), http, pin=login.signing_pin,
            otp=lambda: pyotp.TOTP(login.totp_secret).now(),
            batch_size=len(pdfs) if batch else 1)

        async def one(pdf: bytes) -> bytes:
            # a fixed reservation: no dry-run CMS (the same in both modes)
            out = await signers.PdfSigner(meta, signer=signer).async_sign_pdf(
                IncrementalPdfFileWriter(io.BytesIO(pdf)), bytes_reserved=16384)
            return bytes(out.getvalue())
        if batch:
            results = await asyncio.gather(*(one(p) for p in pdfs))
        else:
            results = [await one(p) for p in pdfs]
        assert len(results) == len(pdfs) and all(len(r) > len(pdfs[0]) for r in results)
        if check is not None:
            _pdfsig_valid(results[-1], check)
        return int(signer.auth_manager.authorizations)  # type: ignore[attr-defined]


def _pdfsig_valid(pdf: bytes, path: Path) -> None:
    import subprocess

    path.write_bytes(pdf)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True,
                         check=False).stdout
    if "Signature Validation: Signature is Valid." not in out:
        raise SystemExit(f"pdfsig rejected a signed output:\n{out}")


def _exchange_only(url: str, token: str, login: Any, n: int, batch: bool) -> None:
    """The CSC calls alone, no PDF work: n hashes under one SAD, or n authorise-and-sign."""
    import base64
    import hashlib

    import httpx
    import pyotp

    hashes = [base64.b64encode(hashlib.sha256(f"doc {i} {time.time()}".encode()).digest())
              .decode() for i in range(n)]
    headers = {"Authorization": f"Bearer {token}"}
    otp = pyotp.TOTP(login.totp_secret)
    with httpx.Client(base_url=f"{url}/csc/v2", headers=headers, timeout=120) as http:
        groups = [hashes] if batch else [[h] for h in hashes]
        for group in groups:
            sad = http.post("credentials/authorize", json={
                "credentialID": login.key_id, "numSignatures": len(group), "hashes": group,
                "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "PIN": login.signing_pin,
                "OTP": otp.now()}).json()["SAD"]
            sigs = http.post("signatures/signHash", json={
                "credentialID": login.key_id, "SAD": sad, "hashes": group,
                "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1",
                "signAlgo": "1.2.840.113549.1.1.11"}).json()["signatures"]
            assert len(sigs) == len(group)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import httpx
    import pyotp

    from tests.loopback import free_port
    from tests.pdfs import one_page_pdf
    from workflow.seeding import seed_demo
    from workflow.services import Services

    with tempfile.TemporaryDirectory(prefix="hsba-bench-remote-") as tmp:
        data_dir = Path(tmp)
        services = Services.from_settings(_settings(data_dir))
        login = {x.role: x for x in seed_demo(services)}["clinician"]
        services.close()
        port = free_port()
        proc = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(str(data_dir), port), daemon=True)
        proc.start()
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    httpx.post(f"{url}/csc/v2/info", json={}, timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            token = httpx.post(f"{url}/csc/v2/auth/login", auth=(login.username, login.secret),
                               json={"OTP": pyotp.TOTP(str(login.totp_secret)).now()}
                               ).json()["access_token"]
            pdfs = [one_page_pdf()] * args.n
            asyncio.run(_sign(url, token, login, pdfs[:2], batch=True))  # warm-up
            times: dict[str, list[float]] = {k: [] for k in ROWS}
            auths: dict[str, int] = {}
            for r in range(args.rounds):
                for label, batch in (("batch", True), ("per document", False)):
                    check = data_dir / f"check-{label.replace(' ', '-')}.pdf" if r == 0 else None
                    t0 = time.perf_counter()
                    auths[label] = asyncio.run(_sign(url, token, login, pdfs, batch, check))
                    times[label].append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    _exchange_only(url, token, login, args.n, batch)
                    times[f"{label}, CSC calls only"].append(time.perf_counter() - t0)
                    auths[f"{label}, CSC calls only"] = 1 if batch else args.n
        finally:
            proc.terminate()
            proc.join(10)

    print(f"\nRemote signing through hsba's CSC service, {args.n} documents (PAdES B-B, "
          f"RSA-2048 software key), median of {args.rounds} rounds\n")
    print("| mode | authorisations | total s | per second | speed-up |")
    print("|---|---:|---:|---:|---:|")
    for label in ROWS:
        base = statistics.median(times[label.replace("batch", "per document")])
        t = statistics.median(times[label])
        print(f"| {label} | {auths[label]} | {t:.2f} | {args.n / t:.1f} | {base / t:.1f}x |")
    ratio = statistics.median(times["per document"]) / statistics.median(times["batch"])
    spread = {k: f"{min(v):.2f}-{max(v):.2f}" for k, v in times.items()}
    print(f"\nspread (min-max s): {spread}")
    print(f"target: batch >= 5.0x faster than per document -> {ratio:.1f}x "
          f"{'PASS' if ratio >= 5 else 'MISS'}")


if __name__ == "__main__":
    main()
