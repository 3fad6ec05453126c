"""Workflow documents signed with a practitioner's app-confirmed remote key (the VNPT
SmartCA / Viettel MySign shape): the practitioner picks forms in hsba, confirms once in
the provider's phone app, and every signed version is archived and the forms move on
in their policy, exactly as after an HSM signature.

1. Asking (:func:`plan_documents`, :func:`documents_to_sign`, :func:`context_for`): for
   each document the checks of an HSM signature (``SigningSteps.plan_remote_signature``:
   access, current version = the one the practitioner saw, the policy step, method
   ``remote_signing`` with the provider's key). A refused document gets its own vi/en
   error and is not sent to the provider; the others are, in ONE transaction. The plans
   are kept with the transaction (``PendingTransaction.context``).
2. Settlement (:func:`take_over`, called once by whichever of the webhook and the
   polling job settled the transaction): each signed PDF is checked (the planned
   version plus exactly one signature, in the planned field, intact), brought to the
   planned level (B-LT: its validation data in the DSS; the signature that completes
   the form: B-LTA), and committed on exactly the planned version through
   ``SigningSteps.commit_remote_signature`` (index rows, WORM archive, audit, next
   step's inbox, webhooks). A document that changed in between is refused, not
   archived. Each document's result is recorded in the transaction
   (``PendingStore.record_result``).
3. Repair (:func:`take_over_unfinished`, run by the polling job): a completed
   transaction with documents that have no result (the process died in between) is
   taken over again. Idempotent by transaction id + document id: a version already
   committed by this transaction is recognised by its evidence and only archived if
   the archive lacks it; nothing is signed or archived twice.

A rejected or expired transaction archives nothing (:func:`document_states` says so
per document).
"""

from __future__ import annotations

import base64
import logging
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

from sqlalchemy import select

from core.errors import Conflict, HsbaError, SigningError, UnavailableError
from workflow.access import ActorRef
from workflow.remote_steps import RemoteSignaturePlan

__all__ = [
    "WORKFLOW_CONTEXT", "context_for", "document_states", "documents_to_sign",
    "key_algorithm", "plan_documents", "take_over", "take_over_unfinished",
]

log = logging.getLogger(__name__)

WORKFLOW_CONTEXT = "workflow"
"""Key of the workflow's data in ``PendingTransaction.context``."""

_STATE_TEXT: dict[str, tuple[str, str]] = {
    "awaiting_confirmation": ("Đang chờ người ký xác nhận trên ứng dụng.",
                              "Waiting for the signer to confirm in the app."),
    "archiving": ("Đã ký; đang lưu trữ phiên bản mới.",
                  "Signed; the new version is being archived."),
    "archived": ("Đã ký và lưu trữ phiên bản mới; biểu mẫu chuyển sang bước tiếp theo.",
                 "Signed and archived as a new version; the form moved to its next step."),
    "not_signed": ("Giao dịch bị từ chối hoặc hết hạn: tài liệu KHÔNG được ký, không lưu trữ.",
                   ("The transaction was rejected or expired: the document is NOT signed "
                    "and nothing was archived.")),
}


def key_algorithm(certificate: Any) -> tuple[str, int]:
    """The policy's algorithm name and key size for a provider certificate (asn1crypto):
    these providers sign RSA with PKCS#1 v1.5."""
    key = certificate.public_key
    if key.algorithm == "ec":
        return "ecdsa", int(key.bit_size)
    return "rsa-pkcs1v15", int(key.bit_size)


def _error(e: Exception) -> dict[str, Any]:
    if isinstance(e, HsbaError):
        return {"code": e.code, "message_vi": e.message_vi, "message_en": e.message_en}
    return {"code": "internal", "message_vi": "Lỗi nội bộ.", "message_en": "Internal error."}


