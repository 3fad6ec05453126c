"""Add one PAdES signature (B-B, B-T, B-LT or B-LTA) to a PDF form.

Everything is pyHanko: ``PdfSigner.async_sign_pdf`` builds the CMS, the
timestamper gets the signature timestamp, the validation context gathers the
DSS content, ``PdfTimeStamper`` adds the document timestamp. hsba adds the
checks the law asks for *before* anything is written (algorithms, certificate
status, field present, TSA available) and the speed-ups: the signer keeps its
loaded key (``hsm/`` or :class:`signer.keys.InMemoryKeySigner`) and the
signature's space is reserved from a size measured once per signer and level,
so pyHanko does not build every CMS twice.

B-LT puts signature and DSS in one revision; B-LTA adds one more revision
with the document timestamp. Revisions are written lean (``signer.revisions``):
no metadata rewrite, compressed streams, reservations fitted to the container.
When the signature's validation data goes into the DSS (B-LT, B-LTA), the CMS
carries only the signing certificate; its chain is in the DSS once, instead of
once per signature and once more in the DSS.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import logging
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime
from io import BytesIO
from typing import Any

from cryptography.hazmat.primitives import hashes
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign import fields
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, Signer
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.signers.pdf_signer import DSSContentSettings, SigDSSPlacementPreference
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.stamp import NoOpStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from core.errors import Conflict, HsbaError, InvalidInput, SigningError, UnavailableError
from signer.algorithms import AlgorithmPolicy, check_key_and_digest, describe_key
from signer.appearance import appearance_text, stamp_style
from signer.lta_overlap import async_sign_then_timestamp
from signer.request import LEVELS, SignRequest
from signer.revisions import (
    LeanIncrementalWriter,
    container_length,
    fitted_reservation,
    lean_writer,
)
from signer.revocation import RevocationSource, check_signer_status, status_error
from signer.timestamps import timestamper_for

log = logging.getLogger(__name__)

__all__ = ["async_sign_pdf", "sign_pdf", "signature_fields"]

# (signer id, cert sha256, digest, pss, level-has-timestamp) -> bytes to reserve.
_RESERVED: dict[tuple[Any, ...], int] = {}


def signature_fields(pdf: bytes) -> dict[str, bool]:
    """Signature field names of a PDF and whether each is already signed."""
    reader = _reader(pdf).prev
    return {name: value is not None for name, value, _ in fields.enumerate_sig_fields(reader)}


def _reader(pdf: bytes) -> LeanIncrementalWriter:
    try:
        return lean_writer(pdf)
    except (PdfError, ValueError, KeyError, TypeError, AssertionError) as e:
        raise InvalidInput(
            "sign.malformed_pdf",
            "Tệp PDF không đọc được; không thể ký.",
            "The PDF cannot be parsed; nothing was signed.",
        ) from e


def _refuse(code: str, vi: str, en: str, details: Any = None) -> SigningError:
    return SigningError(code, vi, en, details=details)


def _signer_for_request(signer: Signer, request: SignRequest) -> Signer:
    """The signer with the request's RSA padding (PSS or PKCS#1 v1.5), whose CMS
    carries the signing certificate once: a registry holding it too made pyHanko
    embed it twice (~2.5 KB of hex per signature). When the DSS will hold the
    chain (B-LT, B-LTA), the CMS carries the signing certificate alone."""
    cert = signer.signing_cert
    set_pss = (
        cert is not None
        and cert.public_key.algorithm == "rsa"
        and signer.signature_mechanism is None
        and bool(signer.prefer_pss) != request.use_pss
    )
    registry = list(signer.cert_registry or ())
    lean = [] if request.needs_revinfo else [
        c for c in registry if cert is None or c.sha256 != cert.sha256]
    if not set_pss and len(lean) == len(registry):
        return signer
    view = copy.copy(signer)  # shares the loaded key / HSM session
    if set_pss:
        view.prefer_pss = request.use_pss
    view._cert_registry = SimpleCertificateStore.from_certs(lean)
    return view


def _reserve_key(
    signer: Signer, request: SignRequest, timestamper: TimeStamper | None
) -> tuple[Any, ...]:
    cert = signer.signing_cert
    assert cert is not None
    chain = sum(len(c.dump()) for c in signer.cert_registry)
    return (cert.sha256, chain, request.md_algorithm, bool(signer.prefer_pss),
            timestamper is not None)


async def _reserve(
    signer: Signer, request: SignRequest, timestamper: TimeStamper | None
) -> int:
    """Bytes to reserve for /Contents, measured once per signer/level with a margin."""
    key = _reserve_key(signer, request, timestamper)
    cached = _RESERVED.get(key)
    if cached is not None:
        return cached
    cert = signer.signing_cert
    assert cert is not None
    digest = hashes.Hash(get_pyca_cryptography_hash(request.md_algorithm)).finalize()
    test_cms = await signer.async_sign(
        digest,
        request.md_algorithm,
        use_pades=True,
        dry_run=True,
        timestamper=timestamper,
        signed_attr_settings=PdfCMSSignedAttributes(signing_time=datetime.now(UTC)),
    )
    # The dry run carries a real TSA token and the same certificates, and its signature
    # value is measured at the key's maximal length: the real container differs by a
    # few bytes of the TSA token (RESERVE_MARGIN); a container that still does not fit
    # is re-signed with pyHanko's own sizing (async_sign_pdf).
    reserved = fitted_reservation(container_length(test_cms, cert.public_key))
    _RESERVED[key] = reserved
    return reserved


def _check_field(writer: IncrementalPdfFileWriter, request: SignRequest) -> None:
    existing = {
        name: value is not None
        for name, value, _ in fields.enumerate_sig_fields(writer.prev)
    }
    if request.certify and any(existing.values()):
        raise _refuse(
            "sign.certify_not_first",
            "Chữ ký chứng nhận (certify) phải là chữ ký đầu tiên của văn bản.",
            "A certification signature must be the document's first signature.",
        )
    if request.field_name not in existing:
        if request.create_field_box is None:
            raise _refuse(
                "sign.field_missing",
                f"Biểu mẫu không có ô chữ ký '{request.field_name}'.",
                f"The form has no signature field '{request.field_name}'.",
                details={"field": request.field_name, "fields": sorted(existing)},
            )
    elif existing[request.field_name]:
        raise Conflict(
            "sign.field_already_signed",
            f"Ô chữ ký '{request.field_name}' đã được ký.",
            f"Signature field '{request.field_name}' is already signed.",
            details={"field": request.field_name},
        )


async def async_sign_pdf(
    pdf: bytes,
    request: SignRequest,
    *,
    signer: Signer,
    timestampers: Sequence[TimeStamper] = (),
    revocation: RevocationSource | None = None,
    algorithms: AlgorithmPolicy | None = None,
) -> bytes:
    """Sign ``pdf`` into ``request.field_name`` and return the new file.

    Raises (and writes nothing) when the key/digest is weak, the certificate is
    revoked/expired/not yet valid, the field is missing or already signed, a
    timestamp is needed and no TSA answers, or revocation data is needed and no
    source is given. ``revocation=None`` with B-B/B-T checks only the validity
    period: the workflow always passes a source.
    """
    if request.level not in LEVELS:
        raise InvalidInput(
            "sign.bad_level", f"Mức PAdES không hợp lệ: {request.level}",
            f"Unknown PAdES level: {request.level}",
        )
    cert = signer.signing_cert
    check_key_and_digest(cert, request.md_algorithm, algorithms)
    assert cert is not None
    chain = list(signer.cert_registry or ())
    signer = _signer_for_request(signer, request)
    timestamper = timestamper_for(timestampers) if request.needs_timestamp else None
    if request.needs_timestamp and timestamper is None:
        raise _refuse(
            "sign.timestamp_required",
            f"Mức {request.level} cần dấu thời gian nhưng chưa cấu hình TSA.",
            f"Level {request.level} needs a timestamp but no TSA is configured.",
        )
    if request.needs_revinfo and revocation is None:
        raise _refuse(
            "sign.revocation_required",
            f"Mức {request.level} cần dữ liệu thu hồi (OCSP/CRL) nhưng chưa có nguồn.",
            f"Level {request.level} needs revocation data but no source is configured.",
        )

    writer = _reader(pdf)
    _check_field(writer, request)

    context = revocation.validation_context() if revocation is not None else None
    if context is not None:
        # the signer's path is built from the context: the CMS may not carry the chain
        context.certificate_registry.register_multiple(chain)
    if context is None:
        _check_validity_period(cert)
    elif not request.needs_revinfo:
        await check_signer_status(cert, context, intermediates=chain)
    # else: B-LT/B-LTA — pyHanko's pre-signing validation checks the same path
    # with the same context (OCSP, else CRL) before anything is written; its
    # failure is mapped below, so the certificate is not validated twice.

    now = datetime.now(UTC)
    meta = PdfSignatureMetadata(
        field_name=request.field_name,
        md_algorithm=request.md_algorithm,
        name=request.signer_name,
        reason=request.reason or None,
        location=request.location or None,
        contact_info=_contact_info(request),
        certify=request.certify,
        subfilter=fields.SigSeedSubFilter.PADES,
        embed_validation_info=request.needs_revinfo,
        use_pades_lta=False,  # the document timestamp is added below, leaner
        validation_context=context if request.needs_revinfo else None,
        docmdp_permissions=fields.MDPPerm.FILL_FORMS,
        dss_settings=DSSContentSettings(
            include_vri=False,
            placement=SigDSSPlacementPreference.TOGETHER_WITH_SIGNATURE,
        ),
    )
    new_field = None
    if request.create_field_box is not None and request.field_name not in signature_fields(pdf):
        page, *box = request.create_field_box
        new_field = fields.SigFieldSpec(
            request.field_name, on_page=page,
            box=(int(box[0]), int(box[1]), int(box[2]), int(box[3])),
        )
    pdf_signer = PdfSigner(
        meta,
        signer,
        timestamper=timestamper,
        stamp_style=stamp_style(request) if request.visible else NoOpStampStyle(),
        new_field_spec=new_field,
    )
    reserved = await _reserve(signer, request, timestamper)
    text = {"body": appearance_text(request, now)}

    async def sign_into(source: IncrementalPdfFileWriter, bytes_reserved: int | None) -> bytes:
        def sign(output: BytesIO | None) -> Awaitable[BytesIO]:
            return pdf_signer.async_sign_pdf(
                source, existing_fields_only=new_field is None, bytes_reserved=bytes_reserved,
                appearance_text_params=text, output=output)

        if request.level != "B-LTA":
            return (await sign(None)).getvalue()
        # the document time-stamp's revision is prepared while the signature's own
        # time-stamp is on its way (signer.lta_overlap)
        assert timestamper is not None
        return await async_sign_then_timestamp(sign, timestamper, context,
                                               md_algorithm=request.md_algorithm)

    try:
        try:
            result = await sign_into(writer, reserved)
        except PyHankoSigningError as e:
            if "larger than expected" not in str(e):
                raise
            log.warning("reserved %d bytes was too small; letting pyHanko size it", reserved)
            _RESERVED.pop(_reserve_key(signer, request, timestamper), None)
            result = await sign_into(_reader(pdf), None)
    except HsbaError:
        raise
    except PyHankoSigningError as e:
        mapped = status_error(e.__cause__, cert) if e.__cause__ is not None else None
        if mapped is not None:
            raise mapped from e
        raise _refuse(
            "sign.failed",
            "Không tạo được chữ ký số.",
            "The digital signature could not be made.",
            details={"reason": str(e)},
        ) from e
    except (TimeoutError, OSError) as e:
        raise UnavailableError(
            "sign.dependency_unavailable",
            "Một dịch vụ cần cho việc ký (TSA/OCSP/HSM) không trả lời.",
            "A service needed for signing (TSA/OCSP/HSM) did not answer.",
            details={"reason": type(e).__name__},
        ) from e
    log.info(
        "signed field=%s level=%s key=%s sha256_before=%s sha256_after=%s",
        request.field_name, request.level, describe_key(cert),
        hashlib.sha256(pdf).hexdigest()[:16], hashlib.sha256(result).hexdigest()[:16],
    )
    return bytes(result)


def _contact_info(request: SignRequest) -> str | None:
    parts = [p for p in (request.contact_info,) if p]
    if request.policy_version:
        parts.append(f"policy={request.policy_version}")
    return "; ".join(parts) or None


def _check_validity_period(cert: Any) -> None:
    now = datetime.now(UTC)
    if cert.not_valid_after < now:
        raise _refuse(
            "sign.certificate_expired",
            "Chứng thư số của người ký đã hết hạn; không thể ký.",
            "The signer's certificate has expired; signing refused.",
        )
    if cert.not_valid_before > now:
        raise _refuse(
            "sign.certificate_not_yet_valid",
            "Chứng thư số của người ký chưa có hiệu lực; không thể ký.",
            "The signer's certificate is not yet valid; signing refused.",
        )


def sign_pdf(
    pdf: bytes,
    request: SignRequest,
    *,
    signer: Signer,
    timestampers: Sequence[TimeStamper] = (),
    revocation: RevocationSource | None = None,
    algorithms: AlgorithmPolicy | None = None,
) -> bytes:
    """Synchronous :func:`async_sign_pdf` (one event loop per call: CLI and tests only)."""
    return asyncio.run(
        async_sign_pdf(
            pdf, request, signer=signer, timestampers=timestampers,
            revocation=revocation, algorithms=algorithms,
        )
    )
