"""The recipe's first step: a model must be able to overfit one batch."""

import numpy as np
import pytest

from backprop.training import overfit_batch
from training_helpers import mlp


def test_overfit_batch_drives_the_loss_to_about_zero(digits_split):
    X, y, _, _ = digits_split
    model = mlp(64, 32, 10, seed=0)
    losses = overfit_batch(model, X, y, loss="cross_entropy", steps=300, batch_size=8, seed=0)
    assert losses.shape == (300,)
    assert losses[0] > 1.0 and losses[-1] < 1e-2
    np.testing.assert_array_equal(model.predict_classes(X[:8]), y[:8])


def test_overfit_batch_on_a_regression_batch(regression_data):
    X, y = regression_data
    losses = overfit_batch(mlp(2, 16, 1), X, y, loss="mse", optimizer="adam", lr=0.02, steps=300,
                           batch_size=4)
    assert losses[-1] < 1e-3 * losses[0]


def test_overfit_batch_validates_its_arguments(regression_data):
    X, y = regression_data
    with pytest.raises(ValueError, match="steps"):
        overfit_batch(mlp(2, 1), X, y, loss="mse", steps=0)
    with pytest.raises(ValueError, match="contains"):
        overfit_batch(mlp(2, 1), np.full_like(X, np.nan), y, loss="mse")
