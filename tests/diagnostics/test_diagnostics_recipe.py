"""The training recipe of the notes: overfit a batch, train with validation, read the gap."""

from __future__ import annotations

import pytest

from backprop import nn
from backprop.datasets import load_digits
from backprop.diagnostics.recipe import RecipeResult, overfit_batch, recipe


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return X / 16.0, y


def wide():
    return nn.Sequential(nn.Dense(64, 128, activation="relu"), nn.Dense(128, 10))


def test_a_big_model_on_little_data_passes_step_1_and_overfits(digits):
    X, y = digits
    result = recipe(wide, X[:150], y[:150], loss="cross_entropy", epochs=60, seed=0)
    assert isinstance(result, RecipeResult)
    assert result.overfit_passed
    assert result.overfit_end < 0.05 * result.overfit_start
    assert result.diagnosis == "overfitting"
    assert result.train_accuracy > result.val_accuracy and result.gap > 0
    text = result.report()
    for expected in ("Step 1", "Step 2", "Step 3", "overfitting", "L2", "Dropout", "early stopping",
                     f"{result.overfit_start:.4g}", f"{result.overfit_end:.4g}"):
        assert expected in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_a_tiny_model_cannot_fit_a_batch_and_the_recipe_stops(digits):
    X, y = digits
    tiny = lambda: nn.Sequential(nn.Dense(64, 1, activation="relu"), nn.Dense(1, 10))  # noqa: E731
    result = recipe(tiny, X, y, loss="cross_entropy", overfit_steps=100, seed=0)
    assert not result.overfit_passed
    assert result.diagnosis == "cannot fit a batch"
    assert result.model is None and result.history == {}
    assert "fix step 1 first" in result.report()


def test_a_small_model_trained_briefly_underfits(digits):
    X, y = digits
    small = lambda: nn.Sequential(nn.Dense(64, 3, activation="relu"), nn.Dense(3, 10))  # noqa: E731
    result = recipe(small, X, y, loss="cross_entropy", epochs=2, lr=1e-3, require_overfit=False, seed=0)
    assert result.diagnosis == "underfitting"
    assert "more capacity" in result.report()


def test_overfit_batch_is_the_training_package_s():
    from backprop.training import recipe as training_recipe

    assert overfit_batch is training_recipe.overfit_batch
