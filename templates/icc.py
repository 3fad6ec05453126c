"""A compact sRGB ICC profile (version 2, about 450 bytes) for the PDF/A output intent.

WeasyPrint embeds the ICC's 3 KB ``sRGB2014.icc`` (a 1,024-entry tone curve and
informative tags). PDF/A needs an output intent with a valid ICC profile, not that exact
file: this one carries the same sRGB colorants and white point (D50-adapted, the values
of sRGB2014) and the sRGB tone curve sampled at 64 points (linear interpolation between
them is within 1/4000 of the exact curve), with only the tags ICC.1:2001 requires of an
RGB display profile (``desc``, ``cprt``, ``wtpt``, ``r/g/bXYZ``, ``r/g/bTRC``).
Built on first use, never at import time.
"""

from __future__ import annotations

import struct
from functools import lru_cache

DESCRIPTION = "sRGB IEC61966-2.1 (compact)"
COPYRIGHT = "No copyright, use freely"
CURVE_POINTS = 64
# s15Fixed16 values of sRGB2014.icc (ICC): D50 white point and the adapted colorants.
_WHITE = (0x0000F6D6, 0x00010000, 0x0000D32D)
_RED = (0x00006FA2, 0x000038F5, 0x00000390)
_GREEN = (0x00006299, 0x0000B785, 0x000018DA)
_BLUE = (0x000024A0, 0x00000F84, 0x0000B6CF)


def _srgb_to_linear(v: float) -> float:
    return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4


def _pad4(b: bytes) -> bytes:
    return b + b"\0" * (-len(b) % 4)


def _xyz(values: tuple[int, int, int]) -> bytes:
    return b"XYZ \0\0\0\0" + struct.pack(">3i", *values)


def _desc(text: str) -> bytes:
    ascii_text = text.encode("ascii") + b"\0"
    return (b"desc\0\0\0\0" + struct.pack(">I", len(ascii_text)) + ascii_text
            + struct.pack(">II", 0, 0)       # no Unicode description
            + struct.pack(">HB", 0, 0) + b"\0" * 67)  # no ScriptCode description


def _curve() -> bytes:
    points = [round(_srgb_to_linear(i / (CURVE_POINTS - 1)) * 65535) for i in range(CURVE_POINTS)]
    return b"curv\0\0\0\0" + struct.pack(f">I{CURVE_POINTS}H", CURVE_POINTS, *points)


@lru_cache(maxsize=1)
def compact_srgb_profile() -> bytes:
    """The profile's bytes (deterministic)."""
    curve = _pad4(_curve())
    bodies: list[tuple[bytes, bytes]] = [
        (b"desc", _pad4(_desc(DESCRIPTION))),
        (b"cprt", _pad4(b"text\0\0\0\0" + COPYRIGHT.encode("ascii") + b"\0")),
        (b"wtpt", _xyz(_WHITE)),
        (b"rXYZ", _xyz(_RED)),
        (b"gXYZ", _xyz(_GREEN)),
        (b"bXYZ", _xyz(_BLUE)),
    ]
    table_size = 4 + 12 * (len(bodies) + 3)
    offset = 128 + table_size
    entries, data = [], b""
    for sig, body in bodies:
        entries.append(struct.pack(">4sII", sig, offset + len(data), len(body)))
        data += body
    curve_offset = offset + len(data)
    for sig in (b"rTRC", b"gTRC", b"bTRC"):  # the three channels share one curve
        entries.append(struct.pack(">4sII", sig, curve_offset, len(curve)))
    data += curve
    size = offset + len(data)
    header = (struct.pack(">I", size) + b"\0\0\0\0" + struct.pack(">I", 0x02100000)
              + b"mntrRGB XYZ " + struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + b"acsp"
              + b"\0" * 24                       # platform, flags, manufacturer, model, attributes
              + struct.pack(">I", 0)             # rendering intent: perceptual
              + struct.pack(">3i", *_WHITE)      # PCS illuminant D50
              + b"\0" * 4 + b"\0" * 44)          # creator, reserved (v2: no profile ID)
    assert len(header) == 128
    return header + struct.pack(">I", len(entries)) + b"".join(entries) + data
