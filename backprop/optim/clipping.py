"""Gradient clipping: bound g = ∂J/∂W before the update, with Keras's and PyTorch's meanings.

Two front doors, one per convention:

* the optimisers' ``clipnorm=``, ``clipvalue=`` and ``global_clipnorm=`` (Keras's
  ``keras.optimizers.Optimizer`` arguments, at most one of them), a :class:`GradientClipping`
  the optimiser applies to every gradient at each ``step()`` before its update, so that
  ``fit`` (its fast path included) clips too:

  - ``clipnorm=c``: each parameter's gradient on its own, g ← g · c / max(‖g‖₂, c);
  - ``global_clipnorm=c``: all of them by their joint norm ‖G‖₂ = √(Σ_W ‖g_W‖₂²),
    g ← g · c / max(‖G‖₂, c) (a NaN or infinite ‖G‖₂ makes every gradient NaN, as in Keras);
  - ``clipvalue=v``: each element, g ← min(max(g, −v), v).

  The optimiser clips into its own work arrays: ``p.grad`` is left as backward made it.

* :func:`clip_grad_norm_` and :func:`clip_grad_value_` for a hand-written loop, PyTorch's
  ``torch.nn.utils`` functions: they change every ``p.grad`` in place, between
  ``backward()`` and ``optimizer.step()``.
"""

from __future__ import annotations

import math
import numbers
from typing import Iterable, Optional

import numpy as np

from backprop.checks import check_bool, check_positive

__all__ = ["GradientClipping", "clip_grad_norm_", "clip_grad_value_"]


def _gradients(parameters) -> list:
    """The ``.grad`` arrays of a Tensor or an iterable of Tensors, those that have one."""
    if hasattr(parameters, "grad") and hasattr(parameters, "data"):
        parameters = [parameters]
    grads = []
    for p in parameters:
        if not (hasattr(p, "grad") and hasattr(p, "data")):
            raise TypeError(f"parameters must be Tensors (e.g. model.parameters()), got {type(p).__name__}")
        if p.grad is not None:
            grads.append(p.grad)
    return grads


