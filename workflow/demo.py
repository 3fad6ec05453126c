"""The whole path once, on the demo hospital (``hsba demo``, the end-to-end test).

A Giấy cam đoan chấp nhận phẫu thuật, thủ thuật và gây mê hồi sức is rendered
for a demo patient; the doctor certifies it (DocMDP: form filling and
signatures allowed); the patient's handwritten confirmation is sealed with the
hospital seal; the last signature brings it to B-LTA; every signed version is
archived with its retention date and indexed; the result is verified offline.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from workflow.access import ActorRef
from workflow.seeding import DemoLogin, seed_demo
from workflow.signing import STAFF_SIGNER_ROLES, PatientEvidence

VN = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass(frozen=True)
class DemoResult:
    document_id: str
    pdf_path: Path
    sha256: str
    object_key: str
    retention_class: str
    retain_until: str | None
    versions: tuple[dict[str, Any], ...]
    verification: dict[str, Any]
    """``signer.verify`` report as a dict (``verdict``, ``signatures``...)."""

    @property
    def verdict(self) -> str:
        return str(self.verification.get("verdict"))


def handwritten_png(width: int = 360, height: int = 120) -> bytes:
    """A drawn signature (a smooth scribble), as a pad would capture it."""
    import math

    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (width, height), (255, 255, 255, 0))
    draw = ImageDraw.Draw(img)
    pts = [(20 + i * 3.2, height / 2 + 28 * math.sin(i / 6.0) * math.cos(i / 17.0))
           for i in range(100)]
    draw.line(pts, fill=(10, 30, 120, 255), width=4, joint="curve")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def demo_form_data(tenant: str, now: datetime | None = None) -> dict[str, Any]:
    """Sample consent data with the encounter open now (access windows apply)."""
    from templates.render import sample_data

    now = (now or datetime.now(UTC)).astimezone(VN)
    data = sample_data("consent_surgery")
    enc = dict(data.get("encounter") or {})
    enc["admission_time"] = (now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    enc["discharge_time"] = (now + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M")
    data["encounter"] = enc
    if isinstance(data.get("procedure"), dict):
        data["procedure"] = {**data["procedure"],
                             "planned_at": (now + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")}
    return data


def _login(logins: list[DemoLogin], role: str) -> DemoLogin:
    return next(x for x in logins if x.role == role)


def run_demo(services: Any, out_dir: Path, *, lang: str = "vi",
             key_ids: dict[str, str] | None = None) -> DemoResult:
    """``key_ids``: demo usernames (and ``"seal"``) → existing keystore keys (PKCS#11)."""
    from signer.verify import verify_pdf

    logins = seed_demo(services, key_ids=key_ids)
    doctor_login = _login(logins, "clinician")
    kiosk_login = _login(logins, "kiosk")
    doctor = ActorRef.of(services.accounts.find("staff", doctor_login.username))
    kiosk = ActorRef.of(services.accounts.find("device", kiosk_login.username))
    wf = services.documents

    data = demo_form_data(doctor.tenant)
    doc = wf.create(doctor, form_code="consent_surgery", data=data,
                    care_team=[doctor.practitioner_id], department=doctor.department)
    wf.sign(doctor, doc.id, pin=doctor_login.signing_pin, expected_sha256=doc.sha256)
    current = wf.get(doctor, doc.id, audit=False)
    patient_name = str(data["patient"]["full_name"])
    outcome = wf.confirm_patient(
        kiosk, doc.id,
        PatientEvidence(method="patient_pad", signer_name=patient_name,
                        device=kiosk_login.username, handwritten_png=handwritten_png()),
        patient_ref=current.patient_ref, expected_sha256=current.sha256)

    # Further staff steps the hospital's policy asks for (e.g. the head of department).
    view = outcome.document
    while view.status == "awaiting_signatures":
        pending = view.pending_roles[0]
        login = next(x for x in logins
                     if x.key_id and pending in STAFF_SIGNER_ROLES.get(x.role, ())
                     and pending == STAFF_SIGNER_ROLES[x.role][0])
        actor = ActorRef.of(services.accounts.find("staff", login.username))
        view = wf.sign(actor, doc.id, pin=login.signing_pin, expected_sha256=view.sha256).document

    final_view, pdf = wf.pdf(doctor, doc.id, action="export")
    out_dir.mkdir(parents=True, exist_ok=True)
    pdf_path = out_dir / f"consent_surgery-{doc.id}.pdf"
    pdf_path.write_bytes(pdf)

    report = verify_pdf(pdf, trust_roots=services.trust_roots, offline=True, lang=lang)
    services.trail.record("verify", actor=doctor, document_id=doc.id,
                          details={"verdict": str(report.verdict)})
    info = services.index.get(doc.id)
    versions = tuple({"version": v.n, "sha256": v.sha256, "object_key": v.object_key,
                      "reason": v.reason} for v in services.index.versions(doc.id))
    return DemoResult(
        document_id=doc.id, pdf_path=pdf_path, sha256=final_view.sha256,
        object_key=final_view.archive_key or versions[-1]["object_key"],
        retention_class=info.retention_class,
        retain_until=info.retain_until.isoformat() if info.retain_until else None,
        versions=versions, verification=report.to_dict())
