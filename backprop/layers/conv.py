"""Convolutional layers: one small θ (a kernel) slid over the image, z = W ⋆ a + b.

The notes' parameter sharing: instead of one weight per pixel (logistic regression on a
flattened 64×64×3 image), a kernel W[o] of shape (in_channels, kh, kw) is applied at every
position, so the layer sees every pixel with the same θ and finds a ball wherever it is.
The maths lives in the engine ops :func:`backprop.engine.ops.conv2d` / ``conv1d``.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from numpy.lib.stride_tricks import as_strided

from backprop.backend import get_default_dtype, resolve_dtype
from backprop.checks import check_bool, check_int_tuple, check_positive_int
from backprop.engine.ops.conv import (
    _conv2d_arrays, _conv2d_backward, _flat_windows, check_size_keeping_padding, conv1d, conv2d, conv_padding,
    window_geometry,
)
from backprop.engine.tensor import Tensor, as_tensor
from backprop import init
from backprop.layers.activations import (
    activation_config, following_activation, resolve_activation, torch_activation, torch_dtype_name,
)
from backprop.layers.fused import FusedOp
from backprop.layers.module import Module
from backprop.layers.parameter import Parameter
from backprop.layers.registry import register_module
from backprop.layers.traced import TracedForm
from backprop.regularizers import get_regularizer

__all__ = ["Conv2d", "Conv1d"]


class _ConvNd(Module):
    """What Conv1d and Conv2d share: arguments, parameters, config; ``_dims`` is 1 or 2."""

    _dims = 2
    _op = staticmethod(conv2d)
    takes_spatial_input = True

    @classmethod
    def state_shapes(cls, config: dict) -> dict:
        """``{"W": (out_channels, in_channels, *kernel_size), "b": (out_channels,)}`` for a config,
        its sizes checked as the constructor checks them, without allocating the weights."""
        config = cls.check_config_keys(config)
        name = cls.__name__
        c_in = check_positive_int(config["in_channels"], "in_channels", name)
        c_out = check_positive_int(config["out_channels"], "out_channels", name)
        kernel, *_ = cls._window_settings(config["kernel_size"], config.get("stride", 1), config.get("padding", 0),
                                          config.get("dilation", 1))
        bias = check_bool(config.get("bias", True), "bias", name)
        return {"W": (c_out, c_in, *kernel), **({"b": (c_out,)} if bias else {})}

    @classmethod
    def _window_settings(cls, kernel_size, stride, padding, dilation) -> tuple:
        """(kernel_size, stride, dilation, pads, padding), each checked: positive sizes, and padding
        (an int, a tuple, "valid" or "same") that keeps the output no larger than the input
        (:func:`~backprop.engine.ops.conv.check_size_keeping_padding`)."""
        name, n = cls.__name__, cls._dims
        kernel = check_int_tuple(kernel_size, "kernel_size", name, length=n)
        stride = check_int_tuple(stride, "stride", name, length=n)
        dilation = check_int_tuple(dilation, "dilation", name, length=n)
        pads = conv_padding(padding, kernel, dilation, stride, name)
        if not isinstance(padding, str):
            padding = check_int_tuple(padding, "padding", name, low=0, length=n)
        check_size_keeping_padding(pads, kernel, stride, dilation, name)
        return kernel, stride, dilation, pads, padding

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True, *,
                 activation=None, weight_init=None, bias_init="zeros", weight_regularizer=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        self.in_channels = check_positive_int(in_channels, "in_channels", name)
        self.out_channels = check_positive_int(out_channels, "out_channels", name)
        self.kernel_size, self.stride, self.dilation, self._pads, self.padding = self._window_settings(
            kernel_size, stride, padding, dilation)
        bias = check_bool(bias, "bias", name)
        self.activation = _named(name, "activation", resolve_activation, activation)
        if weight_init is None:
            weight_init = init.default_weight_init(None if self.activation is None else self.activation.name)
        self.weight_init = _named(name, "weight_init", init.get_initializer, weight_init)
        self.bias_init = _named(name, "bias_init", init.get_initializer, bias_init)
        self.weight_regularizer = _named(name, "weight_regularizer", get_regularizer, weight_regularizer)
        dtype = get_default_dtype() if dtype is None else _named(name, "dtype", resolve_dtype, dtype)

        # fan_in = in_channels·kh·kw and fan_out = out_channels·kh·kw (init.fans), PyTorch's convention.
        self.W = Parameter(self.weight_init((self.out_channels, self.in_channels, *self.kernel_size), dtype=dtype))
        self.b = Parameter(self.bias_init((self.out_channels,), dtype=dtype)) if bias else None

    def _check_input(self, x: Tensor) -> None:
        name, n = type(self).__name__, self._dims
        layout = "(N, C, H, W)" if n == 2 else "(N, C, L)"
        if x.ndim != n + 2:
            raise ValueError(f"{name}: input must be {n + 2}-D {layout}, got shape {x.shape}")
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"{name}: input of shape {x.shape} has {x.shape[1]} channels, but the layer has "
                f"in_channels={self.in_channels} (W of shape {self.W.shape})"
            )
        window_geometry(x.shape, self.kernel_size, self.stride, self._pads, self.dilation, name)

    def forward(self, a) -> Tensor:
        """z = W ⋆ a + b at every position (see :func:`backprop.engine.ops.conv2d`), then f(z)."""
        a = as_tensor(a)
        self._check_input(a)
        z = self._op(a, self.W, self.b, self.stride, self.padding, self.dilation)
        return z if self.activation is None else self.activation(z)

    def fused_ops(self) -> Optional[tuple]:
        """``(ConvOp,)`` for a 2-D convolution whose f is elementwise (or absent) and which has no
        weight regulariser; None otherwise (the engine runs the layer)."""
        f = self.activation
        if self._dims != 2 or self.weight_regularizer is not None or (f is not None and not f.elementwise):
            return None
        return (ConvOp(self),)

    def onnx_nodes(self, graph, a: str) -> str:
        """ONNX's Conv (NCHW or NCL, W as stored), with the layer's pads, strides and dilations; then f(z).

        Pads are given as ONNX orders them, all the befores then all the afters ("same" pads its odd
        pixel after, as PyTorch). A float64 network convolves in float32 (ONNX Runtime's CPU Conv has
        no float64 kernel).
        """
        inputs = [a, graph.constant(self.W.data, "W")] + ([] if self.b is None else [graph.constant(self.b.data, "b")])
        z = graph.float32_node("Conv", inputs, "z", kernel_shape=list(self.kernel_size), strides=list(self.stride),
                               dilations=list(self.dilation),
                               pads=[p[0] for p in self._pads] + [p[1] for p in self._pads])
        return z if self.activation is None else self.activation.onnx_nodes(graph, z)

    def own_regularization_loss(self) -> Optional[Tensor]:
        """penalty(W) from ``weight_regularizer`` (the bias is not penalised), or None."""
        return None if self.weight_regularizer is None else self.weight_regularizer(self.W)

    def traced_form(self) -> TracedForm:
        """z = W ⋆ a + b for the trace, with the sum rule across the positions that share W.

        The references below take the windows of a^(m−1) as they are, without the engine's
        im2col layout: ∂J/∂W[o, k, i, j] = Σ_{n, r, c} δ[n, o, r, c] · a[n, k, r·s + i·d, c·s + j·d]
        and, for equation (2), ∂J/∂a collects Σ_o W[o, k, i, j] δ[n, o, r, c] at every
        (r·s + i·d, c·s + j·d), tap by tap.
        """
        name, n = type(self).__name__, self._dims
        stride, pads, dilation = self.stride, self._pads, self.dilation
        if n == 1:  # a height-1 image
            stride, pads, dilation = (1, *stride), ((0, 0), *pads), (1, *dilation)
        kernel = "×".join(map(str, self.kernel_size))
        settings = "".join(f", {key} {value if len(set(value)) > 1 else value[0]}" for key, value in
                           (("stride", self.stride), ("dilation", self.dilation)) if any(v != 1 for v in value))
        if any(p != (0, 0) for p in self._pads):
            settings += f", padding {self.padding!r}" if isinstance(self.padding, str) else \
                f", padding {self.padding if len(set(self.padding)) > 1 else self.padding[0]}"

        def z(a, W, b):
            return self._op(a, W, b, self.stride, self.padding, self.dilation)

        def planes(array):  # (N, C, L) as (N, C, 1, L)
            return array if n == 2 else array[:, :, None, :]

        def weight_gradient(delta, a_prev):
            windows = _windows_of(planes(a_prev), self.kernel_size if n == 2 else (1, *self.kernel_size),
                                  stride, pads, dilation, planes(delta).shape[2:])
            grad = np.einsum("nohw,nkijhw->okij", planes(delta), windows)  # Σ over n and every position
            return grad if n == 2 else grad[:, :, 0]

        def input_gradient(delta, W, shape):
            grad = _input_gradient_by_taps(planes(delta), W if n == 2 else W[:, :, None], stride, pads, dilation,
                                           (shape[0], shape[1], 1, shape[2]) if n == 1 else tuple(shape))
            return grad.reshape(shape)

        return TracedForm(
            description=f"{name} {self.in_channels} → {self.out_channels}, {kernel} kernel{settings}",
            activation=self.activation, example_ndim=n + 1, z=z,
            input_gradient=input_gradient, weight_gradient=weight_gradient,
            note=(f"{name}: W is shared by every position, so (3) and (4) sum over the positions as well "
                  "as the examples: ∂J/∂W[o,k,i,j] = Σ_(n,r,c) δ[n,o,r,c] a[n,k,r·s+i·d,c·s+j·d] (the sum "
                  "rule across paths), and in (2) each a[n,k,y,x] collects δ · W from every window it is in."),
        )

    # The sizes Sequential chains are the channels (axis 1), as for Dense's features.
    def expected_in_features(self) -> int:
        return self.in_channels

    def output_features(self, in_features) -> int:
        return self.out_channels

    def output_shape(self, input_shape: tuple) -> tuple:
        """The output's (C, H, W) (or (C, L)) for an input of ``input_shape`` (without the batch axis)."""
        spatial = tuple(
            (size + sum(p) - d * (k - 1) - 1) // s + 1
            for size, k, s, p, d in zip(input_shape[1:], self.kernel_size, self.stride, self._pads, self.dilation)
        )
        return (self.out_channels, *spatial)

    def get_config(self) -> dict:
        def plain(value):
            return value if isinstance(value, str) else list(value)

        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": plain(self.padding),
            "dilation": list(self.dilation),
            "bias": self.b is not None,
            "activation": activation_config(self.activation),
            "weight_init": init.initializer_config(self.weight_init),
            "bias_init": init.initializer_config(self.bias_init),
            "weight_regularizer": None if self.weight_regularizer is None else self.weight_regularizer.get_config(),
            "dtype": self.W.dtype.name,
        }

    # PyTorch: Conv1d / Conv2d (weight (out, in, *kernel) as W here), then the activation's module.
    def to_torch_modules(self, nn) -> list:
        padding = self.padding if isinstance(self.padding, str) else tuple(self.padding)
        conv = getattr(nn, f"Conv{self._dims}d")(self.in_channels, self.out_channels, tuple(self.kernel_size),
                                                 stride=tuple(self.stride), padding=padding,
                                                 dilation=tuple(self.dilation), bias=self.b is not None)
        return [conv] + ([] if self.activation is None else [torch_activation(self.activation, nn)])

    def torch_layout(self) -> list:
        arrays = {"weight": "W", **({} if self.b is None else {"bias": "b"})}
        return [arrays] + ([] if self.activation is None else [{}])

    @classmethod
    def from_torch_modules(cls, modules: list, nn) -> tuple:
        module, activation = modules[0], following_activation(modules)
        if module.groups != 1 or module.padding_mode != "zeros":
            raise TypeError(f"torch.nn.{type(module).__name__}(groups={module.groups}, padding_mode="
                            f"{module.padding_mode!r}): only groups=1 and zero padding are supported")
        padding = module.padding if isinstance(module.padding, str) else tuple(module.padding)
        layer = cls(module.in_channels, module.out_channels, tuple(module.kernel_size), stride=tuple(module.stride),
                    padding=padding, dilation=tuple(module.dilation), bias=module.bias is not None,
                    activation=activation, dtype=torch_dtype_name(module.weight))
        return layer, 1 if activation is None else 2

    def extra_repr(self) -> str:
        one = (1,) * self._dims
        parts = [f"{self.in_channels}, {self.out_channels}", f"kernel_size={self.kernel_size}"]
        if self.stride != one:
            parts.append(f"stride={self.stride}")
        if self.padding != (0,) * self._dims:
            parts.append(f"padding={self.padding!r}" if isinstance(self.padding, str) else f"padding={self.padding}")
        if self.dilation != one:
            parts.append(f"dilation={self.dilation}")
        if self.b is None:
            parts.append("bias=False")
        if self.activation is not None:
            parts.append(f"activation={activation_config(self.activation)!r}")
        return ", ".join(parts)


