"""The signing API end to end over HTTP (TestClient): a hospital system creates a
consent form, the doctor signs with If-Match and their PIN, the patient confirms
at the kiosk, the head of department approves, the document is archived at
B-LTA; reads are audited; verification, search, FHIR and the refusals on the way."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pyotp
import pytest

from tests.api.conftest import ApiEnv
from tests.signer.checks import assert_ades_passed
from workflow.demo import demo_form_data, handwritten_png


@pytest.fixture(scope="module")
def signed_flow(api_env: ApiEnv) -> dict[str, Any]:
    env = api_env
    c = env.client
    doctor = env.logins["clinician"]
    data = demo_form_data("70001")
    r = c.post("/api/v1/documents", headers=env.headers("integration"),
               json={"form_code": "consent_surgery", "data": data, "department": env.logins["clinician"].department,
                     "care_team": [doctor.practitioner_id]})
    assert r.status_code == 201, r.text
    created = r.json()
    doc_id = created["id"]
    assert r.headers["ETag"] == created["etag"]
    assert [s["role"] for s in created["signature_requests"]][:2] == ["doctor", "patient"]
    assert created["signature_requests"][0]["certify"] is True

    # the doctor: a wrong PIN changes nothing; a stale If-Match is refused
    h_doc = env.headers("clinician")
    r = c.post(f"/api/v1/documents/{doc_id}/sign", headers={**h_doc, "If-Match": created["etag"]},
               json={"pin": "000000"})
    assert r.status_code == 401 and r.json()["code"] == "sign.bad_factor"
    r = c.post(f"/api/v1/documents/{doc_id}/sign", headers=h_doc, json={"pin": doctor.signing_pin})
    assert r.status_code == 428
    r = c.post(f"/api/v1/documents/{doc_id}/sign", headers={**h_doc, "If-Match": '"stale"'},
               json={"pin": doctor.signing_pin})
    assert r.status_code == 412
    r = c.post(f"/api/v1/documents/{doc_id}/sign", headers={**h_doc, "If-Match": created["etag"]},
               json={"totp": pyotp.TOTP(doctor.totp_secret).now()})
    assert r.status_code == 200, r.text
    after_doctor = r.json()["document"]
    assert after_doctor["version"] == 1 and r.json()["level"] == "B-LT"

    # the patient at the kiosk: another patient's id is refused (and audited)
    h_kiosk = env.headers("kiosk")
    body = {"method": "patient_pad", "signer_name": "Nguyễn Thị Hồng Nhung",
            "patient_ref": "BN-SOMEONE-ELSE", "sha256": after_doctor["sha256"],
            "handwritten_png_b64": base64.b64encode(handwritten_png()).decode()}
    r = c.post(f"/api/v1/documents/{doc_id}/patient-confirmation", headers=h_kiosk, json=body)
    assert r.status_code == 403
    body["patient_ref"] = after_doctor["patient_ref"]
    r = c.post(f"/api/v1/documents/{doc_id}/patient-confirmation", headers=h_kiosk, json=body)
    assert r.status_code == 200, r.text
    after_patient = r.json()["document"]

    # the head of department approves with the batch endpoint (one factor, hash-bound)
    head = env.logins["head_of_department"]
    r = c.post("/api/v1/documents/sign-batch", headers=env.headers("head_of_department"),
               json={"items": [{"document_id": doc_id, "sha256": after_patient["sha256"]}],
                     "pin": head.signing_pin})
    assert r.status_code == 200, r.text
    assert r.json()[0]["ok"] is True, r.json()
    return {"id": doc_id, "patient_ref": after_doctor["patient_ref"],
            "cccd": data["patient"]["cccd"]}


def test_document_reaches_archive_at_b_lta(api_env: ApiEnv, signed_flow: dict[str, Any]) -> None:
    c = api_env.client
    doc_id = signed_flow["id"]
    r = c.get(f"/api/v1/documents/{doc_id}", headers=api_env.headers("auditor"))
    assert r.status_code == 200
    doc = r.json()
    assert doc["status"] == "archived" and doc["archive_key"]
    assert all(s["status"] == "signed" for s in doc["signature_requests"])
    versions = c.get(f"/api/v1/documents/{doc_id}/versions",
                     headers=api_env.headers("auditor")).json()
    assert [v["version"] for v in versions] == [0, 1, 2, 3]
    assert [v["reason"] for v in versions] == [
        "rendered", "signed:doctor", "confirmed:patient", "signed:head_of_department"]
    archived = api_env.services.index.versions(doc_id)
    assert [v.reason for v in archived] == [
        "B-LT:doctor", "B-LT:patient", "B-LTA:head_of_department"]
    pdf = c.get(f"/api/v1/documents/{doc_id}/pdf", headers=api_env.headers("integration"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert hashlib.sha256(pdf.content).hexdigest() == doc["sha256"]

    r = c.post("/api/v1/verify", headers=api_env.headers("auditor"),
               files={"file": ("consent.pdf", pdf.content, "application/pdf")})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["verdict"] in ("VALID", "VALID_WITH_ALLOWED_CHANGES")
    assert [s["field_name"] for s in report["signatures"]] == [
        "doctor", "patient", "head_of_department"]
    assert all(s["indication"] == "TOTAL_PASSED" for s in report["signatures"])
    assert report["document_timestamps"], "B-LTA: a document timestamp over everything"
    assert_ades_passed(pdf.content, api_env.services.pki.trust_roots[0], "B-LTA", 3)
    r = c.post("/api/v1/verify?format=pdf&lang=en", headers=api_env.headers("auditor"),
               files={"file": ("consent.pdf", pdf.content, "application/pdf")})
    assert r.status_code == 200 and r.content.startswith(b"%PDF")

    png = c.get(f"/api/v1/documents/{doc_id}/pages/1.png", headers=api_env.headers("auditor"))
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")


def test_search_fhir_and_who_viewed(api_env: ApiEnv, signed_flow: dict[str, Any]) -> None:
    c = api_env.client
    doc_id = signed_flow["id"]
    h = api_env.headers("integration")
    page = c.get("/api/v1/archive/documents", headers=h,
                 params={"patient_identifier": signed_flow["cccd"]}).json()
    assert doc_id in [d["id"] for d in page["items"]]
    bundle = c.get("/fhir/r4/DocumentReference", headers=h,
                   params={"patient.identifier": f"urn:oid:2.16.704.1.0.1|{signed_flow['cccd']}"})
    assert bundle.status_code == 200 and bundle.headers["content-type"].startswith(
        "application/fhir+json")
    assert doc_id in [e["resource"]["id"] for e in bundle.json()["entry"]]
    prov = c.get("/fhir/r4/Provenance", headers=h,
                 params={"target": f"DocumentReference/{doc_id}"}).json()
    assert [e["resource"]["activity"]["coding"][0]["code"] for e in prov["entry"]] == [
        "doctor", "patient", "head_of_department"]
    patient = c.get("/fhir/r4/Patient/demo-70001-pt-nhung", headers=h)
    assert patient.status_code == 200 and patient.json()["resourceType"] == "Patient"
    assert c.get("/fhir/r4/Patient/demo-70001-pt-nhung",
                 headers=api_env.headers("integration", other=True)).status_code == 404
    binary = c.get(f"/fhir/r4/Binary/{doc_id}", headers=h)
    assert binary.status_code == 200 and binary.content.startswith(b"%PDF")

    viewers = c.get(f"/api/v1/documents/{doc_id}/viewers", headers=api_env.headers("auditor"))
    assert viewers.status_code == 200
    assert {"view", "export"} <= {v["action"] for v in viewers.json()}
    events = c.get("/api/v1/audit/events", headers=api_env.headers("auditor"),
                   params={"object_id": doc_id, "limit": 500}).json()["items"]
    refused = [e for e in events if e["details"].get("outcome") == "refused"]
    assert refused, "the other patient's kiosk attempt must be audited"
    assert {e["action"] for e in events} >= {"create", "sign", "seal", "archive", "view"}


def test_other_hospital_sees_nothing_and_is_audited(api_env: ApiEnv,
                                                    signed_flow: dict[str, Any]) -> None:
    c = api_env.client
    doc_id = signed_flow["id"]
    for role in ("auditor", "integration", "clinician"):
        h = api_env.headers(role, other=True)
        for path in (f"/api/v1/documents/{doc_id}", f"/api/v1/documents/{doc_id}/pdf",
                     f"/fhir/r4/Binary/{doc_id}", f"/api/v1/documents/{doc_id}/versions"):
            r = c.get(path, headers=h)
            assert r.status_code == 404, (role, path, r.status_code)
    page = c.get("/api/v1/archive/documents", headers=api_env.headers("auditor", other=True),
                 params={"patient_identifier": signed_flow["cccd"]}).json()
    assert page["items"] == []
    events = api_env.services.audit.entries(limit=100_000)
    cross = [e for e in events if e.object_id == doc_id and e.tenant_id == "79002"
             and e.details.get("reason") == "cross_tenant"]
    assert len(cross) >= 3


def test_idempotency_key_replays_and_refuses_reuse(api_env: ApiEnv) -> None:
    c = api_env.client
    h = {**api_env.headers("admin"), "Idempotency-Key": "webhook-create-1"}
    body = {"url": "http://127.0.0.1:9/hook", "events": ["document.created"]}
    first = c.post("/api/v1/webhooks", headers=h, json=body)
    assert first.status_code == 201
    again = c.post("/api/v1/webhooks", headers=h, json=body)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    other = c.post("/api/v1/webhooks", headers=h, json={**body, "events": ["document.archived"]})
    assert other.status_code == 422
    subs = c.get("/api/v1/webhooks", headers=api_env.headers("admin")).json()
    assert [s["id"] for s in subs].count(first.json()["id"]) == 1
    c.delete(f"/api/v1/webhooks/{first.json()['id']}", headers=api_env.headers("admin"))


def test_upload_limit_and_problem_json(api_env: ApiEnv) -> None:
    c = api_env.client
    big = b"%PDF-1.7\n" + b"0" * (3 * 1024 * 1024)
    r = c.post("/api/v1/verify", headers=api_env.headers("auditor"),
               files={"file": ("big.pdf", big, "application/pdf")})
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["message_vi"] and r.json()["message_en"]
    r = c.post("/api/v1/documents", headers=api_env.headers("integration"),
               json={"form_code": "consent_surgery", "data": {"patient": {}}})
    assert r.status_code == 422 and r.json()["details"]