def plan_documents(services: Any, actor: Any, items: list[tuple[str, str | None]], *,
                   certificate: Any) -> tuple[list[RemoteSignaturePlan], dict[str, Any]]:
    """Plans for the documents that may be signed with this key; refusals by document
    id (``{code, message_vi, message_en}``). Nothing is written."""
    algorithm, size = key_algorithm(certificate)
    plans: list[RemoteSignaturePlan] = []
    refused: dict[str, Any] = {}
    for document_id, if_match in items:
        try:
            plans.append(services.documents.plan_remote_signature(
                actor, document_id, if_match=if_match, algorithm=algorithm, key_size=size))
        except Exception as e:
            refused[document_id] = _error(e)
            if not isinstance(e, HsbaError):
                log.exception("remote signature not planned", extra={"document_id": document_id})
    return plans, refused


def documents_to_sign(services: Any, plans: list[RemoteSignaturePlan]) -> list[Any]:
    """What the provider signs: each planned version, its field, reason and DocMDP."""
    from hsm.remote.pending import DocumentToSign

    wf = services.documents
    return [DocumentToSign(p.document_id, wf.plan_pdf(p), p.field_name, reason=p.reason,
                           location=services.settings.hospital_code, certify=p.certify)
            for p in plans]


def context_for(actor: Any, plans: list[RemoteSignaturePlan],
                refused: dict[str, Any]) -> dict[str, Any]:
    """``PendingTransaction.context`` for these plans (ids and roles only)."""
    return {WORKFLOW_CONTEXT: {
        "actor": {"subject": actor.subject, "tenant": actor.tenant, "role": actor.role,
                  "kind": getattr(actor, "kind", "staff"),
                  "practitioner_id": getattr(actor, "practitioner_id", None),
                  "department": getattr(actor, "department", None)},
        "documents": {p.document_id: asdict(p) for p in plans},
        "refused": refused}}


def _workflow(tx: Any) -> dict[str, Any] | None:
    return (tx.context or {}).get(WORKFLOW_CONTEXT)  # type: ignore[no-any-return]


def document_states(tx: Any) -> list[dict[str, Any]]:
    """Per workflow document of ``tx``: ``awaiting_confirmation``, ``archiving``
    (signed, being taken over), ``archived`` (``archived_version``), ``refused`` (with
    its reason: at the request or at settlement) or ``not_signed`` (rejected/expired)."""
    ctx = _workflow(tx)
    if ctx is None:
        return []
    out: list[dict[str, Any]] = []
    for document_id, error in ctx.get("refused", {}).items():
        out.append({"document_id": document_id, "state": "refused", **error})
    for document_id in ctx.get("documents", {}):
        result = tx.results.get(document_id)
        if result is not None:
            out.append({"document_id": document_id, **result})
            continue
        state = {"pending": "awaiting_confirmation", "completed": "archiving"}.get(
            tx.status, "not_signed")
        vi, en = _STATE_TEXT[state]
        out.append({"document_id": document_id, "state": state, "message_vi": vi,
                    "message_en": en})
    return out


# --- settlement -------------------------------------------------------------------------
def _changed() -> Conflict:
    return Conflict("remote.document_changed",
                    "Tài liệu đã thay đổi (đã có người ký khác) trong lúc chờ xác nhận: "
                    "chữ ký từ xa KHÔNG được lưu trữ; hãy ký lại trên phiên bản mới.",
                    "The document changed (someone else signed it) while the confirmation "
                    "was awaited: the remote signature is NOT archived; sign the new "
                    "version again.")


def _bad_signed_pdf(reason: str) -> SigningError:
    return SigningError("remote.signed_pdf_invalid",
                        "Tệp đã ký từ nhà cung cấp không đúng tài liệu hoặc chữ ký không hợp lệ: "
                        "không lưu trữ.",
                        "The provider's signed file is not the expected document plus one "
                        "valid signature: not archived.", details={"reason": reason})


