"""The workflow on a prescription (the form whose signature once failed in the
appearance code), and a patient's confirmation sealed through
``signer.patient`` (its binding signed in ``/ContactInfo``, its evidence record
kept with the document). Embedded profile: development PKI and TSA in process,
software keys, filesystem WORM store (the real-services path is tests/e2e)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from signer.patient import parse_binding
from workflow.access import ActorRef
from workflow.demo import handwritten_png
from workflow.seeding import seed_demo
from workflow.services import Services
from workflow.signing import PatientEvidence


@pytest.fixture
def services(tmp_settings: Any) -> Any:
    s = Services.from_settings(tmp_settings)
    yield s
    s.close()


def _open_encounter(form: str) -> dict[str, Any]:
    from templates.render import sample_data

    now = datetime.now(UTC).astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    data = sample_data(form)
    data["encounter"] = {**data["encounter"],
                         "admission_time": (now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
                         "discharge_time": (now + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")}
    return data


def _verify(services: Any, pdf: bytes) -> Any:
    from signer.verify import verify_pdf

    report = verify_pdf(pdf, trust_roots=services.trust_roots, offline=True, isolated=False)
    assert report.verdict in ("VALID", "VALID_WITH_ALLOWED_CHANGES"), report.to_dict()
    return report


def test_prescription_is_signed_to_b_lta_with_a_visible_signature(services: Any) -> None:
    logins = {x.role: x for x in seed_demo(services)}
    doctor_l = logins["clinician"]
    doctor = ActorRef.of(services.accounts.find("staff", doctor_l.username))
    wf = services.documents
    doc = wf.create(doctor, form_code="prescription", data=_open_encounter("prescription"),
                    care_team=[doctor.practitioner_id], department=doctor.department)
    out = wf.sign(doctor, doc.id, pin=doctor_l.signing_pin, expected_sha256=doc.sha256)
    assert out.level == "B-LTA" and out.document.status == "archived"
    _, pdf = wf.pdf(doctor, doc.id)
    report = _verify(services, pdf)
    assert [s.field_name for s in report.signatures] == ["doctor"]
    sig = PdfFileReader(BytesIO(pdf)).embedded_regular_signatures[0]
    widget = sig.sig_field["/Kids"][0] if "/Kids" in sig.sig_field else sig.sig_field
    assert "/AP" in widget  # the visible appearance was drawn


def test_patient_confirmation_is_sealed_with_its_binding(services: Any) -> None:
    logins = {x.role: x for x in seed_demo(services)}
    doctor_l, kiosk_l = logins["clinician"], logins["kiosk"]
    doctor = ActorRef.of(services.accounts.find("staff", doctor_l.username))
    kiosk = ActorRef.of(services.accounts.find("device", kiosk_l.username))
    wf = services.documents
    doc = wf.create(doctor, form_code="consent_surgery", data=_open_encounter("consent_surgery"),
                    care_team=[doctor.practitioner_id], department=doctor.department)
    signed = wf.sign(doctor, doc.id, pin=doctor_l.signing_pin, expected_sha256=doc.sha256)
    before = signed.document
    _, shown = wf.pdf(doctor, doc.id)
    png = handwritten_png()
    out = wf.confirm_patient(
        kiosk, doc.id, PatientEvidence(method="patient_pad", signer_name="Nguyễn Thị Hồng Nhung",
                                       device=kiosk_l.username, handwritten_png=png),
        patient_ref=before.patient_ref, expected_sha256=before.sha256)

    evidence = out.evidence
    assert evidence is not None
    assert evidence["document_sha256"] == before.sha256  # bound to what the patient saw
    assert evidence["method"] == "handwritten_pad" and evidence["device_id"] == kiosk_l.username
    assert evidence["sealed_sha256"] == out.document.sha256
    _, pdf = wf.pdf(doctor, doc.id)
    assert pdf.startswith(shown)  # an incremental update of the version shown
    report = _verify(services, pdf)
    patient = next(s for s in report.signatures if s.field_name == "patient")
    assert patient.reason == "Người bệnh xác nhận"
    sig = next(s for s in PdfFileReader(BytesIO(pdf)).embedded_regular_signatures
               if s.field_name == "patient")
    binding = parse_binding(str(sig.sig_object["/ContactInfo"]))
    assert binding is not None
    assert binding["document-sha256"] == before.sha256
    assert binding["device"] == kiosk_l.username
    import hashlib

    assert binding["evidence-sha256"] == hashlib.sha256(png).hexdigest()
    assert evidence["binding"] == str(sig.sig_object["/ContactInfo"])
