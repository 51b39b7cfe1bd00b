"""Plain-text tables for the diagnostics, at most 80 characters wide.

Numbers are shown with 4 significant digits, right-aligned in columns of 11
characters after a label column of 14: six numbers fit a line. Longer vectors
show their first entries and their length; taller matrices their first rows and
their number of rows. Vectors are printed as rows.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["WIDTH", "format_number", "format_residual", "vector_line", "matrix_lines", "trace_table", "table"]

WIDTH = 80
LABEL = 14
CELL = 11


def format_number(value: float) -> str:
    """4 significant digits: ``0.5933``, ``-1.234e-05``, ``0``, ``nan``."""
    value = float(value)
    if value == 0:
        return "0"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def _cells(values, max_items: int) -> str:
    values = np.asarray(values).reshape(-1)
    shown = values if values.size <= max_items else values[: max_items - 1]
    text = "".join(format_number(v).rjust(CELL) for v in shown)
    if values.size > max_items:
        text += f"  … ({values.size})"
    return text


def vector_line(label: str, values, max_items: int = 6, indent: int = 2) -> str:
    """``  label        v1         v2 ...`` on one line."""
    return (" " * indent + label).ljust(LABEL) + _cells(values, max_items)


def matrix_lines(label: str, matrix, max_items: int = 6, max_rows: int = 4, indent: int = 2) -> list:
    """A matrix, one row per line, the label on the first line."""
    matrix = np.asarray(matrix)
    if matrix.ndim == 1:
        return [vector_line(label, matrix, max_items, indent)]
    rows = matrix.shape[0]
    shown = matrix if rows <= max_rows else matrix[: max_rows - 1]
    lines = []
    for i, row in enumerate(shown):
        lines.append(vector_line(label if i == 0 else "", row, max_items, indent))
    if rows > max_rows:
        lines.append(" " * LABEL + "⋮".rjust(CELL) + f"  ({rows} rows)")
    return lines


def format_residual(value: float, dtype) -> str:
    """A residual, or ``< 1e-14`` (float64) / ``< 1e-05`` (float32) when it is rounding error.

    The floor, 16 machine epsilons rounded up to a power of ten, keeps printed
    tables identical across machines whose BLAS round differently.
    """
    floor = _rounding_floor(dtype)
    if value < floor:
        return f"< {floor:.0e}"
    return f"{value:.1e}"


def _rounding_floor(dtype) -> float:
    eps = float(np.finfo(np.dtype(dtype)).eps)
    return 10.0 ** math.ceil(math.log10(16 * eps))


def wrap(text: str, width: int = WIDTH, indent: str = "") -> list:
    """Greedy word wrap (``textwrap`` without its hyphen rules)."""
    import textwrap

    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=indent,
                         break_on_hyphens=False) or [indent]


def table(header: list, rows: list, widths: list) -> list:
    """Left-aligned first column, right-aligned others; returns lines."""
    def line(cells):
        first = str(cells[0]).ljust(widths[0])
        return (first + "".join(str(c).rjust(w) for c, w in zip(cells[1:], widths[1:]))).rstrip()

    return [line(header)] + [line(r) for r in rows]


# =================================================================== trace
def trace_table(trace, max_items: int = 6, max_rows: int = 4) -> str:
    """The text of ``print(trace)``; see :class:`backprop.diagnostics.trace.Trace`."""
    layers = trace.layers
    L = len(layers)
    sizes = "-".join(str(n) for n in [layers[0].n_in] + [layer.n_out for layer in layers])
    single = trace.single
    n = 1 if single else trace.x.shape[0]
    what = "one example" if single else f"a batch of {n} examples"
    lines = [f"Trace of {what} through a {sizes} network", f"Loss {trace.loss_name}: J = {format_number(trace.loss)}"]
    if single:
        lines += ["Column form of the notes: z^m = W^m a^(m-1) + b^m,  a^m = f(z^m),",
                  "δ^m = ∂J/∂z^m; W^m is n_out × n_in. Vectors are printed as rows."]
    else:
        lines += ["Batched form, one row per example: z^m = a^(m-1) (W^m)ᵀ + b^m,  a^m = f(z^m),",
                  "δ^m = ∂J/∂z^m; W^m is n_out × n_in. ∂J/∂W^m and ∂J/∂b^m are sums over",
                  "the examples (a mean loss has put its 1/N into δ)."]
    lines.append("")
    lines.append("Input and target")
    lines += matrix_lines("a^0 = x", trace.x, max_items, max_rows)
    lines += matrix_lines("y", trace.y, max_items, max_rows)

    for layer in layers:
        m = layer.index
        role = " (output)" if m == L else ""
        lines.append("")
        lines += wrap(f"Layer {m}{role}: {layer.description}", indent="")
        lines += matrix_lines(f"W^{m}", layer.W, max_items, max_rows)
        if layer.has_bias:
            lines += matrix_lines(f"b^{m}", layer.b, max_items, max_rows)
        lines += matrix_lines(f"z^{m}", layer.z, max_items, max_rows)
        lines += matrix_lines(f"a^{m}", layer.a, max_items, max_rows)
        if layer.jacobian:
            jac = layer.df if single else layer.df[0]
            which = "" if single else " of example 1"
            lines.append(f"  f′(z^{m}) is the softmax Jacobian diag(a) − a aᵀ{which}:")
            lines += matrix_lines("", jac, max_items, max_rows)
        else:
            lines += matrix_lines(f"f′(z^{m})", layer.df, max_items, max_rows)
        if m == L:
            lines += matrix_lines(f"∂J/∂a^{m}", layer.dJ_da, max_items, max_rows)
        lines += matrix_lines(f"δ^{m}", layer.delta, max_items, max_rows)
        lines += matrix_lines(f"∂J/∂W^{m}", layer.dW, max_items, max_rows)
        if layer.has_bias:
            lines += matrix_lines(f"∂J/∂b^{m}", layer.db, max_items, max_rows)
        if m == L:
            lines += _output_notes(trace, layer, n)

    lines.append("")
    lines += _residual_lines(trace)
    for note in trace.notes:
        lines.append("")
        lines += wrap(note)
    return "\n".join(lines) + "\n"


def _output_notes(trace, layer, n: int) -> list:
    if trace.output_in_loss == "softmax":
        per = "" if n == 1 else f" (÷ N = {n}, a mean)"
        return ["  Softmax with cross-entropy: δ^L = a^L − y" + per + ",",
                "  i.e. the Jacobian of the softmax times ∂J/∂a^L = −y / a^L."]
    if trace.output_in_loss == "sigmoid":
        terms = layer.a.size
        per = "" if terms == 1 else f" (÷ n = {terms}, a mean)"
        return ["  Sigmoid with binary cross-entropy: δ^L = a^L − y" + per + ",",
                "  i.e. f′(z^L) = a(1 − a) times ∂J/∂a^L = (a − y) / (a(1 − a))."]
    if layer.jacobian:
        return ["  f′ is the softmax Jacobian: equation (1) reads",
                "  δ^L = (diag(a) − a aᵀ) ∂J/∂a^L."]
    return []


def _residual_lines(trace) -> list:
    lines = wrap("The four equations, evaluated from the records above; max |residual| against "
                 f"the engine's gradients ({np.dtype(trace.dtype).name}):")
    jacobian = trace.layers[-1].jacobian
    formulas = [
        "(1) δ^L = (diag(a) − a aᵀ) ∂J/∂a^L   (f′ is the softmax Jacobian)" if jacobian
        else "(1) δ^L = f′(z^L) ∘ ∂J/∂a^L",
        "(2) δ^m = f′(z^m) ∘ (W^(m+1))ᵀ δ^(m+1)",
        "(3) ∂J/∂W^m = δ^m (a^(m-1))ᵀ" + ("" if trace.single else "   (Σ over examples)"),
        "(4) ∂J/∂b^m = δ^m" + ("" if trace.single else "                (Σ over examples)"),
    ]
    lines += ["  " + f for f in formulas]
    lines.append("")
    L = len(trace.layers)
    res = trace.residuals
    rows = []
    for layer in trace.layers:
        m = layer.index
        delta = res["output_delta"][m] if m == L else res["hidden_delta"][m]
        bias = res["bias_gradient"].get(m)
        rows.append([
            f"  {m}" + (" (L)" if m == L else ""),
            f"({'1' if m == L else '2'}) " + format_residual(delta, trace.dtype),
            "(3) " + format_residual(res["weight_gradient"][m], trace.dtype),
            "—" if bias is None else "(4) " + format_residual(bias, trace.dtype),
        ])
    lines += table(["  layer", "δ^m", "∂J/∂W^m", "∂J/∂b^m"], rows, [10, 18, 18, 18])
    floor = _rounding_floor(trace.dtype)
    if trace.max_residual < floor:
        lines.append("All four equations hold to rounding error.")
    else:
        lines.append(f"Largest residual {trace.max_residual:.1e}: above rounding error ({floor:.0e}).")
    return lines


# ========================================================= gradient monitor
def format_value(value: float) -> str:
    """``1.2e-03`` style for norms and ratios; ``—`` for a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if value == 0:
        return "0"
    return f"{value:.1e}"