def check_signed_pdf(base_pdf: bytes, signed_pdf: bytes, field_name: str,
                     context: Any) -> None:
    """``signed_pdf`` is ``base_pdf`` plus one incremental revision holding exactly one
    new signature, in ``field_name``, intact, cryptographically valid and trusted
    (``context``: a pyHanko ``ValidationContext``, the service's trust and revocation
    sources), covering its whole revision."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature

    if not signed_pdf.startswith(base_pdf) or len(signed_pdf) == len(base_pdf):
        raise _bad_signed_pdf("not an incremental update of the planned version")
    try:
        before = len(PdfFileReader(BytesIO(base_pdf), strict=False).embedded_signatures)
        sigs = PdfFileReader(BytesIO(signed_pdf), strict=False).embedded_signatures
    except Exception as e:
        raise _bad_signed_pdf("unreadable") from e
    if len(sigs) != before + 1:
        raise _bad_signed_pdf("not exactly one new signature")
    new = sigs[-1]
    if new.field_name != field_name:
        raise _bad_signed_pdf("signature in another field")
    last_revision = new.reader.xrefs.total_revisions - 1
    status = validate_pdf_signature(new, context)
    if not (status.intact and status.valid) or new.signed_revision != last_revision:
        raise _bad_signed_pdf("signature not intact or not covering its revision")
    if not status.trusted:
        raise _untrusted()


def _untrusted() -> SigningError:
    return SigningError("remote.certificate_not_trusted",
                        "Chứng thư số của nhà cung cấp không được tin cậy hoặc đã bị thu hồi: "
                        "không lưu trữ.",
                        "The provider's certificate is not trusted or is revoked: "
                        "not archived.")


async def _to_level(services: Any, pdf: bytes, level: str) -> bytes:
    """B-LT: the new signature's validation data in the DSS; B-LTA: every signature's
    and a document timestamp (``signer.ltv``)."""
    if level == "B-LTA":
        from signer.ltv import async_extend_to_lta

        return await async_extend_to_lta(pdf, timestampers=services.timestampers(),
                                         revocation=services.revocation())
    if level != "B-LT":
        return pdf
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.dss import DocumentSecurityStore, async_add_validation_info
    from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError

    reader = PdfFileReader(BytesIO(pdf), strict=False)
    context = services.revocation().validation_context()
    if "/DSS" in reader.root:
        context.certificate_registry.register_multiple(
            list(DocumentSecurityStore.read_dss(reader).load_certs()))
    try:
        out = await async_add_validation_info(reader.embedded_signatures[-1], context)
    except (OSError, TimeoutError) as e:  # retried by the repair pass
        raise UnavailableError("ltv.dependency_unavailable", "Dịch vụ OCSP/CRL không trả lời.",
                               "The OCSP/CRL service did not answer.") from e
    except (PathBuildingError, PathValidationError) as e:
        raise _untrusted() from e
    return out.getvalue()  # type: ignore[no-any-return]


def _actor(ctx: dict[str, Any]) -> ActorRef:
    a = ctx["actor"]
    return ActorRef(subject=a["subject"], tenant=a["tenant"], role=a["role"],
                    kind=a.get("kind") or "staff", practitioner_id=a.get("practitioner_id"),
                    department=a.get("department"))


def _committed_by(services: Any, plan: RemoteSignaturePlan, transaction_id: str) -> bool:
    """This transaction's signature of this document is already committed."""
    from workflow.db import signature_requests as sr

    with services.engine.connect() as conn:
        rows = conn.execute(select(sr.c.evidence).where(
            sr.c.document_id == plan.document_id, sr.c.role == plan.step_role,
            sr.c.status == "signed")).scalars().all()
    return any((e or {}).get("remote_transaction") == transaction_id for e in rows)


def _archived(version: int, archived_version: int | None) -> dict[str, Any]:
    vi, en = _STATE_TEXT["archived"]
    return {"state": "archived", "version": version, "archived_version": archived_version,
            "message_vi": vi, "message_en": en}


def _repair(services: Any, actor: ActorRef, plan: RemoteSignaturePlan,
            subject: str) -> dict[str, Any]:
    """Committed by this transaction earlier: archive it if the archive lacks it."""
    committed = plan.version + 1
    with services.engine.connect() as conn:
        from workflow.db import document_versions as dv

        sha = conn.execute(select(dv.c.sha256).where(
            dv.c.document_id == plan.document_id, dv.c.version == committed)).scalar_one()
    archived = next((v.n for v in services.index.versions(plan.document_id)
                     if v.sha256 == sha), None)
    if archived is None:
        outcome = services.documents.archive_committed_remote(actor, plan, subject=subject)
        archived = outcome.archived_version if outcome is not None else None
    return _archived(committed, archived)


