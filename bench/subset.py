"""Shared by the benchmarks that can measure a subset of their configurations."""

from __future__ import annotations

from typing import Any


def keep_unmeasured(previous: list[dict[str, Any]], measured: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``measured`` plus the entries of ``previous`` for (config, scale) pairs not measured again.

    Sorted by scale, then configuration label: a benchmark run on a subset replaces only
    what it measured in its JSON file.
    """
    done = {(r.get("config"), r["scale"]) for r in measured}
    kept = [r for r in previous if (r.get("config"), r["scale"]) not in done]
    return sorted(kept + measured, key=lambda r: (r["scale"], r.get("config", "")))
