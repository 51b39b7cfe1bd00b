"""``backprop.nn.utils``: helpers for a hand-written training loop, as ``torch.nn.utils``.

    >>> import backprop as bp
    >>> W = bp.Tensor([3.0, 4.0], requires_grad=True)
    >>> (W * W).sum().backward()                    # g = 2W = (6, 8), ‖g‖ = 10
    >>> total = bp.nn.utils.clip_grad_norm_([W], max_norm=1.0)
    >>> round(total, 6), [round(float(v), 4) for v in W.grad]
    (10.0, [0.6, 0.8])

The functions live in :mod:`backprop.optim.clipping`, beside the optimisers' own clipping.
"""

from backprop.optim.clipping import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_"]
