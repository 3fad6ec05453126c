"""Asking a clinician to sign with their app-confirmed remote key, over the API.

- ``POST /api/v1/remote-signing/requests``: the clinician who signs and the documents,
  each either
  - a hsba **workflow document** ``{"document_id", "if_match"}`` (``if_match``: the
    version's ETag or sha256 the clinician saw): checked as an HSM signature is
    (``workflow.remote_signing``: access, current version, the policy step this
    clinician may take with method ``remote_signing`` and the provider's key); on
    settlement the signed version is archived and the form moves to its next step; or
  - a raw PDF ``{"doc_id", "pdf_b64", "field_name", ...}``: signed and returned, not
    archived.
  → ONE provider transaction, one confirmation in the signer's phone app (202,
  ``pending``). A refused workflow document is listed with its vi/en reason
  (``refused``) and is not sent; the others are (as ``sign-batch`` does). When nothing
  is left to send the whole request is refused (``remote.nothing_to_sign``, 409, the
  reasons per document in ``details``) and the provider is not called.
- ``GET /api/v1/remote-signing/requests/{transaction_id}``: its state; per workflow
  document ``states`` (``awaiting_confirmation``, ``archiving``, ``archived`` with
  ``version``/``archived_version``, ``refused`` with its reason, ``not_signed``); once
  ``completed`` the signed raw PDFs (base64; workflow documents are read from the
  documents API). A rejection or expiry says the documents are NOT signed.

Who signs (:mod:`api.remote.signer`): a request is always sent under the subscriber id
(``user_id``: CCCD, passport or tax id) bound to ONE clinician's staff account. A
clinician (staff token) asks for their own signature; a hospital system (integration
client) sends raw PDFs only and names the clinician (``signer_account_id``). ``user_id``
may be omitted (the binding is used); a different one, an unbound clinician or a
clinician of another hospital is refused before anything is stored or sent. The
transaction and its audit entry record that clinician (``signer_account_id``).

The result arrives by the provider's webhook or by the polling job
(:mod:`api.remote.wiring`). To ask and to read, a clinician needs the access policy's
``sign`` right on a document of its own making (its care team, its encounter now), a
hospital system its ``create`` right. The transaction records who asked (tenant and
account): only that account reads its state and signed documents; anyone else gets the
same 404 as for an unknown id, so another hospital's transactions are not even confirmed
to exist. Available only when a provider is configured (``HSBA_REMOTE_PROVIDER``); else
404.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator
from starlette.concurrency import run_in_threadpool

from api.deps import PrincipalDep, ServicesDep
from api.remote.signer import SIGNER_CONTEXT, may_ask, remote_signer, signer_of
from api.remote.subscribers import router as _subscribers
from core.errors import Conflict, InvalidInput, NotFound

_requests = APIRouter(prefix="/api/v1/remote-signing/requests", tags=["remote signing"])

MAX_DOCUMENTS = 50


class RemoteDocument(BaseModel):
    """A raw PDF (``doc_id`` + ``pdf_b64``) or a workflow document (``document_id`` +
    ``if_match``)."""

    doc_id: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    pdf_b64: str | None = Field(None, min_length=1, description="The PDF, base64")
    field_name: str = Field("BacSi", min_length=1, max_length=64)
    reason: str = Field("", max_length=200)
    location: str = Field("", max_length=200)
    document_id: str | None = Field(None, min_length=1, max_length=64,
                                    pattern=r"^[A-Za-z0-9_-]+$",
                                    description="A workflow document to sign and archive")
    if_match: str | None = Field(None, min_length=1, max_length=128,
                                 description="The version's ETag or sha256 the signer saw")

    @model_validator(mode="after")
    def _one_kind(self) -> RemoteDocument:
        workflow = self.document_id is not None
        raw = self.doc_id is not None or self.pdf_b64 is not None
        if workflow == raw or (raw and (self.doc_id is None or self.pdf_b64 is None)) \
                or (workflow and self.if_match is None):
            raise ValueError("give either document_id + if_match (a workflow document) or "
                             "doc_id + pdf_b64 (a PDF)")
        return self

    @property
    def key(self) -> str:
        return self.document_id or self.doc_id or ""


class RemoteSigningRequest(BaseModel):
    """Who signs and what (see :mod:`api.remote.signer` for who may ask for whom)."""

    signer_account_id: str | None = Field(
        None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
        description="The clinician who signs: their hsba staff account id (the one their "
                    "subscriber id is bound to). Required from a hospital system; a "
                    "clinician signs as themself (omit it or give their own id)")
    user_id: str | None = Field(
        None, min_length=1, max_length=32,
        description="The signer's subscriber id at the provider (CCCD, passport or tax "
                    "id). Optional: the clinician's bound id is used; when given it must "
                    "be that id, else 403 remote.subscriber_not_yours and nothing is sent")
    signer_name: str = Field(
        "", max_length=200,
        description="The name in the signature. For a hospital system's request it is "
                    "the clinician's name in hsba: omit it, or give that exact name")
    documents: list[RemoteDocument] = Field(min_length=1, max_length=MAX_DOCUMENTS)


def _signing(request: Request) -> Any:
    signing = getattr(request.app.state, "remote_signing", None)
    if signing is None:
        raise NotFound("remote.not_configured", "Chưa cấu hình nhà cung cấp ký số từ xa.",
                       "No remote signing provider is configured.")
    return signing


def _owner(principal: Any) -> str:
    return f"{principal.tenant}/{principal.subject}"


def _pdf(doc: RemoteDocument) -> bytes:
    try:
        data = base64.b64decode(doc.pdf_b64 or "", validate=True)
    except (binascii.Error, ValueError) as e:
        raise InvalidInput("remote.bad_document", "Tài liệu không phải base64 hợp lệ.",
                           "The document is not valid base64.",
                           details={"doc_id": doc.doc_id}) from e
    if not data.startswith(b"%PDF-"):
        raise InvalidInput("remote.bad_document", "Tài liệu không phải PDF.",
                           "The document is not a PDF.", details={"doc_id": doc.doc_id})
    return data


def _nothing_to_sign(refused: dict[str, Any]) -> Conflict:
    return Conflict("remote.nothing_to_sign",
                    "Không có tài liệu nào ký được: không gửi yêu cầu đến nhà cung cấp.",
                    "None of the documents can be signed: nothing was sent to the provider.",
                    details={"refused": refused})


async def ask_remote_signature(signing: Any, services: Any, principal: Any,
                               body: RemoteSigningRequest) -> Any:
    """The request route's core, shared with the clinician's web pages
    (:mod:`api.web.remote`): checks the caller's right, the clinician who signs and
    their bound subscriber id (:mod:`api.remote.signer`) and each workflow document
    (refused ones are listed, not sent), then asks the provider for ONE confirmation
    under that subscriber id. Returns the stored transaction; raises
    ``remote.nothing_to_sign`` (the provider is not called) when nothing is left."""
    may_ask(services, principal)
    from hsm.remote.pending import DocumentToSign
    from workflow import remote_signing as wfr

    if len({d.key for d in body.documents}) != len(body.documents):
        raise InvalidInput("remote.duplicate_document", "Mã tài liệu bị lặp.",
                           "A document id is repeated.")
    items = [(d.document_id, d.if_match) for d in body.documents if d.document_id is not None]
    signer = await run_in_threadpool(
        remote_signer, services, principal, signer_account_id=body.signer_account_id,
        user_id=body.user_id, signer_name=body.signer_name, workflow_documents=bool(items))
    docs = [DocumentToSign(d.doc_id or "", _pdf(d), d.field_name, reason=d.reason,
                           location=d.location) for d in body.documents if d.document_id is None]
    certificate, context = None, None
    refused: dict[str, Any] = {}
    if items:
        certificate = await signing.certificate(signer.user_id)
        plans, refused = await run_in_threadpool(
            wfr.plan_documents, services, principal, items, certificate=certificate[0])
        if not plans and not docs:
            services.trail.record("sign", actor=principal, outcome="refused", details={
                "stage": "remote_request", "refused": sorted(refused)})
            raise _nothing_to_sign(refused)
        docs += await run_in_threadpool(wfr.documents_to_sign, services, plans)
        context = wfr.context_for(principal, plans, refused)
    tx = await signing.request(signer.user_id, docs, signer_name=signer.signature_name,
                               owner=_owner(principal), certificate=certificate,
                               context={**(context or {}), SIGNER_CONTEXT: signer.record()})
    services.trail.record("sign", actor=principal, details={
        "remote_transaction": tx.transaction_id, "stage": "requested",
        "signer_account": signer.account_id, "on_behalf": signer.on_behalf,
        "documents": [d.doc_id for d in docs], "refused": sorted(refused)})
    return tx


def own_transaction(signing: Any, services: Any, principal: Any, transaction_id: str) -> Any:
    """The stored transaction when ``principal`` asked for it; else the same 404 as for an
    unknown id (shared with the web pages' waiting page)."""
    may_ask(services, principal)
    tx = signing.store.load(transaction_id)
    if tx is None or not hmac.compare_digest(tx.owner, _owner(principal)):
        raise NotFound("remote.unknown_transaction", "Không tìm thấy giao dịch ký từ xa.",
                       "Unknown remote signing transaction.")
    return tx


@_requests.post(
    "", status_code=202, summary="Ask a clinician to confirm in the provider's app",
    description=(
        "ONE provider transaction for the documents, sent under the subscriber id bound to "
        "ONE clinician's staff account (`PUT /api/v1/remote-signing/subscribers/"
        "{account_id}`). A clinician (staff token) asks for their own signature. A "
        "hospital system (integration client) sends raw PDFs only and names the clinician "
        "in `signer_account_id`. `user_id` may be omitted: the clinician's bound id is "
        "used; when given it must be that id. Refused before anything is stored or sent: "
        "403 `remote.subscriber_not_yours` (another id), `remote.subscriber_not_bound` (no "
        "binding), `remote.signer_not_caller` (a clinician naming someone else), "
        "`remote.signer_may_not_sign`, `remote.workflow_needs_clinician`; 404 "
        "`remote.signer_not_found` (unknown account or another hospital's); 422 "
        "`remote.signer_required`, `remote.signer_name_mismatch`. The transaction records "
        "the clinician (`signer_account_id`)."),
    responses={401: {"description": "Not authenticated"},
               403: {"description": "Refused by policy, or the subscriber id is not the "
                                    "clinician's bound one (nothing sent)"},
               404: {"description": "No provider configured, or no such clinician in this "
                                    "hospital"},
               409: {"description": "No document can be signed"},
               422: {"description": "Invalid input"}})
async def request_remote_signature(body: RemoteSigningRequest, request: Request,
                                   principal: PrincipalDep,
                                   services: ServicesDep) -> JSONResponse:
    signing = _signing(request)
    tx = await ask_remote_signature(signing, services, principal, body)
    return JSONResponse(transaction_view(tx, signing.outcome(tx), with_pdfs=False),
                        status_code=202)


@_requests.get("/{transaction_id}", summary="State of a remote signature request",
            responses={401: {"description": "Not authenticated"},
                       403: {"description": "Refused by policy"},
                       404: {"description": "Unknown transaction or no provider"}})
async def remote_signature_state(
        transaction_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")], request: Request,
        principal: PrincipalDep, services: ServicesDep) -> JSONResponse:
    signing = _signing(request)
    tx = own_transaction(signing, services, principal, transaction_id)
    return JSONResponse(transaction_view(tx, signing.outcome(tx), with_pdfs=True))


def transaction_view(tx: Any, outcome: Any, *, with_pdfs: bool) -> dict[str, Any]:
    """The JSON view of a transaction (API answers and the web pages' status poll)."""
    from workflow.remote_signing import document_states

    states = document_states(tx)
    workflow_ids = {s["document_id"] for s in states}
    out: dict[str, Any] = {
        "transaction_id": tx.transaction_id, "status": tx.status,
        "signer_account_id": signer_of(tx),
        "documents": [d.doc_id for d in tx.documents], "expires_at": tx.expires_at,
        "sign_algo": tx.sign_algo, "message_vi": outcome.message_vi,
        "message_en": outcome.message_en, "states": states,
        "refused": [s for s in states if s["state"] == "refused" and s["document_id"]
                    not in {d.doc_id for d in tx.documents}]}
    if with_pdfs:
        out["signed"] = {k: base64.b64encode(v).decode() for k, v in outcome.signed.items()
                         if k not in workflow_ids}
    return out


router = APIRouter()
"""The request routes and the subscriber binding (``api.remote.subscribers``), mounted
together by ``create_app``."""
router.include_router(_requests)
router.include_router(_subscribers)
