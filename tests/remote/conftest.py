"""Remote-signing tests: make the provider double importable as ``provider_double``
(the restart test also runs ``hsba_side.py`` from this directory as a script)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture(scope="session")
def one_pdf() -> bytes:
    """A one-page PDF with no signature field (the signer adds an invisible one)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter

    w = PdfFileWriter()
    content = w.add_object(generic.StreamObject(stream_data=b"BT /F1 12 Tf 72 720 Td ET"))
    w.insert_page(PageObject(contents=content, media_box=generic.ArrayObject(
        [generic.NumberObject(0), generic.NumberObject(0),
         generic.NumberObject(595), generic.NumberObject(842)])))
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()
