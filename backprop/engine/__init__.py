"""The autodiff engine: Tensor, the ops, and gradient checking."""

from backprop.engine.tensor import Tensor, enable_grad, eval_mode, in_eval_mode, is_grad_enabled, no_grad
from backprop.engine import ops  # noqa: F401  (binds the ops to Tensor)
from backprop.engine.gradcheck import GradcheckError, gradcheck

__all__ = ["Tensor", "no_grad", "enable_grad", "is_grad_enabled", "eval_mode", "in_eval_mode", "gradcheck", "GradcheckError", "ops"]
