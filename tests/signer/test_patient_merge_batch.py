"""Patient confirmation sealed by the hospital; two signers at once; batch signing."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import threading
from datetime import UTC, datetime
from io import BytesIO

import pytest
from PIL import Image, ImageDraw
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from core.errors import InvalidInput
from signer.batch import sign_batch
from signer.merge import InMemoryDocumentVersions, async_sign_latest
from signer.patient import (
    CONFIRMATION_REASON,
    PatientConfirmation,
    Representative,
    parse_binding,
    seal_patient_confirmation,
)
from signer.request import SignRequest
from signer.sign import sign_pdf, signature_fields
from tests.signer import checks

pytestmark = pytest.mark.services


def _png() -> bytes:
    img = Image.new("RGBA", (240, 80), (255, 255, 255, 0))
    ImageDraw.Draw(img).line([(10, 60), (60, 10), (120, 60), (200, 15)], fill=(0, 0, 128, 255),
                             width=4)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_patient_confirmation_sealed_and_bound(signer_pki, form_pdf, tmp_path):
    doc = sign_pdf(form_pdf, SignRequest("doctor", "Nguyễn Văn An", level="B-LT", certify=True),
                   signer=signer_pki.signer("doctor-rsa"), revocation=signer_pki.revocation(),
                   timestampers=[signer_pki.timestamper()])
    evidence = hashlib.sha256(b"pad strokes, kept by the device only").hexdigest()
    conf = PatientConfirmation(
        patient_name="Trần Văn Bệnh", method="handwritten_pad", evidence_sha256=evidence,
        device_id="kiosk-03", captured_at=datetime(2026, 11, 27, 9, 30, tzinfo=UTC),
        representative=Representative("Trần Thị Mẹ", "Mẹ"), handwritten_png=_png(),
    )
    sealed, record = seal_patient_confirmation(
        doc, conf, seal_signer=signer_pki.signer("seal"), document_id="DOC-1", level="B-LTA",
        timestampers=[signer_pki.timestamper()], revocation=signer_pki.revocation(),
    )
    assert record.document_sha256 == hashlib.sha256(doc).hexdigest()
    assert record.sealed_sha256 == hashlib.sha256(sealed).hexdigest()
    assert json.loads(json.dumps(record.to_dict()))["evidence_sha256"] == evidence
    reader = PdfFileReader(BytesIO(sealed))
    sig = next(s for s in reader.embedded_regular_signatures if s.field_name == "patient")
    assert sig.sig_object["/Name"] == "Trần Văn Bệnh"
    assert sig.sig_object["/Reason"] == CONFIRMATION_REASON
    binding = parse_binding(str(sig.sig_object["/ContactInfo"]))
    assert binding is not None
    assert binding["document-sha256"] == record.document_sha256
    assert binding["evidence-sha256"] == evidence and binding["device"] == "kiosk-03"
    checks.assert_ades_passed(sealed, signer_pki.root, "B-LTA", 2)
    (tmp_path / "s.pdf").write_bytes(sealed)
    checks.assert_pdfsig_valid(tmp_path / "s.pdf", 2)


def test_patient_confirmation_rejects_bad_evidence(signer_pki, form_pdf):
    conf = PatientConfirmation("A", "fingerprint", "not-a-hash", "dev",
                               datetime.now(UTC))
    with pytest.raises(InvalidInput):
        seal_patient_confirmation(form_pdf, conf, seal_signer=signer_pki.signer("seal"),
                                  level="B-B")


def _both_valid(pdf: bytes, root) -> None:
    reader = PdfFileReader(BytesIO(pdf))
    sigs = reader.embedded_regular_signatures
    assert sorted(s.field_name for s in sigs) == ["doctor", "head_of_department"]
    for s in sigs:
        status = validate_pdf_signature(s, ValidationContext(trust_roots=[root]))
        assert status.intact and status.valid and status.trusted, status.pretty_print_details()


def test_two_signers_at_once_100_times(signer_pki, form_pdf):
    doctor = signer_pki.signer("doctor-rsa")
    head = signer_pki.signer("doctor-ec")
    reapplied = 0
    for _ in range(100):
        store = InMemoryDocumentVersions(form_pdf)
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def run(request: SignRequest, signer, store=store, start=start, errors=errors) -> None:
            try:
                start.wait()
                asyncio.run(async_sign_latest(store, request, signer=signer))
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [
            threading.Thread(target=run, args=(
                SignRequest("doctor", "A", level="B-B", visible=False), doctor)),
            threading.Thread(target=run, args=(
                SignRequest("head_of_department", "B", level="B-B", visible=False), head)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        final = store.versions[-1]
        assert len(store.versions) == 3, "exactly two signed versions, no fork"
        assert final.startswith(store.versions[1]) and store.versions[1].startswith(form_pdf)
        assert signature_fields(final) == {**signature_fields(form_pdf),
                                           "doctor": True, "head_of_department": True}
        reapplied += store.rejected
    assert reapplied > 0, "the two signers never collided: the test proved nothing"
    _both_valid(final, signer_pki.root)


def test_concurrent_asyncio_tasks_keep_both(signer_pki, form_pdf):
    store = InMemoryDocumentVersions(form_pdf)

    async def main() -> None:
        await asyncio.gather(
            async_sign_latest(store, SignRequest("doctor", "A", level="B-T"),
                              signer=signer_pki.signer("doctor-rsa"),
                              timestampers=[signer_pki.timestamper()]),
            async_sign_latest(store, SignRequest("head_of_department", "B", level="B-T"),
                              signer=signer_pki.signer("doctor-ec"),
                              timestampers=[signer_pki.timestamper()]),
        )

    asyncio.run(main())
    assert len(store.versions) == 3
    _both_valid(store.versions[-1], signer_pki.root)


def test_batch_one_authorisation_many_documents(signer_pki, form_pdf):
    docs = [form_pdf] * 5 + [b"%PDF-1.7 broken"]
    results = sign_batch(docs, SignRequest("doctor", "Nguyễn Văn An", level="B-T"),
                         signer=signer_pki.signer("doctor-ec"),
                         timestampers=[signer_pki.timestamper()],
                         revocation=signer_pki.revocation())
    assert [r.ok for r in results] == [True] * 5 + [False]
    assert results[5].pdf is None and results[5].error["code"] == "sign.malformed_pdf"
    for r in results[:5]:
        assert r.pdf is not None
        checks.assert_ades_passed(r.pdf, signer_pki.root, "B-T", 1)
