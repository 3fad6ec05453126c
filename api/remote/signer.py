"""Who signs a remote-signing request: ONE hsba clinician, under their bound subscriber id.

Every request to an app-confirmed provider goes to the phone of the clinician the
request is for, under the subscriber id (``user_id``: CCCD, passport or tax id) an
administrator bound to that clinician's staff account (``remote_subscribers``,
:mod:`api.remote.subscribers`). Nobody else chooses the subscriber id:

- **a clinician** (a staff token, the web pages) asks for their own signature: the
  request goes under their own bound id. ``user_id`` may be omitted (the binding is
  used); when given it must be that id (``remote.subscriber_not_yours``, 403).
  ``signer_account_id``, when given, must be the caller's own account
  (``remote.signer_not_caller``, 403). Needs the access policy's ``sign`` right.
- **a hospital system** (an integration client, OAuth2 client credentials) sends raw
  PDFs only (workflow documents are asked for by the clinician: 403
  ``remote.workflow_needs_clinician``) and must name the clinician:
  ``signer_account_id``, the staff account id the binding is made for (422
  ``remote.signer_required`` when missing). The clinician must be a staff account of
  the caller's own hospital (else 404 ``remote.signer_not_found``, the same answer
  as for an unknown id: another hospital's accounts are not confirmed to exist), hold
  the access policy's ``sign`` right (403 ``remote.signer_may_not_sign``) and be bound
  (403 ``remote.subscriber_not_bound``). ``user_id`` may be omitted (the binding is
  used); when given it must be the clinician's bound id (403
  ``remote.subscriber_not_yours``). The name in the signature is the clinician's name
  in hsba: a different ``signer_name`` is refused (422 ``remote.signer_name_mismatch``).
  The hospital system itself needs the ``create`` right (it hands documents in).

Every check runs before anything is stored or sent: a refused request leaves no
transaction and the provider is not called. Refusals are audited with the caller as
actor and the reason; the subscriber id is never written to the audit or the logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.errors import Forbidden, InvalidInput, NotFound
from workflow.access import ActorRef, RecordRef

__all__ = ["SIGNER_CONTEXT", "RemoteSigner", "may_ask", "remote_signer", "signer_of"]

SIGNER_CONTEXT = "signer"
"""Key of the clinician who signs (:meth:`RemoteSigner.record`) in
``PendingTransaction.context``."""


@dataclass(frozen=True)
class RemoteSigner:
    """The clinician a request is for and where it goes."""

    account_id: str
    """The clinician's staff account."""
    tenant: str
    practitioner_id: str | None
    user_id: str
    """The clinician's bound subscriber id at the provider."""
    signature_name: str
    """The name written in the signature (empty: none)."""
    asked_by: str
    """The account that asked: the clinician, or the hospital system on their behalf."""

    @property
    def on_behalf(self) -> bool:
        return self.asked_by != self.account_id

    def record(self) -> dict[str, Any]:
        """What the transaction keeps (``PendingTransaction.context["signer"]``): ids only."""
        return {"account_id": self.account_id, "tenant": self.tenant,
                "practitioner_id": self.practitioner_id, "asked_by": self.asked_by}


def signer_of(tx: Any) -> str | None:
    """The account id of the clinician who signs ``tx`` (None for a transaction asked
    before this was recorded)."""
    return ((tx.context or {}).get(SIGNER_CONTEXT) or {}).get("account_id")  # type: ignore[no-any-return]


def may_ask(services: Any, principal: Any) -> None:
    """The caller's own right to ask for (and read) a remote signature: a hospital
    system's ``create`` right in its hospital; anyone else's ``sign`` right on a document
    of their own making (not in the records index: the caller is its care team and its
    encounter is now). Raises ``access.denied`` (403), audited by the access gate."""
    if principal.kind == "client":
        services.access.require(principal, "create", RecordRef(tenant=principal.tenant))
        return
    services.access.require(principal, "sign", RecordRef(
        tenant=principal.tenant, encounter_start=datetime.now(UTC),
        care_team=frozenset({principal.practitioner_id} if principal.practitioner_id else ())))


def _bound(services: Any, account_id: str) -> str | None:
    from api.remote.pending_db import SubscriberBindings

    return SubscriberBindings(services.engine).user_id(account_id)  # type: ignore[no-any-return]


def _refuse(services: Any, principal: Any, reason: str, error: Exception,
            signer: str | None = None) -> Exception:
    details: dict[str, Any] = {"stage": "remote_request", "reason": reason}
    if signer is not None:
        details["signer_account"] = signer
    services.trail.record("sign", actor=principal, outcome="refused", details=details)
    return error


def _not_bound(on_behalf: bool) -> Forbidden:
    if on_behalf:
        return Forbidden("remote.subscriber_not_bound",
                         "Bác sĩ được chỉ định chưa được gắn với thuê bao ký số từ xa; liên hệ "
                         "quản trị hệ thống. Không có yêu cầu nào được gửi.",
                         "The named clinician is not bound to a remote-signing subscriber; "
                         "ask the administrator. Nothing was sent.")
    return Forbidden("remote.subscriber_not_bound",
                     "Tài khoản chưa được gắn với thuê bao ký số từ xa; liên hệ quản trị "
                     "hệ thống.",
                     "This account is not bound to a remote-signing subscriber; ask the "
                     "administrator.")


