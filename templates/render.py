"""Render a clinical form to PDF/A-3b: validate → Jinja2 HTML → WeasyPrint → finish with pikepdf.

The finishing step (``templates.pdf_finish``) writes the XMP, embeds ``data.json``
as an associated file, lays out one empty signature field per signature block and draws
the verification QR code into the box the layout reserved for it, all in the same single
revision, before anyone signs; it also compacts fonts, colour profile and content.

Costly objects (Jinja2 environment, parsed stylesheet, font configuration) are built on
first use and kept, never at import time; they depend on the template version only, never
on patient data. The form HTML is parsed with libxml2 (lxml), not WeasyPrint's pure-Python
HTML5 parser (same pages for hsba's templates, tested).
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jinja2

from core.errors import HsbaError, InvalidInput
from templates import catalogue
from templates.glyph_coverage import unprintable_characters
from templates.qr import PLACEHOLDER_SVG_URI, qr_svg_data_uri
from templates.validation import nfc, validate_form_data
from templates.vn_format import FILTERS

log = logging.getLogger(__name__)
PX_TO_PT = 0.75  # CSS px (1/96 in) to PDF points (1/72 in)
LAYOUT_CSS = catalogue.FORMS_DIR / "_layout" / "v1" / "form.css"


@dataclass(frozen=True)
class SignatureFieldSpec:
    """An empty signature field laid out on the rendered form."""

    name: str
    """Field name signing fills (``doctor``, ``patient``, ``doctor_2``...)."""
    page: int
    """0-based page index."""
    box: tuple[float, float, float, float]
    """(x1, y1, x2, y2) in PDF points, origin bottom-left of the page."""
    role: str
    """The signer role (``doctor``...): the field name without an entry suffix."""


@dataclass(frozen=True)
class RenderedForm:
    pdf: bytes
    form_code: str
    form_version: str
    document_id: str
    data_sha256: str
    """sha256 of the embedded ``data.json`` (canonical JSON of the NFC data)."""
    signature_fields: tuple[SignatureFieldSpec, ...]


@dataclass(frozen=True)
class FormHtml:
    """The HTML of a form plus what finishing needs (also used by the benchmark)."""

    html: str
    title: str
    data_json: bytes


@lru_cache(maxsize=1)
def _jinja() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(catalogue.FORMS_DIR)),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(FILTERS)
    return env


class _WeasyCache:
    """Font configuration and parsed stylesheet, shared by renders (WeasyPrint is not
    thread-safe around them, hence the lock)."""

    def __init__(self) -> None:
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        from templates.layout.matching import needs_structure

        self.lock = threading.Lock()
        self.font_config = FontConfiguration()
        text = LAYOUT_CSS.read_text(encoding="utf-8")
        self.css = CSS(string=text, font_config=self.font_config)
        self.structural = needs_structure(text)
        """The layout stylesheet's selectors look at siblings or position."""


@lru_cache(maxsize=1)
def _weasy() -> _WeasyCache:
    return _WeasyCache()


def canonical_json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sample_data(form_code: str, version: str | None = None) -> dict[str, Any]:
    """The form's complete example payload (what ``--sample`` renders)."""
    return catalogue.sample_payload(form_code, version)


