"""What a model takes as X, checked before any work: features, category codes, or one input per branch.

The first layer of a network says what its input is (:attr:`Module.input_kind
<backprop.nn.Module.input_kind>`), found by walking ``sequential_layers()`` down to it:

* ``"features"`` (Dense, Conv, ...): a numeric array, converted to the weights' float dtype
  (:func:`backprop.training.data.check_features`);
* ``"codes"`` (Embedding): an integer array of category codes, every code in the layer's
  range, kept as integers;
* ``"branches"`` (Concat): a tuple (in branch order) or a dict (by branch name) of arrays,
  each checked for its branch's first layer as above, all with the same number of rows,
  gathered into an :class:`~backprop.training.input_set.InputSet`.

Every refusal is a ValueError naming the input (``X['city']``), the layer and what is allowed.
"""

from __future__ import annotations

import numpy as np

from backprop.training import data as data_module
from backprop.training.input_set import InputSet

__all__ = ["entry_layer", "input_kind", "check_inputs", "takes_one_array"]


def feature_dtype(model, X, dtype):
    """``dtype`` (the weights') if batches of X are cast to it, or None to deliver them as they are.

    Only features are cast (an out-of-core memmap of another dtype, batch by batch); category
    codes stay integers and several inputs (an InputSet) were converted when checked.
    """
    if not isinstance(X, np.ndarray) or getattr(entry_layer(model), "input_kind", "features") != "features":
        return None
    return dtype


def entry_layer(model):
    """The first layer the data meets: ``sequential_layers()[0]``, followed down nested containers."""
    module = model
    while True:
        layers = module.sequential_layers() if hasattr(module, "sequential_layers") else None
        if not layers:
            return module
        module = layers[0]


def input_kind(model) -> str:
    """``"features"``, ``"codes"`` or ``"branches"``: what ``model``'s first layer takes."""
    return getattr(entry_layer(model), "input_kind", "features")


def takes_one_array(model) -> bool:
    """True when X is one array of features (the fast path's and the scikit-learn front's case)."""
    return input_kind(model) == "features"


def check_inputs(model, X, *, dtype, n_features: int | None = None, name: str = "X", out_of_core: bool = False):
    """X validated and converted for ``model``: an ndarray, or an :class:`InputSet` for a Concat model.

    Args:
        dtype: the float dtype features are converted to (the weights').
        n_features: the number of features (or code columns) X must have, or None.
        name: for messages (``"X"``, ``"validation X"``).
        out_of_core: a memmap of features is kept as it is (cast batch by batch), not converted whole.

    Raises:
        ValueError: naming the problem (see the module docstring); nothing is modified.
    """
    entry = entry_layer(model)
    kind = getattr(entry, "input_kind", "features")
    several = _several_inputs(X)
    if kind == "branches":
        return _check_branches(entry, X, dtype=dtype, name=name)
    if several:
        raise ValueError(f"{name} is a {type(X).__name__} of {len(X)} inputs, but the model's first layer "
                         f"({type(entry).__name__}) takes one array; use nn.Concat(...) as the first layer "
                         "to take one input per branch")
    if kind == "codes":
        return _check_codes(entry, X, n_features=n_features, name=name)
    return data_module.check_features(X, dtype=dtype, n_features=n_features, name=name, out_of_core=out_of_core)


def _several_inputs(X) -> bool:
    """A dict, or a tuple of matrices or frames: several inputs (a tuple or list of rows is one array)."""
    if isinstance(X, dict):
        return True
    return isinstance(X, tuple) and any(
        (isinstance(item, np.ndarray) and item.ndim >= 2) or hasattr(item, "columns") for item in X)


def _check_codes(layer, X, *, n_features, name) -> np.ndarray:
    array = data_module.as_array(X, name)
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 examples")
    if n_features is not None and array.ndim == 2 and array.shape[1] != n_features:
        raise ValueError(f"{name} has {array.shape[1]} code columns, but the model expects {n_features}")
    return np.ascontiguousarray(layer.check_codes(array, name=name))


def _check_branches(concat, X, *, dtype, name) -> InputSet:
    names = concat.branch_names
    if not isinstance(X, (dict, tuple, list)):
        raise ValueError(f"{name} must be a tuple or dict of {len(names)} arrays, one per branch {list(names)} of "
                         f"the model's Concat; got a {type(X).__name__}")
    try:
        given = concat.branch_inputs(X)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
    arrays = []
    for (branch_name, branch), value in zip(concat.branches(), given):
        if input_kind(branch) == "branches":
            raise ValueError(f"{name}: branch {branch_name!r} starts with a Concat; nested branches are not supported")
        label = f"{name}[{branch_name!r}]"
        arrays.append(check_inputs(branch, value, dtype=dtype, n_features=branch.expected_in_features(),
                                   name=label))
    lengths = [a.shape[0] for a in arrays]
    if len(set(lengths)) > 1:
        raise ValueError(f"{name}: the inputs have different numbers of examples "
                         f"{dict(zip(names, lengths))}; every branch needs one row per example")
    return InputSet(arrays, names if isinstance(X, dict) else None)
