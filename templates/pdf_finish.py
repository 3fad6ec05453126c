"""Finish a rendered form in one clean revision (pikepdf): XMP, ``data.json``, signature fields.

- XMP: PDF/A-3B identification, title, language ``vi``, form code and version and the
  hsba document id (declared by a PDF/A extension schema), with the Info dictionary
  rebuilt to match it.
- ``data.json`` embedded as an associated file (``/AFRelationship /Data``, MIME
  ``application/json``), listed once in the catalogue's ``/AF``.
- one empty signature field per signature block (widget with the print flag and an
  empty appearance stream, one stream shared by the fields of the same size), named
  after the role, where the block was laid out.
- the verification QR code drawn as vector rectangles into the box the layout reserved.
- WeasyPrint's 3 KB sRGB profile (output intent and ICCBased colour space) replaced by
  an equivalent compact one (``templates.icc``).
- font programs re-subset to the glyphs used, renumbered (``templates.pdf_fonts``).
- page content tidied without changing what it draws (WeasyPrint writes a zero kerning
  adjustment between every glyph of a ``TJ`` array; adjacent strings are merged; its
  coordinates carry six decimals, rounded to three: 1/1000 of a CSS pixel), and every
  stream compressed once, with object streams, the XMP packet too (PDF/A-2 and -3
  allow a filtered metadata stream, only PDF/A-1 forbids it: ~2.5 KB → ~0.9 KB).
- what signing revisions rewrite kept small (:func:`_lean_updates`).
"""

from __future__ import annotations

import io
import re
import uuid
import zlib
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

import pikepdf
from pikepdf import Array, Dictionary, Name, String

from core.errors import InvalidInput
from templates.icc import compact_srgb_profile
from templates.pdf_fonts import SIGNATURE_CHARS, compact_fonts
from templates.qr import qr_pdf_operators

if TYPE_CHECKING:
    from templates.catalogue import FormInfo
    from templates.render import FormHtml, QrPlacement, SignatureFieldSpec

HSBA_NS = "https://hsba.vn/ns/form/1.0/"
PRODUCER = "hsba (WeasyPrint, pikepdf)"

# Compact XMP (no line breaks, simple properties as attributes), Flate-compressed.
_EXTENSION = ('<pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType="Resource">'
              "<pdfaSchema:schema>hsba form</pdfaSchema:schema>"
              "<pdfaSchema:namespaceURI>{ns}</pdfaSchema:namespaceURI>"
              "<pdfaSchema:prefix>hsba</pdfaSchema:prefix>"
              "<pdfaSchema:property><rdf:Seq>{props}</rdf:Seq></pdfaSchema:property>"
              "</rdf:li></rdf:Bag></pdfaExtension:schemas>")
_PROP = ('<rdf:li rdf:parseType="Resource"><pdfaProperty:name>{name}</pdfaProperty:name>'
         "<pdfaProperty:valueType>Text</pdfaProperty:valueType>"
         "<pdfaProperty:category>external</pdfaProperty:category>"
         "<pdfaProperty:description>{desc}</pdfaProperty:description></rdf:li>")
_PROPS = (("FormCode", "form code"), ("FormVersion", "form version"),
          ("DocumentId", "document id"))


def _xmp(title: str, info: FormInfo, document_id: str, when: str) -> bytes:
    props = "".join(_PROP.format(name=n, desc=d) for n, d in _PROPS)
    doc_uuid = uuid.uuid5(uuid.NAMESPACE_URL, HSBA_NS + document_id)
    body = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/"'
        ' xmlns:pdf="http://ns.adobe.com/pdf/1.3/" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"'
        f' xmlns:hsba="{HSBA_NS}" xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/"'
        ' xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#"'
        ' xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#"'
        f' dc:format="application/pdf" xmp:CreatorTool="hsba" xmp:CreateDate="{when}"'
        f' xmp:ModifyDate="{when}" xmp:MetadataDate="{when}" pdf:Producer="{PRODUCER}"'
        f' xmpMM:DocumentID="uuid:{doc_uuid}">'
        "<pdfaid:part>3</pdfaid:part><pdfaid:conformance>B</pdfaid:conformance>"
        f'<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{escape(title)}</rdf:li></rdf:Alt>'
        "</dc:title><dc:language><rdf:Bag><rdf:li>vi</rdf:li></rdf:Bag></dc:language>"
        f"<dc:identifier>{escape(document_id)}</dc:identifier>"
        f"<hsba:FormCode>{escape(info.code)}</hsba:FormCode>"
        f"<hsba:FormVersion>{escape(info.version)}</hsba:FormVersion>"
        f"<hsba:DocumentId>{escape(document_id)}</hsba:DocumentId>"
        + _EXTENSION.format(ns=HSBA_NS, props=props)
        + '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')
    return body.encode("utf-8")


