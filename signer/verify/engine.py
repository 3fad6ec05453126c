"""The verification of one PDF, in-process: parse, validate every signature
with pyHanko, add hsba's own checks (byte ranges, hidden revisions, what each
revision renders), and decide the file's verdict.

Call :func:`signer.verify.verify_pdf` instead: it runs this in a bounded
worker process so a hostile file cannot take the service down.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from datetime import UTC, datetime
from io import BytesIO
from typing import Any

from asn1crypto import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.pdf_embedded import (
    EmbeddedPdfSignature,
    async_validate_pdf_timestamp,
)
from pyhanko_certvalidator import ValidationContext

from signer.verify import explain
from signer.verify.model import Finding, PdfaStatus, SignatureReport, VerificationReport
from signer.verify.shared_evidence import shared_evidence
from signer.verify.signatures import (
    ValidationSetup,
    cert_info,
    common_name,
    failed_signature,
    make_setup,
    validate_signature,
)

log = logging.getLogger(__name__)

_TIMESTAMP_SUBFILTER = "/ETSI.RFC3161"


def parse_error(pdf: bytes, vi: str, en: str, lang: str, *, offline: bool = False) -> VerificationReport:
    return VerificationReport(
        verdict="PARSE_ERROR", message_vi=f"{explain.VERDICTS['PARSE_ERROR'][0]} {vi}",
        message_en=f"{explain.VERDICTS['PARSE_ERROR'][1]} {en}",
        sha256=hashlib.sha256(pdf).hexdigest(), size=len(pdf), revisions=0,
        findings=(Finding("pdf.parse_error", "fatal", vi, en),), offline=offline, lang=lang,
    )


def _open(pdf: bytes) -> tuple[PdfFileReader, list[Finding]]:
    try:
        r = PdfFileReader(BytesIO(pdf), strict=True)
        _ = r.root, r.xrefs.total_revisions
        return r, []
    except Exception as strict_error:  # noqa: BLE001 - any parser failure
        r = PdfFileReader(BytesIO(pdf), strict=False)
        _ = r.root
        msg = str(strict_error)[:200]
        return r, [Finding("xref.repaired", "modified",
                           f"Tệp chỉ đọc được ở chế độ sửa lỗi (cấu trúc hỏng: {msg}); nội dung có thể khác với nội dung đã ký.",
                           f"The file can only be read in repair mode (broken structure: {msg}); content may differ from what was signed.")]


def _shared_signatures(reader: PdfFileReader) -> dict[str, EmbeddedPdfSignature]:
    """pyHanko's own (cached) signature objects for this reader, by field name.

    pyHanko's LTA process walks every signature of the file again for each
    signature it validates; sharing the objects and computing each one's
    integrity (difference analysis) once keeps the cost linear in the number
    of signatures instead of quadratic, with the same results."""
    try:
        sigs = list(reader.embedded_signatures)
    except Exception:  # noqa: BLE001 - a malformed one: fall back to per-field reading
        return {}
    for emb in sigs:
        _memoize_integrity(emb)
    return {emb.field_name: emb for emb in sigs}


def _memoize_integrity(emb: EmbeddedPdfSignature) -> EmbeddedPdfSignature:
    if getattr(emb, "_hsba_memo", False):
        return emb
    compute = emb.compute_integrity_info
    done: set[tuple[int, bool]] = set()

    def once(diff_policy: Any = None, skip_diff: bool = False) -> None:
        key = (id(diff_policy or DEFAULT_DIFF_POLICY), skip_diff)
        if key in done:
            return
        compute(diff_policy, skip_diff=skip_diff)
        done.add(key)

    emb.compute_integrity_info = once  # type: ignore[method-assign]
    emb._hsba_memo = True  # type: ignore[attr-defined]
    return emb


def _registered_offsets(reader: PdfFileReader) -> set[int]:
    offsets: set[int] = set()
    xrefs = reader.xrefs
    for rev in range(xrefs.total_revisions):
        data = xrefs.get_xref_data(rev)
        offsets.update(off for _, off in data.standard_xrefs.values())
        if data.hybrid is not None:
            offsets.update(off for _, off in data.hybrid.xref_data.standard_xrefs.values())
        meta = xrefs.get_xref_container_info(rev)
        offsets.add(meta.declared_startxref)
        offsets.add(meta.start_location)
    return offsets


def _dss_revisions(reader: PdfFileReader) -> list[int]:
    """Revisions in which the DSS was written or updated (empty if it holds
    no revocation data)."""
    try:
        ref = reader.root.raw_get("/DSS")
    except KeyError:
        return []
    try:
        dss = DocumentSecurityStore.read_dss(reader)
        if not (list(dss.ocsps) or list(dss.crls)):
            return []
        target = ref.reference if hasattr(ref, "reference") else None
        if target is None:  # a direct DSS dictionary lives in the catalogue
            target = reader.root_ref
        xrefs = reader.xrefs
        return [rev for rev in range(xrefs.total_revisions)
                if target in xrefs.explicit_refs_in_revision(rev)]
    except Exception:  # noqa: BLE001
        return []


def _validate_doc_timestamp(emb: EmbeddedPdfSignature, trust_roots: list[x509.Certificate],
                            at: datetime | None, offline: bool, lang: str) -> SignatureReport:
    kwargs: dict[str, Any] = {"trust_roots": trust_roots, "allow_fetching": not offline}
    if at is not None:
        kwargs["moment"] = at
    try:
        vc = DocumentSecurityStore.read_dss(emb.reader).as_validation_context(kwargs)
    except Exception:  # noqa: BLE001 - no DSS
        vc = ValidationContext(**kwargs)
    st = asyncio.run(async_validate_pdf_timestamp(emb, validation_context=vc))
    ok = st.intact and st.valid
    indication, sub = ("TOTAL_PASSED", None)
    if not ok:
        indication, sub = "TOTAL_FAILED", ("HASH_FAILURE" if not st.intact else "SIG_CRYPTO_FAILURE")
    elif not st.trusted:
        indication, sub = "INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND"
    cert = st.signing_cert
    cov = getattr(st.coverage, "name", "UNKNOWN")
    level = st.modification_level
    return SignatureReport(
        field_name=emb.field_name, kind="document_timestamp", signer=common_name(cert),
        certificate=cert_info(cert), role=None, reason=None, location=None,
        signing_time=st.timestamp.astimezone(UTC).isoformat(), claimed_time=None,
        proven_time=st.timestamp.astimezone(UTC).isoformat(), time_source="timestamp",
        integrity=bool(ok), digest_ok=bool(st.intact), signature_ok=bool(st.valid),
        coverage=cov if cov in ("ENTIRE_FILE", "ENTIRE_REVISION") else "PARTIAL",  # type: ignore[arg-type]
        changes=getattr(level, "name", "UNKNOWN"), docmdp=None, docmdp_ok=st.docmdp_ok,
        fieldmdp_ok=None, trusted=bool(st.trusted),
        certificate_path=tuple(c.subject.human_friendly for c in reversed(list(st.validation_path)))
        if st.validation_path else (),
        revocation="GOOD" if st.trusted else "NOT_CHECKED", timestamp_valid=bool(ok),
        level=None, indication=indication, subindication=sub,  # type: ignore[arg-type]
        explanation_vi=explain.explain(explain.SUBINDICATIONS, sub, "vi"),
        explanation_en=explain.explain(explain.SUBINDICATIONS, sub, "en"),
        signed_revision=emb.signed_revision,
    )


def _pdfa_status(pdf: bytes) -> PdfaStatus:
    try:
        from templates.pdfa import check_pdfa  # type: ignore[import-not-found]
    except Exception:  # noqa: BLE001 - optional: the forms package may not be there
        return PdfaStatus("NOT_CHECKED")
    try:
        rep = check_pdfa(pdf)
        return PdfaStatus(
            verdict=rep.verdict, part=str(getattr(rep, "part", None) or "") or None,
            conformance=str(getattr(rep, "conformance", None) or "") or None,
            failures=tuple(f"{f.clause}: {f.message}" for f in getattr(rep, "failures", [])[:20]),
        )
    except Exception:  # noqa: BLE001
        return PdfaStatus("NOT_CHECKED")


def analyse(pdf: bytes, *, trust_roots: list[x509.Certificate], at: datetime | None = None,
            offline: bool = False, lang: str = "vi", want_etsi: bool = False,
            check_rendering: bool = True, check_pdfa: bool = True) -> VerificationReport:
    """Verify one PDF in this process. May raise on hostile input: see sandbox."""
    from signer.verify.verdict import decide, render_checks, start_rendering

    sha = hashlib.sha256(pdf).hexdigest()
    if not pdf.lstrip()[:5].startswith(b"%PDF-") and b"%PDF-" not in pdf[:1024]:
        return parse_error(pdf, "Không phải tệp PDF.", "Not a PDF file.", lang, offline=offline)
    try:
        reader, file_findings = _open(pdf)
        fields = list(enumerate_sig_fields(reader, filled_status=True))
    except Exception as e:  # noqa: BLE001 - parser failure of any kind
        msg = (str(e) or type(e).__name__)[:300]
        failed = parse_error(pdf, f"Chi tiết: {msg}", f"Details: {msg}", lang, offline=offline)
        if b"/ByteRange" in pdf:
            # A signed file whose structure no longer parses was damaged or
            # manipulated after signing: not valid, whatever the parser says.
            from dataclasses import replace
            vi, en = explain.VERDICTS["INVALID"]
            failed = replace(failed, verdict="INVALID",
                             message_vi=f"{vi} Tệp đã ký bị hỏng cấu trúc: {msg}",
                             message_en=f"{en} The signed file's structure is broken: {msg}")
        return failed
    revisions = reader.xrefs.total_revisions
    pdfa = _pdfa_status(pdf) if check_pdfa else PdfaStatus("NOT_CHECKED")
    setup = make_setup(trust_roots, at, offline, pin_now=True)
    dss_revs = _dss_revisions(reader)
    embedded: list[EmbeddedPdfSignature] = []
    broken: list[SignatureReport] = []
    shared = _shared_signatures(reader)
    for fq_name, _sig_obj, sig_field in fields:
        try:
            emb = shared.get(fq_name) or EmbeddedPdfSignature(reader, sig_field, fq_name)
            embedded.append(_memoize_integrity(emb))
        except Exception as e:  # noqa: BLE001 - malformed CMS, missing entries...
            msg = (str(e) or type(e).__name__)[:200]
            broken.append(failed_signature(
                fq_name, "FORMAT_FAILURE",
                f"Không đọc được chữ ký (CMS dị dạng, thiếu /Contents hoặc /ByteRange): {msg}",
                f"The signature cannot be read (malformed CMS, missing /Contents or /ByteRange): {msg}"))
    embedded.sort(key=lambda e: e.signed_revision)
    doc_ts = [e for e in embedded if e.sig_object.get("/SubFilter") == _TIMESTAMP_SUBFILTER
              or e.sig_object_type == "/DocTimeStamp"]
    regular = [e for e in embedded if e not in doc_ts]
    ts_reports: list[SignatureReport] = []
    ts_revisions: list[int] = []
    for emb in doc_ts:
        try:
            rep = _validate_doc_timestamp(emb, trust_roots, at, offline, lang)
            if rep.integrity:
                ts_revisions.append(emb.signed_revision)
        except Exception as e:  # noqa: BLE001
            msg = (str(e) or type(e).__name__)[:200]
            rep = failed_signature(emb.field_name, "FORMAT_FAILURE",
                                   f"Dấu thời gian tài liệu không kiểm tra được: {msg}",
                                   f"The document timestamp cannot be checked: {msg}")
        ts_reports.append(rep)
    sig_reports: list[SignatureReport] = list(broken)
    etsi_parts: list[str] = []
    with contextlib.ExitStack() as stack:
        # Renderings (separate processes) run while pyHanko validates.
        renderer = start_rendering(pdf, regular) if check_rendering and regular else None
        if renderer is not None:
            stack.callback(renderer.close)
        with shared_evidence():
            for emb in regular:
                sig_reports.append(_signature(emb, setup, lang, dss_revs, ts_revisions,
                                              etsi_parts if want_etsi else None))
        if sig_reports or ts_reports:
            sig_reports, extra = render_checks(pdf, reader, regular, sig_reports, embedded,
                                               check_rendering=check_rendering,
                                               renderer=renderer)
            file_findings.extend(extra)
    if not sig_reports and not ts_reports:
        if file_findings and b"/ByteRange" in pdf:
            return parse_error(pdf, file_findings[0].message_vi, file_findings[0].message_en, lang,
                               offline=offline)
        return VerificationReport(
            verdict="NO_SIGNATURE", message_vi=explain.VERDICTS["NO_SIGNATURE"][0],
            message_en=explain.VERDICTS["NO_SIGNATURE"][1], sha256=sha, size=len(pdf),
            revisions=revisions, findings=tuple(file_findings), pdfa=pdfa,
            validation_time=at.isoformat() if at else None, offline=offline, lang=lang,
        )
    return decide(pdf, sha, revisions, sig_reports, ts_reports, file_findings, pdfa,
                  at=at, offline=offline, lang=lang,
                  etsi_xml=_merge_etsi(etsi_parts) if want_etsi else None)


def _signature(emb: EmbeddedPdfSignature, setup: ValidationSetup, lang: str,
               dss_revs: list[int], ts_revisions: list[int],
               etsi_parts: list[str] | None) -> SignatureReport:
    """One regular signature's report; whatever pyHanko raises becomes a
    FORMAT_FAILURE report for that signature."""
    try:
        rep, result = validate_signature(emb, setup, lang, dss_revs, ts_revisions)
        if etsi_parts is not None and result is not None:
            from pyhanko.sign.validation.report.tools import generate_report
            etsi_parts.append(generate_report(emb, result))
        return rep
    except Exception as e:  # noqa: BLE001 - pyHanko may raise anything on hostile CMS
        msg = (str(e) or type(e).__name__)[:200]
        cert = None
        try:
            cert = emb.signer_cert
        except Exception:  # noqa: BLE001 - no usable certificate in a broken CMS
            log.debug("no signer certificate in %s", emb.field_name)
        rep = failed_signature(emb.field_name, "FORMAT_FAILURE",
                               f"Chữ ký không kiểm tra được: {msg}",
                               f"The signature cannot be validated: {msg}", cert)
        return _with_revision(rep, emb)


def _with_revision(rep: SignatureReport, emb: EmbeddedPdfSignature) -> SignatureReport:
    from dataclasses import replace
    try:
        return replace(rep, signed_revision=emb.signed_revision)
    except Exception:  # noqa: BLE001
        return rep


def _merge_etsi(parts: list[str]) -> str | None:
    """One ETSI TS 119 102-2 document holding every signature's report."""
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    from lxml import etree

    docs = [etree.fromstring(p.encode("utf-8")) for p in parts]
    base = docs[0]
    ns = base.nsmap.get(None) or base.tag.split("}")[0].strip("{")
    objs = base.find(f"{{{ns}}}SignatureValidationObjects")
    for other in docs[1:]:
        for el in other.findall(f"{{{ns}}}SignatureValidationReport"):
            pos = list(base).index(objs) if objs is not None else len(base)
            base.insert(pos, el)
        other_objs = other.find(f"{{{ns}}}SignatureValidationObjects")
        if other_objs is not None and objs is not None:
            seen = {o.get("id") for o in objs}
            for o in other_objs:
                if o.get("id") not in seen:
                    objs.append(o)
    return etree.tostring(base, xml_declaration=True, encoding="UTF-8", pretty_print=True).decode()
