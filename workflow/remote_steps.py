"""The staff signing steps for a practitioner's app-confirmed remote key (the VNPT
SmartCA / Viettel MySign shape), part of :class:`workflow.signing.SigningSteps`:
the same checks as an HSM signature before the provider is asked, and the signed
PDF entering the same path (``_commit_version`` → ``_after_signature``: index, WORM
archive, audit, next step, webhooks) once the transaction settles.
``workflow.remote_signing`` drives them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from workflow.views import SignOutcome

__all__ = ["RemoteSignaturePlan", "RemoteSigningSteps"]


@dataclass(frozen=True)
class RemoteSignaturePlan:
    """What was checked when a practitioner asked for a remote (app-confirmed)
    signature of a workflow document; kept with the provider transaction, and the
    signed PDF lands only on exactly this version (``workflow.remote_signing``)."""

    document_id: str
    version: int
    """The version the practitioner saw and the provider signs (its sha256 below)."""
    sha256: str
    signer_role: str
    step_role: str
    field_name: str
    level: str
    """``B-LT``, or the policy's final level when this signature completes the form."""
    completes: bool
    certify: bool
    reason: str



class RemoteSigningSteps:
    """Mixed into :class:`workflow.signing.SigningSteps` (needs its helpers)."""

    _s: Any

    def plan_remote_signature(self, actor: Any, document_id: str, *, if_match: str | None,
                              algorithm: str, key_size: int,
                              role: str | None = None) -> RemoteSignaturePlan:
        """The checks :meth:`sign` makes for an HSM signature (access policy, the
        document's current version = ``if_match``, the policy step this practitioner
        may take with method ``remote_signing`` and this key), for a signature the
        provider will make; raises as :meth:`sign` does, nothing written."""
        from workflow.signing import document_complete

        row = self._checked(actor, document_id, "sign")  # type: ignore[attr-defined]
        sha = if_match.strip().lower() if if_match and re.fullmatch(
            r"[0-9a-fA-F]{64}", if_match.strip()) else None
        self._check_binding(row, None if sha else if_match, sha, first=True)  # type: ignore[attr-defined]
        if row.status != "awaiting_signatures":
            raise document_complete()
        policy = self._policy(row)  # type: ignore[attr-defined]
        signed = self._signed_roles(row.id)  # type: ignore[attr-defined]
        step, signer_role = self._pick_step(policy, signed, actor, role)  # type: ignore[attr-defined]
        policy.check_signature(signer_role, "remote_signing", algorithm, key_size, "sha256",
                               signed)
        completes = policy.is_complete([*signed, signer_role])
        certify = policy.certifies(signer_role, signed)
        return RemoteSignaturePlan(
            document_id=row.id, version=row.version, sha256=row.sha256,
            signer_role=signer_role, step_role=step.role, field_name=step.field_for(signer_role),
            level=policy.final_level if completes else "B-LT", completes=completes,
            certify=certify, reason="Lập và chứng nhận tài liệu" if certify
            else "Xác nhận nội dung")

    def plan_pdf(self, plan: RemoteSignaturePlan) -> bytes:
        """The PDF of the planned version (what the provider's signature covers)."""
        from types import SimpleNamespace

        return self._current_pdf(SimpleNamespace(  # type: ignore[attr-defined, no-any-return]
            id=plan.document_id, version=plan.version))

    def commit_remote_signature(self, actor: Any, plan: RemoteSignaturePlan, pdf: bytes, *,
                                subject: str, evidence: dict[str, Any]) -> SignOutcome | None:
        """Land ``pdf`` (the remote signature on ``plan``'s version, already checked and
        brought to ``plan.level``) as the next version, through the same path as an HSM
        signature: index rows, WORM archive, audit, next step, webhooks. None, nothing
        written, when the document is no longer at ``plan.version``."""
        row = self._row(plan.document_id)  # type: ignore[attr-defined]
        if row.version != plan.version or row.sha256 != plan.sha256:
            return None
        account = self._s.accounts.get(actor.subject)
        practitioner_id = account.practitioner_id if account is not None else None
        step = self._policy(row).step_for(plan.signer_role)  # type: ignore[attr-defined]
        new_row = self._commit_version(  # type: ignore[attr-defined]
            row, pdf, reason=f"signed:{plan.signer_role}", step_role=step.role,
            signed_role=plan.signer_role, actor_id=actor.subject, method="remote_signing",
            evidence={**evidence, "sha256_before": row.sha256, "level": plan.level,
                      "version": plan.version + 1, "practitioner_id": practitioner_id,
                      "subject": subject},
            status="completed" if plan.completes else None)
        if new_row is None:
            return None
        return self._after_signature(actor, new_row, plan.signer_role, step, plan.level,  # type: ignore[attr-defined]
                                     "remote_signing", subject, practitioner_id, plan.completes)

    def archive_committed_remote(self, actor: Any, plan: RemoteSignaturePlan, *,
                                 subject: str) -> SignOutcome | None:
        """Repair after a crash between :meth:`commit_remote_signature`'s commit and its
        archive: archive the committed version (the archive is idempotent by content)
        when it is still the current one; None if the document moved on since."""
        row = self._row(plan.document_id)  # type: ignore[attr-defined]
        if row.version != plan.version + 1:
            return None
        account = self._s.accounts.get(actor.subject)
        return self.archive_committed_signature(  # type: ignore[attr-defined, no-any-return]
            actor, row, plan.signer_role, plan.level, "remote_signing", subject,
            account.practitioner_id if account else None, plan.completes)