def _write_metadata(pdf: pikepdf.Pdf, fh: FormHtml, info: FormInfo, document_id: str,
                    now: datetime) -> None:
    when = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    pdf_date = now.strftime("D:%Y%m%d%H%M%SZ")
    # Compressed (PDF/A-2/3 allow it). qpdf writes every /Type /Metadata /Subtype /XML
    # stream decompressed, so the stream is saved with a same-length stand-in for
    # /Subtype and the key is put back in the saved bytes (_restore_metadata_subtype).
    stream = pdf.make_stream(b"")
    stream.write(zlib.compress(_xmp(fh.title, info, document_id, when), 9),
                 filter=Name.FlateDecode)
    stream.Type = Name.Metadata
    stream[_SUBTYPE_STAND_IN] = Name.XML
    pdf.Root.Metadata = stream
    # No /Producer or /ModDate in Info: signing software (pyHanko) rewrites those two Info
    # entries when present without touching the XMP, which would break the Info/XMP
    # equivalence PDF/A requires; the XMP carries them.
    pdf.trailer.Info = pdf.make_indirect(Dictionary(
        Title=String(fh.title), Creator=String("hsba"), CreationDate=String(pdf_date)))
    pdf.Root.Lang = String("vi")


_SUBTYPE_STAND_IN = "/SubtypX"  # as long as /Subtype: no offset moves when it is put back


def _restore_metadata_subtype(saved: bytes) -> bytes:
    """``/SubtypX /XML`` → ``/Subtype /XML`` in the metadata stream's dictionary (a
    top-level stream object: never inside an object stream or a compressed stream)."""
    stand_in = _SUBTYPE_STAND_IN.encode() + b" /XML"
    if saved.count(stand_in) != 1:
        raise RuntimeError("metadata stream dictionary not found once in the saved form")
    return saved.replace(stand_in, b"/Subtype /XML")


def _attach_data(pdf: pikepdf.Pdf, data_json: bytes, now: datetime) -> None:
    pdf_date = now.strftime("D:%Y%m%d%H%M%SZ")
    spec = pikepdf.AttachedFileSpec(
        pdf, data_json, description="Dữ liệu biểu mẫu / form data (JSON)",
        filename="data.json", mime_type="application/json",
        creation_date=pdf_date, mod_date=pdf_date, relationship=Name.Data)
    # Drop whatever WeasyPrint embedded, then attach exactly one data.json.
    for key in list(pdf.attachments.keys()):
        del pdf.attachments[key]
    pdf.attachments["data.json"] = spec
    filespec = pdf.Root.Names.EmbeddedFiles.Names[1]
    pdf.Root.AF = Array([filespec])


def _add_signature_fields(pdf: pikepdf.Pdf, fields: list[SignatureFieldSpec]) -> None:
    if not fields:
        return
    if "/AcroForm" not in pdf.Root:
        pdf.Root.AcroForm = pdf.make_indirect(Dictionary(Fields=Array()))
    acroform = pdf.Root.AcroForm
    if "/Fields" not in acroform:
        acroform.Fields = Array()
    existing = {str(f.get("/T", "")) for f in acroform.Fields}
    empty: dict[tuple[float, float], pikepdf.Stream] = {}  # one per size, shared
    for spec in fields:
        if spec.name in existing:
            raise InvalidInput("form.duplicate_signature_field",
                               f"Trùng tên trường chữ ký '{spec.name}'.",
                               f"Duplicate signature field name '{spec.name}'.")
        page = pdf.pages[spec.page]
        x1, y1, x2, y2 = spec.box
        size = (round(x2 - x1, 2), round(y2 - y1, 2))
        appearance = empty.get(size)
        if appearance is None:
            appearance = empty[size] = pdf.make_stream(b"")
            appearance.Type = Name.XObject
            appearance.Subtype = Name.Form
            appearance.BBox = Array([0, 0, *size])
            appearance.Resources = Dictionary()
        widget = pdf.make_indirect(Dictionary(
            Type=Name.Annot, Subtype=Name.Widget, FT=Name.Sig, T=String(spec.name),
            TU=String(f"Chữ ký: {spec.role}"), Rect=Array(list(spec.box)), F=4,
            P=page.obj, AP=Dictionary(N=appearance)))
        if "/Annots" not in page.obj:
            page.obj.Annots = Array()
        page.obj.Annots.append(widget)
        acroform.Fields.append(widget)


