"""Pooling layers: summarise each window of a feature map by its maximum or its mean.

Pooling has no parameters; it shrinks the feature maps and makes a detected feature's
exact position matter less. A global pool keeps one number per channel, wherever the
feature was found, which is what makes a conv network translation invariant.
The maths lives in the engine ops (:mod:`backprop.engine.ops.conv`).
"""

from __future__ import annotations

import numpy as np

from backprop.checks import check_bool, check_int_tuple
from backprop.engine.ops.conv import (
    _max_pool_backward,
    _max_pool_forward,
    avg_pool1d,
    avg_pool2d,
    check_size_keeping_padding,
    global_avg_pool2d,
    max_pool1d,
    max_pool2d,
    window_geometry,
)
from backprop.engine.tensor import Tensor, as_tensor
from backprop.layers.fused import FusedOp
from backprop.layers.module import Module
from backprop.layers.registry import register_module

__all__ = ["MaxPool2d", "AvgPool2d", "MaxPool1d", "AvgPool1d", "GlobalAvgPool2d"]


class _Pool(Module):
    """Arguments, checks and config shared by the window pools; ``_dims`` is 1 or 2."""

    takes_spatial_input = True
    holds_no_arrays = True

    _dims = 2
    _has_dilation = True

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1):
        super().__init__()
        name, n = type(self).__name__, self._dims
        self.kernel_size = check_int_tuple(kernel_size, "kernel_size", name, length=n)
        self.stride = self.kernel_size if stride is None else check_int_tuple(stride, "stride", name, length=n)
        self.padding = check_int_tuple(padding, "padding", name, low=0, length=n)
        self.dilation = check_int_tuple(dilation, "dilation", name, length=n)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(
                f"{name}: padding {self.padding} must be at most half the kernel size {self.kernel_size} "
                "(as in PyTorch), so that every window holds a real element"
            )
        check_size_keeping_padding(tuple((p, p) for p in self.padding), self.kernel_size, self.stride,
                                   self.dilation, name)

    def _checked(self, x) -> Tensor:
        """x as a Tensor, or a ValueError naming the layer and the shapes."""
        x = as_tensor(x)
        name, n = type(self).__name__, self._dims
        if x.ndim != n + 2:
            layout = "(N, C, H, W)" if n == 2 else "(N, C, L)"
            raise ValueError(f"{name}: input must be {n + 2}-D {layout}, got shape {x.shape}")
        window_geometry(x.shape, self.kernel_size, self.stride, tuple((p, p) for p in self.padding),
                        self.dilation, name)
        return x

    def _onnx_max_pool(self, graph, x: str) -> str:
        """ONNX's MaxPool with the layer's window and dilation; ONNX pads with −∞, as the layer does."""
        return graph.node("MaxPool", [x], "max_pool", dilations=list(self.dilation), **self._onnx_window())

    def _onnx_window(self) -> dict:
        """The window attributes ONNX's pools share: kernel_shape, strides, pads (befores, then afters)."""
        return {"kernel_shape": list(self.kernel_size), "strides": list(self.stride),
                "pads": list(self.padding) * 2}

    def output_features(self, in_features):
        return in_features  # the channels pass through

    def output_shape(self, input_shape: tuple) -> tuple:
        """The output's (C, H, W) (or (C, L)) for an input of ``input_shape`` (without the batch axis)."""
        spatial = tuple((size + 2 * p - d * (k - 1) - 1) // s + 1 for size, k, s, p, d
                        in zip(input_shape[1:], self.kernel_size, self.stride, self.padding, self.dilation))
        return (input_shape[0], *spatial)

    def get_config(self) -> dict:
        config = {"kernel_size": list(self.kernel_size), "stride": list(self.stride), "padding": list(self.padding)}
        if self._has_dilation:
            config["dilation"] = list(self.dilation)
        return config

    # PyTorch: torch.nn's pool of the same name (ceil_mode=False).
    def _torch_settings(self) -> dict:
        settings = {"kernel_size": tuple(self.kernel_size), "stride": tuple(self.stride),
                    "padding": tuple(self.padding)}
        if self._has_dilation:
            settings["dilation"] = tuple(self.dilation)
        return settings

    def to_torch_modules(self, nn) -> list:
        return [getattr(nn, type(self).__name__)(**self._torch_settings())]

    @classmethod
    def from_torch_modules(cls, modules: list, nn) -> tuple:
        module = modules[0]
        if module.ceil_mode or getattr(module, "return_indices", False) or getattr(module, "divisor_override", None):
            raise TypeError(f"torch.nn.{type(module).__name__}: ceil_mode, return_indices and divisor_override "
                            "are not supported")
        settings = {"kernel_size": module.kernel_size, "stride": module.stride, "padding": module.padding}
        if cls._has_dilation:
            settings["dilation"] = module.dilation
        if hasattr(module, "count_include_pad"):
            settings["count_include_pad"] = bool(module.count_include_pad)
        return cls(**settings), 1

    def extra_repr(self) -> str:
        parts = [f"kernel_size={self.kernel_size}"]
        if self.stride != self.kernel_size:
            parts.append(f"stride={self.stride}")
        if any(self.padding):
            parts.append(f"padding={self.padding}")
        if any(d != 1 for d in self.dilation):
            parts.append(f"dilation={self.dilation}")
        return ", ".join(parts)


