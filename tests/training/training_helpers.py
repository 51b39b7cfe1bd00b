"""Helpers shared by the training tests (imported as ``training_helpers``)."""

import numpy as np

import backprop as bp
from backprop import nn
from backprop.training import Callback


def mlp(*sizes, activation="relu", seed=0, dropout=None):
    """Sequential of Dense layers n₀ → n₁ → … with ``activation`` between them (linear output)."""
    bp.manual_seed(seed)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = i == len(sizes) - 2
        layers.append(nn.Dense(n_in, n_out, activation=None if last else activation))
        if dropout and not last:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def weights(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


class Recorder(Callback):
    """Records batch sizes, batch losses and per-epoch weights."""

    def on_train_begin(self, logs=None):
        self.sizes, self.losses, self.epoch_weights, self.lrs = [], [], [], []

    def on_batch_end(self, batch, logs=None):
        self.sizes.append(logs["size"])
        self.losses.append(logs["loss"])

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_weights.append(weights(self.model))
        self.lrs.append(self.trainer.optimizer.param_groups[0]["lr"])
