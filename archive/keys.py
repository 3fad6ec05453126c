"""Object keys: where a document version lives in the store (DESIGN §5).

``{hospital}/{yyyy}/{mm}/{document_id}/v{n}-{sha256}.{ext}`` — the sha256 in
the key makes a retried write of the same content land on the same key, and a
different content on a different one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from core.errors import InvalidInput

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_KEY = re.compile(
    r"^(?P<hospital>[^/]+)/(?P<yyyy>\d{4})/(?P<mm>\d{2})/(?P<document_id>[^/]+)/"
    r"v(?P<version>\d+)-(?P<sha256>[0-9a-f]{64})\.(?P<ext>pdf|xml|json)$"
)
EXTENSIONS = ("pdf", "xml", "json")


@dataclass(frozen=True)
class ObjectKey:
    hospital: str
    year: int
    month: int
    document_id: str
    version: int
    sha256: str
    ext: str = "pdf"

    def __str__(self) -> str:
        return (
            f"{self.hospital}/{self.year:04d}/{self.month:02d}/{self.document_id}/"
            f"v{self.version}-{self.sha256}.{self.ext}"
        )


def _check_part(name: str, value: str) -> None:
    if not _SAFE.match(value):
        raise InvalidInput(
            "archive.bad_key_part",
            f"Giá trị '{name}' không dùng được trong khóa lưu trữ.",
            f"Value of '{name}' cannot be used in an archive key.",
            details=[{"field": name, "message_vi": "chỉ chữ, số, . _ -",
                      "message_en": "letters, digits, . _ - only"}],
        )


def object_key(
    hospital: str,
    closed_year_month: date | datetime | tuple[int, int],
    document_id: str,
    version: int,
    sha256: str,
    ext: str = "pdf",
) -> str:
    """The key of one document version (``ext``: ``pdf``, ``xml`` or ``json``)."""
    _check_part("hospital", hospital)
    _check_part("document_id", document_id)
    if isinstance(closed_year_month, tuple):
        year, month = closed_year_month
    else:
        year, month = closed_year_month.year, closed_year_month.month
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise InvalidInput("archive.bad_sha256", "sha256 không hợp lệ.", "Invalid sha256.")
    if ext not in EXTENSIONS or version < 1 or not 1 <= month <= 12:
        raise InvalidInput("archive.bad_key_part", "Tham số khóa không hợp lệ.",
                           "Invalid key parameter.")
    return str(ObjectKey(hospital, year, month, document_id, version, sha256, ext))


def parse_key(key: str) -> ObjectKey | None:
    """Parse a document-version key, or None for other keys (checkpoints...)."""
    m = _KEY.match(key)
    if not m:
        return None
    return ObjectKey(
        m["hospital"], int(m["yyyy"]), int(m["mm"]), m["document_id"],
        int(m["version"]), m["sha256"], m["ext"],
    )
