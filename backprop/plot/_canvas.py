"""The two things every plot here needs: a pyplot-free Agg figure, and an atomic save.

We never import ``matplotlib.pyplot``: it selects a global backend and keeps every
figure alive in a global registry, which a library must not do to its users. A
:class:`matplotlib.figure.Figure` with its own ``FigureCanvasAgg`` renders
anywhere, with or without a display, and is garbage-collected like any object.
"""

from __future__ import annotations

import io
import os

from backprop._install import install_hint
from backprop.io import atomic_write_bytes

__all__ = ["new_figure", "save_figure"]

_INSTALL_HINT = f"plotting needs matplotlib, an optional dependency: {install_hint('plot')}"


def new_figure(ncols: int = 1, *, width_per_axes: float = 5.0, height: float = 4.0):
    """A Figure on an Agg canvas with ``ncols`` side-by-side axes.

    Returns:
        ``(figure, axes)``: ``axes`` is a list of ``ncols`` Axes.

    Raises:
        ImportError: matplotlib is not installed (the message says how to install it).
    """
    try:
        import matplotlib  # noqa: F401 - first, so a missing package fails here with our message
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(_INSTALL_HINT) from None
    figure = Figure(figsize=(width_per_axes * ncols, height), layout="constrained")
    FigureCanvasAgg(figure)
    axes = [figure.add_subplot(1, ncols, k + 1) for k in range(ncols)]
    return figure, axes


def save_figure(figure, path: str | os.PathLike, *, dpi: int = 100) -> None:
    """Write ``figure`` to ``path`` atomically, in the format its extension names (.png, .svg, .pdf...).

    The image is rendered in memory first and then written to a temporary file
    that replaces ``path`` (:func:`backprop.io.atomic_write_bytes`), so a reader
    never sees half an image and a failed render leaves an old file intact.

    Raises:
        ValueError: the extension is missing or not a format matplotlib can write.
        OSError: the file cannot be written.
    """
    path = os.fspath(path)
    extension = os.path.splitext(path)[1].lower().lstrip(".")
    supported = figure.canvas.get_supported_filetypes()
    if extension not in supported:
        raise ValueError(
            f"cannot tell the image format of {path!r} from its extension; "
            f"use one of {', '.join('.' + e for e in sorted(supported))}"
        )
    buffer = io.BytesIO()
    figure.savefig(buffer, format=extension, dpi=dpi)
    atomic_write_bytes(path, buffer.getvalue())