def _take_over_one(services: Any, tx: Any, actor: ActorRef, plan: RemoteSignaturePlan,
                   signed: bytes) -> dict[str, Any]:
    from asn1crypto import x509

    subject = x509.Certificate.load(base64.b64decode(tx.cert_b64)).subject.human_friendly
    if _committed_by(services, plan, tx.transaction_id):
        return _repair(services, actor, plan, subject)
    wf = services.documents
    row = wf._row(plan.document_id)
    if row.version != plan.version or row.sha256 != plan.sha256:
        raise _changed()
    check_signed_pdf(wf.plan_pdf(plan), signed, plan.field_name,
                     services.revocation().validation_context())
    pdf = wf.run(_to_level(services, signed, plan.level))
    outcome = wf.commit_remote_signature(
        actor, plan, pdf, subject=subject,
        evidence={"remote_transaction": tx.transaction_id, "sign_algo": tx.sign_algo})
    if outcome is None:
        if _committed_by(services, plan, tx.transaction_id):
            return _repair(services, actor, plan, subject)
        raise _changed()
    return _archived(outcome.document.version, outcome.archived_version)


def take_over(services: Any, store: Any, transaction_id: str) -> dict[str, dict[str, Any]]:
    """Archive every signed workflow document of a settled transaction that has no
    result yet; record each result. Rejected/expired/pending: nothing. An unavailable
    TSA/OCSP leaves the document without a result (the repair pass retries)."""
    tx = store.load(transaction_id)
    ctx = _workflow(tx) if tx is not None else None
    if tx is None or ctx is None or tx.status != "completed":
        return {}
    actor = _actor(ctx)
    done: dict[str, dict[str, Any]] = {}
    for document_id, raw in ctx.get("documents", {}).items():
        if document_id in tx.results or document_id not in tx.signed_b64:
            continue
        plan = RemoteSignaturePlan(**raw)
        try:
            result = _take_over_one(services, tx, actor, plan,
                                    base64.b64decode(tx.signed_b64[document_id]))
        except UnavailableError:
            log.warning("remote signature not archived yet: a dependency is unavailable",
                        extra={"transaction_id": transaction_id, "document_id": document_id})
            continue
        except Exception as e:  # recorded per document
            if _committed_by(services, plan, transaction_id):  # failed after the commit
                log.exception("remote signature committed, not archived yet: the repair "
                              "pass retries", extra={"transaction_id": transaction_id,
                                                     "document_id": document_id})
                continue
            if not isinstance(e, HsbaError):
                log.exception("remote signature not archived", extra={
                    "transaction_id": transaction_id, "document_id": document_id})
            result = {"state": "refused", **_error(e)}
            services.trail.record("sign", actor=actor, document_id=document_id,
                                  outcome="refused", details={
                                      "remote_transaction": transaction_id,
                                      "reason": result["code"]})
        store.record_result(transaction_id, document_id, result)
        done[document_id] = result
    return done


def take_over_unfinished(services: Any, store: Any, *, older_than_s: float = 60,
                         window: timedelta = timedelta(days=7)) -> list[str]:
    """The repair pass: completed transactions (created within ``window``, settled more
    than ``older_than_s`` ago) with workflow documents lacking a result are taken over
    again; the transaction ids worked on."""
    now = datetime.now(UTC)
    worked: list[str] = []
    for tx in store.completed_since(now - window):
        ctx = _workflow(tx)
        if ctx is None or all(d in tx.results for d in ctx.get("documents", {})):
            continue
        if tx.settled_at and datetime.fromisoformat(tx.settled_at) > now - timedelta(
                seconds=older_than_s):
            continue  # the settling process is probably still at it
        take_over(services, store, tx.transaction_id)
        worked.append(tx.transaction_id)
    return worked
