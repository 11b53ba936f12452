"""orbit_nb: send one prompt to many LLM providers at once, get a DataFrame back.

Example::

    import orbit_nb
    df = orbit_nb.compare("Explain TCP in one line.",
                          ["anthropic:claude-haiku-4-5", "openai:gpt-4o-mini",
                           "gemini:gemini-2.5-flash"])
    orbit_nb.summary(df)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import errors as errors  # `except orbit_nb.errors.BudgetError` right after import

if TYPE_CHECKING:
    from .api import acompare, compare, estimate, jobs
    from .cache import cache_stats, clear_cache
    from .frame import cost_table, project_cost, side_by_side, summary
    from .history_store import history
    from .notebook.view import show
    from .notebook.widgets import panel
    from .price_data import prices, reset_prices, set_price
    from .repricing import reprice
    from .run import Run
    from .specs import register_endpoint

__all__ = [
    "Run",
    "acompare",
    "cache_stats",
    "clear_cache",
    "compare",
    "cost_table",
    "estimate",
    "history",
    "jobs",
    "panel",
    "prices",
    "project_cost",
    "register_endpoint",
    "reprice",
    "reset_prices",
    "set_price",
    "show",
    "side_by_side",
    "summary",
]

__version__ = "0.1.0"

# Every public name is imported on first use (name -> submodule): `import orbit_nb`
# costs a few milliseconds, and the engine, asyncio and pandas load when first needed.
# No submodule is named like a public function: importing a submodule binds its
# name on the package, which would hide the function.
_LAZY = {
    "Run": "run",
    "acompare": "api",
    "cache_stats": "cache",
    "clear_cache": "cache",
    "compare": "api",
    "estimate": "api",
    "history": "history_store",
    "jobs": "api",
    "panel": "notebook.widgets",
    "register_endpoint": "specs",
    "reprice": "repricing",
    "cost_table": "frame",
    "prices": "price_data",
    "project_cost": "frame",
    "reset_prices": "price_data",
    "set_price": "price_data",
    "show": "notebook.view",
    "side_by_side": "frame",
    "summary": "frame",
}


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext orbit_nb`` registers the ``%%orbit`` and ``%orbit`` magics."""
    from .notebook.magic import load_ipython_extension as load

    load(ipython)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'orbit_nb' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
