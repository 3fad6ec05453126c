"""hsba's checks on top of pyHanko, and the verdict for the whole file.

Order of severity: INVALID (a signature is wrong or forged, its byte range is
bent) > MODIFIED_AFTER_SIGNING (something changed after signing that is not
permitted, or that changes what is displayed) > INDETERMINATE (nothing wrong,
but not enough to trust) > VALID_WITH_ALLOWED_CHANGES > VALID.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY
from pyhanko.sign.validation.status import ModificationInfo

from signer.verify import explain, rendering, structure
from signer.verify.model import Finding, PdfaStatus, SignatureReport, VerificationReport

log = logging.getLogger(__name__)

_RANK = {"VALID": 0, "VALID_WITH_ALLOWED_CHANGES": 1, "INDETERMINATE": 2,
         "MODIFIED_AFTER_SIGNING": 3, "INVALID": 4}
_ALLOWED = {"FORM_FILLING", "ANNOTATIONS"}


def _add(rep: SignatureReport, *found: Finding) -> SignatureReport:
    return replace(rep, findings=rep.findings + tuple(found))


def start_rendering(pdf: bytes, regular: list[Any]) -> rendering.RevisionRenderer | None:
    """Start rendering, in the background, the revisions the rendering check will
    probably compare: those signed revisions whose later changes pyHanko rates
    as allowed (form filling, annotations) or cannot rate. The check itself
    (:func:`render_checks`) still decides after validation, and renders on the
    spot whatever was not started here."""
    if not rendering.available():
        return None
    ends = []
    for emb in regular:
        try:
            emb.compute_integrity_info(diff_policy=DEFAULT_DIFF_POLICY)  # shared, computed once
            level = ModificationInfo(**emb.summarise_integrity_info()).modification_level
            end = int(emb.byte_range[2]) + int(emb.byte_range[3])
        except Exception as e:  # noqa: BLE001 - validation reports it; nothing to prefetch
            log.debug("no rendering prefetch for %s: %s", getattr(emb, "field_name", "?"), e)
            continue
        changes = getattr(level, "name", None) or "UNKNOWN"
        if end < len(pdf) and (changes in _ALLOWED or changes == "UNKNOWN"):
            ends.append(end)
    if not ends:
        return None
    renderer = rendering.RevisionRenderer(pdf)
    renderer.prefetch(ends)
    return renderer


def render_checks(pdf: bytes, reader: Any, regular: list[Any], reports: list[SignatureReport],
                  embedded: list[Any], *, check_rendering: bool,
                  renderer: rendering.RevisionRenderer | None = None
                  ) -> tuple[list[SignatureReport], list[Finding]]:
    """Byte-range, hidden-revision and rendering checks; returns updated reports
    and file-level findings. ``renderer``: one started by :func:`start_rendering`
    (the caller closes it)."""
    by_name = {r.field_name: i for i, r in enumerate(reports)}
    ranges: list[tuple[str, structure.ByteRangeFacts]] = []
    ends: dict[str, int] = {}
    for emb in embedded:
        try:
            br = list(emb.byte_range)
        except Exception:  # noqa: BLE001
            br = []
        contents = getattr(emb, "pkcs7_content", None)
        facts, found = structure.check_byte_range(pdf, br, contents)
        der = structure.cms_der_finding(contents) if contents else None
        if der is not None:
            found.append(der)
        if facts is not None:
            ranges.append((emb.field_name, facts))
            ends[emb.field_name] = facts.end
        i = by_name.get(emb.field_name)
        if i is not None and found:
            reports[i] = _add(reports[i], *found)
    for name, finding in structure.check_nesting(ranges).items():
        i = by_name.get(name)
        if i is not None:
            reports[i] = _add(reports[i], finding)
    file_findings: list[Finding] = []
    if ends:
        first_end = min(ends.values())
        first_rev = min((e.signed_revision for e in embedded), default=0)
        try:
            offsets = _offsets(reader)
            file_findings.extend(structure.tail_findings(
                pdf, first_end, offsets, reader.xrefs.total_revisions - 1 - first_rev))
        except Exception as e:  # noqa: BLE001
            log.debug("tail check failed: %s", e)
    if check_rendering and rendering.available():
        reports = _rendering(pdf, regular, reports, by_name, ends, renderer)
    return reports, file_findings


def _offsets(reader: Any) -> set[int]:
    from signer.verify.engine import _registered_offsets
    return _registered_offsets(reader)


def _rendering(pdf: bytes, regular: list[Any], reports: list[SignatureReport],
               by_name: dict[str, int], ends: dict[str, int],
               renderer: rendering.RevisionRenderer | None) -> list[SignatureReport]:
    todo = []
    for emb in regular:
        i = by_name.get(emb.field_name)
        if i is None:
            continue
        rep = reports[i]
        end = ends.get(emb.field_name)
        if end is None or end >= len(pdf) or not rep.integrity:
            continue
        if rep.changes in _ALLOWED or rep.changes == "UNKNOWN":
            todo.append((i, end))
    if not todo:
        return reports
    try:
        with contextlib.ExitStack() as stack:
            rr = renderer or stack.enter_context(rendering.RevisionRenderer(pdf))
            for i, end in todo:
                diff = rr.compare(end)
                if diff.pages_signed != diff.pages_final or diff.changed_pages:
                    pages = ", ".join(str(p) for p in diff.changed_pages) or "?"
                    reports[i] = _add(reports[i], Finding(
                        "render.signed_content_changed", "modified",
                        f"Nội dung hiển thị đã ký bị che, xóa hoặc thay thế sau khi ký (trang {pages}; "
                        f"{diff.pages_signed} → {diff.pages_final} trang).",
                        f"Signed displayed content was hidden, removed or replaced after signing (page {pages}; "
                        f"{diff.pages_signed} → {diff.pages_final} pages)."))
    except Exception as e:  # noqa: BLE001 - a renderer failure must be visible, not fatal
        for i, _ in todo:
            reports[i] = _add(reports[i], Finding(
                "render.unavailable", "warning",
                "Không so sánh được hình hiển thị của các phiên bản.",
                f"Could not compare what the revisions display ({type(e).__name__})."))
    return reports


def signature_verdict(rep: SignatureReport) -> str:
    sev = {f.severity for f in rep.findings}
    if "fatal" in sev or rep.indication == "TOTAL_FAILED":
        return "INVALID"
    if ("modified" in sev or rep.changes == "OTHER" or rep.docmdp_ok is False
            or rep.fieldmdp_ok is False or rep.coverage in ("PARTIAL", "UNKNOWN")):
        return "MODIFIED_AFTER_SIGNING"
    if rep.indication != "TOTAL_PASSED":
        return "INDETERMINATE"
    if rep.changes in _ALLOWED:
        return "VALID_WITH_ALLOWED_CHANGES"
    return "VALID"


def decide(pdf: bytes, sha: str, revisions: int, sigs: list[SignatureReport],
           timestamps: list[SignatureReport], file_findings: list[Finding], pdfa: PdfaStatus,
           *, at: datetime | None, offline: bool, lang: str, etsi_xml: str | None
           ) -> VerificationReport:
    verdicts = [signature_verdict(s) for s in sigs]
    for ts in timestamps:
        v = signature_verdict(ts)
        verdicts.append("VALID" if v == "VALID_WITH_ALLOWED_CHANGES" else v)
    sev = {f.severity for f in file_findings}
    if "fatal" in sev:
        verdicts.append("INVALID")
    elif "modified" in sev:
        verdicts.append("MODIFIED_AFTER_SIGNING")
    verdict = max(verdicts, key=lambda v: _RANK[v]) if verdicts else "NO_SIGNATURE"
    if not sigs and verdict in ("VALID", "VALID_WITH_ALLOWED_CHANGES"):
        verdict = "VALID"
    vi, en = explain.VERDICTS[verdict]
    return VerificationReport(
        verdict=verdict,  # type: ignore[arg-type]
        message_vi=vi, message_en=en, sha256=sha, size=len(pdf), revisions=revisions,
        signatures=tuple(sigs), document_timestamps=tuple(timestamps),
        findings=tuple(file_findings), pdfa=pdfa,
        validation_time=at.isoformat() if at else None, offline=offline, lang=lang,
        etsi_xml=etsi_xml,
    )