@register_module
class Conv2d(_ConvNd):
    """A 2-D convolution: z[n, o] = Σ_k W[o, k] ⋆ a[n, k] + b[o], then a_out = f(z).

    Each output channel o has one kernel W[o] of shape (in_channels, kh, kw), slid over the
    image: z[n, o, r, c] = Σ_{k,i,j} W[o, k, i, j] · a[n, k, r·s + i·d, c·s + j·d] + b[o]
    (the notes' a = Σᵢⱼ θᵢⱼ xᵢⱼ at every position). ∂J/∂W is the sum over all positions
    that share W (the sum rule across paths).

    NCHW, as ``torch.nn.Conv2d``: W has shape (out_channels, in_channels, kh, kw) and b
    (out_channels,), so PyTorch's ``weight`` and ``bias`` copy over directly.

    Args:
        in_channels: C of the input (3 for an RGB image), a positive int.
        out_channels: the number of kernels (feature maps), a positive int.
        kernel_size: kh = kw, or (kh, kw).
        stride: s, an int or (sh, sw).
        padding: zeros on each side: an int, (ph, pw), "valid" (no padding) or "same"
            (stride 1; output as large as the input, the odd pad after, as in PyTorch). The
            two sides together may pad at most d·(k − 1) + s − 1 along an axis, so that the
            output is never larger than the input (PyTorch allows more; a model file could
            otherwise grow a small image without bound through a stack of layers).
        dilation: d, the spacing of kernel taps.
        bias: whether the layer has b.
        activation: f, as for :class:`~backprop.nn.Dense` (None: a = z).
        weight_init: initialiser of W; default by f as for Dense: relu/leaky_relu →
            "he_normal" (σ = √(2/fan_in)), otherwise "xavier_normal"
            (σ = √(2/(fan_in + fan_out))), with fan_in = in_channels·kh·kw and
            fan_out = out_channels·kh·kw (PyTorch's convention).
        bias_init: initialiser of b (default "zeros").
        weight_regularizer: penalty on W, never on b (as for Dense).
        dtype: float dtype of W and b (default: the library's default, float32).

    Raises:
        ValueError: for non-positive sizes, negative padding, padding beyond d·(k − 1) + s − 1,
            or "same" with a stride;
            at call time, naming the layer and the shapes, for an input that is not
            (N, in_channels, H, W) or smaller than the (dilated) kernel after padding.

    Example:
        >>> import numpy as np
        >>> layer = Conv2d(3, 8, kernel_size=3, padding=1, activation="relu")
        >>> layer.W.shape, layer.b.shape
        ((8, 3, 3, 3), (8,))
        >>> layer(np.zeros((2, 3, 64, 64), dtype=np.float32)).shape
        (2, 8, 64, 64)
    """

    _dims = 2
    _op = staticmethod(conv2d)
    torch_types = ("Conv2d",)


