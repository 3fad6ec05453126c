"""One root error for hsba, written for a person (Vietnamese and English).

Every package raises a subclass of :class:`HsbaError`; vendor exceptions stop
at the adapter (``raise ArchiveError(...) from e``). ``api/`` maps the ``kind``
of an error to an HTTP status in one table.
"""

from __future__ import annotations

from typing import Any


class HsbaError(Exception):
    """Root of every hsba error.

    ``code`` is a stable machine code (``form.invalid``, ``sign.revoked``...),
    ``message_vi`` / ``message_en`` are for people, ``details`` is structured
    data safe to show (never patient identifiers, never secrets).
    """

    kind = "error"

    def __init__(
        self,
        code: str,
        message_vi: str,
        message_en: str,
        details: Any = None,
    ) -> None:
        super().__init__(f"{code}: {message_en}")
        self.code = code
        self.message_vi = message_vi
        self.message_en = message_en
        self.details = details

    def message(self, lang: str = "vi") -> str:
        return self.message_en if lang == "en" else self.message_vi

    def diagnostics(self, lang: str = "vi") -> str:
        """A multi-line explanation for a person."""
        lines = [self.message(lang)]
        if isinstance(self.details, list):
            for item in self.details:
                if isinstance(item, dict):
                    msg = item.get(f"message_{lang}") or item.get("message") or item
                    where = item.get("field") or item.get("path") or ""
                    lines.append(f"  - {where}: {msg}" if where else f"  - {msg}")
                else:
                    lines.append(f"  - {item}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "kind": self.kind,
            "message_vi": self.message_vi,
            "message_en": self.message_en,
            "details": self.details,
        }


class InvalidInput(HsbaError):
    """Bad data from a caller (schema violation, malformed PDF, bad argument)."""

    kind = "invalid_input"


class NotFound(HsbaError):
    kind = "not_found"


class Forbidden(HsbaError):
    kind = "forbidden"


class Unauthorized(HsbaError):
    kind = "unauthorized"


class Conflict(HsbaError):
    """A concurrent change or a state that forbids the action (409/412)."""

    kind = "conflict"


class PolicyError(HsbaError):
    """A policy refuses the action, or a policy file is invalid."""

    kind = "policy"


class SigningError(HsbaError):
    """Signing could not be completed; nothing was written."""

    kind = "signing"


class KeyCustodyError(HsbaError):
    """HSM / keystore / remote-signing provider failure."""

    kind = "key_custody"


class ArchiveError(HsbaError):
    """Object store or records index failure."""

    kind = "archive"


class ConfigurationError(HsbaError):
    kind = "configuration"


class UnavailableError(HsbaError):
    """A dependency (TSA, OCSP, HSM, store) did not answer."""

    kind = "unavailable"
