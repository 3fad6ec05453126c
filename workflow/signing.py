"""Signing steps of the lifecycle: a staff signature with the practitioner's
own key and factor, a patient confirmation sealed with the hospital seal, and
the archival of every signed version (the last one at PAdES B-LTA).

Each signature is made at B-LT (its revocation data in the DSS, one
validation context per signature); the signature that completes the form's
signing policy is made at the policy's final level (B-LTA adds the document
timestamp over everything).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.errors import Conflict, Forbidden, InvalidInput, Unauthorized
from workflow.remote_steps import RemoteSigningSteps
from workflow.views import SignOutcome

log = logging.getLogger(__name__)

#: Staff role → the form signature roles it may sign (the signing policy then
#: decides order, method and strength; the access policy decides the record).
STAFF_SIGNER_ROLES: dict[str, tuple[str, ...]] = {
    "clinician": ("doctor", "approving_physician", "technician", "pharmacist"),
    "head_of_department": ("head_of_department", "director", "doctor", "approving_physician"),
    "nurse": ("nurse",),
    "cashier": ("cashier",),
}
PATIENT_ROLES = ("patient", "representative")
_MAX_REAPPLY = 4


class PreconditionFailed(Conflict):
    """The document changed since the caller read it (If-Match / hash binding)."""

    http_status = 412


def precondition_failed() -> PreconditionFailed:
    return PreconditionFailed(
        "document.changed",
        "Tài liệu đã thay đổi kể từ khi bạn mở; vui lòng tải lại.",
        "The document changed since you read it; reload it.")


def document_complete() -> Conflict:
    return Conflict("document.complete", "Tài liệu đã đủ chữ ký.",
                    "The document is already fully signed.")


def factor_error() -> Unauthorized:
    return Unauthorized("sign.bad_factor", "Mã PIN/OTP ký số không đúng.",
                        "The signing PIN/OTP is not correct.")


@dataclass(frozen=True)
class PatientEvidence:
    """A patient's confirmation as captured at the kiosk (never raw biometrics)."""

    method: str
    """``patient_pad``, ``fingerprint``, ``otp`` or ``patient_own_signature`` (the
    policy's method names; sealed by the hospital)."""
    signer_name: str
    """The patient (or representative) as they confirm, shown on the signature."""
    device: str
    handwritten_png: bytes | None = None
    """The drawn signature (pad), shown in the appearance; its sha256 is recorded."""
    evidence_sha256: str | None = None
    """For fingerprint/OTP: the hash of the verification record, never the template."""
    representative: bool = False
    relationship: str | None = None
    """A representative's relationship to the patient (``Mẹ``, ``Người giám hộ``...)."""


#: the policy's patient methods → ``signer.patient.PatientConfirmation.method``
CONFIRMATION_METHODS = {"patient_pad": "handwritten_pad", "fingerprint": "fingerprint",
                        "otp": "otp", "patient_own_signature": "own_signature"}


def _key_algorithm(info: Any, pss: bool) -> tuple[str, int]:
    algo = str(info.algorithm).lower()
    if algo.startswith("rsa"):
        return ("rsa-pss" if pss else "rsa-pkcs1v15"), int(algo[3:] or 2048)
    if algo.startswith("ecdsa-p"):
        return "ecdsa", int(algo.rsplit("p", 1)[1])
    return algo, 0


