"""scikit-learn's MLP cost, built from the library's losses: J = data loss + α/(2 Σw) Σ_ℓ ‖W^[ℓ]‖².

scikit-learn's ``_backprop`` computes, for a mini-batch with sample weights w
(w = 1 without them):

* the data loss, a weighted average over the batch (Σ_i w_i J_i / Σ_i w_i) of
  - ``squared_error``: ½ mean over outputs of (ŷ − y)²          → :func:`~backprop.losses.half_mse`;
  - ``log_loss`` with softmax outputs: −Σ_k y_k ln ŷ_k          → :func:`~backprop.losses.cross_entropy`;
  - ``log_loss`` with logistic outputs (binary, multi-label): Σ over the K outputs
    of the binary cross-entropy → K · :func:`~backprop.losses.binary_cross_entropy_with_logits`
    (which averages over outputs, so the K restores scikit-learn's sum);
  - ``poisson`` (exp output): Σ_k [ŷ_k − y_k ln ŷ_k + y_k ln y_k − y_k], the half
    Poisson deviance, with ŷ = e^z (:func:`half_poisson_deviance`);
* plus the L2 penalty α/(2 Σ_i w_i) Σ_ℓ ‖W^[ℓ]‖² (weights only, never biases), whose
  gradient α W / Σ_i w_i is what ``_compute_loss_grad`` adds.

The network's last layer outputs z (no activation); the output activation
(softmax, sigmoid, exp) is part of the loss here, and of ``predict`` there.

For several regression outputs (squared error, K outputs) scikit-learn reports ½·mean
over rows and outputs, but its ``_backprop`` starts from δᴸ = (ŷ − y)/N, the gradient of
½·Σ over outputs: K times the gradient of what it reports (the penalty's gradient is not
scaled). A drop-in must step as it does, so here too the value is ½·mean and the data
loss's gradient is K times its own (:func:`scale_gradient`), on every solver: L-BFGS gets
the same (value, gradient) pairs as scikit-learn's ``_loss_grad_lbfgs``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import xlogy

from backprop import losses
from backprop.backend import xp
from backprop.engine.ops import exp
from backprop.engine.ops.activation import sigmoid_array, softmax_array
from backprop.engine.tensor import Tensor, make_result

__all__ = ["MLPObjective", "l2_penalty", "half_poisson_deviance", "scale_gradient", "OUTPUT_ACTIVATIONS"]


# The output activation turns the last layer's z into scikit-learn's ``activations[-1]``.
OUTPUT_ACTIVATIONS = {
    "identity": lambda z: z,
    "logistic": sigmoid_array,
    "softmax": softmax_array,
    "exp": np.exp,
}


def l2_penalty(weights, coefficient: float) -> Tensor:
    """P = c Σ_ℓ Σ_ij (W^[ℓ]_ij)², one fused op;  ∂P/∂W^[ℓ] = 2c W^[ℓ].

    Args:
        weights: the weight matrices W (Parameters).
        coefficient: c, e.g. α/(2 Σw) for scikit-learn's penalty.
    """
    weights = tuple(weights)
    dtype = weights[0].dtype
    total = sum(float(np.dot(W.data.ravel(), W.data.ravel())) for W in weights)
    value = xp.asarray(coefficient * total, dtype=dtype)
    two_c = 2.0 * coefficient

    def backward(g):
        scale = float(g) * two_c
        return tuple(W.data * scale for W in weights)

    return make_result(value, weights, backward, "l2_penalty")


def scale_gradient(x: Tensor, factor: float) -> Tensor:
    """The value of x, with ∂J/∂x multiplied by ``factor`` on the way back (scikit-learn's
    multi-output squared error: it reports ½·mean over outputs, steps along ½·Σ)."""
    return make_result(x.data, (x,), lambda g: (g * factor,), "scale_gradient")


def half_poisson_deviance(z, target, sample_weight=None) -> Tensor:
    """J = weighted mean over examples of Σ_k [e^(z_k) − y_k z_k + y_k ln y_k − y_k];  δ = (e^z − y)/N.

    The half Poisson deviance of ŷ = e^z (log link), as scikit-learn's ``poisson_loss``;
    the term y ln y − y does not depend on z and only makes J ≥ 0 with J = 0 at ŷ = y.
    """
    y = np.asarray(target.data if isinstance(target, Tensor) else target, dtype=z.dtype).reshape(z.shape)
    n = z.shape[0]
    if sample_weight is None:
        w = np.full(n, 1.0 / n, dtype=z.dtype)
    else:
        w = np.asarray(sample_weight, dtype=z.dtype)
        w = w / w.sum()
    w_column = Tensor(w.reshape(-1, 1))
    per_element = exp(z) - z * Tensor(y)
    constant = float((w[:, None] * (xlogy(y, y) - y)).sum())
    return (per_element * w_column).sum() + constant


class MLPObjective:
    """The cost scikit-learn's MLP minimises, as a loss callable for the Trainer and for L-BFGS.

    ``objective(z, Y, sample_weight=None)`` returns J = data loss + α/(2 Σw) Σ‖W‖² for the
    network's raw outputs z and the encoded targets Y (one-hot / indicator rows, or values).

    Args:
        out_activation: scikit-learn's ``out_activation_``: "identity", "logistic",
            "softmax" or "exp".
        weights: the Dense layers' W Parameters that the penalty covers.
        alpha: α, the L2 strength.
        penalise: add the penalty to the cost (False when the optimiser applies α
            as decoupled weight decay, AdamW).
    """

    def __init__(self, out_activation: str, weights, alpha: float, penalise: bool = True):
        if out_activation not in OUTPUT_ACTIVATIONS:
            raise ValueError(f"unknown output activation {out_activation!r}")
        self.out_activation = out_activation
        self.weights = list(weights)
        self.alpha = float(alpha)
        self.penalise = bool(penalise)

    def data_loss(self, z, Y, sample_weight=None) -> Tensor:
        """The weighted mean loss of the batch, without the penalty."""
        if self.out_activation == "softmax":
            return losses.cross_entropy(z, Y, sample_weight=sample_weight)
        if self.out_activation == "logistic":
            n_outputs = z.shape[1] if z.ndim == 2 else 1
            loss = losses.binary_cross_entropy_with_logits(z, Y, sample_weight=sample_weight)
            return loss if n_outputs == 1 else loss * float(n_outputs)
        if self.out_activation == "exp":
            return half_poisson_deviance(z, Y, sample_weight=sample_weight)
        loss = losses.half_mse(z, Y, sample_weight=sample_weight)
        n_outputs = z.shape[1] if z.ndim == 2 else 1
        return loss if n_outputs == 1 else scale_gradient(loss, float(n_outputs))

    def penalty_coefficient(self, n_examples: int, sample_weight=None) -> float:
        """α / (2 Σ_i w_i), with Σ_i w_i = the batch size without weights."""
        weight_sum = n_examples if sample_weight is None else float(np.sum(sample_weight))
        return 0.5 * self.alpha / weight_sum

    def penalty_value(self, n_examples: int, sample_weight=None) -> float:
        """The penalty's value (for the reported loss when the optimiser applies the decay)."""
        c = self.penalty_coefficient(n_examples, sample_weight)
        return c * sum(float(np.dot(W.data.ravel(), W.data.ravel())) for W in self.weights)

    def __call__(self, z, Y, sample_weight=None) -> Tensor:
        loss = self.data_loss(z, Y, sample_weight)
        if self.alpha == 0 or not self.weights:
            return loss
        n = z.shape[0]
        if not self.penalise:
            return loss + self.penalty_value(n, sample_weight)
        return loss + l2_penalty(self.weights, self.penalty_coefficient(n, sample_weight))

    def fused_loss(self):
        """This cost as a :class:`~backprop.training.fastpath.FusedLoss`, so that the Trainer's
        fused fast path runs it (None for the Poisson loss, which has no fused kernel).

        ``self.weights`` must be every Dense layer's W, as the estimators build it.
        """
        from backprop.training.fastpath import FusedLoss

        data_losses = {"softmax": losses.cross_entropy, "logistic": losses.binary_cross_entropy_with_logits,
                       "identity": losses.half_mse}
        if self.out_activation not in data_losses:
            return None
        scale = gradient_scale = 1.0
        n_outputs = float(self.weights[-1].shape[0]) if self.weights else 1.0
        if self.out_activation == "logistic":
            scale = n_outputs  # K · the mean over K outputs = scikit-learn's sum
        elif self.out_activation == "identity":
            gradient_scale = n_outputs  # scikit-learn's step along ½·Σ over outputs (module docstring)
        coefficient = self.penalty_coefficient if self.alpha != 0 and self.weights else None
        return FusedLoss(data_losses[self.out_activation], scale, coefficient, self.penalise, gradient_scale)

    def outputs(self, z: np.ndarray) -> np.ndarray:
        """scikit-learn's ``activations[-1]``: the output activation applied to z."""
        return OUTPUT_ACTIVATIONS[self.out_activation](z)
