"""One cell for the DDP-path stop test: the loss overflows to inf at the first step on every rank."""

from tests.integration.fault_rows import BASE, ROWS

DIVERGES = tuple(r for r in ROWS if r.name == "diverges")
__all__ = ["BASE", "DIVERGES"]