@register_module
class Conv1d(_ConvNd):
    """A 1-D convolution over (N, C, L): z[n, o, t] = Σ_{c,j} W[o, c, j] · a[n, c, t·s + j·d] + b[o].

    As ``torch.nn.Conv1d``: W of shape (out_channels, in_channels, k). The arguments are
    :class:`Conv2d`'s, with ints (or 1-tuples) for the sizes.

    Example:
        >>> import numpy as np
        >>> Conv1d(2, 4, kernel_size=3)(np.zeros((5, 2, 10), dtype=np.float32)).shape
        (5, 4, 8)
    """

    _dims = 1
    _op = staticmethod(conv1d)
    torch_types = ("Conv1d",)


class ConvOp(FusedOp):
    """The fused form of :class:`Conv2d`: z = W ⋆ a + b into the plan's buffer, then a = f(z); backward
    δ_z = δ_a ∘ f′(z) in place, then ∂J/∂W, ∂J/∂b and (when something upstream needs it) ∂J/∂a, by
    the engine op's own array functions (:func:`backprop.engine.ops.conv2d`), without its graph.

    The first layer with parameters gets no ``delta_in``: its ∂J/∂a (the image's) is never computed.
    """

    def __init__(self, layer: "_ConvNd"):
        self.layer = layer
        self.params = (layer.W,) if layer.b is None else (layer.W, layer.b)
        self.weight_params = (layer.W,)
        self._saved = None  # (z, flat layout?, phase planes) of the last forward

    @property
    def in_features(self) -> int:
        return self.layer.in_channels

    def out_shape(self, in_shape: tuple) -> tuple:
        layer = self.layer
        layer._check_input(_ShapeOnly(in_shape))
        return (in_shape[0], *layer.output_shape(tuple(in_shape[1:])))

    def _z(self, a: np.ndarray, out: Optional[np.ndarray], keep: Optional[list], relu_out=None) -> tuple:
        """(z, whether the flat layout was used, whether ``relu_out`` holds max(z, 0)), z in ``out``
        when its dtype is z's; z is None when only ``relu_out`` was written (a ReLU layer's forward:
        its backward's 1[z > 0] is 1[a > 0], the same mask)."""
        layer = self.layer
        W, b = layer.W.data, None if layer.b is None else layer.b.data
        made = []  # x's phase planes, where the finiteness check makes them (a stride)
        flat = _flat_windows(a, W, layer.stride, layer.dilation, layer._pads, made)
        dtype = np.result_type(a.dtype, W.dtype)
        target = out if out is not None and out.dtype == dtype else None
        relu_out = relu_out if target is not None and relu_out is not None and relu_out.dtype == dtype else None
        z = _conv2d_arrays(a, W, b, layer.stride, layer._pads, layer.dilation,
                           layer.output_shape(a.shape[1:])[1:], flat, keep, target, relu_out,
                           relu_only=relu_out is not None, planes=made[0] if made else None)
        activated = False
        if relu_out is not None:
            z, activated = z
        return z, flat, activated

    def forward(self, a, out):
        f = self.layer.activation
        planes = []
        z_out = out if f is None else self.buffer("z", out.shape, out.dtype)
        z, flat, activated = self._z(a, z_out, planes, out if f is not None and f.name == "relu" else None)
        if z is None:  # only a = max(z, 0) was written: the ReLU's δ ∘ 1[z > 0] reads 1[a > 0] instead
            z = out
        elif z is not z_out:
            np.copyto(z_out, z)
            z = z_out
        if f is not None and not activated:
            f.f_into(z, out)
        self._saved = (z, flat, planes[0])
        return out

    def backward(self, delta, a_in, out, delta_in, scratch, grads):
        layer, (z, flat, planes) = self.layer, self._saved
        self._saved = None
        if layer.activation is not None:
            layer.activation.backprop_into(delta, z, out, scratch)  # δ_z = δ_a ∘ f′(z)
        grad_x, grad_W, grad_b = _conv2d_backward(
            delta, a_in, layer.W.data, layer.stride, layer._pads, layer.dilation, flat,
            delta_in is not None, True, layer.b is not None, planes)
        grads[0][...] = grad_W
        if layer.b is not None:
            grads[1][...] = grad_b
        if delta_in is None:
            return None
        delta_in[...] = grad_x
        return delta_in

    def predict(self, a, overwrite):
        self.layer._check_input(_ShapeOnly(a.shape))  # (before any work array is allocated)
        f = self.layer.activation
        if f is not None and f.name == "relu":  # a = max(z, 0) written in the pass that crops z
            result = np.empty(self.out_shape(a.shape), np.result_type(a.dtype, self.layer.W.data.dtype))
            z, _, activated = self._z(a, result, None, relu_out=result)
            if activated:
                return result
        else:
            z = self._z(a, None, None)[0]
        if f is not None:
            f.f_into(z, z)
        return z