# A TJ array made only of hex strings and numbers (what WeasyPrint writes).
_TJ_ARRAY = re.compile(rb"\[(?:<[0-9A-Fa-f]*+>|-?[0-9.]++)++\] ?TJ")


def _merge_zero_kerns(match: re.Match[bytes]) -> bytes:
    return match.group(0).replace(b">0<", b"")


# A number with more than three decimals (a whole token); applied only to content with
# no literal string and no inline image (see _round_coordinates), where every such
# token is an operand.
_LONG_DECIMAL = re.compile(rb"(?<![\w.#])-?\d*\.\d{4,}(?![\w.#])")
_UNSAFE_TO_ROUND = re.compile(rb"\(|\bBI\b")


def _three_decimals(match: re.Match[bytes]) -> bytes:
    text = (b"%.3f" % float(match.group(0))).rstrip(b"0").rstrip(b".")
    return b"0" if text in (b"-0", b"") else text


def _round_coordinates(content: bytes) -> bytes:
    """WeasyPrint's six decimals → three (1/1000 of a CSS pixel; random digits that
    compress badly). Content holding literal strings or inline images is left as it is:
    a number-like run inside them is not an operand."""
    if _UNSAFE_TO_ROUND.search(content):
        return content
    return _LONG_DECIMAL.sub(_three_decimals, content)


def _tidy_content(pdf: pikepdf.Pdf, qr: QrPlacement | None) -> None:
    """Merge glyph strings split by zero adjustments; draw the QR code on its page."""
    for index, page in enumerate(pdf.pages):
        contents = page.obj.get("/Contents")
        if not isinstance(contents, pikepdf.Stream):
            continue
        data = _TJ_ARRAY.sub(_merge_zero_kerns, contents.read_bytes())
        data = _round_coordinates(data)
        if qr is not None and qr.page == index:
            data = b"q\n" + data + b"\nQ\n" + qr_pdf_operators(qr.url, qr.box)
        contents.write(data)


_DEFAULT_BOXES = ("/CropBox", "/BleedBox", "/TrimBox", "/ArtBox")


def _lean_updates(pdf: pikepdf.Pdf) -> None:
    """What each signing revision rewrites, small: the catalogue (rewritten once for the
    DSS) refers to its output intents instead of holding them (~230 bytes), a page
    refers to its annotation array, so adding the document timestamp's widget rewrites
    the array and not the page, and page boxes equal to the media box (their default)
    are left out."""
    if "/OutputIntents" in pdf.Root and not pdf.Root.OutputIntents.is_indirect:
        pdf.Root.OutputIntents = pdf.make_indirect(pdf.Root.OutputIntents)
    for page in pdf.pages:
        media = [float(v) for v in page.obj.MediaBox]
        for box in _DEFAULT_BOXES:
            if box in page.obj and [float(v) for v in page.obj[box]] == media:
                del page.obj[box]
        if "/Annots" in page.obj and not page.obj.Annots.is_indirect:
            page.obj.Annots = pdf.make_indirect(page.obj.Annots)


@lru_cache(maxsize=1)
def _weasyprint_srgb() -> bytes:
    import weasyprint.pdf

    return (Path(weasyprint.pdf.__file__).parent / "sRGB2014.icc").read_bytes()


def _compact_colour_profiles(pdf: pikepdf.Pdf) -> None:
    """The sRGB profile is one stream shared by the output intent and the colour space."""
    original = _weasyprint_srgb()
    for obj in pdf.objects:
        if (isinstance(obj, pikepdf.Stream) and obj.stream_dict.get("/N") == 3
                and obj.stream_dict.get("/Length") is not None
                and obj.read_bytes() == original):
            obj.write(compact_srgb_profile())


def finish_pdf(raw: bytes, fh: FormHtml, info: FormInfo, *, document_id: str,
               signature_fields: list[SignatureFieldSpec], qr: QrPlacement | None = None) -> bytes:
    """One revision: metadata, embedded data, empty signature fields, the QR code."""
    now = datetime.now(UTC).replace(microsecond=0)
    with pikepdf.open(io.BytesIO(raw)) as pdf:
        _tidy_content(pdf, qr)
        _compact_colour_profiles(pdf)
        compact_fonts(pdf, SIGNATURE_CHARS)
        _write_metadata(pdf, fh, info, document_id, now)
        _attach_data(pdf, fh.data_json, now)
        _add_signature_fields(pdf, signature_fields)
        _lean_updates(pdf)
        out = io.BytesIO()
        pdf.save(out, compress_streams=True, fix_metadata_version=False,
                 object_stream_mode=pikepdf.ObjectStreamMode.generate)
    return _restore_metadata_subtype(out.getvalue())
