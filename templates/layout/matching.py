"""Selector matching and cascade of a template version's elements, recorded on its sample.

Before computing styles, WeasyPrint matches every element against every stylesheet
(cssselect2) and merges the matched declarations by weight, per element and
pseudo-element. For hsba's form layouts the result depends only on the element's tag and
attributes and on its ancestors': the layout stylesheet uses type, class, attribute,
descendant and child selectors, and the only structural selectors of WeasyPrint's user
agent sheet (``:empty``, ``:has``, ``:first-of-type``, ``~``) are about form controls,
which the forms do not use (elements of those kinds are never recorded, nor what is under
them). :func:`needs_structure` refuses a layout stylesheet that would break this (sibling
combinators or structural pseudo-classes): the caller then matches as WeasyPrint does.

The record is written by the version's sample render only; a patient render reads it for
an element whose tag, attributes and ancestors' are exactly a recorded element's (so no
patient value is ever written; a key is the sample's markup).
"""

from __future__ import annotations

import re
import threading
from typing import Any

import tinycss2
from weasyprint.css import declaration_precedence

MAX_ELEMENTS = 20000
"""Bound of one version's record (a sample render has a few hundred elements)."""
FORM_CONTROLS = frozenset(("select", "option", "textarea", "input", "button", "datalist"))
_STRUCTURAL = re.compile(r"[+~]|:(?:first|last|nth|only|empty|has|not|is|where|root)")

MatchKey = tuple[int, str, tuple[tuple[str, str], ...]]
Cascade = dict[Any, dict[str, Any]]


def needs_structure(css_text: str) -> bool:
    """Whether a stylesheet's selectors look at siblings, children or position (then
    matching depends on more than an element's tag, attributes and ancestors)."""
    for rule in tinycss2.parse_stylesheet(css_text, skip_comments=True, skip_whitespace=True):
        if rule.type == "qualified-rule" and _STRUCTURAL.search(
                tinycss2.serialize(rule.prelude)):
            return True
    return False


class MatchRecord:
    """Element (tag, attributes, parent's record id) → matched rules and cascade."""

    def __init__(self, max_elements: int = MAX_ELEMENTS) -> None:
        self._lock = threading.Lock()
        self._entries: dict[MatchKey, tuple[int, tuple[Any, ...], Cascade]] = {}
        self.max_elements = max_elements

    def get(self, key: MatchKey) -> tuple[int, tuple[Any, ...], Cascade] | None:
        return self._entries.get(key)

    def put(self, key: MatchKey, selectors_keys: tuple[Any, ...], cascade: Cascade) -> int:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                return found[0]
            if len(self._entries) >= self.max_elements:
                return -1
            ident = len(self._entries)
            self._entries[key] = (ident, selectors_keys, cascade)
            return ident

    def __len__(self) -> int:
        return len(self._entries)


class MatchPass:
    """Matching for one render: read the record, and write it when ``write`` (sample)."""

    def __init__(self, record: MatchRecord, *, write: bool) -> None:
        self.record = record
        self.write = write
        self.hits = 0
        self._ids: dict[Any, int] = {}

    def _key(self, element: Any, parent: Any) -> MatchKey | None:
        if not isinstance(element.tag, str) or element.tag in FORM_CONTROLS:
            return None
        parent_id = -2 if parent is None else self._ids.get(parent, -1)
        if parent_id == -1:
            return None
        return (parent_id, element.tag, tuple(sorted(element.attrib.items())))

    def cascade(self, wrapper: Any, element: Any, parent: Any,
                sheets: list[tuple[Any, str, Any]],
                cascaded_styles: dict[tuple[Any, Any], dict[str, Any]]) -> tuple[Any, ...]:
        """Fill ``cascaded_styles`` for ``element`` (and its pseudo-elements) like
        ``StyleFor.__init__`` does; return its matched rules' keys."""
        key = self._key(element, parent)
        found = self.record.get(key) if key is not None else None
        if found is not None:
            ident, selectors_keys, cascade = found
            for pseudo_type, declarations in cascade.items():
                # The recorded dicts are only read (ComputedStyle reads ``cascaded``).
                cascaded_styles[element, pseudo_type] = declarations
            self._ids[element] = ident
            self.hits += 1
            return selectors_keys
        selectors_keys, touched = match_and_cascade(wrapper, element, sheets, cascaded_styles)
        if key is not None and self.write:
            cascade = {pseudo_type: dict(cascaded_styles[element, pseudo_type])
                       for pseudo_type in touched}
            self._ids[element] = self.record.put(key, selectors_keys, cascade)
        return selectors_keys


def match_and_cascade(wrapper: Any, element: Any, sheets: list[tuple[Any, str, Any]],
                      cascaded_styles: dict[tuple[Any, Any], dict[str, Any]]
                      ) -> tuple[tuple[Any, ...], set[Any]]:
    """WeasyPrint 70's matching step of ``StyleFor.__init__`` for one element; also the
    pseudo-element types it touched (``None`` = the element itself)."""
    selectors_keys = []
    touched: set[Any] = set()
    if (element, None) in cascaded_styles:  # style attribute, lang, id
        touched.add(None)
    for sheet, origin, sheet_specificity in sheets:
        for selector in sheet.matcher.match(wrapper):
            specificity, _order, pseudo_type, (declarations, layer) = selector
            layer_order = float("inf") if layer is None else sheet.layers.index(layer)
            selectors_keys.append((sheet, specificity, id(declarations), layer_order))
            specificity = sheet_specificity or specificity
            style = cascaded_styles.setdefault((element, pseudo_type), {})
            touched.add(pseudo_type)
            for name, values, importance in declarations:
                precedence = declaration_precedence(origin, importance)
                weight = (precedence, layer_order, specificity)
                old_weight = style.get(name, (None, None))[1]
                if old_weight is None or old_weight <= weight:
                    style[name] = values, weight
    return tuple(selectors_keys), touched