def form_html(form_code: str, data: dict[str, Any], *, document_id: str, verify_url: str,
              version: str | None = None, qr_placeholder: bool = False) -> FormHtml:
    """Validate ``data`` and build the form's HTML (no PDF yet).

    With ``qr_placeholder`` the QR image is an empty placeholder of the same laid-out size
    (the render path draws the code itself, see ``templates.qr``); without it the HTML is
    complete on its own (inline SVG), as previews and the benchmark's plain render use it.
    """
    fv = catalogue.load_form(form_code, version)
    if not isinstance(data, dict):
        raise InvalidInput("form.invalid_data", "Dữ liệu biểu mẫu phải là một đối tượng JSON.",
                           "Form data must be a JSON object.")
    data = nfc(data)
    validate_form_data(form_code, fv.schema, data)
    unprintable = unprintable_characters(data)
    if unprintable:
        raise InvalidInput("form.invalid_data",
                           f"Dữ liệu biểu mẫu '{form_code}' có ký tự không in được.",
                           f"Form '{form_code}' data has characters that cannot be printed.",
                           details=unprintable)
    document_id = nfc(document_id)
    form = {**fv.meta, "code": fv.info.code, "version": fv.info.version}
    qr_svg = ""
    if verify_url:
        qr_svg = PLACEHOLDER_SVG_URI if qr_placeholder else qr_svg_data_uri(verify_url)
    html = _jinja().get_template(fv.template_name).render(
        data=data, form=form, document_id=document_id, verify_url=verify_url, qr_svg=qr_svg,
    )
    return FormHtml(html=nfc(html), title=fv.info.title_vi, data_json=canonical_json(data))


@dataclass(frozen=True)
class QrPlacement:
    """Where the render path draws the verification QR code (the placeholder's box)."""

    page: int
    box: tuple[float, float, float, float]
    """(x1, y1, x2, y2) in PDF points, origin bottom-left of the page."""
    url: str


def _pdf_box(box: Any, page_height_pt: float) -> tuple[float, float, float, float]:
    x1 = box.border_box_x() * PX_TO_PT
    top = box.border_box_y() * PX_TO_PT
    x2 = x1 + box.border_width() * PX_TO_PT
    bottom = top + box.border_height() * PX_TO_PT
    return (round(x1, 2), round(page_height_pt - bottom, 2),
            round(x2, 2), round(page_height_pt - top, 2))


def _qr_box(document: Any) -> tuple[int, tuple[float, float, float, float]] | None:
    """The laid-out box of the ``img.qr`` placeholder (first page that has one)."""
    for index, page in enumerate(document.pages):
        for box in page._page_box.descendants():
            element = getattr(box, "element", None)
            if (element is not None and getattr(box, "element_tag", None) == "img"
                    and "qr" in (element.get("class") or "").split()):
                content = (box.content_box_x() * PX_TO_PT, box.content_box_y() * PX_TO_PT,
                           box.width * PX_TO_PT, box.height * PX_TO_PT)
                x, top, w, h = content
                height = page.height * PX_TO_PT
                return index, (round(x, 3), round(height - top - h, 3),
                               round(x + w, 3), round(height - top, 3))
    return None


def _signature_boxes(document: Any) -> list[SignatureFieldSpec]:
    """Find the ``data-sig-field`` elements in WeasyPrint's layout and give their boxes."""
    specs: list[SignatureFieldSpec] = []
    seen: set[str] = set()
    for index, page in enumerate(document.pages):
        page_height_pt = page.height * PX_TO_PT
        for box in page._page_box.descendants():
            element = getattr(box, "element", None)
            if element is None or getattr(box, "element_tag", None) != "div":
                continue
            name = element.get("data-sig-field")
            if not name or name in seen or not hasattr(box, "border_width"):
                continue
            seen.add(name)
            role = name.rsplit("_", 1)[0] if name.rsplit("_", 1)[-1].isdigit() else name
            specs.append(SignatureFieldSpec(name=name, page=index, role=role,
                                            box=_pdf_box(box, page_height_pt)))
    return specs


def html_to_pdfa(fh: FormHtml) -> tuple[bytes, list[SignatureFieldSpec]]:
    """WeasyPrint render of the form HTML to PDF/A-3b (cached fonts and stylesheet)."""
    pdf, boxes, _ = _weasy_render(fh)
    return pdf, boxes


