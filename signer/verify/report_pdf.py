"""A printable verification report (PDF/A-3b, DejaVu fonts), Vietnamese by
default, English on request; each subindication explained in plain words.
Sealing it with the hospital seal is the caller's job (signer.sign with the
hospital's seal key); the first page keeps :data:`SEAL_BOX` free for it."""

from __future__ import annotations

from html import escape

from signer.verify import explain
from signer.verify.model import SignatureReport, VerificationReport

_T = {
    "vi": {"title": "Báo cáo kiểm tra chữ ký số", "file": "Tệp", "verdict": "Kết luận",
           "sig": "Chữ ký", "ts": "Dấu thời gian tài liệu", "signer": "Người ký",
           "subject": "Chủ thể chứng thư", "serial": "Số hiệu", "issuer": "Tổ chức cấp",
           "role": "Vai trò", "time": "Thời điểm ký", "source": "Nguồn thời gian",
           "level": "Mức PAdES", "ind": "Chỉ báo ETSI", "changes": "Thay đổi sau khi ký",
           "coverage": "Phạm vi ký", "path": "Chuỗi chứng thư", "rev": "Tình trạng thu hồi",
           "why": "Giải thích", "notes": "Ghi chú", "pdfa": "PDF/A", "when": "Thời điểm kiểm tra"},
    "en": {"title": "Digital signature verification report", "file": "File", "verdict": "Verdict",
           "sig": "Signature", "ts": "Document timestamp", "signer": "Signer",
           "subject": "Certificate subject", "serial": "Serial", "issuer": "Issuer",
           "role": "Role", "time": "Signing time", "source": "Time source",
           "level": "PAdES level", "ind": "ETSI indication", "changes": "Changes after signing",
           "coverage": "Coverage", "path": "Certificate path", "rev": "Revocation status",
           "why": "Explanation", "notes": "Notes", "pdfa": "PDF/A", "when": "Validation time"},
}

SEAL_BOX = (0, 300, 10, 567, 76)
"""``(page, x1, y1, x2, y2)`` in points: first page, bottom right, inside the
30 mm bottom margin that the report leaves empty for the hospital's seal."""

_CSS = """
@page { size: A4; margin: 18mm 18mm 30mm 18mm; }
body { font-family: 'DejaVu Sans'; font-size: 9.5pt; }
h1 { font-size: 15pt; } h2 { font-size: 11.5pt; margin-top: 14pt; }
table { border-collapse: collapse; width: 100%; }
td { border: 0.5pt solid #888; padding: 2pt 4pt; vertical-align: top; }
td.k { width: 32%; background: #f2f2f2; }
.verdict { font-size: 12pt; font-weight: bold; }
"""


def _row(k: str, v: object) -> str:
    return f"<tr><td class='k'>{escape(k)}</td><td>{escape(str(v if v not in (None, '') else '-'))}</td></tr>"


def _sig(s: SignatureReport, lang: str, title: str) -> str:
    t = _T[lang]
    cert = s.certificate
    ind = s.indication + (f" / {s.subindication}" if s.subindication else "")
    rows = [
        _row(t["signer"], s.signer), _row(t["role"], s.role),
        _row(t["subject"], cert.subject if cert else None),
        _row(t["serial"], cert.serial if cert else None),
        _row(t["issuer"], cert.issuer if cert else None),
        _row(t["time"], s.signing_time), _row(t["source"], s.time_source),
        _row(t["level"], s.level), _row(t["ind"], ind),
        _row(t["why"], s.explanation_en if lang == "en" else s.explanation_vi),
        _row(t["coverage"], explain.explain(explain.COVERAGE, s.coverage, lang)),
        _row(t["changes"], explain.explain(explain.CHANGES, s.changes, lang)),
        _row(t["path"], " → ".join(s.certificate_path)),
        _row(t["rev"], s.revocation),
    ]
    notes = [f.message(lang) for f in s.findings if f.severity != "info"]
    if notes:
        rows.append(_row(t["notes"], " | ".join(notes)))
    return f"<h2>{escape(title)} “{escape(s.field_name)}”</h2><table>{''.join(rows)}</table>"


def render_report_html(report: VerificationReport, lang: str = "vi") -> str:
    lang = "en" if lang == "en" else "vi"
    t = _T[lang]
    head = [_row(t["file"], report.filename or report.sha256),
            _row("SHA-256", report.sha256),
            _row(t["when"], report.validation_time or "now"),
            _row(t["pdfa"], report.pdfa.verdict)]
    parts = [f"<h1>{t['title']}</h1><table>{''.join(head)}</table>",
             f"<p class='verdict'>{t['verdict']}: {escape(report.verdict)}</p>",
             f"<p>{escape(report.message(lang))}</p>"]
    parts += [_sig(s, lang, t["sig"]) for s in report.signatures]
    parts += [_sig(s, lang, t["ts"]) for s in report.document_timestamps]
    if report.findings:
        parts.append("<h2>" + t["notes"] + "</h2><ul>"
                     + "".join(f"<li>{escape(f.message(lang))}</li>" for f in report.findings) + "</ul>")
    return (f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'><title>{t['title']}</title>"
            f"<style>{_CSS}</style></head><body>{''.join(parts)}</body></html>")


def render_report_pdf(report: VerificationReport, lang: str = "vi") -> bytes:
    """The report as a PDF/A-3b document (bytes), ready to be sealed."""
    from weasyprint import HTML

    pdf = HTML(string=render_report_html(report, lang)).write_pdf(pdf_variant="pdf/a-3b")
    assert pdf is not None
    return bytes(pdf)
