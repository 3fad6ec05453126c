"""Form data validation: JSON Schema 2020-12, errors per field in Vietnamese and English.

A schema may carry its own messages beside any property: ``"x-message-vi"`` and
``"x-message-en"``; otherwise a generic message is built from the failing keyword.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from core.errors import InvalidInput

_GENERIC: dict[str, tuple[str, str]] = {
    "required": ("Thiếu trường bắt buộc.", "Required field is missing."),
    "type": ("Sai kiểu dữ liệu (cần {expected}).", "Wrong data type (expected {expected})."),
    "pattern": ("Giá trị không đúng định dạng.", "Value does not match the expected format."),
    "format": ("Giá trị không đúng định dạng {expected}.", "Value is not a valid {expected}."),
    "enum": ("Giá trị phải là một trong: {expected}.", "Value must be one of: {expected}."),
    "const": ("Giá trị phải là {expected}.", "Value must be {expected}."),
    "minLength": ("Giá trị quá ngắn (tối thiểu {expected} ký tự).",
                  "Value too short (at least {expected} characters)."),
    "maxLength": ("Giá trị quá dài (tối đa {expected} ký tự).",
                  "Value too long (at most {expected} characters)."),
    "minimum": ("Giá trị phải ≥ {expected}.", "Value must be ≥ {expected}."),
    "maximum": ("Giá trị phải ≤ {expected}.", "Value must be ≤ {expected}."),
    "exclusiveMinimum": ("Giá trị phải > {expected}.", "Value must be > {expected}."),
    "minItems": ("Cần ít nhất {expected} dòng.", "At least {expected} entries are needed."),
    "maxItems": ("Nhiều nhất {expected} dòng.", "At most {expected} entries are allowed."),
    "additionalProperties": ("Trường không được khai báo trong biểu mẫu.",
                             "Field not declared by the form."),
}
_TYPE_VI = {"string": "chuỗi", "integer": "số nguyên", "number": "số", "object": "đối tượng",
            "array": "danh sách", "boolean": "đúng/sai", "null": "rỗng"}


def nfc(value: Any) -> Any:
    """The same data with every string normalised to Unicode NFC."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {nfc(k): nfc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [nfc(v) for v in value]
    return value


def _path(parts: Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _details_for(error: ValidationError) -> list[dict[str, str]]:
    base = list(error.absolute_path)
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in (error.instance or {})]
        items = []
        for name in missing:
            sub = (error.schema.get("properties") or {}).get(name, {})
            vi, en = _GENERIC["required"]
            items.append({"field": _path([*base, name]),
                          "message_vi": sub.get("x-required-vi", vi),
                          "message_en": sub.get("x-required-en", en)})
        return items
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        vi, en = _GENERIC["additionalProperties"]
        return [{"field": _path([*base, k]), "message_vi": vi, "message_en": en} for k in extra]
    schema = error.schema if isinstance(error.schema, dict) else {}
    if "x-message-vi" in schema:
        return [{"field": _path(base), "message_vi": schema["x-message-vi"],
                 "message_en": schema.get("x-message-en", schema["x-message-vi"])}]
    vi, en = _GENERIC.get(str(error.validator), ("Giá trị không hợp lệ.", "Invalid value."))
    expected = error.validator_value
    if isinstance(expected, list):
        expected = ", ".join(map(str, expected))
    exp_vi = _TYPE_VI.get(str(expected), expected) if error.validator == "type" else expected
    return [{"field": _path(base), "message_vi": vi.format(expected=exp_vi),
             "message_en": en.format(expected=expected)}]


def validate_form_data(form_code: str, schema: dict[str, Any], data: Any) -> None:
    """Raise :class:`InvalidInput` listing every field error; return if the data is valid."""
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    details: list[dict[str, str]] = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        for item in _details_for(error):
            if item not in details:
                details.append(item)
    if details:
        raise InvalidInput(
            "form.invalid_data",
            f"Dữ liệu biểu mẫu '{form_code}' không hợp lệ ({len(details)} lỗi).",
            f"Form '{form_code}' data is invalid ({len(details)} errors).",
            details=details,
        )