class _AvgPool(_Pool):
    _has_dilation = False

    def __init__(self, kernel_size, stride=None, padding=0, count_include_pad: bool = True):
        super().__init__(kernel_size, stride, padding)
        self.count_include_pad = check_bool(count_include_pad, "count_include_pad", type(self).__name__)

    def get_config(self) -> dict:
        return {**super().get_config(), "count_include_pad": self.count_include_pad}

    def onnx_nodes(self, graph, x: str) -> str:
        """ONNX's AveragePool, counting the padding or not as the layer does (float32 in a float64
        network: ONNX Runtime's CPU kernel has no float64)."""
        return graph.float32_node("AveragePool", [x], "avg_pool", count_include_pad=int(self.count_include_pad),
                                  **self._onnx_window())

    def _torch_settings(self) -> dict:
        return {**super()._torch_settings(), "count_include_pad": self.count_include_pad}


@register_module
class MaxPool2d(_Pool):
    """out[n, c, r, q] = max of a[n, c] over the kh×kw window at (r·s, q·s), as ``torch.nn.MaxPool2d``.

    δ goes back to the element that won each window (the first maximum, as in PyTorch).

    Args:
        kernel_size: an int or (kh, kw).
        stride: an int or pair; None (the default) is the kernel size: windows side by side.
        padding: −∞ added on each side, an int or pair, at most half the kernel size, and
            2·p ≤ d·(k − 1) + s − 1, so that the output is never larger than the input.
        dilation: the spacing of window taps.

    Example:
        >>> import numpy as np
        >>> MaxPool2d(2)(np.zeros((1, 3, 8, 8), dtype=np.float32)).shape
        (1, 3, 4, 4)
    """

    torch_types = ("MaxPool2d",)

    def forward(self, x) -> Tensor:
        return max_pool2d(self._checked(x), self.kernel_size, self.stride, self.padding, self.dilation)

    def fused_ops(self) -> tuple:
        """``(MaxPoolOp,)``: the engine op's array functions without its graph."""
        return (MaxPoolOp(self),)

    def onnx_nodes(self, graph, x: str) -> str:
        return self._onnx_max_pool(graph, x)


class MaxPoolOp(FusedOp):
    """The fused form of :class:`MaxPool2d`: the maxima into the plan's buffer, the winning tap of each
    window kept for backward, which routes δ to it (summed where windows overlap)."""

    def __init__(self, layer: MaxPool2d):
        self.layer = layer
        self._winner = None

    def _geometry(self, shape: tuple) -> tuple:
        layer = self.layer
        pads = tuple((p, p) for p in layer.padding)
        return pads, window_geometry(shape, layer.kernel_size, layer.stride, pads, layer.dilation, "MaxPool2d")

    def out_shape(self, in_shape: tuple) -> tuple:
        if len(in_shape) != 4:
            raise ValueError(f"MaxPool2d: input must be 4-D (N, C, H, W), got shape {tuple(in_shape)}")
        return (*in_shape[:2], *self._geometry(in_shape)[1])

    def forward(self, a, out):
        layer = self.layer
        pads, out_hw = self._geometry(a.shape)
        maxima, self._winner = _max_pool_forward(a, layer.kernel_size, layer.stride, pads, layer.dilation, out_hw,
                                                 True, out)
        if maxima is not out:  # (not written in place)
            np.copyto(out, maxima)
        return out

    def backward(self, delta, a_in, out, delta_in, scratch, grads):
        winner, self._winner = self._winner, None
        if delta_in is None:
            return None
        layer = self.layer
        pads, out_hw = self._geometry(a_in.shape)
        grad = _max_pool_backward(delta, winner, a_in.shape, layer.kernel_size, layer.stride, pads, layer.dilation,
                                  out_hw, delta_in)
        if grad is not delta_in:  # (not written in place)
            delta_in[...] = grad
        return delta_in

    def predict(self, a, overwrite):
        layer = self.layer
        pads, out_hw = self._geometry(a.shape)
        return _max_pool_forward(a, layer.kernel_size, layer.stride, pads, layer.dilation, out_hw, False)[0]


