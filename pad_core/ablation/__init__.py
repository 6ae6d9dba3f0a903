"""Ablation declarations and tables (pure Python; MLflow access lives in pad_core.integrations)."""

from pad_core.ablation.render import Rendered, render
from pad_core.ablation.spec import TABLE_METRICS, AblationSpec, Cell, Row
from pad_core.ablation.table import TableSpec, long_form, summarize

__all__ = ["TABLE_METRICS", "AblationSpec", "Cell", "Rendered", "Row", "TableSpec", "long_form", "render", "summarize"]
