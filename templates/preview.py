"""Page preview PNG for the web pages (``pdftoppm`` from poppler-utils)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from core.errors import ConfigurationError, InvalidInput


def page_png(pdf: bytes, page: int = 0, dpi: int = 96) -> bytes:
    """PNG of page ``page`` (0-based) of ``pdf`` at ``dpi`` (36..300)."""
    if not 36 <= dpi <= 300:
        raise InvalidInput("preview.bad_dpi", "Độ phân giải phải từ 36 đến 300 dpi.",
                           "Resolution must be 36 to 300 dpi.")
    if page < 0:
        raise InvalidInput("preview.bad_page", "Số trang không hợp lệ.", "Invalid page number.")
    exe = shutil.which("pdftoppm")
    if exe is None:
        raise ConfigurationError("preview.no_pdftoppm",
                                 "Thiếu pdftoppm (gói poppler-utils).",
                                 "pdftoppm (poppler-utils) is not installed.")
    with tempfile.TemporaryDirectory(prefix="hsba-preview-") as tmp:
        src = Path(tmp) / "in.pdf"
        src.write_bytes(pdf)
        out = Path(tmp) / "page"
        proc = subprocess.run(
            [exe, "-png", "-r", str(dpi), "-f", str(page + 1), "-l", str(page + 1),
             "-singlefile", str(src), str(out)],
            capture_output=True, timeout=60, check=False)
        png = out.with_suffix(".png")
        if proc.returncode != 0 or not png.is_file():
            raise InvalidInput("preview.failed", "Không tạo được ảnh xem trước trang.",
                               "Could not render the page preview.",
                               details={"page": page})
        return png.read_bytes()
