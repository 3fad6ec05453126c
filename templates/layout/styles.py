"""Computed CSS values kept across renders of one template version.

WeasyPrint computes every element's style in each render: it matches the selectors, then
fills each style lazily (``ComputedStyle.__missing__``), property by property, while the
boxes are built and laid out. Within one render it already shares one style object
between elements whose parent style, style attribute and matched rules are the same
(``StyleFor.__init__``). A computed value depends on nothing else (the stylesheets, the
font configuration and the base URL are the same objects for every render of hsba's
forms), so the values computed for such a *cascade signature* in one render are the
values of the next render too.

:class:`CachedStyleFor` is WeasyPrint's ``StyleFor`` with that sharing extended across
renders: the signature is made stable (the parent's signature instead of the parent
object's ``id``, the style attribute's text instead of its parsed tokens' identity) and
every value WeasyPrint computes while it lays out and paints the version's *sample*
payload is recorded in the signature's :class:`StyleEntry`; a later render's style object
for the same signature starts from those values (renders of patient data only read the
cache: :class:`StylePass`). Each render still gets its own
style objects, so whatever the layout writes into a style (WeasyPrint moves a table's
margins to its wrapper, zeroes the padding of collapsed-border tables...) stays in that
render: only values computed by WeasyPrint's own ``__missing__`` are recorded. The
styles of pseudo-elements (signature: the element's and the pseudo-element type), of
anonymous boxes (the parent style's, marked anonymous) and of ``@page`` contexts (the
root's, the page type and the margin box) are kept the same way.

What an entry holds is CSS: lengths, colours, font lists, keyed by which rules matched.
Text content never reaches a computed style (``attr()``/``content()`` are resolved when
boxes are built, ``string()`` and counters at layout), so no patient data is kept.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import tinycss2
from weasyprint.css import (
    AnonymousStyle,
    ComputedStyle,
    InitialStyle,
    StyleFor,
    declaration_precedence,
    find_style_attributes,
    find_stylesheets,
    preprocess_declarations,
)
from weasyprint.logger import PROGRESS_LOGGER

from templates.layout.matching import MatchPass, match_and_cascade

MAX_SIGNATURES = 4096
"""Bound of one template version's style cache (the forms have a few hundred)."""


@dataclass
class StyleEntry:
    """The computed values recorded for one cascade signature."""

    values: dict[str, Any] = field(default_factory=dict)
    specified: dict[str, Any] = field(default_factory=dict)


class StyleCache:
    """Cascade signature → computed values, for one template version (bounded)."""

    def __init__(self, max_signatures: int = MAX_SIGNATURES) -> None:
        self._lock = threading.Lock()
        self._ids: dict[tuple[Any, ...], int] = {}
        self._entries: dict[int, StyleEntry] = {}
        self.max_signatures = max_signatures

    def entry(self, signature: tuple[Any, ...], *, create: bool
              ) -> tuple[int, StyleEntry | None]:
        """The signature's id and entry, created if ``create`` (``(-1, None)`` when
        unknown and not created, or once the cache is full)."""
        with self._lock:
            ident = self._ids.get(signature)
            if ident is None:
                if not create or len(self._ids) >= self.max_signatures:
                    return -1, None
                ident = self._ids[signature] = len(self._ids)
                self._entries[ident] = StyleEntry()
            return ident, self._entries[ident]

    def __len__(self) -> int:
        return len(self._ids)


@dataclass(frozen=True)
class StylePass:
    """One render's use of a :class:`StyleCache`: the version's sample render writes
    (``write``), other renders only start their styles from what it recorded."""

    cache: StyleCache
    write: bool

    def entry(self, signature: tuple[Any, ...]) -> tuple[int, StyleEntry | None]:
        return self.cache.entry(signature, create=self.write)


