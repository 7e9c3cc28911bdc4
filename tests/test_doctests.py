"""The examples in the docstrings (the store, the facet bitsets, the namespaces) run, and say what they do."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", ["acse_kg.store", "acse_kg.facet_bits", "acse_kg.namespaces"])
def test_the_docstring_examples_hold(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
