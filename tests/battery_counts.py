"""Pytest plugin: count the bad inputs and fault scenarios the reliability battery tried.

A test of the battery requests the ``battery`` fixture and calls
``battery(category, problem)`` once per case, e.g. ``battery("toml", "unknown key")``. The
case is recorded in the test report's ``user_properties``, so the counts survive
pytest-xdist (reports travel from the workers to the controller). At the end of the
session the controller writes ``.pytest_cache/battery_counts.json``::

    {"total": 412, "passed": 412, "failed": 0,
     "categories": {"cli": {"cases": 60, "passed": 60, "failed": 0,
                            "problems": {"argparse": 22, ...}}, ...}}

and prints one line in the terminal summary. Nothing is written when no battery case ran.
Registered by ``pytest_plugins = ["battery_counts"]`` in ``tests/conftest.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

#: Key of the ``user_properties`` entries this plugin reads.
PROPERTY = "battery_case"
#: Where the counts are written, relative to the rootdir.
COUNTS_FILE = Path(".pytest_cache") / "battery_counts.json"

_counts: dict[str, dict[str, Any]] = {}


@pytest.fixture
def battery(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """``battery(category, problem)``: count this test as one case of the battery."""

    def record(category: str, problem: str) -> None:
        request.node.user_properties.append((PROPERTY, (category, problem)))

    return record


def pytest_configure(config: pytest.Config) -> None:
    _counts.clear()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # The call phase carries the properties; a failure in setup counts the case as failed.
    if report.when != "call" and not (report.when == "setup" and report.failed):
        return
    for key, value in report.user_properties:
        if key != PROPERTY:
            continue
        category, problem = value
        entry = _counts.setdefault(category, {"cases": 0, "passed": 0, "failed": 0, "problems": {}})
        entry["cases"] += 1
        entry["passed" if report.passed else "failed"] += 1
        entry["problems"][problem] = entry["problems"].get(problem, 0) + 1


def _summary() -> dict[str, Any]:
    categories = {name: _counts[name] for name in sorted(_counts)}
    return {
        "total": sum(c["cases"] for c in categories.values()),
        "passed": sum(c["passed"] for c in categories.values()),
        "failed": sum(c["failed"] for c in categories.values()),
        "categories": categories,
    }


def _is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")  # xdist workers have it


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _counts or not _is_controller(session.config):
        return
    path = Path(session.config.rootpath) / COUNTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_summary(), indent=2) + "\n")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not _counts or not _is_controller(config):
        return
    doc = _summary()
    parts = ", ".join(f"{name} {c['cases']}" for name, c in doc["categories"].items())
    terminalreporter.write_line(
        f"reliability battery: {doc['total']} cases ({parts}); {doc['passed']} passed, {doc['failed']} failed "
        f"-> {COUNTS_FILE}"
    )
