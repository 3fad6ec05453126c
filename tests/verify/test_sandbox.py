"""The bounded worker: a file that runs too long or needs too much memory ends
in PARSE_ERROR with a clear message, and the next file is served normally."""

from __future__ import annotations

import zlib

from signer.verify import verify_pdf
from signer.verify.sandbox import run_bounded
from tests.verify import documents


def _bomb() -> bytes:
    """An unsigned PDF whose page content inflates to 600 MB of spaces."""
    raw = zlib.compress(b" " * (600 * 2**20), 9)
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(raw) + raw + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offs = []
    for i, body in enumerate(objs, 1):
        offs.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    x = len(out)
    out += b"xref\n0 5\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offs)
    out += b"trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % x
    return bytes(out)


def test_time_limit_kills_the_worker_and_reports() -> None:
    # a worker's start-up (imports) is waited for apart from the file's own limit,
    # so a fresh or a warm worker alike must stop a file that overruns it
    rep = run_bounded(documents.base_form(), roots_der=[], at=None, offline=True, lang="en",
                      time_limit=0.0)
    assert rep.verdict == "PARSE_ERROR" and "longer than" in rep.message_en
    assert verify_pdf(documents.base_form(), offline=True).verdict == "NO_SIGNATURE"


def test_compression_bomb_is_bounded() -> None:
    rep = verify_pdf(_bomb(), offline=True, lang="en")
    assert rep.verdict in ("NO_SIGNATURE", "PARSE_ERROR")
    assert rep.message_en
