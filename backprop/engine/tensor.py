"""Tensor: an array that remembers how it was computed, so that gradients can flow back.

Every op builds its output with :func:`make_result`, handing it the parents and a
``backward`` closure that maps the gradient of the output, ∂J/∂out, to the
gradients of the parents (the chain rule along each path). :meth:`Tensor.backward`
visits the graph in reverse topological order and adds up the gradients that
reach a tensor along different paths (the sum rule across paths).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Callable, Optional, Sequence

import numpy as np

from backprop import backend
from backprop.backend import xp

__all__ = ["Tensor", "no_grad", "enable_grad", "is_grad_enabled", "eval_mode", "in_eval_mode", "make_result", "tensor_method"]


class _ThreadModes(threading.local):
    """Per-thread modes, as PyTorch keeps grad mode per thread: a ``no_grad`` or an
    :func:`eval_mode` in one thread (a predict running there) never changes another's.
    A new thread starts with grad recording on and no forced evaluation."""

    grad_enabled = True
    eval_forced = 0  # depth of nested eval_mode() blocks in this thread


_modes = _ThreadModes()


def is_grad_enabled() -> bool:
    """True unless inside :func:`no_grad` (in the calling thread)."""
    return _modes.grad_enabled


def in_eval_mode() -> bool:
    """True inside :func:`eval_mode` (in the calling thread).

    Layers whose computation differs in training (Dropout, BatchNorm) compute as in
    evaluation when ``not self.training or in_eval_mode()``.
    """
    return _modes.eval_forced > 0


class _SetGradMode(contextlib.ContextDecorator):
    """Sets the grad mode on entry and restores it on exit; usable as ``@cm()`` or ``@cm``."""

    _mode = True

    def __new__(cls, func=None):
        self = super().__new__(cls)
        self._previous = threading.local()  # a per-thread stack: one decorated function may run in many threads
        return self(func) if callable(func) else self

    def _stack(self) -> list:
        stack = getattr(self._previous, "stack", None)
        if stack is None:
            stack = self._previous.stack = []
        return stack

    def __enter__(self):
        self._stack().append(_modes.grad_enabled)
        _modes.grad_enabled = self._mode
        return self

    def __exit__(self, *exc):
        _modes.grad_enabled = self._stack().pop()
        return False


class no_grad(_SetGradMode):
    """Context manager (and decorator) inside which no graph is recorded (in this thread).

    Use it for prediction and for updating weights: ops then return plain tensors
    with ``requires_grad=False`` and keep no reference to their inputs.
    """

    _mode = False


class enable_grad(_SetGradMode):
    """Context manager that turns graph recording back on inside :func:`no_grad`."""

    _mode = True


@contextlib.contextmanager
def eval_mode():
    """Context: in the calling thread, every layer computes as in evaluation mode.

    Dropout is the identity and BatchNorm uses its running statistics, whatever the
    modules' ``training`` flags say; no flag is changed, so another thread training
    or predicting with the same model is unaffected (Keras passes ``training=False``
    down the call for the same reason). ``predict``, ``predict_proba`` and
    ``evaluate`` run inside it (and under :class:`no_grad`).
    """
    _modes.eval_forced += 1
    try:
        yield
    finally:
        _modes.eval_forced -= 1


BackwardFn = Callable[[np.ndarray], Sequence[Optional[np.ndarray]]]


class Tensor:
    """A NumPy array with reverse-mode automatic differentiation.

    Args:
        data: array-like of real numbers. A float ndarray keeps its dtype; Python
            numbers, lists and integer arrays get the default dtype (float32, see
            :func:`backprop.set_default_dtype`).
        requires_grad: record the ops on this tensor so that ``backward`` fills ``.grad``.
            Such a tensor copies an ndarray it is given; one without gradients shares it
            (the library never writes into it).
        dtype: force a float dtype.

    Example:
        >>> import backprop as bp
        >>> x = bp.Tensor(3.0, requires_grad=True)
        >>> y = 2 * (3 * x)
        >>> y.backward()
        >>> float(x.grad)
        6.0
    """

    __array_priority__ = 1000  # so that ``ndarray * Tensor`` calls Tensor.__rmul__

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        source = data.data if isinstance(data, Tensor) else data
        self.data: np.ndarray = backend.as_float_array(source, dtype)
        if requires_grad and isinstance(source, np.ndarray) and np.shares_memory(self.data, source):
            # A tensor that requires grad is a weight that optimisers update in place:
            # it gets its own copy, so that the caller's array is never modified (torch.tensor copies too).
            self.data = self.data.copy()
        self.grad: Optional[np.ndarray] = None
        self.requires_grad: bool = bool(requires_grad)
        self._parents: tuple = ()
        self._backward: Optional[BackwardFn] = None
        self._op: str = ""
        self._retains_grad: bool = False

    # ----------------------------------------------------------------- basics
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by an op that records gradients."""
        return self._backward is None

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        op = f", op={self._op!r}" if self._op else ""
        return f"Tensor({np.array2string(self.data, precision=4, threshold=20)}, dtype={self.dtype}{grad}{op})"

    def numpy(self) -> np.ndarray:
        """The underlying array (not a copy, as in PyTorch)."""
        return self.data

    def item(self) -> float:
        return self.data.item()

    def detach(self) -> "Tensor":
        """A tensor sharing the data, cut from the graph."""
        return Tensor(self.data)

    def retain_grad(self) -> "Tensor":
        """Keep ``.grad`` on this non-leaf tensor after backward (e.g. δ = ∂J/∂z)."""
        self._retains_grad = True
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def __hash__(self):
        return id(self)

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a Tensor of shape {self.shape} is ambiguous; use .data.any() or .data.all()"
            )
        return bool(self.data)

    # --------------------------------------------------------------- backward
    def backward(self, grad=None) -> None:
        """Backpropagate: fill ``.grad`` of every leaf that requires grad with ∂self/∂leaf.

        Gradients accumulate (``+=``) into ``.grad``, as in PyTorch; zero them between steps.

        Args:
            grad: ∂J/∂self. Optional for a tensor with one element; required otherwise.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() called on a tensor that does not require grad: "
                "create the inputs with requires_grad=True, and do not call it inside no_grad()"
            )
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward() without a grad argument needs a tensor with one element, "
                    f"got shape {self.shape}; pass grad= of that shape"
                )
            grad = xp.ones_like(self.data)
        else:
            grad = backend.as_float_array(grad.data if isinstance(grad, Tensor) else grad, self.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"backward() grad has shape {grad.shape}, expected {self.shape}")

        grads = {id(self): grad}
        for node in reversed(_topological_order(self)):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if node._backward is None or node._retains_grad:
                # A gradient has its tensor's dtype, even where a float64 array met a float32 one.
                total = g if node.grad is None else node.grad + g
                node.grad = xp.array(total, dtype=node.dtype)
            if node._backward is None:
                continue
            for parent, parent_grad in zip(node._parents, node._backward(g)):
                if parent_grad is None or not parent.requires_grad:
                    continue
                if xp.shape(parent_grad) != parent.shape:
                    raise RuntimeError(
                        f"op {node._op!r} returned a gradient of shape {xp.shape(parent_grad)} "
                        f"for an input of shape {parent.shape}"
                    )
                key = id(parent)
                if key in grads:
                    grads[key] = grads[key] + parent_grad  # sum rule: paths meet here
                else:
                    grads[key] = parent_grad


def _topological_order(root: Tensor) -> list:
    """Nodes that require grad, each after all of its parents; iterative, so deep graphs work."""
    order, visited = [], {id(root)}
    stack = [(root, iter(root._parents))]
    while stack:
        node, parents = stack[-1]
        for parent in parents:
            if parent.requires_grad and id(parent) not in visited:
                visited.add(id(parent))
                stack.append((parent, iter(parent._parents)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


def make_result(data: np.ndarray, parents: tuple, backward: BackwardFn, op: str) -> Tensor:
    """Wrap an op's output; record ``parents`` and ``backward`` if any parent needs a gradient.

    ``backward(g)`` receives ∂J/∂out and returns one gradient (or None) per parent,
    already summed back to that parent's shape.
    """
    out = Tensor.__new__(Tensor)
    out.data = xp.asarray(data)  # NumPy turns 0-d results into scalars; a Tensor holds an array
    out.grad = None
    out._retains_grad = False
    out._op = op
    if _modes.grad_enabled and any(p.requires_grad for p in parents):
        out.requires_grad = True
        out._parents = parents
        out._backward = backward
    else:
        out.requires_grad = False
        out._parents = ()
        out._backward = None
    return out


def as_tensor(value, like: Optional[Tensor] = None) -> Tensor:
    """Return ``value`` as a Tensor; a Python number takes the dtype of ``like``."""
    if isinstance(value, Tensor):
        return value
    if like is not None and (isinstance(value, (int, float, np.integer, np.floating, np.bool_))
                             or (isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "fiub")):
        return Tensor(xp.asarray(value, dtype=like.dtype))  # a scalar never changes a tensor's dtype
    return Tensor(value)


def tensor_method(func=None, *, name: Optional[str] = None):
    """Decorator: also expose an op as a Tensor method (``bp.exp(x)`` and ``x.exp()``)."""

    def register(f):
        setattr(Tensor, name or f.__name__, f)
        return f

    return register(func) if func is not None else register