@lru_cache(maxsize=1)
def _parsed_html_class() -> type:
    from cssselect2 import ElementWrapper
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    class ParsedHtml(HTML):  # type: ignore[misc]
        """A WeasyPrint document from an already parsed tree (libxml2's HTML parser, via
        lxml, instead of the pure-Python HTML5 parser: the same tree for hsba's own
        templates, about 50 times faster). Sets what ``HTML.__init__`` sets."""

        def __init__(self, root: Any, base_url: str) -> None:
            self.base_url = base_url
            self.url_fetcher = URLFetcher()
            self.media_type = "print"
            self.wrapper_element = ElementWrapper.from_html_root(root, content_language=None)
            self.etree_element = self.wrapper_element.etree_element

    return ParsedHtml


def parsed_html(html: str) -> Any:
    """A WeasyPrint ``HTML`` for one of hsba's own form templates, parsed by libxml2."""
    import lxml.html

    parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True)
    root = lxml.html.document_fromstring(html, parser=parser)
    return _parsed_html_class()(root, str(catalogue.FORMS_DIR))


@lru_cache(maxsize=1)
def _layouts() -> Any:
    from templates.layout import LayoutCache

    return LayoutCache()


@lru_cache(maxsize=1)
def _layout_cache_supported() -> bool:
    from templates.layout import WEASYPRINT_MAJOR, supported

    if not supported():
        log.warning("layout cache off: written for WeasyPrint %s", WEASYPRINT_MAJOR)
        return False
    return True


SAMPLE_DOCUMENT_ID = "HSBA-00000-0000-000000"
SAMPLE_VERIFY_URL = "https://hsba.invalid/verify/HSBA-00000-0000-000000"


def _match_pass(layout: Any, cache: _WeasyCache, *, write: bool) -> Any:
    """The version's matching record for one render, unless the layout stylesheet has
    selectors that look at siblings or position (then WeasyPrint matches every time)."""
    from templates.layout.matching import MatchPass

    return None if cache.structural else MatchPass(layout.matches, write=write)


def _cached_layout(fh: FormHtml, fv: catalogue.FormVersion, cache: _WeasyCache) -> Any:
    """Lay ``fh`` out with its template version's layout cache (``templates.layout``):
    computed styles and table column widths measured once on the version's sample
    payload; automatic table layout again if the data does not fit those columns."""
    from templates.layout.document import LayoutScope, render_document
    from templates.layout.tables import TablePass, overflowing_tables
    from templates.layout.text import TextPass

    layout = _layouts().version(fv.info.code, fv.info.version)
    if layout.table_widths is None:
        record = TablePass(record=True)
        try:
            sample = form_html(fv.info.code,
                               catalogue.sample_payload(fv.info.code, fv.info.version),
                               document_id=SAMPLE_DOCUMENT_ID, verify_url=SAMPLE_VERIFY_URL,
                               version=fv.info.version, qr_placeholder=True)
        except HsbaError:
            # No usable sample payload: nothing recorded, WeasyPrint's layout as usual.
            log.warning("form sample payload unusable: no layout record",
                        extra={"form_code": fv.info.code, "form_version": fv.info.version})
        else:
            sample_document = render_document(
                parsed_html(sample.html), [cache.css], cache.font_config,
                LayoutScope(layout.styles, record, TextPass(layout.text, record=True),
                            _match_pass(layout, cache, write=True), write_styles=True))
            # Painted too: drawing reads style values the layout did not (colours...).
            sample_document.write_pdf(pdf_variant="pdf/a-3b", uncompressed_pdf=True)
        layout.table_widths = dict(record.widths)
    tables = TablePass(record=False, widths=layout.table_widths)
    text = TextPass(layout.text, record=False)
    matches = _match_pass(layout, cache, write=False)
    document = render_document(parsed_html(fh.html), [cache.css], cache.font_config,
                               LayoutScope(layout.styles, tables, text, matches))
    if overflowing_tables(document, tables.applied):
        log.info("form data wider than the template's columns: automatic table layout",
                 extra={"form_code": fv.info.code, "form_version": fv.info.version})
        document = render_document(parsed_html(fh.html), [cache.css], cache.font_config,
                                   LayoutScope(layout.styles, None, text,
                                               _match_pass(layout, cache, write=False)))
    return document


