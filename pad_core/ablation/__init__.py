"""Ablation declarations and tables (pure Python; MLflow access lives in pad_core.integrations).

Names load on first use (pad_core/lazy_exports.py): a sweep declaration reads ``Row`` without importing pandas.
"""

from typing import TYPE_CHECKING

from pad_core.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from pad_core.ablation.render import Rendered, render
    from pad_core.ablation.search_spec import SearchSpec
    from pad_core.ablation.spec import TABLE_METRICS, AblationSpec, Cell, Row
    from pad_core.ablation.table import long_form, summarize
    from pad_core.ablation.view import TableView

__all__ = ["TABLE_METRICS", "AblationSpec", "Cell", "Rendered", "Row", "SearchSpec", "TableView", "long_form", "render",
           "summarize"]
__getattr__ = lazy_exports(__name__, {
    "render": ("Rendered", "render"),
    "spec": ("TABLE_METRICS", "AblationSpec", "Cell", "Row"),
    "search_spec": ("SearchSpec",),
    "table": ("long_form", "summarize"),
    "view": ("TableView",),
})
