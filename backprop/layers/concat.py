"""Concat: one branch per input, their outputs joined along the feature axis.

A table with categorical and numeric columns enters a network through several inputs: the
codes of each categorical column through an Embedding, the numeric columns as they are.
``Concat`` runs branch j on input j and concatenates the results,

    a = [f₁(x₁), f₂(x₂), ..., f_m(x_m)]      (along axis 1: (N, k₁ + k₂ + ... + k_m))

as Keras's ``Concatenate`` over several ``Input`` s. Backward hands each branch its own
columns of δ. It is a network's first layer: its input is a tuple (branches in order) or a
dict (branches by name) of arrays, which ``fit``, ``predict`` and ``evaluate`` accept as X::

    model = nn.Sequential(
        nn.Concat({"city": nn.Embedding(2000, 8), "numeric": nn.Identity()}),
        nn.Dense(8 + 5, 16, activation="relu"), nn.Dense(16, 1))
    model.fit({"city": codes, "numeric": X_numeric}, y, loss="mse")
"""

from __future__ import annotations

import re
from typing import Optional

from backprop.engine.ops.shape import concatenate
from backprop.engine.tensor import Tensor, as_tensor
from backprop.layers.module import Module
from backprop.layers.registry import declared_state_shapes, module_from_config, module_to_config, register_module

__all__ = ["Concat"]

_NAME = re.compile(r"[A-Za-z0-9_]{1,64}\Z")  # a state-dict key part: no dot, bounded
MAX_BRANCHES = 1000


@register_module
class Concat(Module):
    """Apply branch j to input j and concatenate the branches' (N, k_j) outputs: (N, Σ k_j).

    Args:
        *branches: Modules, in input order (named "0", "1", ...); or one dict
            ``{name: Module}`` (inputs are then given by name, or as a tuple in this order);
            or one list/tuple of Modules. Names are letters, digits and "_".

    Input: a tuple/list with one array per branch, or (for named branches) a dict with
    exactly the branches' names. Each branch must output (N, k) rows (end an Embedding of
    several codes per example with ``nn.Flatten()``).

    Raises:
        TypeError: a branch that is not a Module, or a name that is not a string.
        ValueError: no branch, or an invalid name.
    """

    input_kind = "branches"

    def __init__(self, *branches):
        super().__init__()
        if len(branches) == 1 and isinstance(branches[0], (dict, list, tuple)):
            branches = branches[0]
        named = isinstance(branches, dict)
        items = list(branches.items()) if named else [(str(j), b) for j, b in enumerate(branches)]
        if not items:
            raise ValueError("Concat: needs at least one branch, e.g. Concat(nn.Embedding(100, 4), nn.Identity())")
        if len(items) > MAX_BRANCHES:
            raise ValueError(f"Concat: at most {MAX_BRANCHES} branches, got {len(items)}")
        for name, branch in items:
            if not isinstance(name, str):
                raise TypeError(f"Concat: branch names must be strings, got {name!r}")
            if not _NAME.match(name):
                raise ValueError(f"Concat: branch name {name[:80]!r} must be 1 to 64 letters, digits or '_'")
            if not isinstance(branch, Module):
                raise TypeError(f"Concat: branch {name!r} must be a Module, got {type(branch).__name__}")
        self.named_branches = named
        self.branch_names = tuple(name for name, _ in items)
        for name, branch in items:
            setattr(self, name, branch)

    def branches(self) -> list:
        """``[(name, branch)]`` in input order."""
        return [(name, self._modules[name]) for name in self.branch_names]

    def branch_inputs(self, inputs) -> list:
        """The inputs in branch order, from a tuple/list or (named branches) a dict.

        Raises:
            ValueError: not a tuple/list/dict, the wrong number of inputs, or dict keys that are
                not the branches' names.
        """
        names = self.branch_names
        if isinstance(inputs, dict):
            if not self.named_branches:
                raise ValueError(f"Concat: its branches have no names; give the {len(names)} inputs as a tuple")
            missing = [n for n in names if n not in inputs]
            unknown = sorted(str(k)[:40] for k in inputs if k not in names)
            if missing or unknown:
                raise ValueError(f"Concat: the inputs' keys must be the branches' names {list(names)}; "
                                 f"missing {missing}, unknown {unknown[:10]}")
            return [inputs[n] for n in names]
        if isinstance(inputs, (tuple, list)):
            if len(inputs) != len(names):
                raise ValueError(f"Concat: {len(names)} branches {list(names)} need {len(names)} inputs, got {len(inputs)}")
            return list(inputs)
        raise ValueError(f"Concat: the input must be a tuple or dict of {len(names)} arrays, one per branch "
                         f"{list(names)}; got a {type(inputs).__name__}")

    def forward(self, inputs) -> Tensor:
        outputs = []
        for (name, branch), x in zip(self.branches(), self.branch_inputs(inputs)):
            out = as_tensor(branch(x))
            if out.ndim != 2:
                raise ValueError(f"Concat: branch {name!r} outputs shape {out.shape}; each branch must output (N, k) "
                                 "rows (end it with nn.Flatten())")
            outputs.append(out)
        rows = {out.shape[0] for out in outputs}
        if len(rows) > 1:
            raise ValueError(f"Concat: the branches output different numbers of rows "
                             f"{dict(zip(self.branch_names, (o.shape[0] for o in outputs)))}")
        return concatenate(outputs, axis=1)

    def output_features(self, in_features) -> Optional[int]:
        return None  # each branch has its own input

    # ------------------------------------------------------------- config
    def get_config(self) -> dict:
        described = {name: module_to_config(branch) for name, branch in self.branches()}
        return {"branches": described if self.named_branches else list(described.values())}

    @classmethod
    def from_config(cls, config: dict) -> "Concat":
        """Rebuild from ``{"branches": {name: description}}`` or ``{"branches": [description, ...]}``."""
        branches = _branch_descriptions(config)
        if isinstance(branches, dict):
            return cls({name: module_from_config(d) for name, d in branches.items()})
        return cls([module_from_config(d) for d in branches])

    @classmethod
    def state_shapes(cls, config: dict) -> dict:
        """Each branch's :meth:`~Module.state_shapes`, its keys prefixed with the branch's name."""
        branches = _branch_descriptions(config)
        items = branches.items() if isinstance(branches, dict) else ((str(j), d) for j, d in enumerate(branches))
        shapes = {}
        for name, description in items:
            if not isinstance(name, str) or not _NAME.match(name):
                raise ValueError(f"Concat: branch name {str(name)[:80]!r} must be 1 to 64 letters, digits or '_'")
            shapes.update({f"{name}.{key}": shape for key, shape in declared_state_shapes(description).items()})
        return shapes

    def extra_repr(self) -> str:
        return ""


def _branch_descriptions(config):
    if not isinstance(config, dict) or set(config) != {"branches"} or not isinstance(config["branches"], (list, dict)):
        raise TypeError("Concat: config must be {'branches': {name: layer description}} or {'branches': [...]}")
    branches = config["branches"]
    if not branches or len(branches) > MAX_BRANCHES:
        raise ValueError(f"Concat: needs 1 to {MAX_BRANCHES} branches, got {len(branches)}")
    return branches