@contextmanager
def _collector_paused(pause: bool) -> Iterator[None]:
    """Pause Python's cyclic garbage collector while WeasyPrint builds and paints a form.

    A render allocates some 10^5 objects that all stay alive until it ends; the collector,
    triggered by allocation counts, kept scanning them (and, every few renders, the whole
    process heap) for garbage that is not there: 10-40 % of the render time measured here.
    The objects left behind are collected at the first collection after the render,
    inside ``render_form`` (finishing allocates). Process-wide, hence only for the short
    locked render; restored as it was (never enabled when someone else had disabled it).
    """
    if not pause or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _weasy_render(fh: FormHtml, fv: catalogue.FormVersion | None = None
                  ) -> tuple[bytes, list[SignatureFieldSpec],
                             tuple[int, tuple[float, float, float, float]] | None]:
    """WeasyPrint render of ``fh``: with the template version's layout cache when ``fv`` is
    given, else a plain WeasyPrint layout (cached fonts and stylesheet only)."""
    cache = _weasy()
    with cache.lock, _collector_paused(fv is not None):
        if fv is None or not _layout_cache_supported():
            document = parsed_html(fh.html).render(stylesheets=[cache.css],
                                                   font_config=cache.font_config)
        else:
            document = _cached_layout(fh, fv, cache)
        boxes = _signature_boxes(document)
        qr_box = _qr_box(document)
        # Streams are left uncompressed here: the finishing step compresses every stream
        # once when it saves (compressing twice cost time for nothing).
        pdf = document.write_pdf(pdf_variant="pdf/a-3b", uncompressed_pdf=True,
                                 optimize_images=True)
    return pdf, boxes, qr_box


def warm_layout_cache(form_codes: list[str] | None = None) -> list[tuple[str, str]]:
    """Fill the layout cache of the latest version of each form now (default: every form)
    instead of on its first render, e.g. when a server or worker starts; returns the
    ``(form code, version)`` pairs ready. Lays out each version's sample payload once."""
    ready = []
    for code in form_codes if form_codes is not None else catalogue.form_codes():
        fv = catalogue.load_form(code)
        key = (code, fv.info.version)
        if key in _layouts() and _layouts().version(*key).table_widths is not None:
            ready.append(key)  # filled already (another app in this process, a render)
            continue
        fh = form_html(code, catalogue.sample_payload(code, fv.info.version),
                       document_id=SAMPLE_DOCUMENT_ID, verify_url=SAMPLE_VERIFY_URL,
                       version=fv.info.version, qr_placeholder=True)
        _weasy_render(fh, fv)
        ready.append((code, fv.info.version))
    return ready


def render_form(form_code: str, data: dict[str, Any], *, document_id: str, verify_url: str,
                version: str | None = None) -> RenderedForm:
    """Render ``form_code`` with ``data`` to a finished PDF/A-3b.

    Raises :class:`InvalidInput` with per-field ``details`` (nothing rendered) when the
    data violates the form's schema; ``NotFound`` for an unknown form or version.
    """
    from templates.pdf_finish import finish_pdf

    fv = catalogue.load_form(form_code, version)
    fh = form_html(form_code, data, document_id=document_id, verify_url=verify_url,
                   version=fv.info.version, qr_placeholder=True)
    raw, boxes, qr_box = _weasy_render(fh, fv)
    qr = QrPlacement(page=qr_box[0], box=qr_box[1], url=verify_url) if qr_box else None
    pdf = finish_pdf(raw, fh, fv.info, document_id=document_id, signature_fields=boxes, qr=qr)
    log.info("form rendered", extra={"form_code": form_code, "document_id": document_id,
                                     "pages_fields": len(boxes)})
    return RenderedForm(pdf=pdf, form_code=form_code, form_version=fv.info.version,
                        document_id=document_id,
                        data_sha256=hashlib.sha256(fh.data_json).hexdigest(),
                        signature_fields=tuple(boxes))
