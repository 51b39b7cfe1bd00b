"""The decision boundary of a classifier with two inputs, drawn over its training points."""

from __future__ import annotations

import os

import numpy as np

from backprop.checks import check_int
from backprop.plot._canvas import new_figure, save_figure

__all__ = ["decision_boundary"]


def _predicted_classes(model, points: np.ndarray) -> np.ndarray:
    """Class index per row of ``points``, from whatever ``model.predict`` returns.

    * ``(n, K)`` scores with K > 1 (logits or probabilities): the argmax.
    * ``(n,)`` or ``(n, 1)`` whole numbers: taken as class indices / labels.
    * ``(n,)`` or ``(n, 1)`` other floats: one score for the positive class,
      thresholded at 0.5 if every score lies in [0, 1] (a probability) and at 0
      otherwise (a logit).
    """
    predict = getattr(model, "predict", None) or model
    if not callable(predict):
        raise TypeError(f"model must have a predict method or be callable, got {type(model).__name__}")
    scores = predict(points)
    scores = np.asarray(getattr(scores, "data", scores))  # a backprop Tensor -> its array
    if scores.ndim == 2 and scores.shape[1] > 1:
        return scores.argmax(axis=1)
    scores = scores.reshape(len(points))
    if scores.dtype.kind in "iub" or scores.dtype.kind in "OU":
        return scores
    if np.all(scores == np.round(scores)):
        return scores
    threshold = 0.5 if scores.min() >= 0 and scores.max() <= 1 else 0.0
    return (scores >= threshold).astype(np.int64)


def _shared_classes(labels: list, predicted: list) -> tuple[list, list]:
    """Put true and predicted labels on one list of classes.

    A model that returns class indices while ``y`` holds other labels (strings,
    say) has its indices mapped to the sorted labels of ``y``; a predicted label
    ``y`` never shows gets a class of its own.
    """
    known = set(labels)
    if all(p in known for p in predicted):
        return labels, predicted
    if all(isinstance(p, (int, float)) and float(p).is_integer() and 0 <= p < len(labels) for p in predicted):
        return labels, [labels[int(p)] for p in predicted]
    return labels + sorted({p for p in predicted if p not in known}, key=str), predicted


def _axis_names(X, feature_names) -> list:
    """The two axis labels: ``feature_names``, else a DataFrame's column names, else x1 and x2."""
    if feature_names is None:
        columns = getattr(X, "columns", None)
        return [str(c) for c in columns] if columns is not None and len(columns) == 2 else ["x1", "x2"]
    names = list(feature_names) if not isinstance(feature_names, str) else None
    if names is None or len(names) != 2 or not all(isinstance(n, str) for n in names):
        raise ValueError(f"feature_names must be two strings, one per column of X, got {feature_names!r}")
    return names


def _class_names(labels: list, class_names) -> list:
    """What the legend calls each label: ``class_names[label]`` (a mapping) or the k-th name (a sequence)."""
    if class_names is None:
        return [str(label) for label in labels]
    if isinstance(class_names, dict):
        return [str(class_names.get(label, label)) for label in labels]
    names = list(class_names) if not isinstance(class_names, str) else []
    if len(names) != len(labels):
        raise ValueError(f"class_names must name each of the {len(labels)} classes {labels[:10]} (in that order) "
                         f"or map labels to names, got {class_names!r}")
    return [str(name) for name in names]


def decision_boundary(model, X, y, path: str | os.PathLike | None = None, *,
                      resolution: int = 200, margin: float = 0.1, feature_names=None, class_names=None):
    """Colour the plane by the class ``model`` predicts, and scatter the points on top.

    Example::

        >>> import numpy as np
        >>> class Halfplane:  # anything with predict(points) -> scores works
        ...     def predict(self, points):
        ...         return points[:, 0] - points[:, 1]
        >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 3.0], [3.0, 2.0]])
        >>> figure = decision_boundary(Halfplane(), X, [0, 1, 0, 1])

    Args:
        model: A fitted model whose ``predict(points)`` maps an ``(n, 2)`` array to
            class scores: ``(n, K)`` logits or probabilities (argmax), a single
            logit or probability per row, or class labels.
        X: The inputs, shape ``(n, 2)``.
        y: Their true labels, shape ``(n,)`` (any type: ints, strings...).
        path: If given, the figure is also written there (format from the
            extension), atomically.
        resolution: Grid points per axis.
        margin: Extra room around the data, as a fraction of each axis' range.
        feature_names: The axes' labels, two strings. Default: the column names when
            ``X`` is a DataFrame, else "x1" and "x2".
        class_names: What the legend calls the classes: a sequence with one name per
            class of ``y`` (in sorted order), or a mapping ``{label: name}``. Default:
            the labels of ``y`` themselves; the legend's title is ``y``'s name when it
            is a pandas Series, else "class".

    Returns:
        The :class:`matplotlib.figure.Figure`.

    Raises:
        ImportError: matplotlib is not installed (``pip install "backprop-nn[plot]"``).
        ValueError: ``X`` is not ``(n, 2)``, ``y`` does not match it, or
            ``resolution`` is below 2.
    """
    axis_names = _axis_names(X, feature_names)
    title = str(y.name) if getattr(y, "name", None) is not None and hasattr(y, "to_numpy") else "class"
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2 or len(X) == 0:
        raise ValueError(f"decision_boundary needs X of shape (n, 2) with n >= 1, got {X.shape}")
    if y.shape != (len(X),):
        raise ValueError(f"y must have shape ({len(X)},) to match X, got {y.shape}")
    resolution = check_int(resolution, "resolution", "decision_boundary", low=2)

    low, high = X.min(axis=0), X.max(axis=0)
    pad = margin * np.where(high > low, high - low, 1.0)
    grid_x, grid_y = np.meshgrid(np.linspace(low[0] - pad[0], high[0] + pad[0], resolution),
                                 np.linspace(low[1] - pad[1], high[1] + pad[1], resolution))
    points = np.column_stack([grid_x.ravel(), grid_y.ravel()]).astype(np.float32)
    predicted = _predicted_classes(model, points)

    classes, predicted = _shared_classes(np.unique(y).tolist(), predicted.tolist())
    code = {label: k for k, label in enumerate(classes)}  # one colour per class, regions and points alike
    region = np.array([code[v] for v in predicted]).reshape(grid_x.shape)

    figure, (axes,) = new_figure(1, width_per_axes=5.5, height=4.5)
    from matplotlib.colors import ListedColormap  # importable: new_figure checked matplotlib

    colours = [f"C{k % 10}" for k in range(len(classes))]
    axes.contourf(grid_x, grid_y, region, levels=np.arange(len(classes) + 1) - 0.5,
                  cmap=ListedColormap(colours), alpha=0.3)
    labels = np.unique(y).tolist()
    for label, name in zip(labels, _class_names(labels, class_names)):
        mask = y == label
        axes.scatter(X[mask, 0], X[mask, 1], s=18, color=colours[code[label]],
                     edgecolors="black", linewidths=0.4, label=name)
    axes.set_xlabel(axis_names[0])
    axes.set_ylabel(axis_names[1])
    axes.set_title("decision boundary")
    axes.legend(title=title, loc="best")
    if path is not None:
        save_figure(figure, path)
    return figure