@register_module
class AvgPool2d(_AvgPool):
    """out[n, c, r, q] = (1/m) Σ of a[n, c] over the window at (r·s, q·s), as ``torch.nn.AvgPool2d``.

    Args:
        kernel_size: an int or (kh, kw).
        stride: an int or pair; None (the default) is the kernel size.
        padding: zeros added on each side, at most half the kernel size, and
            2·p ≤ k + s − 2 (the output is never larger than the input).
        count_include_pad: m = kh·kw, counting the padding zeros (True, PyTorch's default),
            or m = the number of real elements in the window (False).
    """

    torch_types = ("AvgPool2d",)

    def forward(self, x) -> Tensor:
        return avg_pool2d(self._checked(x), self.kernel_size, self.stride, self.padding, self.count_include_pad)


@register_module
class MaxPool1d(_Pool):
    """Max pooling over (N, C, L), as ``torch.nn.MaxPool1d``; the arguments are :class:`MaxPool2d`'s."""

    torch_types = ("MaxPool1d",)

    _dims = 1

    def forward(self, x) -> Tensor:
        return max_pool1d(self._checked(x), self.kernel_size, self.stride, self.padding, self.dilation)

    def onnx_nodes(self, graph, x: str) -> str:
        return self._onnx_max_pool(graph, x)


@register_module
class AvgPool1d(_AvgPool):
    """Average pooling over (N, C, L), as ``torch.nn.AvgPool1d``; the arguments are :class:`AvgPool2d`'s."""

    torch_types = ("AvgPool1d",)

    _dims = 1

    def forward(self, x) -> Tensor:
        return avg_pool1d(self._checked(x), self.kernel_size, self.stride, self.padding, self.count_include_pad)


@register_module
class GlobalAvgPool2d(Module):
    """out[n, c] = (1/(H·W)) Σ_{r,q} a[n, c, r, q]: one number per channel (Keras's GlobalAveragePooling2D).

    Where on the image a feature was found no longer matters, so a conv network ending
    in it answers "is there a ball?" the same way for every position. The output (N, C)
    goes straight into a Dense layer; ``keepdims=True`` gives (N, C, 1, 1), as
    ``torch.nn.AdaptiveAvgPool2d(1)``.
    """

    takes_spatial_input = True
    holds_no_arrays = True

    def __init__(self, keepdims: bool = False):
        super().__init__()
        self.keepdims = check_bool(keepdims, "keepdims", "GlobalAvgPool2d")

    def forward(self, x) -> Tensor:
        x = as_tensor(x)
        if x.ndim != 4:
            raise ValueError(f"GlobalAvgPool2d: input must be 4-D (N, C, H, W), got shape {x.shape}")
        return global_avg_pool2d(x, keepdims=self.keepdims)

    def onnx_nodes(self, graph, x: str) -> str:
        """ReduceMean over H and W (ONNX Runtime's GlobalAveragePool has no float64 kernel)."""
        return graph.node("ReduceMean", [x], "global_avg_pool", axes=[2, 3], keepdims=int(self.keepdims))

    def output_features(self, in_features):
        return in_features  # one number per channel

    def output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], 1, 1) if self.keepdims else (input_shape[0],)

    def get_config(self) -> dict:
        return {"keepdims": self.keepdims}

    # PyTorch: AdaptiveAvgPool2d(1), then Flatten unless keepdims.
    torch_types = ("AdaptiveAvgPool2d",)

    def to_torch_modules(self, nn) -> list:
        return [nn.AdaptiveAvgPool2d(1)] + ([] if self.keepdims else [nn.Flatten()])

    def torch_layout(self) -> list:
        return [{}] if self.keepdims else [{}, {}]

    @classmethod
    def from_torch_modules(cls, modules: list, nn) -> tuple:
        size = modules[0].output_size
        if size not in (1, (1, 1), [1, 1]):
            raise TypeError(f"torch.nn.AdaptiveAvgPool2d({size}): only output_size 1 (a global average) is supported")
        flattens = len(modules) > 1 and type(modules[1]).__name__ == "Flatten" and (
            modules[1].start_dim, modules[1].end_dim) == (1, -1)
        return cls(keepdims=not flattens), 2 if flattens else 1
