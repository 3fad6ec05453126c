"""Characters the form fonts can print: data with any other character is refused.

A character no installed font covers is drawn with the ``.notdef`` glyph (an empty box):
the patient would sign a form that does not show what was entered, and PDF/A-2/3
(6.2.11.8) forbids ``.notdef`` references. Pango falls back through fontconfig to any
installed font, so the printable set is the union of the fontconfig charsets of the
installed fonts (read once per process with ``fc-list``, never at import time).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import unicodedata
from functools import lru_cache
from typing import Any

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def printable_codepoints() -> frozenset[int] | None:
    """Code points some installed font has a glyph for; ``None`` when fontconfig is absent."""
    exe = shutil.which("fc-list")
    if exe is None:
        log.warning("fc-list not found: characters are not checked against the fonts")
        return None
    out = subprocess.run([exe, "--format", "%{charset}\n"], capture_output=True, text=True,
                         timeout=60, check=False).stdout
    points: set[int] = set()
    for token in out.split():
        first, _, last = token.partition("-")
        try:
            lo, hi = int(first, 16), int(last or first, 16)
        except ValueError:
            continue
        points.update(range(lo, hi + 1))
    return frozenset(points) if points else None


def _needs_glyph(char: str) -> bool:
    return not char.isspace() and unicodedata.category(char) != "Cc"


def _walk(value: Any, path: str):
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def unprintable_characters(data: Any) -> list[dict[str, str]]:
    """Per-field errors (``field``, ``message_vi``, ``message_en``) for characters no
    installed font can print; empty when every character is printable."""
    printable = printable_codepoints()
    if printable is None:
        return []
    details = []
    for field, text in _walk(data, ""):
        bad = sorted({c for c in text if _needs_glyph(c) and ord(c) not in printable})
        if bad:
            shown = ", ".join(f"U+{ord(c):04X}" for c in bad[:8])
            details.append({
                "field": field,
                "message_vi": f"Có ký tự không in được bằng phông chữ của biểu mẫu ({shown}).",
                "message_en": f"Contains characters no form font can print ({shown}).",
            })
    return details