class _Recording:
    """Mixin for WeasyPrint style classes: start from an entry's values, record into it
    what WeasyPrint's ``__missing__`` computes, and give anonymous boxes a recording
    style of their own (signature: the parent's, marked anonymous)."""

    _entry: StyleEntry | None = None
    _pass: StylePass | None = None
    _ident: int = -1

    def start_from(self, style_pass: StylePass, signature: tuple[Any, ...] | None) -> int:
        """Attach the signature's entry (none for ``None``); return its id (or -1)."""
        if signature is None:
            return -1
        ident, entry = style_pass.entry(signature)
        self._pass, self._ident, self._entry = style_pass, ident, entry
        if entry is not None:
            self.update(entry.values)  # type: ignore[attr-defined]
            self.specified.update(entry.specified)  # type: ignore[attr-defined]
        return ident

    def __missing__(self, key: str) -> Any:
        value = super().__missing__(key)  # type: ignore[misc]
        entry = self._entry
        if entry is not None and self._pass is not None and self._pass.write:
            # Record what __missing__ stored, read back from the dict (it is what the next
            # lookup returns). Nested lookups (font size for em lengths, position and
            # float for display) went through __missing__ and recorded themselves.
            if key in self:  # type: ignore[operator]
                entry.values.setdefault(key, dict.__getitem__(self, key))  # type: ignore[index]
            if key in _SPECIFIED and self.specified is not self:  # type: ignore[attr-defined]
                entry.specified.update(self.specified)  # type: ignore[attr-defined]
        return value

    @cached_property
    def anonymous_style(self) -> Any:
        style = _RecordingAnonymousStyle(self)
        if self._pass is not None and self._entry is not None:
            style.start_from(self._pass, ("anonymous", self._ident))
        return style


class _RecordingStyle(_Recording, ComputedStyle):
    """A ``ComputedStyle`` that starts from recorded values and records what it computes."""


class _RecordingAnonymousStyle(_Recording, AnonymousStyle):
    """The same for the style of anonymous boxes (text runs, table wrappers...)."""


_SPECIFIED = frozenset(("position", "float", "display"))


def _declarations_text(declarations: tuple[Any, ...] | None) -> str | None:
    if declarations is None:
        return None
    return tinycss2.serialize(declarations)


