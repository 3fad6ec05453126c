"""A WeasyPrint render that uses a template version's layout cache (styles, table widths).

``render_document`` runs WeasyPrint's own pipeline (``Document._render``: cascade, box
tree, layout) through :class:`CachedLayoutDocument`, whose only difference is where the
layout context comes from: its computed styles start from the version's
:class:`~templates.layout.styles.StyleCache` and it carries the render's
:class:`~templates.layout.tables.TablePass` and :class:`~templates.layout.text.TextPass`. The result is an ordinary WeasyPrint
``Document`` (``write_pdf`` as usual).
"""

from __future__ import annotations

import functools
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from weasyprint import DEFAULT_OPTIONS
from weasyprint.css.counters import CounterStyle
from weasyprint.css.targets import TargetCollector
from weasyprint.document import Document
from weasyprint.images import get_image_from_uri
from weasyprint.layout import LayoutContext

from templates.layout import tables as table_widths
from templates.layout import text as text_measures
from templates.layout.matching import MatchPass
from templates.layout.styles import StyleCache, StylePass, cached_computed_styles


@dataclass(frozen=True)
class LayoutScope:
    """The caches one render uses."""

    styles: StyleCache
    tables: table_widths.TablePass | None
    text: text_measures.TextPass | None = None
    matches: MatchPass | None = None
    write_styles: bool = False
    """The version's sample render: record computed styles (others only read)."""


_SCOPE: ContextVar[LayoutScope | None] = ContextVar("hsba_layout_scope", default=None)


class CachedLayoutDocument(Document):  # type: ignore[misc]
    """``weasyprint.Document`` whose layout context uses the current :class:`LayoutScope`."""

    @classmethod
    def _build_layout_context(cls, html: Any, font_config: Any, counter_style: Any,
                              color_profiles: Any, options: dict[str, Any]) -> Any:
        scope = _SCOPE.get()
        if scope is None:
            return super()._build_layout_context(html, font_config, counter_style,
                                                 color_profiles, options)
        # As Document._build_layout_context (WeasyPrint 70), with hsba's parsed stylesheets.
        target_collector = TargetCollector()
        page_rules: list[Any] = []
        layers: list[Any] = []
        style_for = cached_computed_styles(
            html, list(options["stylesheets"]), font_config, counter_style, color_profiles,
            page_rules, layers, target_collector, StylePass(scope.styles, scope.write_styles),
            scope.matches)
        image_from_uri = functools.partial(get_image_from_uri, cache={},
                                           url_fetcher=html.url_fetcher, options=options)
        context = LayoutContext(style_for, image_from_uri, font_config, counter_style,
                                target_collector)
        context.hsba_tables = scope.tables
        context.hsba_text = scope.text
        return context


def render_document(html: Any, stylesheets: list[Any], font_config: Any,
                    scope: LayoutScope) -> Any:
    """Lay ``html`` out like ``html.render(stylesheets=..., font_config=...)``, with
    ``scope``'s caches. ``stylesheets`` are parsed ``weasyprint.CSS`` objects."""
    table_widths.install()
    text_measures.install()
    options = dict(DEFAULT_OPTIONS)
    options["stylesheets"] = stylesheets
    token = _SCOPE.set(scope)
    try:
        return CachedLayoutDocument._render(html, font_config, CounterStyle(), {}, options)
    finally:
        _SCOPE.reset(token)
