"""Ranking configurations by several objectives: non-dominated (Pareto) fronts, ties by the first objective."""

from __future__ import annotations

from collections.abc import Sequence


def _oriented(point: Sequence[float], modes: Sequence[str]) -> tuple[float, ...]:
    """Every objective as "lower is better"."""
    return tuple(v if mode == "min" else -v for v, mode in zip(point, modes))


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """``a`` is no worse than ``b`` everywhere and better somewhere (both already oriented to minimise)."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def pareto_fronts(points: Sequence[Sequence[float]], modes: Sequence[str]) -> list[int]:
    """Front index per point: 0 = not dominated by any point, 1 = dominated only by front 0, ..."""
    oriented = [_oriented(p, modes) for p in points]
    front, remaining, level = [0] * len(points), set(range(len(points))), 0
    while remaining:
        current = {i for i in remaining if not any(dominates(oriented[j], oriented[i]) for j in remaining)}
        for i in current:
            front[i] = level
        remaining -= current
        level += 1
    return front


def pareto_order(points: Sequence[Sequence[float]], modes: Sequence[str]) -> list[int]:
    """Indices best first: by front, then by the first objective (one objective = a plain sort)."""
    fronts = pareto_fronts(points, modes)
    return sorted(range(len(points)), key=lambda i: (fronts[i], _oriented(points[i], modes)[0]))
