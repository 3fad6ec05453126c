"""Two clinicians signing the same document at the same moment: neither signature
is lost (compare-and-set on the version, the loser re-applies its signature on the
newer version); a caller that pinned the version it saw gets 412 instead; and a
hospital's own policy file (a parallel group) changes the order without code."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from workflow.access import ActorRef
from workflow.seeding import seed_demo
from workflow.services import Services
from workflow.signing import PreconditionFailed

PARALLEL_DISCHARGE = """\
kind: signing
version: "2026.1-h1"
form: discharge_paper
title_vi: Giấy ra viện
title_en: Discharge paper
legal_basis: TT 25/2025 Mẫu 02; TT 13/2025/TT-BYT Đ3
final_level: B-LTA
steps:
  - parallel:
      - role: doctor
        methods: [hsm_key, remote_signing]
      - role: director
        alternatives: [head_of_department]
        methods: [hsm_key, remote_signing]
"""


@pytest.fixture
def services(tmp_settings: Any, tmp_path: Path) -> Any:
    policies = tmp_path / "hospital-policies"
    policies.mkdir()
    (policies / "discharge_paper.yaml").write_text(PARALLEL_DISCHARGE, "utf-8")
    s = Services.from_settings(tmp_settings.model_copy(update={"policies_dir": policies}))
    yield s
    s.close()


def _data() -> dict[str, Any]:
    from templates.render import sample_data

    now = datetime.now(UTC).astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    data = sample_data("discharge_paper")
    data["encounter"] = {**data["encounter"],
                         "admission_time": (now - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
                         "discharge_time": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")}
    return data


def test_two_signers_at_once_both_land(services: Any) -> None:
    logins = {x.role: x for x in seed_demo(services)}
    doctor_l, head_l = logins["clinician"], logins["head_of_department"]
    doctor = ActorRef.of(services.accounts.find("staff", doctor_l.username))
    head = ActorRef.of(services.accounts.find("staff", head_l.username))
    wf = services.documents
    doc = wf.create(doctor, form_code="discharge_paper", data=_data(),
                    care_team=[doctor.practitioner_id], department=doctor.department)
    assert {r.order_group for r in doc.signature_requests} == {0}  # one parallel group

    # a pinned, stale version is refused and changes nothing
    with pytest.raises(PreconditionFailed):
        wf.sign(doctor, doc.id, pin=doctor_l.signing_pin, expected_sha256="0" * 64)

    barrier = threading.Barrier(2)
    outcomes: dict[str, Any] = {}

    def sign(name: str, actor: ActorRef, pin: str) -> None:
        barrier.wait()
        try:
            outcomes[name] = wf.sign(actor, doc.id, pin=pin)
        except Exception as e:  # noqa: BLE001 - reported below
            outcomes[name] = e

    threads = [threading.Thread(target=sign, args=("doctor", doctor, doctor_l.signing_pin)),
               threading.Thread(target=sign, args=("head", head, head_l.signing_pin))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not [o for o in outcomes.values() if isinstance(o, Exception)], outcomes

    final = wf.get(head, doc.id, audit=False)
    assert final.version == 2 and final.status == "archived"
    assert all(r.status == "signed" for r in final.signature_requests)
    _, pdf = wf.pdf(head, doc.id)
    from signer.verify import verify_pdf

    report = verify_pdf(pdf, trust_roots=services.trust_roots, offline=True)
    assert report.verdict in ("VALID", "VALID_WITH_ALLOWED_CHANGES"), report.to_dict()
    assert sorted(s.field_name for s in report.signatures) == ["director", "doctor"]
    assert report.document_timestamps  # the one that completed the policy went to B-LTA
    reasons = [v.reason for v in services.index.versions(doc.id)]
    assert len(reasons) == 2 and reasons[-1].startswith("B-LTA:")


def test_loser_of_the_race_reapplies_on_the_newer_version(
        services: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Deterministic interleaving: the head of department commits while the doctor's
    signature is being made on the older version; the doctor's is re-applied."""
    import logging

    logins = {x.role: x for x in seed_demo(services)}
    doctor_l, head_l = logins["clinician"], logins["head_of_department"]
    doctor = ActorRef.of(services.accounts.find("staff", doctor_l.username))
    head = ActorRef.of(services.accounts.find("staff", head_l.username))
    wf = services.documents
    doc = wf.create(doctor, form_code="discharge_paper", data=_data(),
                    care_team=[doctor.practitioner_id], department=doctor.department)
    original = wf._current_pdf
    state = {"interleaved": False}

    def interleave(row: Any) -> bytes:
        if not state["interleaved"]:
            state["interleaved"] = True
            wf.sign(head, doc.id, pin=head_l.signing_pin)  # lands first: version 1
        return original(row)

    monkeypatch.setattr(wf, "_current_pdf", interleave)
    with caplog.at_level(logging.INFO, logger="workflow.signing"):
        out = wf.sign(doctor, doc.id, pin=doctor_l.signing_pin)
    assert any("re-applying" in r.getMessage() for r in caplog.records)
    assert out.document.version == 2 and out.document.status == "archived"
    assert out.level == "B-LTA"  # re-applied as the signature that completes the policy
    signed_by = {r.role: r.signed_by for r in out.document.signature_requests}
    assert signed_by == {"doctor": doctor.subject, "director": head.subject}
