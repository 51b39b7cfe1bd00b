"""``fit(..., class_weight=...)``: a weight per class, turned into a weight per training example.

As in Keras, the weights scale each example's term of the loss during training (validation
data are not weighted by them), and they multiply ``sample_weight`` when both are given:
example i weighs ``sample_weight[i] · class_weight[y_i]``. With the mean losses'
normalisation J = Σ wᵢ Lᵢ / Σ wᵢ, a class weight of 2 counts each example of that class as
two copies of it (the tests check exactly that).

``class_weight`` is one of

* a dict ``{label: weight}`` keyed by the original class labels (those of ``y``, strings
  included, not the codes): a class left out weighs 1 (Keras's and scikit-learn's rule),
  a label that is not a class is refused;
* ``"balanced"``: scikit-learn's w_k = n / (K · n_k), n examples in K present classes,
  n_k of class k (``sklearn.utils.class_weight.compute_class_weight``).
"""

from __future__ import annotations

import numbers

import numpy as np

from backprop.training.data import encode_labels, normalise_labels

__all__ = ["class_example_weights", "class_weight_table"]


def class_example_weights(class_weight, codes: np.ndarray, classes: np.ndarray, dtype) -> np.ndarray:
    """The weight of each example, ``class_weight[classes[codes[i]]]``.

    Args:
        class_weight: a dict ``{label: weight}`` or ``"balanced"`` (see the module docstring).
        codes: each example's class index into ``classes``.
        classes: the class labels, sorted (the fit record's).
        dtype: the weights' dtype (the parameters').

    Raises:
        ValueError: as :func:`class_weight_table`.
    """
    return class_weight_table(class_weight, codes, classes)[codes].astype(dtype)


def class_weight_table(class_weight, codes: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Each class's weight w_k (float64, in the order of ``classes``): what training multiplies by,
    and what a checkpoint records of ``class_weight``. Arguments as :func:`class_example_weights`.

    Raises:
        ValueError: a label that is not one of ``classes`` (naming it and the classes), a weight
            that is negative or not finite, or another kind of ``class_weight``.
    """
    n_classes = classes.shape[0]
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be a dict {{label: weight}} or 'balanced', got {class_weight!r}")
        counts = np.bincount(codes, minlength=n_classes).astype(np.float64)
        present = counts > 0
        table = np.ones(n_classes)
        table[present] = codes.shape[0] / (present.sum() * counts[present])
        return table
    if not isinstance(class_weight, dict):
        raise ValueError(f"class_weight must be a dict {{label: weight}} or 'balanced', "
                         f"got {type(class_weight).__name__}")
    table = np.ones(n_classes)
    if class_weight:
        labels = normalise_labels(np.array(list(class_weight), dtype=object), "class_weight's labels")
        index = encode_labels(labels, classes, "class_weight")
        for label, k in zip(class_weight, index):
            value = class_weight[label]
            if (isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value)
                    or value < 0):
                raise ValueError(f"class_weight[{label!r}] must be a finite number >= 0, got {value!r}")
            table[k] = float(value)
    return table
