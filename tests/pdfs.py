"""Small PDFs the tests build for themselves."""

from __future__ import annotations

import io


def one_page_pdf() -> bytes:
    """A one-page A4 PDF with no signature field (a signer adds an invisible one)."""
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
