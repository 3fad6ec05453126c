"""hsba-style test documents and the attacks made on them.

A one-page form with signed text and a filled text field (``dose``), signed with
pyHanko by the test PKI; each attack is an incremental update or a byte edit
that real attackers use (incremental saving with normal, empty or missing xref
sections, ByteRange/Contents forgery, signature wrapping, Shadow hide/replace,
overlays, changed object references, certification abuse).
"""

from __future__ import annotations

import re
from io import BytesIO

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from tests.verify.pki import TestPki

_CONTENT = (b"BT /F1 28 Tf 60 760 Td (Chan doan: viem phoi) Tj ET\n"
            b"BT /F1 28 Tf 60 700 Td (Thuoc: Amoxicillin) Tj ET\n"
            b"BT /F1 20 Tf 60 612 Td (Lieu:) Tj ET\n")
_AP = b"BT /F1 24 Tf 5 10 Td (500 mg) Tj ET"


def base_form() -> bytes:
    """A minimal one-page PDF with text and a filled text field."""
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm 8 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
         b"/Resources << /Font << /F1 6 0 R >> >> /Annots [5 0 R] >>"),
        b"<< /Length %d >>\nstream\n" % len(_CONTENT) + _CONTENT + b"\nendstream",
        (b"<< /Type /Annot /Subtype /Widget /FT /Tx /T (dose) /V (500 mg) /F 4 /P 3 0 R "
         b"/Rect [130 600 400 640] /DA (/F1 24 Tf 0 g) /AP << /N 7 0 R >> >>"),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /XObject /Subtype /Form /BBox [0 0 270 40] /Resources << /Font << /F1 6 0 R >> >> "
        b"/Length %d >>\nstream\n" % len(_AP) + _AP + b"\nendstream",
        b"<< /Fields [5 0 R] >>",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def sign(pdf: bytes, pki: TestPki, *, who: str = "doctor", field: str = "doctor",
         level: str = "B-B", certify: bool = False, docmdp: int = 2,
         box: tuple[int, int, int, int] = (60, 60, 260, 120)) -> bytes:
    """Sign ``pdf`` with pyHanko at a PAdES level (B-B, B-T, B-LT, B-LTA)."""
    store = SimpleCertificateStore.from_certs([pki.root, pki.interm])
    signer = signers.SimpleSigner(pki.certs[who], pki.keys[who], cert_registry=store)
    tsa = DummyTimeStamper(pki.certs["tsa"], pki.keys["tsa"],
                           certs_to_embed=SimpleCertificateStore.from_certs([pki.root]))
    vc = None
    if level in ("B-LT", "B-LTA"):
        vc = ValidationContext(trust_roots=[pki.root], other_certs=[pki.interm],
                               crls=list(pki.crls), allow_fetching=False)
    meta = signers.PdfSignatureMetadata(
        field_name=field, reason=f"Role: {field}", location="Tay Ninh",
        certify=certify,
        docmdp_permissions=fields.MDPPerm(docmdp),
        subfilter=fields.SigSeedSubFilter.PADES,
        embed_validation_info=level in ("B-LT", "B-LTA"),
        validation_context=vc,
    )
    w = IncrementalPdfFileWriter(BytesIO(pdf))
    existing = {name for name, _, _ in fields.enumerate_sig_fields(w.prev)}
    out = signers.sign_pdf(
        w, meta, signer=signer,
        timestamper=tsa if level != "B-B" else None,
        new_field_spec=None if field in existing else fields.SigFieldSpec(field, box=box),
    )
    if level != "B-LTA":
        return out.getvalue()
    ts_out = signers.PdfTimeStamper(tsa).timestamp_pdf(
        IncrementalPdfFileWriter(out), "sha256", validation_context=vc)
    return ts_out.getvalue()


def with_signature_fields(pdf: bytes, boxes: dict[str, tuple[int, int, int, int]]) -> bytes:
    """Lay out empty signature fields in advance, as hsba's form templates do."""
    w = _writer(pdf)
    for name, box in boxes.items():
        fields.append_signature_field(w, fields.SigFieldSpec(name, box=box))
    return _finish(w)


def _writer(pdf: bytes) -> IncrementalPdfFileWriter:
    return IncrementalPdfFileWriter(BytesIO(pdf))


def _finish(w: IncrementalPdfFileWriter) -> bytes:
    buf = BytesIO()
    w.write(buf)
    return buf.getvalue()


