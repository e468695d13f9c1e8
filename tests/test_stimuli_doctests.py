"""The doctest examples of the stimuli modules run and give the printed values."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", ["stimuli.params", "stimuli.retina", "stimuli.movies", "stimuli.protocols",
                                    "stimuli.lgn", "stimuli.spike_generation"])
def test_doctests(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    # every example's output is the documented value (0 failures)
    assert result.failed == 0
