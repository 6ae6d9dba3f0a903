"""Ablation declarations and tables (pure Python; MLflow access lives in pad_core.integrations)."""

from pad_core.ablation.spec import TABLE_METRICS, AblationSpec, Cell, Row
from pad_core.ablation.table import TableSpec, summarize, to_markdown, wide

__all__ = ["TABLE_METRICS", "AblationSpec", "Cell", "Row", "TableSpec", "summarize", "to_markdown", "wide"]
