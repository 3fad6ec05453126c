"""Signing throughput: hsba against pyHanko used as its docs show, endesive, and the raw key.

One run, same 1-page form (the forms engineer's PDF/A-3b rendering), same key
type, everything in process (development PKI: in-process TSA and OCSP/CRL) so
only the signing stack is measured. Prints a table with same-run ratios.

    .venv/bin/python bench/sign.py [--n 30] [--key rsa|ec] [--quick]

Rows:
- raw key sign: ``cryptography`` signing a digest (the ceiling).
- pyHanko default: ``SimpleSigner.load(...)`` then ``signers.sign_pdf`` per
  signature, as the documentation shows (key re-parsed, CMS built twice).
- pyHanko, signer loaded once: the same with ``SimpleSigner`` kept.
- endesive: ``endesive.pdf.cms.sign`` (adbe.pkcs7.detached).
- hsba: ``signer.sign.async_sign_pdf`` in one event loop, key kept parsed,
  ``bytes_reserved`` measured once; visible appearance (embedded Vietnamese
  font) and invisible.
- B-LTA: hsba against pyHanko default with the same in-process TSA and
  revocation source (a new validation context per signature for both).
- page count: hsba B-B on the form with 1, 10 and 50 pages.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


ROUNDS = 5
"""Every configuration runs once per round, rounds interleaved, median reported:
on a shared machine the load changes during the run, this keeps rows comparable."""


def _rate(fn: Callable[[], Any], n: int, warmup: int = 2) -> Callable[[], float]:
    """A runner measuring ``n`` calls of ``fn`` (after ``warmup`` on first use)."""
    state = {"warm": False}

    def run() -> float:
        if not state["warm"]:
            for _ in range(warmup):
                fn()
            state["warm"] = True
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return n / (time.perf_counter() - t0)

    return run


def _rate_async(make: Callable[[], Any], n: int, warmup: int = 2) -> Callable[[], float]:
    """The same for a coroutine factory, all calls of a round in one event loop."""
    state = {"warm": False}

    async def run() -> float:
        if not state["warm"]:
            for _ in range(warmup):
                await make()
            state["warm"] = True
        t0 = time.perf_counter()
        for _ in range(n):
            await make()
        return n / (time.perf_counter() - t0)

    return lambda: asyncio.run(run())


def _form(pages: int = 1) -> bytes:
    """The rendered consent form, re-saved by pikepdf with a classic cross-reference
    table (endesive cannot append to a file whose trailer is an xref stream), with
    its first page repeated to reach ``pages``."""
    import pikepdf

    from templates.render import render_form, sample_data

    pdf = render_form("consent_surgery", sample_data("consent_surgery"),
                      document_id="BENCH-1", verify_url="http://127.0.0.1/v/BENCH-1").pdf
    with pikepdf.open(BytesIO(pdf)) as doc:
        first = doc.pages[0]
        first.contents_coalesce()
        content = first.obj.Contents.read_bytes()
        for _ in range(pages - 1):
            doc.pages.append(first)
            # each copy gets its own content stream: the file really grows
            doc.pages[-1].obj.Contents = doc.make_stream(content)
        buf = BytesIO()
        doc.save(buf, object_stream_mode=pikepdf.ObjectStreamMode.disable,
                 fix_metadata_version=False)
        return buf.getvalue()


class Material:
    """A development PKI, one practitioner key of the chosen type, and its files."""

    def __init__(self, directory: Path, key_type: str) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
        from cryptography.x509.oid import NameOID

        from hsm.dev_pki import DevPki

        self.pki = DevPki.load_or_create(directory)
        self.key = (rsa.generate_private_key(public_exponent=65537, key_size=2048)
                    if key_type == "rsa" else ec.generate_private_key(ec.SECP256R1()))
        csr = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                           "Nguyễn Văn Bench")]))
               .sign(self.key, hashes.SHA256()))
        self.cert = self.pki.issue_practitioner(csr)
        self.chain = list(self.pki.chain())
        self.key_pem = directory / "key.pem"
        self.key_pem.write_bytes(self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        from asn1crypto import pem

        self.cert_pem = directory / "cert.pem"
        self.cert_pem.write_bytes(pem.armor("CERTIFICATE", self.cert.dump()))
        self.chain_pem = directory / "chain.pem"
        self.chain_pem.write_bytes(b"".join(pem.armor("CERTIFICATE", c.dump())
                                            for c in self.chain))
        from asn1crypto import keys

        self.key_info = keys.PrivateKeyInfo.load(self.key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))


def bench(n: int, key_type: str, quick: bool) -> list[tuple[str, float]]:
    runners = _runners(n, key_type, quick)
    rates: dict[str, list[float]] = {name: [] for name, _ in runners}
    for _ in range(ROUNDS):
        for name, run in runners:
            rates[name].append(run())
    return [(name, statistics.median(rates[name])) for name, _ in runners]


def _runners(n: int, key_type: str, quick: bool) -> list[tuple[str, Callable[[], float]]]:
    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    from signer.keys import InMemoryKeySigner
    from signer.request import SignRequest
    from signer.sign import async_sign_pdf

    rows: list[tuple[str, Callable[[], float]]] = []
    work = Path(tempfile.mkdtemp(prefix="hsba-bench-"))
    m = Material(work, key_type)
    pdf = _form()
    digest = os.urandom(32)

    def raw() -> None:
        if isinstance(m.key, rsa.RSAPrivateKey):
            m.key.sign(digest, padding.PKCS1v15(), hashes.SHA256())
        else:
            m.key.sign(digest, ec.ECDSA(hashes.SHA256()))

    rows.append(("raw key sign (ceiling)", _rate(raw, n * 50)))

    def pyhanko_default() -> None:
        signer = signers.SimpleSigner.load(str(m.key_pem), str(m.cert_pem),
                                           ca_chain_files=(str(m.chain_pem),))
        assert signer is not None
        w = IncrementalPdfFileWriter(BytesIO(pdf))
        signers.sign_pdf(w, signers.PdfSignatureMetadata(field_name="doctor"), signer=signer)

    rows.append(("pyHanko default B-B (load + sign_pdf)", _rate(pyhanko_default, n)))

    kept = signers.SimpleSigner.load(str(m.key_pem), str(m.cert_pem),
                                     ca_chain_files=(str(m.chain_pem),))

    def pyhanko_kept() -> None:
        w = IncrementalPdfFileWriter(BytesIO(pdf))
        signers.sign_pdf(w, signers.PdfSignatureMetadata(field_name="doctor"), signer=kept)

    rows.append(("pyHanko B-B, signer loaded once", _rate(pyhanko_kept, n)))

    try:
        from endesive.pdf import cms as endesive_cms

        e_cert = cx509.load_der_x509_certificate(m.cert.dump())
        e_chain = [cx509.load_der_x509_certificate(c.dump()) for c in m.chain]

        def endesive() -> None:
            udct = {"sigflags": 3, "contact": "bench", "location": "bench",
                    "signingdate": "D:20261127000000+07'00'", "reason": "bench",
                    "signature": "bench", "sigpage": 0, "signaturebox": (0, 0, 100, 50)}
            endesive_cms.sign(pdf, udct, m.key, e_cert, e_chain, "sha256")

        rows.append(("endesive B-B (adbe.pkcs7)", _rate(endesive, n)))
    except Exception as e:  # noqa: BLE001 - reported, the other rows still count
        print(f"endesive failed: {type(e).__name__}: {e}", file=sys.stderr)

    hsba_signer = InMemoryKeySigner.from_chain(m.key_info, [m.cert, *m.chain])
    visible = SignRequest("doctor", "Nguyễn Văn Bench", role="Bác sĩ", level="B-B")
    invisible = SignRequest("doctor", "Nguyễn Văn Bench", level="B-B", visible=False)
    rows.append(("hsba B-B, visible (embedded font)", _rate_async(
        lambda: async_sign_pdf(pdf, visible, signer=hsba_signer), n)))
    rows.append(("hsba B-B, invisible", _rate_async(
        lambda: async_sign_pdf(pdf, invisible, signer=hsba_signer), n)))

    # --- B-LTA, in-process TSA and revocation for both -------------------------
    tsa = m.pki.timestamper()
    source = m.pki.revocation_source()
    lta_n = max(2, n // 2)

    def pyhanko_lta() -> None:
        signer = signers.SimpleSigner.load(str(m.key_pem), str(m.cert_pem),
                                           ca_chain_files=(str(m.chain_pem),))
        meta = signers.PdfSignatureMetadata(
            field_name="doctor", subfilter=fields.SigSeedSubFilter.PADES,
            embed_validation_info=True, use_pades_lta=True,
            validation_context=source.validation_context())
        signers.sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf)), meta, signer=signer,
                         timestamper=tsa)

    rows.append(("pyHanko default B-LTA", _rate(pyhanko_lta, lta_n, warmup=1)))
    lta = SignRequest("doctor", "Nguyễn Văn Bench", role="Bác sĩ", level="B-LTA")
    rows.append(("hsba B-LTA, visible", _rate_async(
        lambda: async_sign_pdf(pdf, lta, signer=hsba_signer, timestampers=[tsa],
                               revocation=source), lta_n, warmup=1)))

    # --- cost vs page count -----------------------------------------------------
    if not quick:
        for pages in (1, 10, 50):
            doc = _form(pages)
            rows.append((f"hsba B-B invisible, {pages} page(s), {len(doc) // 1024} KiB",
                         _rate_async(lambda doc=doc: async_sign_pdf(
                             doc, invisible, signer=hsba_signer), n)))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=6, help="signatures per B-B row and round")
    ap.add_argument("--key", choices=["rsa", "ec"], default="rsa")
    ap.add_argument("--quick", action="store_true", help="skip the page-count rows")
    args = ap.parse_args()
    os.environ.setdefault("HSBA_ENV", "development")
    rows = bench(args.n, args.key, args.quick)
    base = dict(rows)
    ref = base.get("pyHanko default B-B (load + sign_pdf)")
    endes = base.get("endesive B-B (adbe.pkcs7)")
    ref_lta = base.get("pyHanko default B-LTA")
    key = "RSA-2048" if args.key == "rsa" else "ECDSA P-256"
    print(f"\nsignatures per second, {key}, 1-page consent form, one run, median of "
          f"{ROUNDS} interleaved rounds (load {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores)\n")
    print(f"| {'configuration':<48} | {'sig/s':>8} | {'× pyHanko default':>17} | "
          f"{'× endesive':>10} |")
    print(f"|{'-' * 50}|{'-' * 10}|{'-' * 19}|{'-' * 12}|")
    for name, rate in rows:
        is_lta = "B-LTA" in name
        base_rate = ref_lta if is_lta else ref
        x_ref = f"{rate / base_rate:.2f}" if base_rate else "-"
        x_end = f"{rate / endes:.2f}" if endes and not is_lta else "-"
        print(f"| {name:<48} | {rate:8.1f} | {x_ref:>17} | {x_end:>10} |")
    print("\n(B-LTA rows compare with pyHanko default B-LTA; page rows show that cost"
          " grows with file size only through hashing)")

    return 0


if __name__ == "__main__":
    sys.exit(main())