class _ShapeOnly:
    """Stands for an input of a given shape in the layer's input checks (which read only the shape)."""

    def __init__(self, shape: tuple):
        self.shape, self.ndim = tuple(shape), len(shape)


def _windows_of(a: np.ndarray, kernel: tuple, stride: tuple, pads: tuple, dilation: tuple, out_hw: tuple):
    """The (N, C, kh, kw, Ho, Wo) view of every window of a (zero padded): [n, k, i, j, r, c] is
    a[n, k, r·s + i·d, c·s + j·d] of the padded input."""
    a = np.pad(a, ((0, 0), (0, 0), *pads))
    sN, sC, sH, sW = a.strides
    shape = (*a.shape[:2], *kernel, *out_hw)
    strides = (sN, sC, sH * dilation[0], sW * dilation[1], sH * stride[0], sW * stride[1])
    return as_strided(a, shape, strides, writeable=False)


def _input_gradient_by_taps(delta: np.ndarray, W: np.ndarray, stride: tuple, pads: tuple, dilation: tuple,
                            shape: tuple) -> np.ndarray:
    """∂J/∂a of ``shape`` (N, C, H, W): for each tap (i, j), Σ_o W[o, :, i, j] δ[n, o] added at the
    positions that tap read, then the padding cropped (the sum over all windows an element is in)."""
    (N, C, H, W_in), (Ho, Wo) = shape, delta.shape[2:]
    grad = np.zeros((N, C, H + sum(pads[0]), W_in + sum(pads[1])), dtype=np.result_type(delta, W))
    for i in range(W.shape[2]):
        rows = slice(i * dilation[0], i * dilation[0] + stride[0] * (Ho - 1) + 1, stride[0])
        for j in range(W.shape[3]):
            cols = slice(j * dilation[1], j * dilation[1] + stride[1] * (Wo - 1) + 1, stride[1])
            grad[:, :, rows, cols] += np.einsum("nohw,ok->nkhw", delta, W[:, :, i, j])
    (top, _), (left, _) = pads
    return grad[:, :, top:top + H, left:left + W_in]


def _named(layer: str, argument: str, resolve, value):
    """``resolve(value)``, with errors prefixed by the layer and argument name."""
    try:
        return resolve(value)
    except (TypeError, ValueError) as error:
        raise (TypeError if isinstance(error, TypeError) else ValueError)(f"{layer}: {argument}: {error}") from None