def _field(w: IncrementalPdfFileWriter, name: str) -> generic.IndirectObject:
    for ref in w.root["/AcroForm"]["/Fields"]:
        if ref.get_object().get("/T") == name:
            return ref
    raise KeyError(name)


def _form_xobject(w: IncrementalPdfFileWriter, content: bytes, bbox: list[int]) -> generic.IndirectObject:
    font = w.root["/Pages"]["/Kids"][0].get_object()["/Resources"]["/Font"]["/F1"]
    return w.add_object(generic.StreamObject({
        generic.NameObject("/Type"): generic.NameObject("/XObject"),
        generic.NameObject("/Subtype"): generic.NameObject("/Form"),
        generic.NameObject("/BBox"): generic.ArrayObject(generic.NumberObject(x) for x in bbox),
        generic.NameObject("/Resources"): generic.DictionaryObject({
            generic.NameObject("/Font"): generic.DictionaryObject({generic.NameObject("/F1"): font})}),
    }, stream_data=content))


# --- attacks ------------------------------------------------------------------

def incremental_content_change(signed: bytes) -> bytes:
    """Incremental saving: the page's content stream is replaced (normal xref)."""
    w = _writer(signed)
    page = w.root["/Pages"]["/Kids"][0]
    new = _CONTENT.replace(b"viem phoi", b"khoe manh")
    content = w.add_object(generic.StreamObject(stream_data=new))
    page.get_object()[generic.NameObject("/Contents")] = content
    w.update_container(page.get_object())
    return _finish(w)


def _last_startxref(pdf: bytes) -> int:
    return int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])


def _override_content_object(signed: bytes) -> tuple[bytes, int]:
    """Bytes that redefine object 4 (the page content) with other text."""
    new = _CONTENT.replace(b"500", b"900").replace(b"viem phoi", b"khoe manh")
    body = b"4 0 obj\n<< /Length %d >>\nstream\n" % len(new) + new + b"\nendstream\nendobj\n"
    return body, len(signed)


def empty_xref_section(signed: bytes) -> bytes:
    """An appended revision whose cross-reference section lists nothing: the
    redefined object is reachable only by viewers that rebuild the xref."""
    body, _ = _override_content_object(signed)
    out = signed + body
    xref_at = len(out)
    out += (b"xref\n0 0\ntrailer\n<< /Size 20 /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n"
            % (_last_startxref(signed), xref_at))
    return out


def hidden_revision(signed: bytes) -> bytes:
    """Objects appended after the last %%EOF with no xref at all."""
    body, _ = _override_content_object(signed)
    return signed + body


def inconsistent_xref(signed: bytes) -> bytes:
    """An appended revision whose xref entry points at the wrong offset."""
    body, start = _override_content_object(signed)
    out = signed + b"% padding\n" + body
    xref_at = len(out)
    out += (b"xref\n0 1\n0000000000 65535 f \n4 1\n%010d 00000 n \ntrailer\n<< /Size 20 /Root 1 0 R /Prev %d >>\n"
            b"startxref\n%d\n%%%%EOF\n" % (start, _last_startxref(signed), xref_at))
    return out


def _byte_range(pdf: bytes) -> tuple[re.Match[bytes], list[int]]:
    m = list(re.finditer(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf))[-1]
    return m, [int(x) for x in m.groups()]


def _set_byte_range(pdf: bytes, br: list[int]) -> bytes:
    m, _ = _byte_range(pdf)
    new = b"/ByteRange[%d %d %d %d]" % tuple(br)
    new = new.ljust(len(m.group(0)), b" ")
    assert len(new) == len(m.group(0))
    return pdf[: m.start()] + new + pdf[m.end():]


def zero_contents(signed: bytes) -> bytes:
    """Universal forgery: the /Contents hex string is all zeros."""
    _, br = _byte_range(signed)
    a, b = br[1], br[2]
    return signed[: a + 1] + b"0" * (b - a - 2) + signed[b - 1:]


def byterange_not_at_start(signed: bytes) -> bytes:
    _, br = _byte_range(signed)
    return _set_byte_range(signed, [20, br[1] - 20, br[2], br[3]])


def byterange_overlapping(signed: bytes) -> bytes:
    _, br = _byte_range(signed)
    a, b, c = br[1], br[2], br[3]
    return _set_byte_range(signed, [0, a, a - 10, c + (b - a) + 10])