def gradient_report(monitor) -> str:
    """The text of :meth:`GradientMonitor.report`."""
    history = monitor.history
    epochs = len(monitor.losses) or max((len(v) for v in history.get("grad_norm", {}).values()), default=0)
    lines = [f"Gradient flow over {epochs} epoch{'s' if epochs != 1 else ''}"]
    if not monitor.layers or not epochs:
        lines.append("Nothing recorded yet: pass the monitor to fit(callbacks=[...]).")
        return "\n".join(lines) + "\n"
    lines.append("‖∂J/∂W‖: mean over the epoch's steps; ‖ΔW‖/‖W‖: change over the epoch;")
    if getattr(monitor, "probe_used", False):
        lines.append("dead: ReLUs at 0 on every probe example; sat.: saturated activations.")
    else:
        lines.append("dead ReLUs and saturated units need GradientMonitor(probe=(X, y)).")
    lines.append("")
    header = ["layer", "f", "‖∂J/∂W‖ first", "last", "‖ΔW‖/‖W‖", "dead", "sat."]
    rows = []
    for name, description in monitor.layers:
        norms = history["grad_norm"].get(name, [])
        ratios = history["update_ratio"].get(name, [])
        dead = history["dead_relu"].get(name)
        sat = history["saturated"].get(name)
        rows.append([
            name.replace("layer ", ""),
            _short(description.rsplit(", ", 1)[-1], 12),
            format_value(norms[0]) if norms else "—",
            format_value(norms[-1]) if norms else "—",
            format_value(ratios[-1]) if ratios else "—",
            f"{dead[-1]:.0%}" if dead else "",
            f"{sat[-1]:.0%}" if sat else "",
        ])
    lines += table(header, rows, [6, 13, 15, 10, 11, 7, 7])
    first = history["grad_norm"].get(monitor.layers[0][0], [])
    last = history["grad_norm"].get(monitor.layers[-1][0], [])
    if len(monitor.layers) > 1 and first and last and len(monitor.weight_sizes) == len(monitor.layers):
        scale = math.sqrt(monitor.weight_sizes[-1] / monitor.weight_sizes[0])
        ratios = [f * scale / l if l else math.nan for f, l in ((first[0], last[0]), (first[-1], last[-1]))]
        lines.append("")
        lines.append(f"Per weight, ∂J/∂W of layer 1 / layer {len(monitor.layers)}: "
                     f"{format_value(ratios[0])} in epoch 1, {format_value(ratios[1])} in epoch {len(first)}.")
    if monitor.losses:
        lines.append(f"Training loss: {format_number(monitor.losses[0])} after epoch 1, "
                     f"{format_number(monitor.losses[-1])} after epoch {len(monitor.losses)}.")
    lines.append("")
    if monitor.warnings:
        lines.append("Problems found:")
        for message in monitor.warnings:
            text = message.replace("GradientMonitor: ", "")
            lines += _bullet(text[:1].upper() + text[1:])
    else:
        lines.append("No problems found: gradients reach the first layer, the loss goes down.")
    return "\n".join(lines) + "\n"


def _bullet(text: str) -> list:
    wrapped = wrap(text, WIDTH - 2)
    return ["- " + wrapped[0]] + ["  " + line for line in wrapped[1:]]


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
