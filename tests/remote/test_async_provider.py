"""App-confirmed remote signing against the SmartCA-shaped provider DOUBLE
(``provider_double.py``; the real providers cannot be reached from here) over real
HTTP: several documents under one confirmation; survival of a SIGKILL of the hsba
process between request and confirmation; rejection and timeout leave the documents
unsigned; a webhook notification completes like polling. Signed PDFs pass pyHanko
AdES validation (trust anchor: the double's development PKI root) and ``pdfsig``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from provider_double import SP_ID, SP_PASSWORD, USER_ID, ProviderDouble
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESStatus
from pyhanko.sign.validation import ades
from pyhanko.sign.validation.policy_decl import (
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.policy_decl import NO_REVOCATION, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager

from hsm.remote.async_provider import (
    AppConfirmedSigning,
    DocumentToSign,
    FilePendingStore,
    SmartCaClient,
)

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def pdf() -> bytes:
    from tests.pdfs import one_page_pdf

    return one_page_pdf()


def _signing(url: str, store: Path, **kw: Any) -> AppConfirmedSigning:
    return AppConfirmedSigning(SmartCaClient(url, SP_ID, SP_PASSWORD), FilePendingStore(store),
                               **kw)


def assert_signed(double: ProviderDouble, pdf: bytes, path: Path) -> None:
    spec = SignatureValidationSpec(
        cert_validation_policy=CertValidationPolicySpec(
            trust_manager=SimpleTrustManager.build(trust_roots=[double.pki.chain()[-1]]),
            revinfo_policy=CertRevTrustPolicy(NO_REVOCATION)),
        revinfo_gathering_policy=RevocationInfoGatheringSpec(
            online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY))

    async def run() -> list[str]:
        out = []
        for sig in PdfFileReader(BytesIO(pdf)).embedded_regular_signatures:
            assert sig.signer_cert.dump() == double.cert.dump()
            r = await ades.ades_basic_validation(sig.signed_data, spec,
                                                 raw_digest=sig.compute_digest())
            out.append(r.ades_subindic.status.name)
        return out
    assert asyncio.run(run()) == [AdESStatus.PASSED.name]
    path.write_bytes(pdf)
    text = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True,
                          check=False).stdout
    assert "Signature Validation: Signature is Valid." in text, text


def _unsigned(pdf: bytes) -> bool:
    return not PdfFileReader(BytesIO(pdf)).embedded_signatures


def test_several_documents_one_confirmation(provider: tuple[ProviderDouble, str], pdf: bytes,
                                            tmp_path: Path) -> None:
    double, url = provider
    signing = _signing(url, tmp_path / "pending")
    docs = [DocumentToSign(f"d{i}", pdf, "BacSi") for i in range(3)]
    tx = asyncio.run(signing.request(USER_ID, docs))
    sign_calls = [r for r in double.requests if r["path"] == "/v1/signatures/sign"
                  and r["transaction_id"] == tx.transaction_id]
    assert len(sign_calls) == 1 and len(sign_calls[0]["sign_files"]) == 3
    assert all(f["sign_type"] == "hash" for f in sign_calls[0]["sign_files"])
    assert asyncio.run(signing.complete(tx.transaction_id)).status == "pending"
    double.confirm(tx.tran_code)
    outcome = asyncio.run(signing.complete(tx.transaction_id))
    assert outcome.status == "completed" and sorted(outcome.signed) == ["d0", "d1", "d2"]
    assert outcome.sign_algo == "sha256_rsa"  # what the provider returns, recorded
    for doc_id, signed in outcome.signed.items():
        assert_signed(double, signed, tmp_path / f"{doc_id}.pdf")
    # completing again returns the same stored result
    again = asyncio.run(signing.complete(tx.transaction_id))
    assert again.signed == outcome.signed


@pytest.mark.parametrize("store_kind", [
    "file", pytest.param("postgresql", marks=pytest.mark.services)])
def test_survives_a_kill_of_hsba_between_request_and_confirmation(
        provider: tuple[ProviderDouble, str], pdf: bytes, tmp_path: Path, store_kind: str,
        request: pytest.FixtureRequest) -> None:
    """The pending state in a directory (embedded default) or in PostgreSQL
    (``DbPendingStore``, what the service uses there)."""
    double, url = provider
    store = str(tmp_path / "pending") if store_kind == "file" \
        else request.getfixturevalue("test_services").pg_url
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "in.pdf").write_bytes(pdf)
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1])}
    first = subprocess.Popen(
        [sys.executable, str(HERE / "hsba_side.py"), "request", str(store), url,
         str(tmp_path / "in.pdf"), "2"], stdout=subprocess.PIPE, text=True, env=env)
    assert first.stdout is not None
    line = first.stdout.readline()
    ids = json.loads(line)
    first.send_signal(signal.SIGKILL)  # mid-flight: waiting for the signer
    assert first.wait(10) == -signal.SIGKILL
    double.confirm(ids["tran_code"])  # the signer confirms while hsba is down
    second = subprocess.run(
        [sys.executable, str(HERE / "hsba_side.py"), "complete", str(store), url,
         ids["transaction_id"], str(out)], capture_output=True, text=True, env=env,
        check=True, timeout=120)
    result = json.loads(second.stdout.strip().splitlines()[-1])
    assert result == {"status": "completed", "docs": ["doc-0", "doc-1"],
                      "sign_algo": "sha256_rsa"}
    for name in ("doc-0", "doc-1"):
        assert_signed(double, (out / f"{name}.pdf").read_bytes(), tmp_path / f"v-{name}.pdf")
    if store_kind == "postgresql":
        from sqlalchemy import create_engine

        from api.remote.pending_db import DbPendingStore

        engine = create_engine(store)
        try:
            stored = DbPendingStore(engine).load(ids["transaction_id"])
        finally:
            engine.dispose()
        assert stored is not None and stored.status == "completed"
        assert sorted(stored.signed_b64) == ["doc-0", "doc-1"]


def test_rejection_leaves_documents_unsigned(provider: tuple[ProviderDouble, str], pdf: bytes,
                                             tmp_path: Path) -> None:
    double, url = provider
    signing = _signing(url, tmp_path / "pending")
    tx = asyncio.run(signing.request(USER_ID, [DocumentToSign("d", pdf, "BacSi")]))
    double.reject(tx.tran_code)
    outcome = asyncio.run(signing.complete(tx.transaction_id))
    assert outcome.status == "rejected" and outcome.signed == {}
    assert "KHÔNG" in outcome.message_vi and "NOT signed" in outcome.message_en
    # a confirmation arriving after the rejection changes nothing
    double.confirm(tx.tran_code)
    assert asyncio.run(signing.complete(tx.transaction_id)).status == "rejected"
    assert _unsigned(pdf)


def test_timeout_leaves_documents_unsigned(provider: tuple[ProviderDouble, str], pdf: bytes,
                                           tmp_path: Path) -> None:
    double, url = provider
    signing = _signing(url, tmp_path / "pending", timeout=timedelta(seconds=-1))
    tx = asyncio.run(signing.request(USER_ID, [DocumentToSign("d", pdf, "BacSi")]))
    outcome = asyncio.run(signing.complete(tx.transaction_id))  # still pending, deadline past
    assert outcome.status == "expired" and outcome.signed == {}
    assert "NOT signed" in outcome.message_en
    double.confirm(tx.tran_code)  # too late
    assert asyncio.run(signing.complete(tx.transaction_id)).signed == {}
    # the provider's own expiry is honoured too
    signing = _signing(url, tmp_path / "pending2")
    tx = asyncio.run(signing.request(USER_ID, [DocumentToSign("d", pdf, "BacSi")]))
    double.expire(tx.tran_code)
    assert asyncio.run(signing.complete(tx.transaction_id)).status == "expired"


def test_webhook_notification_completes(provider: tuple[ProviderDouble, str], pdf: bytes,
                                        tmp_path: Path) -> None:
    double, url = provider
    signing = _signing(url, tmp_path / "pending")
    tx = asyncio.run(signing.request(USER_ID, [DocumentToSign("d", pdf, "BacSi")]))
    double.confirm(tx.tran_code)
    outcome = asyncio.run(signing.on_callback(double.notification(tx.tran_code)))
    assert outcome.status == "completed"
    assert_signed(double, outcome.signed["d"], tmp_path / "d.pdf")


def test_a_forged_signature_value_is_refused(provider: tuple[ProviderDouble, str], pdf: bytes,
                                             tmp_path: Path) -> None:
    from core.errors import KeyCustodyError
    from hsm.remote.async_provider import ProviderResult

    _, url = provider
    signing = _signing(url, tmp_path / "pending")
    tx = asyncio.run(signing.request(USER_ID, [DocumentToSign("d", pdf, "BacSi")]))
    with pytest.raises(KeyCustodyError):
        asyncio.run(signing.apply(tx.transaction_id,
                                  ProviderResult("confirmed", {"d": bytes(256)})))
    assert FilePendingStore(tmp_path / "pending").load(tx.transaction_id).status == "pending"


def test_signature_timestamp_on_completion(provider: tuple[ProviderDouble, str], pdf: bytes,
                                           tmp_path: Path) -> None:
    """With a TSA the completed signature is PAdES B-T (the double's development TSA)."""
    double, url = provider
    signing = _signing(url, tmp_path / "pending", timestamper=double.pki.timestamper())
    tx = asyncio.run(signing.request(USER_ID, [DocumentToSign("d", pdf, "BacSi")]))
    double.confirm(tx.tran_code)
    signed = asyncio.run(signing.complete(tx.transaction_id)).signed["d"]
    assert_signed(double, signed, tmp_path / "t.pdf")
    sig = PdfFileReader(BytesIO(signed)).embedded_signatures[0]
    unsigned = [a["type"].native for a in sig.signer_info["unsigned_attrs"]]
    assert "signature_time_stamp_token" in unsigned
    spec = SignatureValidationSpec(
        cert_validation_policy=CertValidationPolicySpec(
            trust_manager=SimpleTrustManager.build(trust_roots=[double.pki.chain()[-1]]),
            revinfo_policy=CertRevTrustPolicy(NO_REVOCATION)),
        revinfo_gathering_policy=RevocationInfoGatheringSpec(
            online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY))
    result = asyncio.run(ades.ades_with_time_validation(
        sig.signed_data, spec, raw_digest=sig.compute_digest()))
    assert result.ades_subindic.status == AdESStatus.PASSED, result.ades_subindic


def test_poll_pending_settles_every_transaction(provider: tuple[ProviderDouble, str],
                                                pdf: bytes, tmp_path: Path) -> None:
    double, url = provider
    signing = _signing(url, tmp_path / "pending")
    txs = [asyncio.run(signing.request(USER_ID, [DocumentToSign(f"d{i}", pdf, "BacSi")]))
           for i in range(3)]
    double.confirm(txs[0].tran_code)
    double.reject(txs[1].tran_code)
    # the job leaves transactions younger than its threshold to the webhook
    from hsm.remote.polling import poll_provider

    fresh = _signing(url, tmp_path / "pending")
    assert poll_provider(fresh, older_than_s=3600) == []
    assert len(FilePendingStore(tmp_path / "pending").pending()) == 3
    # a new instance (as after a restart) over the same store, the job's own entry point
    outcomes = poll_provider(_signing(url, tmp_path / "pending"), older_than_s=0)
    by_id = {o.transaction_id: o.status for o in outcomes}
    assert by_id == {txs[0].transaction_id: "completed", txs[1].transaction_id: "rejected",
                     txs[2].transaction_id: "pending"}
    assert [t.transaction_id for t in FilePendingStore(tmp_path / "pending").pending()] == [
        txs[2].transaction_id]


def test_webhook_and_polling_racing_settle_once(provider: tuple[ProviderDouble, str],
                                                pdf: bytes, tmp_path: Path) -> None:
    double, url = provider
    signing = _signing(url, tmp_path / "pending")
    tx = asyncio.run(signing.request(USER_ID, [DocumentToSign("d", pdf, "BacSi")]))
    double.confirm(tx.tran_code)

    async def race() -> list[Any]:
        return list(await asyncio.gather(signing.complete(tx.transaction_id),
                                         signing.on_callback(double.notification(tx.tran_code))))
    first, second = asyncio.run(race())
    assert sorted([first.settled_now, second.settled_now]) == [False, True]
    assert first.status == second.status == "completed"
    assert first.signed == second.signed  # the loser reports the winner's stored result
    assert_signed(double, first.signed["d"], tmp_path / "d.pdf")