def signature_wrapping(signed: bytes) -> bytes:
    """Signature wrapping: new content is inserted right after /Contents and the
    ByteRange gap is widened to skip it, so the signed bytes look unchanged."""
    _, br = _byte_range(signed)
    a, b, c = br[1], br[2], br[3]
    body, _ = _override_content_object(signed)
    wrapped = signed[:b] + b"\n" + body + signed[b:]
    wrapped = _set_byte_range(wrapped, [0, a, b + 1 + len(body), c])
    return wrapped + b"\n"


def shadow_replace_form_field(signed: bytes) -> bytes:
    """Shadow replace: the already-filled field gets another value and appearance
    (pyHanko calls this form filling; the displayed signed text changes)."""
    w = _writer(signed)
    ref = _field(w, "dose")
    fld = ref.get_object()
    ap = _form_xobject(w, b"BT /F1 24 Tf 5 10 Td (900 mg) Tj ET", [0, 0, 270, 40])
    fld[generic.NameObject("/V")] = generic.TextStringObject("900 mg")
    fld[generic.NameObject("/AP")] = generic.DictionaryObject({generic.NameObject("/N"): ap})
    w.update_container(fld)
    return _finish(w)


def shadow_hide_form_field(signed: bytes) -> bytes:
    """Shadow hide: the field's widget grows over signed text with an opaque
    appearance (value unchanged)."""
    w = _writer(signed)
    fld = _field(w, "dose").get_object()
    ap = _form_xobject(w, b"1 g 0 0 500 240 re f 0 g BT /F1 24 Tf 75 10 Td (500 mg) Tj ET",
                       [0, 0, 500, 240])
    fld[generic.NameObject("/Rect")] = generic.ArrayObject(generic.FloatObject(x) for x in (55, 600, 555, 840))
    fld[generic.NameObject("/AP")] = generic.DictionaryObject({generic.NameObject("/N"): ap})
    w.update_container(fld)
    return _finish(w)


def overlay_annotation(signed: bytes) -> bytes:
    """An opaque annotation drawn over signed text, with new text on top (hide and replace)."""
    w = _writer(signed)
    page = w.root["/Pages"]["/Kids"][0].get_object()
    ap = _form_xobject(w, b"1 g 0 0 500 40 re f 0 g BT /F1 28 Tf 5 10 Td (Chan doan: khoe manh) Tj ET",
                       [0, 0, 500, 40])
    annot = w.add_object(generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Annot"),
        generic.NameObject("/Subtype"): generic.NameObject("/FreeText"),
        generic.NameObject("/Rect"): generic.ArrayObject(generic.FloatObject(x) for x in (55, 750, 555, 790)),
        generic.NameObject("/F"): generic.NumberObject(4),
        generic.NameObject("/DA"): generic.TextStringObject("/F1 28 Tf 0 g"),
        generic.NameObject("/Contents"): generic.TextStringObject("Chan doan: khoe manh"),
        generic.NameObject("/AP"): generic.DictionaryObject({generic.NameObject("/N"): ap}),
    }))
    page["/Annots"].append(annot)
    w.update_container(page)
    return _finish(w)


def changed_object_reference(signed: bytes) -> bytes:
    """The page's /Resources font reference is redirected to a new object (the
    shape of Shadow 'replace via changed references')."""
    w = _writer(signed)
    page = w.root["/Pages"]["/Kids"][0].get_object()
    font = w.add_object(generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Font"),
        generic.NameObject("/Subtype"): generic.NameObject("/Type1"),
        generic.NameObject("/BaseFont"): generic.NameObject("/Courier"),
    }))
    page[generic.NameObject("/Resources")] = generic.DictionaryObject({
        generic.NameObject("/Font"): generic.DictionaryObject({generic.NameObject("/F1"): font})})
    w.update_container(page)
    return _finish(w)


def sneaky_signature_field(certified: bytes) -> bytes:
    """Sneaky signature: a new (empty) signature field is added after
    certification, its widget an opaque box over signed text."""
    w = _writer(certified)
    fields.append_signature_field(w, fields.SigFieldSpec("sneaky", box=(55, 690, 555, 790)))
    for ref in w.root["/AcroForm"]["/Fields"]:
        fld = ref.get_object()
        if fld.get("/T") == "sneaky":
            ap = _form_xobject(w, b"1 g 0 0 500 100 re f", [0, 0, 500, 100])
            fld[generic.NameObject("/AP")] = generic.DictionaryObject({generic.NameObject("/N"): ap})
            w.update_container(fld)
    return _finish(w)
