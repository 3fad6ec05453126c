"""The document lifecycle: create → render → request signatures → sign →
confirm (patient, sealed) → B-LTA → archive, every step audited.

Concurrency: each document has a version; a signature is committed only if
the version it was made on is still current (compare-and-set). A caller that
pinned a version (``If-Match``) gets 412 when it moved; otherwise the
signature is re-applied on the newer version, so two clinicians signing
parallel steps at once both land. Signing runs on the calling thread (the
API calls from its executor, never on the event loop).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from core.errors import NotFound
from workflow.access import RecordRef, not_found
from workflow.db import document_versions, documents, signature_requests
from workflow.signing import PreconditionFailed, SigningSteps
from workflow.views import DocumentView, SignatureRequestView

log = logging.getLogger(__name__)

def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _parse_dt(value: Any) -> datetime | None:
    """A form's date-time: naive values are Vietnamese local time (Asia/Ho_Chi_Minh)."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    return parsed.astimezone(UTC)


class DocumentWorkflow(SigningSteps):
    def __init__(self, services: Any) -> None:
        self._s = services

    # --- reading -----------------------------------------------------------------
    def _view(self, row: Any) -> DocumentView:
        with self._s.engine.connect() as conn:
            reqs = conn.execute(
                select(signature_requests)
                .where(signature_requests.c.document_id == row.id)
                .order_by(signature_requests.c.step)).all()
        return DocumentView(
            id=row.id, tenant=row.tenant, form_code=row.form_code, form_version=row.form_version,
            status=row.status, version=row.version, sha256=row.sha256,
            patient_ref=row.patient_ref, encounter_id=row.encounter_id,
            department=row.department, policy_version=row.policy_version,
            retention_class=row.retention_class, created_at=_utc(row.created_at),  # type: ignore[arg-type]
            updated_at=_utc(row.updated_at), archive_key=row.archive_key,  # type: ignore[arg-type]
            care_team=tuple(row.care_team or ()),
            signature_requests=tuple(
                SignatureRequestView(
                    step=r.step, role=r.role, field=r.field, methods=tuple(r.methods),
                    certify=bool(r.certify), order_group=r.order_group, status=r.status,
                    due_at=_utc(r.due_at), signed_by=r.signed_by, signed_at=_utc(r.signed_at),
                    method=r.method)
                for r in reqs),
        )

    def _row(self, document_id: str) -> Any:
        with self._s.engine.connect() as conn:
            row = conn.execute(select(documents).where(documents.c.id == document_id)).first()
        if row is None:
            raise not_found()
        return row

    def record_ref(self, row_or_view: Any) -> RecordRef:
        return RecordRef(
            tenant=row_or_view.tenant, document_id=row_or_view.id,
            form_code=row_or_view.form_code, department=row_or_view.department,
            care_team=frozenset(row_or_view.care_team or ()),
            encounter_start=_utc(getattr(row_or_view, "encounter_start", None)),
            encounter_end=_utc(getattr(row_or_view, "encounter_end", None)),
            patient_ref=row_or_view.patient_ref,
        )

    def _checked(self, actor: Any, document_id: str, action: str,
                 presented_patient_ref: str | None = None) -> Any:
        """The row, after tenancy and access checks (refusals are audited)."""
        try:
            row = self._row(document_id)
        except NotFound:
            self._s.trail.record(action, actor=actor, document_id=document_id[:64],
                                 outcome="refused", details={"reason": "not_found"})
            raise
        ref = self.record_ref(row)
        if presented_patient_ref is not None:
            from dataclasses import replace

            ref = replace(ref, presented_patient_ref=presented_patient_ref)
        self._s.access.require(actor, action, ref)
        return row

    def get(self, actor: Any, document_id: str, *, action: str = "view",
            audit: bool = True) -> DocumentView:
        row = self._checked(actor, document_id, action)
        if audit:
            self._s.trail.record(action, actor=actor, document_id=row.id,
                                 details={"version": row.version})
        return self._view(row)

    def pdf(self, actor: Any, document_id: str, version: int | None = None,
            *, action: str = "view") -> tuple[DocumentView, bytes]:
        row = self._checked(actor, document_id, action)
        n = row.version if version is None else version
        with self._s.engine.connect() as conn:
            v = conn.execute(select(document_versions).where(
                document_versions.c.document_id == row.id,
                document_versions.c.version == n)).first()
        if v is None:
            raise NotFound("document.version_not_found", "Không có phiên bản này.",
                           "No such version.")
        self._s.trail.record(action, actor=actor, document_id=row.id,
                             details={"version": n, "sha256": v.sha256})
        return self._view(row), bytes(v.pdf)

    def versions(self, actor: Any, document_id: str) -> list[dict[str, Any]]:
        row = self._checked(actor, document_id, "view")
        with self._s.engine.connect() as conn:
            rows = conn.execute(
                select(document_versions.c.version, document_versions.c.sha256,
                       document_versions.c.reason, document_versions.c.created_at)
                .where(document_versions.c.document_id == row.id)
                .order_by(document_versions.c.version)).all()
        return [{"version": r.version, "sha256": r.sha256, "reason": r.reason,
                 "created_at": _utc(r.created_at)} for r in rows]

    # --- creating ----------------------------------------------------------------
    def create(
        self,
        actor: Any,
        *,
        form_code: str,
        data: dict[str, Any],
        form_version: str | None = None,
        patient_ref: str | None = None,
        encounter_id: str | None = None,
        department: str | None = None,
        care_team: Sequence[str] = (),
        encounter_start: datetime | None = None,
        encounter_end: datetime | None = None,
        events: Sequence[str] = (),
        closed_year: int | None = None,
    ) -> DocumentView:
        """Render the form, lay out its signature requests from the signing policy."""
        from templates.render import render_form

        patient = data.get("patient") if isinstance(data.get("patient"), dict) else {}
        encounter = data.get("encounter") if isinstance(data.get("encounter"), dict) else {}
        patient_ref = patient_ref or patient.get("patient_id")
        encounter_id = encounter_id or encounter.get("record_number")
        encounter_start = _utc(encounter_start) or _parse_dt(encounter.get("admission_time"))
        encounter_end = _utc(encounter_end) or _parse_dt(encounter.get("discharge_time"))
        department = department or getattr(actor, "department", None)
        team = set(care_team)
        record = RecordRef(tenant=actor.tenant, form_code=form_code, department=department,
                           care_team=frozenset(team), encounter_start=encounter_start,
                           encounter_end=encounter_end)
        self._s.access.require(actor, "create", record)

        policies = self._s.policies
        policy = policies.signing(form_code, form_version)
        retention = policies.retention
        record_type = retention.form_record_types.get(form_code) or (
            "outpatient" if encounter.get("type") == "outpatient" else "inpatient")
        decision = retention.classify(record_type, events)

        document_id = uuid.uuid4().hex
        rendered = render_form(form_code, data, document_id=document_id,
                               verify_url=f"{self._s.settings.base_url}/verify/{document_id}",
                               version=form_version)
        sha = hashlib.sha256(rendered.pdf).hexdigest()
        now = datetime.now(UTC)
        field_names = {f.name for f in rendered.signature_fields}
        with self._s.engine.begin() as conn:
            conn.execute(documents.insert().values(
                id=document_id, tenant=actor.tenant, form_code=form_code,
                form_version=rendered.form_version, patient_ref=patient_ref,
                encounter_id=encounter_id, department=department, status="awaiting_signatures",
                version=0, sha256=sha, policy_version=policy.identifier,
                retention_class=decision.class_name, closed_year=closed_year,
                created_by=actor.subject, created_at=now, updated_at=now,
                care_team=sorted(team), encounter_start=encounter_start,
                encounter_end=encounter_end, patient_cccd=patient.get("cccd"),
                patient_bhyt=patient.get("bhyt_card")))
            conn.execute(document_versions.insert().values(
                document_id=document_id, version=0, sha256=sha, reason="rendered",
                pdf=rendered.pdf, created_at=now))
            n = 0
            for group, stage in enumerate(policy.stages):
                for step in stage:
                    if step.field_name not in field_names:
                        log.warning("form lacks signature field", extra={
                            "form_code": form_code, "field": step.field_name})
                    conn.execute(signature_requests.insert().values(
                        document_id=document_id, step=n, role=step.role, field=step.field_name,
                        methods=list(step.methods),
                        certify=int(policy.certify is not None
                                    and step is policy.step_for(policy.certify.role)),
                        order_group=group, status="pending",
                        due_at=policy.deadline(step, now)))
                    n += 1
        self._s.trail.record("create", actor=actor, document_id=document_id,
                             details={"form_code": form_code, "version": 0, "sha256": sha,
                                      "policy": policy.identifier})
        self._emit(actor.tenant, "document.created", document_id, {"form_code": form_code})
        self._metric("documents", event="created")
        return self._view(self._row(document_id))

    # --- helpers used by signing ----------------------------------------------------
    def _current_pdf(self, row: Any) -> bytes:
        with self._s.engine.connect() as conn:
            v = conn.execute(select(document_versions.c.pdf).where(
                document_versions.c.document_id == row.id,
                document_versions.c.version == row.version)).first()
        if v is None:  # pragma: no cover - written together with the row
            raise NotFound("document.version_not_found", "Không có phiên bản này.",
                           "No such version.")
        return bytes(v.pdf)

    def _signed_roles(self, document_id: str) -> list[str]:
        with self._s.engine.connect() as conn:
            rows = conn.execute(select(signature_requests.c.signed_by, signature_requests.c.method,
                                       signature_requests.c.evidence)
                                .where(signature_requests.c.document_id == document_id,
                                       signature_requests.c.status == "signed")).all()
        return [(r.evidence or {}).get("signed_role") for r in rows if r.evidence]

    def _commit_version(self, row: Any, pdf: bytes, *, reason: str, step_role: str,
                        signed_role: str, actor_id: str, method: str,
                        evidence: dict[str, Any], status: str | None = None) -> Any:
        """Compare-and-set: the new version lands only on top of ``row.version``."""
        sha = hashlib.sha256(pdf).hexdigest()
        now = datetime.now(UTC)
        with self._s.engine.begin() as conn:
            values: dict[str, Any] = {"version": row.version + 1, "sha256": sha,
                                      "updated_at": now}
            if status:
                values["status"] = status
            res = conn.execute(update(documents).where(
                documents.c.id == row.id, documents.c.version == row.version).values(**values))
            if res.rowcount != 1:
                return None
            conn.execute(document_versions.insert().values(
                document_id=row.id, version=row.version + 1, sha256=sha, reason=reason,
                pdf=pdf, created_at=now))
            if step_role:
                conn.execute(update(signature_requests).where(
                    signature_requests.c.document_id == row.id,
                    signature_requests.c.role == step_role,
                    signature_requests.c.status == "pending").values(
                    status="signed", signed_by=actor_id, signed_at=now, method=method,
                    evidence={**evidence, "signed_role": signed_role}))
        return self._row(row.id)

    def _emit(self, tenant: str, event: str, document_id: str, data: dict[str, Any]) -> None:
        hooks = getattr(self._s, "webhooks", None)
        if hooks is not None:
            hooks.emit(tenant, event, {"document_id": document_id, **data})

    def _metric(self, name: str, **labels: str) -> None:
        metrics = getattr(self._s, "metrics", None)
        if metrics is not None:
            getattr(metrics, name).labels(**labels).inc()

    @staticmethod
    def run(coro: Any) -> Any:
        """Run a signer coroutine to completion on this (worker) thread."""
        return asyncio.run(coro)


__all__ = ["DocumentWorkflow", "PreconditionFailed"]
