"""Theme-aware, scoped styling shared by every display.

Every display is one root ``div.orbit-nb`` carrying its own ``<style>``; every
rule sits under a prefixed class, so nothing leaks into the page and no page
rule named like ours (JupyterLab's splash screen has a global ``.orbit``)
reaches in. Colours come from JupyterLab's CSS variables with fallbacks, and
our own accent colours switch with JupyterLab's dark theme and VS Code's, each
at WCAG AA contrast (>= 4.5:1) on that theme's background.
"""

from __future__ import annotations

__all__ = ["THEME_CSS", "scoped"]

_LIGHT = (
    "--orbit-nb-err:#b3261e;--orbit-nb-err-bg:#fdecea;--orbit-nb-good:#1e6b34;"
    "--orbit-nb-good-bg:#e6f4ea;--orbit-nb-info:#0b57d0;--orbit-nb-info-bg:#e8f0fe;"
    "--orbit-nb-warn:#7a4a00;--orbit-nb-warn-bg:#fef3e0;--orbit-nb-muted:#4d4d4d;"
)
_DARK = (
    "--orbit-nb-err:#ffb4ab;--orbit-nb-err-bg:#3b1512;--orbit-nb-good:#8fd9a5;"
    "--orbit-nb-good-bg:#12301c;--orbit-nb-info:#a8c7fa;--orbit-nb-info-bg:#152a4a;"
    "--orbit-nb-warn:#ffd08a;--orbit-nb-warn-bg:#3a2a0c;--orbit-nb-muted:#c8c8c8;"
)
_DARK_PAGES = (
    "body[data-jp-theme-light='false'] .orbit-nb,"
    "body.vscode-dark .orbit-nb,body.vscode-high-contrast .orbit-nb"
)

#: The root's colours and type; the other rules of a display come after it.
THEME_CSS = (
    ".orbit-nb{" + _LIGHT + "--orbit-nb-fg:var(--jp-content-font-color1,#1f1f1f);"
    # JupyterLab's own secondary text colour is only 4.6:1 on white: ours is darker.
    "--orbit-nb-line:var(--jp-border-color2,#d0d0d0);"
    "--orbit-nb-card:var(--jp-layout-color1,#ffffff);"
    "--orbit-nb-raised:var(--jp-layout-color2,#f2f2f2);"
    "color:var(--orbit-nb-fg);font-family:var(--jp-content-font-family,system-ui,sans-serif);"
    "font-size:var(--jp-content-font-size1,14px);line-height:1.45;text-align:left;"
    "position:static;display:block;max-width:100%;box-sizing:border-box}"
    ".orbit-nb table{color:inherit;font-size:inherit}" + _DARK_PAGES + "{" + _DARK + "}"
    ".orbit-nb .orbit-nb-badge{display:inline-block;padding:0 6px;margin:0 4px 0 0;"
    "border-radius:8px;font-size:85%;font-weight:600;line-height:1.5;white-space:nowrap;"
    "color:var(--orbit-nb-info);background:var(--orbit-nb-info-bg)}"
    ".orbit-nb .orbit-nb-badge-error{color:var(--orbit-nb-err);background:var(--orbit-nb-err-bg)}"
    ".orbit-nb .orbit-nb-badge-fastest,.orbit-nb .orbit-nb-badge-cheapest{"
    "color:var(--orbit-nb-good);background:var(--orbit-nb-good-bg)}"
    ".orbit-nb .orbit-nb-badge-cancelled,.orbit-nb .orbit-nb-badge-skipped,"
    ".orbit-nb .orbit-nb-badge-retried{"
    "color:var(--orbit-nb-warn);background:var(--orbit-nb-warn-bg)}"
)


def scoped(css: str, body: str, kind: str = "") -> str:
    """``body`` inside one root ``div.orbit-nb`` that carries the theme and ``css``.

    Every selector in ``css`` must start with ``.orbit-nb`` (a test checks it).
    """
    extra = f" orbit-nb-{kind}" if kind else ""
    return f"<div class='orbit-nb{extra} {_NO_MATH}'><style>{THEME_CSS}{css}</style>{body}</div>"


# JupyterLab and nbconvert's pages typeset $...$ in HTML outputs as TeX (MathJax 3
# and 2 skip elements with these classes): "$5 and $10" must stay dollars.
_NO_MATH = "mathjax_ignore tex2jax_ignore"
