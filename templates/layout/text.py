"""Line breaking of a template version's own text, measured once on its sample render.

Most of a form's text is the template's: headings, labels, the national header, the legal
paragraphs of a consent. WeasyPrint breaks every text into lines with Pango
(``split_first_line``: a Pango layout per call, and per line of a paragraph) in every
render. hsba records those results while it lays out the version's *sample* payload
(``TextMeasures``), and a later render of the same version reuses a result when the very
same text is broken in the same conditions (same available width, same text properties of
the style). Only the sample render writes the record; renders of patient data only read
it, so nothing a patient render measured is kept (a patient value equal to a sample value
simply finds the sample's result).

A result is WeasyPrint's own tuple; its Pango layout object is kept deactivated (text and
widths only, no Pango objects) and is re-activated by WeasyPrint when it draws the box, as
usual.
"""

from __future__ import annotations

import threading
from typing import Any

from weasyprint.layout import inline as weasy_inline
from weasyprint.layout import preferred as weasy_preferred

MAX_MEASURES = 20000
"""Bound of one version's record (a sample render makes a few hundred)."""

TEXT_PROPERTIES = (
    "direction", "font_family", "font_feature_settings", "font_kerning",
    "font_language_override", "font_size", "font_stretch", "font_style",
    "font_variant_alternates", "font_variant_caps", "font_variant_east_asian",
    "font_variant_ligatures", "font_variant_numeric", "font_variant_position",
    "font_variation_settings", "font_weight", "hyphenate_character",
    "hyphenate_limit_chars", "hyphenate_limit_zone", "hyphens", "lang", "letter_spacing",
    "overflow_wrap", "tab_size", "text_decoration_line", "white_space", "word_break",
    "word_spacing",
)
"""Every style property WeasyPrint's line breaking reads (``weasyprint.text``)."""


def _hashable(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, set | frozenset):
        return frozenset(value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def style_key(style: Any) -> tuple[Any, ...]:
    """The values of :data:`TEXT_PROPERTIES` (what a text's line breaking depends on)."""
    return tuple(_hashable(style[name]) for name in TEXT_PROPERTIES)


class TextMeasures:
    """``split_first_line`` results of one template version's sample render."""

    def __init__(self, max_measures: int = MAX_MEASURES) -> None:
        self._lock = threading.Lock()
        self._results: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self.max_measures = max_measures

    def get(self, key: tuple[Any, ...]) -> tuple[Any, ...] | None:
        return self._results.get(key)

    def put(self, key: tuple[Any, ...], result: tuple[Any, ...]) -> None:
        with self._lock:
            if len(self._results) < self.max_measures:
                self._results.setdefault(key, result)

    def __len__(self) -> int:
        return len(self._results)


class TextPass:
    """What one render does with line breaking: record (sample render) or read."""

    def __init__(self, measures: TextMeasures, *, record: bool) -> None:
        self.measures = measures
        self.record = record
        self.hits = 0
        self._style_keys: dict[int, tuple[Any, tuple[Any, ...]]] = {}

    def style_key(self, style: Any) -> tuple[Any, ...]:
        """:func:`style_key`, once per style object of this render (the object is kept
        with its key, so its ``id`` is not reused by another style meanwhile; WeasyPrint
        changes a text style during layout only on copies)."""
        known = self._style_keys.get(id(style))
        if known is None:
            known = self._style_keys[id(style)] = (style, style_key(style))
        return known[1]


_original_split_first_line = weasy_inline.split_first_line
_install_lock = threading.Lock()


def _split_first_line(text: str, style: Any, context: Any, max_width: Any,
                      justification_spacing: Any, is_line_start: bool = True,
                      minimum: bool = False) -> tuple[Any, ...]:
    """WeasyPrint's ``split_first_line``; hsba's renders carry a :class:`TextPass`."""
    text_pass: TextPass | None = getattr(context, "hsba_text", None)
    if text_pass is None:
        return _original_split_first_line(text, style, context, max_width,
                                          justification_spacing, is_line_start, minimum)
    key = (text, max_width, justification_spacing, is_line_start, minimum,
           text_pass.style_key(style))
    if not text_pass.record:
        found = text_pass.measures.get(key)
        if found is not None:
            text_pass.hits += 1
            return found
        return _original_split_first_line(text, style, context, max_width,
                                          justification_spacing, is_line_start, minimum)
    result = _original_split_first_line(text, style, context, max_width,
                                        justification_spacing, is_line_start, minimum)
    text_pass.measures.put(key, result)
    return result


def install() -> None:
    """Route WeasyPrint's line breaking (inline layout and content widths) through
    :func:`_split_first_line` (idempotent); renders without a :class:`TextPass` keep
    WeasyPrint's behaviour."""
    with _install_lock:
        for module in (weasy_inline, weasy_preferred):
            if module.split_first_line is not _split_first_line:
                module.split_first_line = _split_first_line