def _norm(g: np.ndarray, norm_type: float) -> float:
    """‖g‖_p over all elements (p = inf: max |g|), in float64."""
    flat = np.asarray(g, dtype=np.float64).reshape(-1)
    if norm_type == 2.0:
        return math.sqrt(float(np.dot(flat, flat)))
    if flat.size == 0:
        return 0.0
    if norm_type == math.inf:
        return float(np.max(np.abs(flat)))
    if norm_type == -math.inf:
        return float(np.min(np.abs(flat)))
    if norm_type == 0:
        return float(np.count_nonzero(flat))
    return float(np.sum(np.abs(flat) ** norm_type) ** (1.0 / norm_type))


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    """Scale all gradients together so that their joint norm is at most ``max_norm`` (PyTorch's).

    The total norm is the p-norm of the parameters' own norms, ‖G‖ = ‖(‖g_1‖_p, ..., ‖g_m‖_p)‖_p,
    and every gradient is multiplied in place by min(1, max_norm / (‖G‖ + 10⁻⁶)), as
    ``torch.nn.utils.clip_grad_norm_`` does (the factor is applied even when it is 1).

    Args:
        parameters: a Tensor or an iterable of Tensors (``model.parameters()``); those
            whose ``.grad`` is None are skipped.
        max_norm: the largest norm allowed (> 0).
        norm_type: p, a real number or ``math.inf`` (max |g|).
        error_if_nonfinite: raise when ‖G‖ is NaN or infinite instead of scaling by it.

    Returns:
        ‖G‖, the total norm before clipping, as a float.

    Raises:
        ValueError: a bad argument, or a non-finite total norm with ``error_if_nonfinite``
            (nothing is changed then).
    """
    check_positive(max_norm, "max_norm", "clip_grad_norm_")
    if isinstance(norm_type, bool) or not isinstance(norm_type, numbers.Real) or math.isnan(norm_type):
        raise ValueError(f"clip_grad_norm_: norm_type must be a real number or math.inf, got {norm_type!r}")
    check_bool(error_if_nonfinite, "error_if_nonfinite", "clip_grad_norm_")
    grads = _gradients(parameters)
    if not grads:
        return 0.0
    norm_type = float(norm_type)
    total = _norm(np.array([_norm(g, norm_type) for g in grads]), norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise ValueError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is non-finite ({total}), "
            "so it cannot be clipped; error_if_nonfinite=False scales the gradients by it anyway")
    factor = min(float(max_norm) / (total + 1e-6), 1.0) if not math.isnan(total) else math.nan
    for g in grads:
        np.multiply(g, g.dtype.type(factor), out=g)
    return total


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clip every gradient element into [−clip_value, clip_value], in place (PyTorch's).

    Args:
        parameters: a Tensor or an iterable of Tensors; those whose ``.grad`` is None are skipped.
        clip_value: the bound (> 0).
    """
    check_positive(clip_value, "clip_value", "clip_grad_value_")
    value = float(clip_value)
    for g in _gradients(parameters):
        np.clip(g, -value, value, out=g)


class GradientClipping:
    """What an optimiser does to each gradient before its update (Keras's three settings).

    Args:
        clipnorm: c > 0: each parameter's g ← g · c / max(‖g‖₂, c).
        clipvalue: v > 0: each element g ← clip(g, −v, v).
        global_clipnorm: c > 0: every g ← g · c / max(‖G‖₂, c), ‖G‖₂ the norm of all gradients.

    At most one is set (Keras refuses two). :meth:`of` returns None when none is, so that an
    optimiser without clipping does nothing extra.
    """

    settings = ("clipnorm", "clipvalue", "global_clipnorm")

    def __init__(self, clipnorm: Optional[float] = None, clipvalue: Optional[float] = None,
                 global_clipnorm: Optional[float] = None, owner: str = "optimizer"):
        given = {name: value for name, value in zip(self.settings, (clipnorm, clipvalue, global_clipnorm))
                 if value is not None}
        if len(given) > 1:
            raise ValueError(f"{owner}: only one of clipnorm, clipvalue and global_clipnorm can be set, got "
                             + ", ".join(f"{name}={value!r}" for name, value in given.items()))
        for name, value in given.items():
            check_positive(value, name, owner)
        self.clipnorm = None if clipnorm is None else float(clipnorm)
        self.clipvalue = None if clipvalue is None else float(clipvalue)
        self.global_clipnorm = None if global_clipnorm is None else float(global_clipnorm)

    @classmethod
    def of(cls, clipnorm=None, clipvalue=None, global_clipnorm=None, owner: str = "optimizer"):
        """A GradientClipping, or None when no setting is given."""
        if clipnorm is None and clipvalue is None and global_clipnorm is None:
            return None
        return cls(clipnorm, clipvalue, global_clipnorm, owner)

    def get_config(self) -> dict:
        return {name: getattr(self, name) for name in self.settings if getattr(self, name) is not None}

    def global_factor(self, grads: Iterable[np.ndarray]) -> Optional[float]:
        """c / max(‖G‖₂, c) over ``grads`` for ``global_clipnorm`` (NaN for a non-finite ‖G‖₂), else None."""
        c = self.global_clipnorm
        if c is None:
            return None
        total = math.sqrt(sum(_squared_norm(g) for g in grads))
        if not math.isfinite(total):
            return math.nan
        return c / max(total, c)

    def clip(self, g: np.ndarray, out: np.ndarray, global_factor: Optional[float] = None,
             slices: Optional[list] = None) -> np.ndarray:
        """The clipped gradient: ``g`` itself when nothing changes, else ``out`` (same shape) holding it.

        Args:
            g: one parameter's gradient, or a packed group's flat gradient.
            out: a work array of g's shape and dtype.
            global_factor: :meth:`global_factor` of this step (for ``global_clipnorm``).
            slices: for a flat gradient, each parameter's ``slice`` of it, so that ``clipnorm``
                takes each parameter's own norm.
        """
        if self.clipvalue is not None:
            v = self.clipvalue
            return np.clip(g, -v, v, out=out)
        if self.global_clipnorm is not None:
            if global_factor == 1.0:
                return g
            return np.multiply(g, global_factor, out=out)
        c = self.clipnorm
        if slices is None:
            norm = math.sqrt(_squared_norm(g))
            if norm <= c:
                return g  # c / max(‖g‖, c) = 1
            return np.multiply(g, c / norm, out=out)
        changed = False
        for part in slices:
            piece = g[part]
            norm = math.sqrt(_squared_norm(piece))
            factor = 1.0 if norm <= c else c / norm
            changed |= factor != 1.0
            np.multiply(piece, factor, out=out[part])
        return out if changed else g

    def __repr__(self) -> str:
        settings = ", ".join(f"{name}={value!r}" for name, value in self.get_config().items())
        return f"GradientClipping({settings})"


def _squared_norm(g: np.ndarray) -> float:
    """Σ g² in float64 (a float32 sum of squares overflows from |g| ≈ 1.8·10¹⁹)."""
    flat = g.reshape(-1)
    if flat.dtype == np.float64:
        return float(np.dot(flat, flat))
    return float(np.einsum("i,i->", flat, flat, dtype=np.float64))
