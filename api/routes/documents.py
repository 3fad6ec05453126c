"""Documents: create, read (ETag), versions, PDF, page preview, signature
requests, sign (one or a batch), kiosk patient confirmation."""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import subprocess
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status
from fastapi import Path as PathParam

from api.deps import DocId, PrincipalDep, ServicesDep
from api.schemas import (
    BatchResult,
    BatchSignBody,
    CreateDocument,
    DocumentOut,
    PatientConfirmationBody,
    SignatureRequestOut,
    SignBody,
    SignOut,
    VersionOut,
)
from core.errors import HsbaError, InvalidInput, NotFound
from workflow.signing import PatientEvidence

router = APIRouter(prefix="/api/v1", tags=["documents"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"}, 403: {"description": "Refused by policy"},
    404: {"description": "Not found (or another hospital's)"},
    422: {"description": "Invalid input"},
}


async def in_pool(services: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run blocking workflow work on the signing pool, not on the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(services.executor, functools.partial(fn, *args, **kwargs))


def _with_etag(response: Response, doc: DocumentOut) -> DocumentOut:
    response.headers["ETag"] = doc.etag
    return doc


def _require_binding(if_match: str | None, sha256: str | None) -> None:
    if not if_match and not sha256:
        raise PreconditionRequired()


class PreconditionRequired(HsbaError):
    kind = "precondition_required"
    http_status = 428

    def __init__(self) -> None:
        super().__init__("document.precondition_required",
                         "Cần If-Match hoặc sha256 của tài liệu bạn đã xem để ký.",
                         "Signing needs If-Match or the sha256 of the document you saw.")


@router.post("/documents", status_code=status.HTTP_201_CREATED, response_model=DocumentOut,
             responses=_ERRORS, summary="Create a document from a form and its data or EMR ids")
async def create_document(body: CreateDocument, response: Response, principal: PrincipalDep,
                          services: ServicesDep) -> DocumentOut:
    data = body.data
    if data is None:
        if not body.encounter_id:
            raise InvalidInput("document.no_data", "Cần dữ liệu biểu mẫu hoặc mã đợt điều trị.",
                               "Give the form data or an encounter id.")
        data = await in_pool(services, _form_data_from_emr, services, body.form_code,
                             body.encounter_id)
    view = await in_pool(
        services, services.documents.create, principal, form_code=body.form_code, data=data,
        form_version=body.form_version, patient_ref=body.patient_ref,
        encounter_id=body.encounter_id, department=body.department, care_team=body.care_team,
        events=body.events, closed_year=body.closed_year)
    response.headers["Location"] = f"/api/v1/documents/{view.id}"
    return _with_etag(response, DocumentOut.of(view))


def _form_data_from_emr(services: Any, form_code: str, encounter_id: str) -> dict[str, Any]:
    try:
        from emr.forms_data import form_data_for
    except ImportError as e:
        raise InvalidInput("document.emr_unavailable", "Chưa có dữ liệu EMR cho biểu mẫu này.",
                           "EMR data is not available for this form.") from e
    from sqlalchemy.orm import Session

    with Session(services.engine) as session:
        return form_data_for(session, form_code, encounter_id)  # type: ignore[no-any-return]


@router.get("/documents/{document_id}", response_model=DocumentOut, responses=_ERRORS,
            summary="Read a document (ETag = its version)")
async def get_document(document_id: DocId, response: Response, principal: PrincipalDep,
                       services: ServicesDep) -> DocumentOut:
    view = await in_pool(services, services.documents.get, principal, document_id)
    return _with_etag(response, DocumentOut.of(view))


@router.get("/documents/{document_id}/versions", response_model=list[VersionOut],
            responses=_ERRORS, summary="Every version of a document")
async def list_versions(document_id: DocId, principal: PrincipalDep,
                        services: ServicesDep) -> list[VersionOut]:
    rows = await in_pool(services, services.documents.versions, principal, document_id)
    return [VersionOut(**r) for r in rows]


@router.get("/documents/{document_id}/signature-requests",
            response_model=list[SignatureRequestOut], responses=_ERRORS,
            summary="Who must sign, in what order, by when, and the status of each")
async def signature_requests(document_id: DocId, principal: PrincipalDep,
                             services: ServicesDep) -> list[SignatureRequestOut]:
    view = await in_pool(services, services.documents.get, principal, document_id)
    return DocumentOut.of(view).signature_requests


@router.get("/documents/{document_id}/pdf", response_class=Response, responses={
    **_ERRORS, 200: {"content": {"application/pdf": {}}, "description": "The PDF"}},
    summary="The PDF (current version, or ?version=n)")
async def get_pdf(document_id: DocId, principal: PrincipalDep, services: ServicesDep,
                  version: Annotated[int | None, Query(ge=0, le=10_000)] = None) -> Response:
    view, pdf = await in_pool(services, services.documents.pdf, principal, document_id,
                              version, action="export")
    return Response(pdf, media_type="application/pdf", headers={"ETag": view.etag})


@router.get("/documents/{document_id}/pages/{page}.png", response_class=Response, responses={
    **_ERRORS, 200: {"content": {"image/png": {}}, "description": "Page preview"}},
    summary="Preview of one page (PNG)")
async def page_preview(document_id: DocId, principal: PrincipalDep, services: ServicesDep,
                       page: Annotated[int, PathParam(ge=1, le=500)]) -> Response:
    _, pdf = await in_pool(services, services.documents.pdf, principal, document_id, None,
                           action="view")
    png = await in_pool(services, _render_page, pdf, page)
    return Response(png, media_type="image/png")


def _render_page(pdf: bytes, page: int) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "doc.pdf"
        src.write_bytes(pdf)
        done = subprocess.run(
            ["pdftoppm", "-png", "-r", "72", "-f", str(page), "-l", str(page), "-singlefile",
             str(src), str(Path(d) / "page")], capture_output=True, timeout=30, check=False)
        out = Path(d) / "page.png"
        if done.returncode != 0 or not out.is_file():
            raise NotFound("document.no_page", "Không có trang này.", "No such page.")
        return out.read_bytes()


@router.post("/documents/{document_id}/sign", response_model=SignOut, responses={
    **_ERRORS, 409: {"description": "Conflict"}, 412: {"description": "Document changed"},
    428: {"description": "If-Match or sha256 required"}},
    summary="Sign with your own key and factor (PIN/TOTP), bound to the document hash")
async def sign_document(document_id: DocId, body: SignBody, response: Response,
                        principal: PrincipalDep, services: ServicesDep,
                        if_match: Annotated[str | None, Header(max_length=200)] = None) -> SignOut:
    _require_binding(if_match, body.sha256)
    out = await in_pool(services, services.documents.sign, principal, document_id,
                        pin=body.pin, totp=body.totp, if_match=if_match,
                        expected_sha256=body.sha256, role=body.role)
    doc = DocumentOut.of(out.document)
    response.headers["ETag"] = doc.etag
    return SignOut(document=doc, role=out.role, level=out.level,
                   archived_version=out.archived_version)


@router.post("/documents/sign-batch", response_model=list[BatchResult], responses=_ERRORS,
             summary="Sign many documents with one authorisation, each bound to its hash")
async def sign_batch(body: BatchSignBody, principal: PrincipalDep,
                     services: ServicesDep) -> list[BatchResult]:
    items = [(i.document_id, i.sha256.lower()) for i in body.items]
    results = await in_pool(services, services.documents.sign_batch, principal, items,
                            pin=body.pin, totp=body.totp)
    return [BatchResult(**r) for r in results]


@router.post("/documents/{document_id}/patient-confirmation", response_model=SignOut,
             responses={**_ERRORS, 412: {"description": "Document changed"},
                        428: {"description": "If-Match or sha256 required"}},
             summary="Kiosk: record the patient's confirmation, sealed by the hospital")
async def patient_confirmation(document_id: DocId, body: PatientConfirmationBody,
                               response: Response, principal: PrincipalDep,
                               services: ServicesDep,
                               if_match: Annotated[str | None, Header(max_length=200)] = None,
                               ) -> SignOut:
    _require_binding(if_match, body.sha256)
    png = None
    if body.handwritten_png_b64:
        try:
            png = base64.b64decode(body.handwritten_png_b64, validate=True)
        except (binascii.Error, ValueError) as e:
            raise InvalidInput("confirm.bad_image", "Hình chữ ký không hợp lệ.",
                               "The signature image is not valid base64.") from e
        if not png.startswith(b"\x89PNG\r\n\x1a\n"):
            raise InvalidInput("confirm.bad_image", "Hình chữ ký phải là PNG.",
                               "The signature image must be a PNG.")
    evidence = PatientEvidence(method=body.method, signer_name=body.signer_name,
                               device=principal.username or principal.subject,
                               handwritten_png=png, evidence_sha256=body.evidence_sha256,
                               representative=body.representative)
    out = await in_pool(services, services.documents.confirm_patient, principal, document_id,
                        evidence, patient_ref=body.patient_ref, if_match=if_match,
                        expected_sha256=body.sha256)
    doc = DocumentOut.of(out.document)
    response.headers["ETag"] = doc.etag
    return SignOut(document=doc, role=out.role, level=out.level,
                   archived_version=out.archived_version)