def _not_yours(on_behalf: bool) -> Forbidden:
    if on_behalf:
        return Forbidden("remote.subscriber_not_yours",
                         "Mã thuê bao ký số từ xa không phải của bác sĩ được chỉ định: không "
                         "gửi yêu cầu.",
                         "The remote-signing subscriber id is not the named clinician's: "
                         "nothing sent.")
    return Forbidden("remote.subscriber_not_yours",
                     "Mã thuê bao ký số từ xa không phải của tài khoản này: không gửi yêu cầu.",
                     "The remote-signing subscriber id is not this account's: nothing sent.")


def _own_signature(services: Any, principal: Any, *, signer_account_id: str | None,
                   user_id: str | None, signer_name: str) -> RemoteSigner:
    """A clinician asking for their own signature (:func:`may_ask` already passed)."""
    if signer_account_id is not None and signer_account_id != principal.subject:
        raise _refuse(services, principal, "signer_not_caller", Forbidden(
            "remote.signer_not_caller",
            "Chỉ được yêu cầu chữ ký của chính mình: không gửi yêu cầu.",
            "You may only ask for your own signature: nothing sent."), signer_account_id)
    bound = _bound(services, principal.subject)
    if bound is None:
        raise _refuse(services, principal, "subscriber_not_bound", _not_bound(False))
    if user_id is not None and user_id != bound:
        raise _refuse(services, principal, "subscriber_not_yours", _not_yours(False))
    return RemoteSigner(account_id=principal.subject, tenant=principal.tenant,
                        practitioner_id=principal.practitioner_id, user_id=bound,
                        signature_name=signer_name, asked_by=principal.subject)


def _named_clinician(services: Any, principal: Any, *, signer_account_id: str | None,
                     user_id: str | None, signer_name: str,
                     workflow_documents: bool) -> RemoteSigner:
    """A hospital system asking on behalf of the clinician it names (its own right is
    already checked)."""
    if workflow_documents:
        raise _refuse(services, principal, "workflow_needs_clinician", Forbidden(
            "remote.workflow_needs_clinician",
            "Tài liệu trong quy trình chỉ do chính bác sĩ yêu cầu ký; hệ thống bệnh viện "
            "chỉ gửi tệp PDF. Không có yêu cầu nào được gửi.",
            "Workflow documents are asked for by the clinician themself; a hospital system "
            "sends PDFs only. Nothing was sent."))
    if signer_account_id is None:
        raise InvalidInput("remote.signer_required",
                           "Cần chỉ định bác sĩ ký (signer_account_id).",
                           "Name the clinician who signs (signer_account_id).")
    account = services.accounts.get(signer_account_id)
    if account is None or account.kind != "staff" or account.tenant != principal.tenant:
        reason = "cross_tenant" if account is not None and account.tenant != principal.tenant \
            else "unknown_signer"
        raise _refuse(services, principal, reason, NotFound(
            "remote.signer_not_found",
            "Không tìm thấy bác sĩ ký (tài khoản nhân viên của bệnh viện này).",
            "The clinician who signs was not found (a staff account of this hospital)."),
            signer_account_id)
    clinician = ActorRef.of(account)
    decision = services.access.decide(clinician, "sign", RecordRef(
        tenant=account.tenant, encounter_start=datetime.now(UTC),
        care_team=frozenset({account.practitioner_id} if account.practitioner_id else ())))
    if not decision.allowed:
        raise _refuse(services, principal, "signer_may_not_sign", Forbidden(
            "remote.signer_may_not_sign",
            "Bác sĩ được chỉ định không có quyền ký: không gửi yêu cầu.",
            "The named clinician may not sign: nothing sent.",
            details={"rule_id": decision.rule_id, "role": account.role}), account.id)
    bound = _bound(services, account.id)
    if bound is None:
        raise _refuse(services, principal, "subscriber_not_bound", _not_bound(True), account.id)
    if user_id is not None and user_id != bound:
        raise _refuse(services, principal, "subscriber_not_yours", _not_yours(True),
                      account.id)
    name = account.display_name or ""
    if signer_name and " ".join(signer_name.split()) != " ".join(name.split()):
        raise InvalidInput("remote.signer_name_mismatch",
                           "Tên người ký khác với tên bác sĩ trong hệ thống; bỏ trống "
                           "signer_name để dùng tên trong hệ thống.",
                           "signer_name differs from the clinician's name in hsba; omit it "
                           "to use that name.")
    return RemoteSigner(account_id=account.id, tenant=account.tenant,
                        practitioner_id=account.practitioner_id, user_id=bound,
                        signature_name=name, asked_by=principal.subject)


def remote_signer(services: Any, principal: Any, *, signer_account_id: str | None,
                  user_id: str | None, signer_name: str = "",
                  workflow_documents: bool = False) -> RemoteSigner:
    """The clinician a request from ``principal`` is for, and their bound subscriber id
    (see the module docstring); raises the refusals listed there. Call :func:`may_ask`
    first. Blocking (database)."""
    if principal.kind == "client":
        return _named_clinician(services, principal, signer_account_id=signer_account_id,
                                user_id=user_id, signer_name=signer_name,
                                workflow_documents=workflow_documents)
    return _own_signature(services, principal, signer_account_id=signer_account_id,
                          user_id=user_id, signer_name=signer_name)
