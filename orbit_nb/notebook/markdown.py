"""Model output as safe HTML: Markdown rendered by markdown-it-py, then sanitized by nh3.

Model output is untrusted. Raw HTML in an answer is not interpreted (it shows
as text), and the rendered HTML goes through an allow-list sanitizer anyway: no
script, style, iframe, image, event handler or ``javascript:`` URL survives.
"""

from __future__ import annotations

from functools import cache

import nh3
from markdown_it import MarkdownIt

__all__ = ["render"]

# What rendered Markdown may contain (CommonMark plus GFM tables and strikethrough).
_TAGS = {
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "li", "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},
    "ol": {"start"},
    "td": {"style"},
    "th": {"style"},
}
_SCHEMES = {"http", "https", "mailto"}


@cache
def _parser() -> MarkdownIt:
    # html=False: tags in an answer are text, not markup.
    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def render(text: str) -> str:
    """``text`` (Markdown) as sanitized HTML.

    >>> render("## Hi\\n<script>x()</script>")
    '<h2>Hi</h2>\\n<p>&lt;script&gt;x()&lt;/script&gt;</p>\\n'
    """
    return nh3.clean(
        _parser().render(text),
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        filter_style_properties={"text-align"},
    )
