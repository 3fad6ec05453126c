"""Who signs a form, in which order, how, to what level, and how long it is kept.

For people (``hsba policies explain``) and for the web pages: a plain dict
with both languages, and a text rendering per language.
"""

from __future__ import annotations

from typing import Any

from policies.policy_set import PolicySet
from policies.vocabulary import METHOD_LABELS, ROLE_LABELS

_DOCMDP = {
    "fill_forms": ("cho phép điền biểu mẫu và ký tiếp", "form filling and further signatures"),
    "annotate": ("cho phép điền, ghi chú và ký tiếp", "form filling, annotations and signatures"),
    "no_changes": ("không cho phép thay đổi", "no changes"),
}


def explain_form(policies: PolicySet, form_code: str, version: str | None = None
                 ) -> dict[str, Any]:
    sp = policies.signing(form_code, version)
    stages = []
    for i, stage in enumerate(sp.stages, start=1):
        stages.append({
            "order": i,
            "parallel": len(stage) > 1,
            "steps": [{
                "role": s.role,
                "field": s.field_name,
                "label_vi": s.label("vi"),
                "label_en": s.label("en"),
                "alternatives": list(s.alternatives),
                "representative_allowed": s.representative_allowed,
                "methods": list(s.methods),
                "sealed_by": s.seal,
                "repeatable": s.repeatable,
                "deadline_hours": s.deadline_hours,
            } for s in stage],
        })
    ret = policies.retention
    record_type = ret.form_record_types.get(form_code)
    kinds = [record_type] if record_type else sorted(ret.record_types)
    bases = [ret.classify(k) for k in kinds]
    shortest = min((b.years for b in bases if b.years is not None), default=None)
    retention: dict[str, Any] = {
        "record_type": record_type,
        "by_record_type": {k: {"class_name": b.class_name, "years": b.years,
                               "label_vi": b.label_vi, "label_en": b.label_en}
                           for k, b in zip(kinds, bases, strict=True)},
        "legal_basis": ret.legal_basis,
        "raised_by": {
            event: {"class_name": cls, "years": ret.classes[cls].years}
            for event, cls in ret.events.items()
            if shortest is not None and (ret.classes[cls].years or 10**6) > shortest
        },
    }
    return {
        "form": sp.form,
        "title_vi": sp.title_vi,
        "title_en": sp.title_en,
        "policy": sp.identifier,
        "policy_set_version": policies.version,
        "legal_basis": sp.legal_basis,
        "certify": sp.certify.model_dump() if sp.certify else None,
        "final_level": sp.final_level,
        "timestamp_each_signature": sp.timestamp_each_signature,
        "algorithms": sp.algorithms.model_dump(mode="json"),
        "stages": stages,
        "retention": retention,
    }


def render_text(info: dict[str, Any], lang: str = "vi") -> str:
    en = lang == "en"

    def t(vi: str, e: str) -> str:
        return e if en else vi

    lines = [f"{info['title_en'] if en else info['title_vi']} ({info['form']})",
             t("Chính sách", "Policy") + f": {info['policy']}  [{info['policy_set_version']}]",
             t("Căn cứ", "Legal basis") + f": {info['legal_basis']}"]
    lines.append(t("Thứ tự ký:", "Signing order:"))
    for stage in info["stages"]:
        prefix = f"  {stage['order']}. "
        if stage["parallel"]:
            lines.append(prefix + t("(ký song song, thứ tự bất kỳ)", "(in parallel, any order)"))
            prefix = "     - "
        for s in stage["steps"]:
            who = s["label_en"] if en else s["label_vi"]
            extras = []
            for alt in s["alternatives"]:
                extras.append(t("hoặc ", "or ") + ROLE_LABELS[alt][1 if en else 0])
            if s["representative_allowed"]:
                extras.append(t("hoặc người đại diện hợp pháp", "or the legal representative"))
            if extras:
                who += " (" + "; ".join(extras) + ")"
            methods = ", ".join(METHOD_LABELS[m][1 if en else 0] for m in s["methods"])
            lines.append(f"{prefix}{who} [{t('trường', 'field')} {s['field']}]: {methods}")
            notes = []
            if s["sealed_by"]:
                notes.append(t("xác nhận được niêm phong bằng con dấu số của cơ sở",
                               "confirmation sealed with the hospital's organisation seal"))
            if s["repeatable"]:
                notes.append(t("ký cho mỗi lần ghi", "signed for each entry"))
            if s["deadline_hours"]:
                notes.append(t(f"trong {s['deadline_hours']} giờ sau khi lập",
                               f"within {s['deadline_hours']} h of creation"))
            if notes:
                lines.append(" " * len(prefix) + "(" + "; ".join(notes) + ")")
    if info["certify"]:
        c = info["certify"]
        lines.append(t("Chữ ký đầu tiên chứng nhận tài liệu", "The first signature certifies")
                     + f" (DocMDP: {_DOCMDP[c['docmdp']][1 if en else 0]}).")
    lines.append(t("Mức chữ ký khi hoàn tất", "Final signature level") + f": PAdES "
                 f"{info['final_level']}" + (t("; mỗi chữ ký có dấu thời gian",
                                               "; every signature timestamped")
                                             if info["timestamp_each_signature"] else ""))
    a = info["algorithms"]
    lines.append(t("Thuật toán", "Algorithms") + f": {', '.join(a['allowed'])}; RSA ≥ "
                 f"{a['min_rsa_bits']}, EC ≥ P-{a['min_ec_bits']}; {', '.join(a['digests'])}")
    r = info["retention"]
    kept = []
    for kind, b in r["by_record_type"].items():
        years = t("vĩnh viễn", "permanently") if b["years"] is None else t(
            f"{b['years']} năm", f"{b['years']} years")
        kept.append(f"{years} ({b['label_en'] if en else b['label_vi']}, {b['class_name']})"
                    if r["record_type"] else f"{kind}: {years} ({b['class_name']})")
    lines.append(t("Lưu trữ", "Kept") + ": " + "; ".join(kept) + f"; {r['legal_basis']}; "
                 + t("tính từ năm kết thúc đợt điều trị", "counted from the year the case closed"))
    if not r["record_type"]:
        lines.append("  " + t("(theo loại đợt khám, chữa bệnh của hồ sơ)",
                              "(by the type of the encounter the form belongs to)"))
    if r["raised_by"]:
        raised = ", ".join(
            f"{ev} → " + (t("vĩnh viễn", "permanent") if v["years"] is None
                          else t(f"{v['years']} năm", f"{v['years']} y"))
            for ev, v in r["raised_by"].items())
        lines.append("  " + t("Kéo dài nếu", "Raised by") + f": {raised}")
    return "\n".join(lines)
