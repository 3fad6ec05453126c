"""Verify any PDF: upload it, get the verification report (JSON or a printable PDF)."""

from __future__ import annotations

import hashlib
import html
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, Response, UploadFile
from fastapi.responses import JSONResponse

from api.deps import PrincipalDep, ServicesDep, authorize
from api.routes.documents import in_pool
from core.errors import InvalidInput
from workflow.access import RecordRef

router = APIRouter(prefix="/api/v1", tags=["verification"])


@router.post("/verify", responses={
    200: {"content": {"application/json": {}, "application/pdf": {}},
          "description": "The verification report"},
    401: {"description": "Not authenticated"}, 403: {"description": "Refused by policy"},
    413: {"description": "Upload too large"}, 422: {"description": "Invalid input"}},
    summary="Verify an uploaded PDF (any PDF, including hostile ones)")
async def verify(
    principal: PrincipalDep,
    services: ServicesDep,
    file: Annotated[UploadFile, File(description="The PDF to verify")],
    format: Annotated[Literal["json", "pdf"], Query()] = "json",
    lang: Annotated[Literal["vi", "en"], Query()] = "vi",
    at: Annotated[datetime | None, Query(description="Validate as of this time")] = None,
) -> Response:
    authorize(services, principal, "verify", RecordRef(tenant=principal.tenant))
    data = await file.read()
    if not data:
        raise InvalidInput("verify.empty", "Tệp rỗng.", "The file is empty.")
    report = await in_pool(services, _verify, services, data, at, lang)
    digest = hashlib.sha256(data).hexdigest()
    services.trail.record("verify", actor=principal,
                          details={"sha256": digest, "verdict": str(report.verdict)})
    if format == "pdf":
        pdf = await in_pool(services, _report_pdf, report, lang, file.filename or "document.pdf")
        return Response(pdf, media_type="application/pdf")
    return JSONResponse(report.to_dict())


def _verify(services: Any, data: bytes, at: datetime | None, lang: str) -> Any:
    from signer.verify import verify_pdf

    # With the development PKI its OCSP/CRL are this very service: use what the file
    # carries (B-LT/B-LTA documents hold their validation data in the DSS).
    offline = services.pki is not None or not services.settings.revocation_online
    return verify_pdf(data, trust_roots=services.trust_roots, at=at, offline=offline,
                      lang=lang)


def _report_pdf(report: Any, lang: str, name: str) -> bytes:
    """The text report set in a printable page (DejaVu covers Vietnamese)."""
    from weasyprint import HTML

    from signer.verify.report_text import render_text

    text = render_text(name, report, lang)
    title = "Báo cáo kiểm tra chữ ký số" if lang == "vi" else "Signature verification report"
    page = (f"<html><head><meta charset='utf-8'><style>body{{font-family:'DejaVu Sans';"
            f"font-size:10pt}} pre{{white-space:pre-wrap}}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><pre>{html.escape(text)}</pre></body></html>")
    return bytes(HTML(string=page).write_pdf())
