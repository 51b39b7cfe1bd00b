"""The examples in backprop.sklearn's docstrings run and give what they show."""

import doctest
import importlib

import pytest


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", ["backprop.sklearn", "backprop.sklearn.classifier", "backprop.sklearn.regressor"])
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
