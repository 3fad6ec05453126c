"""XSD validation of the Ministry exchange files with per-field errors in Vietnamese and
English: the XML 130 tables and wrapper, and the ``HoSoBenhAn`` record export.

The schemas live in ``xsd/``. libxml2's own messages quote the offending value
(a citizen id, a name); the messages built here never do: they name the field,
its label and what is wrong with it (missing, format, code list, length,
number), and list the allowed codes for a code-list field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from lxml import etree

XSD_DIR = Path(__file__).with_name("xsd")

_EXPECTED = re.compile(r"Expected is (?:one of )?\( ([^)]*) \)")
_CODE_SET = re.compile(r"set \{([^}]*)\}")
_MAX_LENGTH = re.compile(r"maximum length of '(\d+)'")

# kind -> (Vietnamese, English) description of the problem
PROBLEMS: dict[str, tuple[str, str]] = {
    "missing": ("là bắt buộc nhưng không có", "is mandatory but missing"),
    "unexpected": ("không có trong định dạng", "is not part of the format"),
    "format": ("sai định dạng", "has the wrong format"),
    "code": ("có giá trị không thuộc danh mục", "has a value outside its code list"),
    "length": ("dài hơn độ dài cho phép", "is longer than allowed"),
    "empty": ("không được để trống", "must not be empty"),
    "number": ("không phải số hợp lệ hoặc quá nhiều chữ số",
               "is not a valid number or has too many digits"),
    "invalid": ("không hợp lệ", "is invalid"),
}
_KINDS = {
    "SCHEMAV_CVC_PATTERN_VALID": "format",
    "SCHEMAV_CVC_ENUMERATION_VALID": "code",
    "SCHEMAV_CVC_MAXLENGTH_VALID": "length",
    "SCHEMAV_CVC_LENGTH_VALID": "length",
    "SCHEMAV_CVC_MINLENGTH_VALID": "empty",
    "SCHEMAV_CVC_TOTALDIGITS_VALID": "number",
    "SCHEMAV_CVC_FRACTIONDIGITS_VALID": "number",
    "SCHEMAV_CVC_MININCLUSIVE_VALID": "number",
    "SCHEMAV_CVC_MAXINCLUSIVE_VALID": "number",
    "SCHEMAV_CVC_DATATYPE_VALID_1_2_1": "number",
}


@cache
def load_schema(xsd_name: str) -> etree.XMLSchema:
    """A schema of ``xsd/`` (parsed once per process)."""
    return etree.XMLSchema(etree.parse(str(XSD_DIR / xsd_name)))


def field_error(field: str, scope: str, name: str, label: str, kind: str, *,
                path: str = "", line: int | str = "", hint_vi: str = "",
                hint_en: str = "") -> dict[str, str]:
    """One per-field error, shaped like the other ``InvalidInput.details`` of hsba."""
    vi, en = PROBLEMS[kind]
    shown = f"{label} ({name})" if label and label != name else name
    return {
        "field": field, "path": path, "line": str(line), "kind": kind,
        "message_vi": f"{scope}: trường {shown} {vi}{hint_vi}.",
        "message_en": f"{scope}: field {name} {en}{hint_en}.",
    }


def _where(err: etree._LogEntry) -> tuple[str, str, str]:
    """(kind, element name, element path) of one libxml2 schema error."""
    path = err.path or ""
    kind = _KINDS.get(err.type_name, "invalid")
    if err.type_name == "SCHEMAV_ELEMENT_CONTENT":
        expected = _EXPECTED.search(err.message)
        if expected:
            # what may come next: the optional elements, then the first mandatory one
            name = expected.group(1).split(",")[-1].strip().rsplit("}", 1)[-1]
            parent = path if "Missing child" in err.message else path.rsplit("/", 1)[0]
            return "missing", name, f"{parent}/{name}"
        kind = "unexpected"
    name = re.sub(r"\[\d+\]$", "", path.rsplit("/", 1)[-1])
    return kind, name, path


def xsd_errors(xml: bytes | etree._Element, xsd_name: str, *, scope: str,
               labels: Mapping[str, str] | None = None,
               field_style: str = "name") -> list[dict[str, str]]:
    """The violations of ``xsd_name`` as per-field errors, one per element.

    ``field`` is ``SCOPE.NAME`` (``field_style="name"``, the XML 130 tables) or the
    element's path below the root with row numbers (``"path"``, e.g.
    ``DOT_DIEU_TRI/DOT[1]/NGAY_VAO`` for nested records).
    """
    doc = etree.fromstring(xml) if isinstance(xml, bytes) else xml
    schema = load_schema(xsd_name)
    if schema.validate(doc):
        return []
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for err in schema.error_log:
        kind, name, path = _where(err)
        if field_style == "path":
            field = "/".join(path.split("/")[2:]) or name
        else:
            field = f"{scope}.{name}" if name else scope
        if field in seen:
            continue
        seen.add(field)
        hint_vi = hint_en = ""
        if kind == "code" and (codes := _CODE_SET.search(err.message)):
            allowed = codes.group(1).replace("'", "")
            hint_vi, hint_en = f" (cho phép: {allowed})", f" (allowed: {allowed})"
        elif kind == "length" and (size := _MAX_LENGTH.search(err.message)):
            hint_vi, hint_en = f" (tối đa {size.group(1)} ký tự)", f" (at most {size.group(1)})"
        out.append(field_error(field, scope, name, (labels or {}).get(name, ""), kind, path=path,
                               line=err.line, hint_vi=hint_vi, hint_en=hint_en))
    return out