class SigningSteps(RemoteSigningSteps):
    """Mixed into :class:`workflow.lifecycle.DocumentWorkflow` (with the remote-key
    steps of :class:`workflow.remote_steps.RemoteSigningSteps`)."""

    _s: Any

    # --- staff ----------------------------------------------------------------------
    def sign(self, actor: Any, document_id: str, *, pin: str | None = None,
             totp: str | None = None, if_match: str | None = None,
             expected_sha256: str | None = None, role: str | None = None,
             factor_checked: bool = False) -> SignOutcome:
        """Sign the next step this practitioner may sign, with their own key.

        The factor (signing PIN or TOTP) authorises this document at the hash the
        caller saw (``expected_sha256`` / ``if_match``)."""
        row = self._checked(actor, document_id, "sign")  # type: ignore[attr-defined]
        if not factor_checked and not self._s.accounts.check_signing_factor(
                actor.subject, pin=pin, totp=totp):
            self._s.trail.record("sign", actor=actor, document_id=row.id, outcome="refused",
                                 details={"reason": "bad_factor"})
            raise factor_error()
        account = self._s.accounts.get(actor.subject)
        if account is None or not account.key_id:
            raise Forbidden("sign.no_key", "Tài khoản chưa có khoá ký số.",
                            "This account has no signing key.")
        from signer.request import SignRequest

        policy = self._policy(row)
        pss = policy.algorithms.preferred == "rsa-pss"
        info = self._s.keystore.key_info(account.key_id)
        algorithm, size = _key_algorithm(info, pss)
        method = "remote_signing" if self._s.settings.keystore == "remote" else "hsm_key"

        for attempt in range(_MAX_REAPPLY):
            if attempt:
                row = self._row(document_id)  # type: ignore[attr-defined]
            self._check_binding(row, if_match, expected_sha256, first=attempt == 0)
            if row.status != "awaiting_signatures":
                raise document_complete()
            signed = self._signed_roles(row.id)  # type: ignore[attr-defined]
            step, signer_role = self._pick_step(policy, signed, actor, role)
            policy.check_signature(signer_role, method, algorithm, size, "sha256", signed)
            completes = policy.is_complete([*signed, signer_role])
            level = policy.final_level if completes else "B-LT"
            request = SignRequest(
                field_name=step.field_for(signer_role),
                signer_name=account.display_name or account.username,
                role=step.label("vi"), reason="Xác nhận nội dung" if not policy.certifies(
                    signer_role, signed) else "Lập và chứng nhận tài liệu",
                location=self._s.settings.hospital_code, level=level,
                certify=policy.certifies(signer_role, signed), use_pss=pss and algorithm.startswith("rsa"),
                policy_version=row.policy_version or "", method=(
                    "software" if self._s.settings.keystore == "software" else "hsm"))
            pdf = self._current_pdf(row)  # type: ignore[attr-defined]
            started = datetime.now(UTC)
            new_pdf = self._sign_bytes(pdf, request, account.key_id, pss)
            self._observe("hsm_seconds", started)
            evidence = {"key_id": account.key_id, "sha256_before": row.sha256,
                        "level": level, "practitioner_id": account.practitioner_id,
                        "subject": info.subject}
            new_row = self._commit_version(  # type: ignore[attr-defined]
                row, new_pdf, reason=f"signed:{signer_role}", step_role=step.role,
                signed_role=signer_role, actor_id=actor.subject, method=method,
                evidence=evidence, status="completed" if completes else None)
            if new_row is not None:
                return self._after_signature(actor, new_row, signer_role, step, level, method,
                                             info.subject, account.practitioner_id, completes)
            if if_match or expected_sha256:
                raise precondition_failed()
            log.info("document moved while signing; re-applying",
                     extra={"document_id": document_id, "attempt": attempt})
        raise Conflict("document.busy", "Tài liệu đang được ký đồng thời; vui lòng thử lại.",
                       "The document is being signed concurrently; retry.")

    def sign_batch(self, actor: Any, items: list[tuple[str, str | None]], *,
                   pin: str | None = None, totp: str | None = None) -> list[dict[str, Any]]:
        """One factor authorises many documents, each bound to its hash (CSC
        ``numSignatures`` / SmartCA multi-file style). Failures do not stop the batch."""
        if not self._s.accounts.check_signing_factor(actor.subject, pin=pin, totp=totp):
            self._s.trail.record("sign", actor=actor, outcome="refused",
                                 details={"reason": "bad_factor", "batch": len(items)})
            raise factor_error()
        results: list[dict[str, Any]] = []
        for document_id, sha in items:
            try:
                out = self.sign(actor, document_id, expected_sha256=sha, factor_checked=True)
                results.append({"document_id": document_id, "ok": True,
                                "version": out.document.version, "status": out.document.status})
            except Exception as e:  # noqa: BLE001 - reported per document
                err = e.to_dict() if hasattr(e, "to_dict") else {"code": "internal"}
                results.append({"document_id": document_id, "ok": False, "error": err})
        return results

    # --- patient -------------------------------------------------------------------------
    def confirm_patient(self, actor: Any, document_id: str, evidence: PatientEvidence, *,
                        patient_ref: str | None = None, if_match: str | None = None,
                        expected_sha256: str | None = None) -> SignOutcome:
        """Record a patient's confirmation, bound to the document hash, sealed with the
        hospital's organisation seal (``signer.patient``: the binding is signed in the
        signature's ``/ContactInfo``; its :class:`EvidenceRecord` is kept with the
        signature request and returned as ``SignOutcome.evidence``)."""
        from workflow.seeding import tenant_seal_key

        row = self._checked(actor, document_id, "sign",  # type: ignore[attr-defined]
                            presented_patient_ref=patient_ref)
        role = "representative" if evidence.representative else "patient"
        policy = self._policy(row)
        seal_key = tenant_seal_key(self._s, row.tenant)
        info = self._s.keystore.key_info(seal_key)
        pss = policy.algorithms.preferred == "rsa-pss"
        algorithm, size = _key_algorithm(info, pss)
        if evidence.method == "patient_pad" and not evidence.handwritten_png:
            raise InvalidInput("confirm.no_image", "Thiếu hình chữ ký tay.",
                               "The handwritten signature image is missing.")
        image_sha = (hashlib.sha256(evidence.handwritten_png).hexdigest()
                     if evidence.handwritten_png else (evidence.evidence_sha256 or "").lower())
        for attempt in range(_MAX_REAPPLY):
            if attempt:
                row = self._row(document_id)  # type: ignore[attr-defined]
            self._check_binding(row, if_match, expected_sha256, first=attempt == 0)
            signed = self._signed_roles(row.id)  # type: ignore[attr-defined]
            step = policy.step_for(role)
            if step is None or step.seal is None:
                policy.check_signature(role, evidence.method, algorithm, size, "sha256", signed)
                raise InvalidInput("confirm.not_sealed", "Bước này không dùng con dấu cơ sở.",
                                   "This step is not sealed by the hospital.")
            policy.check_signature(role, evidence.method, algorithm, size, "sha256", signed)
            completes = policy.is_complete([*signed, role])
            level = policy.final_level if completes else "B-LT"
            pdf = self._current_pdf(row)  # type: ignore[attr-defined]
            new_pdf, record = self._seal_confirmation(
                pdf, evidence, image_sha, row, field=step.field_for(role), level=level,
                seal_key=seal_key, pss=pss and algorithm.startswith("rsa"))
            bound = {**record.to_dict(), "seal_key_id": seal_key,
                     "policy_method": evidence.method}
            new_row = self._commit_version(  # type: ignore[attr-defined]
                row, new_pdf, reason=f"confirmed:{role}", step_role=step.role,
                signed_role=role, actor_id=actor.subject, method=evidence.method,
                evidence=bound, status="completed" if completes else None)
            if new_row is not None:
                return self._after_signature(actor, new_row, role, step, level, evidence.method,
                                             info.subject, None, completes, evidence=bound)
            if if_match or expected_sha256:
                raise precondition_failed()
        raise Conflict("document.busy", "Tài liệu đang được ký đồng thời; vui lòng thử lại.",
                       "The document is being signed concurrently; retry.")

    # --- shared ----------------------------------------------------------------------------
    def _policy(self, row: Any) -> Any:
        return self._s.policies.signing(row.form_code, row.form_version)

    @staticmethod
    def _check_binding(row: Any, if_match: str | None, expected_sha256: str | None,
                       *, first: bool) -> None:
        if if_match:
            etag = f'"{row.id}.v{row.version}.{row.sha256[:16]}"'
            if if_match.strip() not in (etag, "*"):
                raise precondition_failed()
        if expected_sha256 and expected_sha256.lower() != row.sha256:
            raise precondition_failed()

    def _pick_step(self, policy: Any, signed: list[str], actor: Any,
                   role: str | None) -> tuple[Any, str]:
        mine = STAFF_SIGNER_ROLES.get(actor.role, ())
        if role is not None:
            if role not in mine:
                raise Forbidden("sign.role_not_yours",
                                f"Vai trò của bạn không ký ô '{role}'.",
                                f"Your role does not sign the '{role}' field.")
            candidates = [role]
        else:
            # the actor's own role first (a head of department signs as head, not doctor)
            nxt = policy.next_steps(signed)
            candidates = [r for r in mine if any(r in s.accepted_roles for s in nxt)]
            if not candidates:  # let the policy explain why (order, already signed)
                candidates = [r for r in mine
                              if any(r in s.accepted_roles for s in policy.all_steps)]
        if not candidates:
            raise Forbidden("sign.no_step", "Biểu mẫu không có bước ký nào cho vai trò của bạn.",
                            "The form has no signing step for your role.")
        signer_role = candidates[0]
        step = policy.step_for(signer_role)
        if step is None:
            raise Forbidden("sign.no_step", "Biểu mẫu không có bước ký nào cho vai trò của bạn.",
                            "The form has no signing step for your role.")
        return step, signer_role

    def _sign_bytes(self, pdf: bytes, request: Any, key_id: str, pss: bool) -> bytes:
        from signer.sign import async_sign_pdf

        signer = self._s.keystore.signer_for(key_id, pss=request.use_pss)
        return self.run(async_sign_pdf(  # type: ignore[attr-defined, no-any-return]
            pdf, request, signer=signer, timestampers=self._s.timestampers(),
            revocation=self._s.revocation()))

    def _seal_confirmation(self, pdf: bytes, evidence: PatientEvidence, evidence_sha256: str,
                           row: Any, *, field: str, level: str, seal_key: str,
                           pss: bool) -> tuple[bytes, Any]:
        """The patient's confirmation bound to ``pdf``'s hash and sealed with the
        hospital seal key (``signer.patient``)."""
        from signer.patient import (
            PatientConfirmation,
            Representative,
            async_seal_patient_confirmation,
        )

        confirmation = PatientConfirmation(
            patient_name=evidence.signer_name,
            method=CONFIRMATION_METHODS.get(evidence.method, evidence.method),  # type: ignore[arg-type]
            evidence_sha256=evidence_sha256, device_id=evidence.device,
            captured_at=datetime.now(UTC),
            representative=(Representative(evidence.signer_name,
                                           evidence.relationship or "Người đại diện")
                            if evidence.representative else None),
            handwritten_png=evidence.handwritten_png)
        signer = self._s.keystore.signer_for(seal_key, pss=pss)
        return self.run(async_seal_patient_confirmation(  # type: ignore[attr-defined, no-any-return]
            pdf, confirmation, seal_signer=signer, document_id=row.id, field_name=field,
            level=level, location=self._s.settings.hospital_code,
            timestampers=self._s.timestampers(), revocation=self._s.revocation(),
            use_pss=pss, policy_version=row.policy_version or ""))

    def archive_committed_signature(self, actor: Any, row: Any, role: str, level: str,
                                    method: str, subject: str, practitioner_id: str | None,
                                    completes: bool) -> SignOutcome:
        """Finish what follows a committed signature (archive, audit, events) when the
        process that committed it died before: the repair of remote signatures and of
        web batches. Archival is idempotent by content."""
        step = self._policy(row).step_for(role)  # the policy's step, as signing took it
        return self._after_signature(actor, row, role, step, level, method, subject,
                                     practitioner_id, completes)

    def _after_signature(self, actor: Any, row: Any, role: str, step: Any, level: str,
                         method: str, subject: str, practitioner_id: str | None,
                         completes: bool, evidence: dict[str, Any] | None = None) -> SignOutcome:
        receipt = self._archive_version(actor, row, role, step, level, method, subject,
                                        practitioner_id)
        self._s.trail.record("seal" if role in PATIENT_ROLES else "sign", actor=actor,
                             document_id=row.id,
                             details={"role": role, "version": row.version, "level": level,
                                      "method": method, "sha256": row.sha256})
        self._metric("signatures", role=role, level=level)  # type: ignore[attr-defined]
        self._emit(row.tenant, "signature.completed", row.id,  # type: ignore[attr-defined]
                   {"role": role, "version": row.version, "sha256": row.sha256})
        if completes:
            self._emit(row.tenant, "document.completed", row.id,  # type: ignore[attr-defined]
                       {"version": row.version, "level": level})
            self._metric("documents", event="completed")  # type: ignore[attr-defined]
            self._emit(row.tenant, "document.archived", row.id,  # type: ignore[attr-defined]
                       {"version": row.version, "object_key": receipt.object_key})
            self._metric("documents", event="archived")  # type: ignore[attr-defined]
        view = self._view(self._row(row.id))  # type: ignore[attr-defined]
        return SignOutcome(document=view, role=role, level=level,
                           archived_version=receipt.version, evidence=evidence)

    def _archive_version(self, actor: Any, row: Any, role: str, step: Any, level: str,
                         method: str, subject: str, practitioner_id: str | None) -> Any:
        """Every signed version goes to the WORM store with its index rows."""
        from sqlalchemy import update as sql_update

        from archive.ingest import DocumentMeta, IngestItem, SignatureRecord
        from workflow.db import documents

        pdf = self._current_pdf(row)  # type: ignore[attr-defined]
        completes = row.status == "completed"
        meta = DocumentMeta(
            tenant_id=row.tenant, form_code=row.form_code, form_version=row.form_version,
            patient_ref=row.patient_ref, patient_cccd=row.patient_cccd,
            patient_bhyt=row.patient_bhyt, encounter_ref=row.encounter_id,
            department=row.department, status="archived" if completes else "signing",
            retention_class=row.retention_class, closed_year=row.closed_year,
            policy_version=row.policy_version)
        ts_expiry = None
        if level == "B-LTA":
            from signer.timestamp_info import last_timestamp_expiry

            ts_expiry = last_timestamp_expiry(pdf)  # the renewal job's due date
        receipt = self._s.archiver.archive_document(IngestItem(
            document_id=row.id, data=pdf, meta=meta, actor_id=actor.subject,
            reason=f"{level}:{role}", last_timestamp_expiry=ts_expiry,
            signatures=(SignatureRecord(field=step.field_for(role), role=role, signer_subject=subject,
                                        method=method, level=level,
                                        signed_at=datetime.now(UTC),
                                        practitioner_id=practitioner_id,
                                        policy_version=row.policy_version),)))
        with self._s.engine.begin() as conn:
            values: dict[str, Any] = {"archive_key": receipt.object_key}
            if completes:
                values["status"] = "archived"
            conn.execute(sql_update(documents).where(documents.c.id == row.id).values(**values))
        return receipt

    def _observe(self, name: str, started: datetime) -> None:
        metrics = getattr(self._s, "metrics", None)
        if metrics is not None:
            getattr(metrics, name).observe((datetime.now(UTC) - started).total_seconds())