class CachedStyleFor(StyleFor):
    """WeasyPrint's ``StyleFor`` whose per-element computed styles start from the values
    recorded by earlier renders of the same template version (see the module doc)."""

    def __init__(self, html: Any, sheets: list[tuple[Any, str, Any]], font_config: Any,
                 target_collector: Any, cache: StylePass,
                 matches: MatchPass | None = None) -> None:
        # Same steps as StyleFor.__init__ (WeasyPrint 70), with a stable signature.
        cascaded_styles: dict[tuple[Any, Any], dict[str, Any]] = {}
        computed_styles: dict[tuple[Any, Any], Any] = {}
        self._cascaded_styles = cascaded_styles
        self._computed_styles = computed_styles
        self.initial_page_sizes = {"box": None, "area": None}
        self._sheets = sheets
        self.font_config = font_config

        PROGRESS_LOGGER.info("Step 3 - Applying CSS (hsba style cache)")
        layer_order = float("inf")
        elements_declarations: dict[Any, tuple[Any, ...]] = {}
        for specificity, element, declarations, base_url in find_style_attributes(
                html.etree_element, False, html.base_url):
            style = cascaded_styles.setdefault((element, None), {})
            elements_declarations[element] = (*elements_declarations.get(element, ()),
                                              *declarations)
            for name, values, importance in preprocess_declarations(base_url, declarations):
                precedence = declaration_precedence("author", importance)
                weight = (precedence, layer_order, specificity)
                old_weight = style.get(name, (None, None))[1]
                if old_weight is None or old_weight <= weight:
                    style[name] = values, weight

        # id(style object) -> its signature id in the cache, or a key private to this
        # render when the signature is not cached (cache full, or under such a parent).
        signature_ids: dict[int, Any] = {}
        self._signature_ids = signature_ids
        self._cache = cache
        render_shared: dict[tuple[Any, ...], Any] = {}
        root = html.etree_element
        for element in html.wrapper_element.iter_subtree():
            etree_element = element.etree_element
            parent = element.parent.etree_element if element.parent else None
            parent_key = (signature_ids[id(computed_styles[parent, None])]
                          if parent is not None else None)
            if matches is not None:
                selectors_keys = matches.cascade(element, etree_element, parent, sheets,
                                                 cascaded_styles)
            else:
                selectors_keys = match_and_cascade(element, etree_element, sheets,
                                                   cascaded_styles)[0]
            signature = (parent_key,
                         _declarations_text(elements_declarations.get(etree_element)),
                         selectors_keys)
            shared = render_shared.get(signature)
            if shared is not None:
                computed_styles[etree_element, None] = shared
                continue
            if etree_element is root:
                parent_style, root_style = None, InitialStyle(font_config)
            else:
                parent_style = computed_styles[parent, None]
                root_style = computed_styles[root, None]
            style = _RecordingStyle(
                parent_style, cascaded_styles.get((etree_element, None), {}), None,
                root_style, html.base_url, font_config, self.initial_page_sizes)
            ident = style.start_from(cache, None if isinstance(parent_key, tuple)
                                     else signature)
            key: Any = ident if ident >= 0 else ("render", len(render_shared))
            computed_styles[etree_element, None] = style
            if target_collector and style["anchor"]:
                target_collector.collect_anchor(style["anchor"])
            render_shared[signature] = style
            signature_ids[id(style)] = key

        # Pseudo-elements (WeasyPrint's user agent sheet gives every element ::marker,
        # ::footnote-call, ::note-call... styles): signature = the element's + the type.
        root_style = computed_styles[root, None]
        for (element, pseudo_type), cascaded in cascaded_styles.items():
            if not pseudo_type:
                continue
            parent_style = computed_styles[element, None]
            style = _RecordingStyle(
                parent_style, cascaded, pseudo_type, root_style,
                html.base_url, font_config, self.initial_page_sizes)
            parent_key = signature_ids[id(parent_style)]
            style.start_from(cache, None if isinstance(parent_key, tuple)
                             else ("pseudo", parent_key, pseudo_type))
            computed_styles[element, pseudo_type] = style
            if target_collector and style["anchor"]:
                target_collector.collect_anchor(style["anchor"])
        self._cascaded_styles.clear()

    def set_computed_styles(self, element: Any, parent: Any, root: Any = None,
                            pseudo_type: str | None = None, base_url: str | None = None,
                            target_collector: Any = None) -> None:
        """WeasyPrint's, for the ``@page`` contexts it computes while paginating (page
        types and their margin boxes): signature = the parent's, the page type and the
        margin box."""
        parent_key = self._signature_ids.get(id(self._computed_styles.get((parent, None))))
        if hasattr(element, "tag") or not isinstance(parent_key, int):
            super().set_computed_styles(element, parent, root, pseudo_type, base_url,
                                        target_collector)
            return
        parent_style = self._computed_styles[parent, None]
        style = _RecordingStyle(
            parent_style, self._cascaded_styles.get((element, pseudo_type), {}), pseudo_type,
            self._computed_styles[root, None], base_url, self.font_config,
            self.initial_page_sizes)
        ident = style.start_from(self._cache, ("page", parent_key, repr(element), pseudo_type))
        self._computed_styles[element, pseudo_type] = style
        if pseudo_type is None:
            self._signature_ids[id(style)] = ident if ident >= 0 else ("render", id(style))
        if target_collector and style["anchor"]:
            target_collector.collect_anchor(style["anchor"])


def cached_computed_styles(html: Any, user_stylesheets: list[Any], font_config: Any,
                           counter_style: Any, color_profiles: Any, page_rules: list[Any],
                           layers: list[Any], target_collector: Any,
                           cache: StylePass, matches: MatchPass | None = None
                           ) -> CachedStyleFor:
    """``weasyprint.css.get_all_computed_styles`` (no presentational hints, no PDF forms)
    with :class:`CachedStyleFor`."""
    sheets: list[tuple[Any, str, Any]] = []
    for style in html._ua_counter_style():
        for key, value in style.items():
            counter_style[key] = value
    for sheet in html._ua_stylesheets(False) or []:
        sheets.append((sheet, "user agent", None))
    for sheet in find_stylesheets(html.wrapper_element, html.media_type, html.url_fetcher,
                                  html.base_url, font_config, counter_style,
                                  color_profiles, page_rules, layers):
        sheets.append((sheet, "author", None))
    for sheet in user_stylesheets:
        sheets.append((sheet, "user", None))
    return CachedStyleFor(html, sheets, font_config, target_collector, cache, matches)
