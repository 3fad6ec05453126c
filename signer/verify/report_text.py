"""A short plain-text summary of a verification, for the terminal."""

from __future__ import annotations

from signer.verify import explain
from signer.verify.model import SignatureReport, VerificationReport

_L = {
    "vi": {"verdict": "Kết luận", "sig": "Chữ ký", "ts": "Dấu thời gian tài liệu",
           "signer": "người ký", "time": "thời điểm", "source": "nguồn", "level": "mức",
           "indication": "chỉ báo", "changes": "thay đổi sau ký", "role": "vai trò",
           "timestamp": "dấu thời gian", "claimed": "tự khai", "none": "không có",
           "note": "Lưu ý"},
    "en": {"verdict": "Verdict", "sig": "Signature", "ts": "Document timestamp",
           "signer": "signer", "time": "time", "source": "source", "level": "level",
           "indication": "indication", "changes": "changes after signing", "role": "role",
           "timestamp": "timestamp", "claimed": "claimed", "none": "none", "note": "Note"},
}


def _sig_lines(s: SignatureReport, lang: str, title: str) -> list[str]:
    t = _L[lang]
    ind = s.indication + (f"/{s.subindication}" if s.subindication else "")
    lines = [
        f"  {title} '{s.field_name}': {t['signer']}: {s.signer or '?'}"
        + (f"; {t['role']}: {s.role}" if s.role else ""),
        (f"    {t['time']}: {s.signing_time or '-'} ({t['source']}: {t[s.time_source]}); "
         f"{t['level']}: {s.level or '-'}; {t['indication']}: {ind}"),
        f"    {t['changes']}: {explain.explain(explain.CHANGES, s.changes, lang)}",
    ]
    if s.subindication:
        lines.append(f"    → {s.explanation_en if lang == 'en' else s.explanation_vi}")
    for f in s.findings:
        if f.severity in ("fatal", "modified", "warning"):
            lines.append(f"    ! {f.message(lang)}")
    return lines


def render_text(name: str, rep: VerificationReport, lang: str) -> str:
    t = _L[lang]
    lines = [f"{name}: {rep.verdict}", f"  {t['verdict']}: {rep.message(lang)}"]
    for s in rep.signatures:
        lines += _sig_lines(s, lang, t["sig"])
    for s in rep.document_timestamps:
        lines += _sig_lines(s, lang, t["ts"])
    for f in rep.findings:
        lines.append(f"  ! {f.message(lang)}")
    return "\n".join(lines)
