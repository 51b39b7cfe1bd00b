"""Embedded categorical columns on the command line: ``backprop train --embed-above K [--embedding-dim auto|D]``.

A categorical column with more than K categories is not one-hot encoded: the preprocessor
(:class:`~backprop.cli.preprocessing.TabularPreprocessor` with ``embed_above=K``) maps it to
integer codes (0 for a category training never saw), and the network starts with

    nn.Concat({"features": nn.Identity(),                       # the other columns, as before
               "e0": nn.Embedding(n₀ + 1, D₀, padding_idx=0),   # one per embedded column
               ...})

whose (N, n_features + Σ D_j) output feeds the usual Dense layers. With ``auto``, D_j is
fastai's rule min(50, round(1.6 · n_j^0.56)) (:func:`backprop.layers.embedding.embedding_dim_rule`).
"""

from __future__ import annotations

import click
import numpy as np

from backprop.cli.errors import CLIError
from backprop.cli.preprocessing import FEATURES_BRANCH, UNKNOWN_CODE

__all__ = ["EmbeddingDim", "input_layer", "check_model_inputs", "n_rows", "first_rows", "MAX_EMBEDDING_DIM"]

MAX_EMBEDDING_DIM = 10_000


class EmbeddingDim(click.ParamType):
    """``auto`` (None: fastai's rule per column) or a positive number of dimensions."""

    name = "auto|N"

    def convert(self, value, param, ctx):
        if value is None or isinstance(value, int):
            return value
        text = str(value).strip().lower()
        if text == "auto":
            return None
        if not text.isdecimal() or not 1 <= int(text) <= MAX_EMBEDDING_DIM:
            self.fail(f"{value!r} is not 'auto' or a number of dimensions in 1..{MAX_EMBEDDING_DIM}", param, ctx)
        return int(text)


def embedding_dims(preprocessor, dim) -> list:
    """D for each embedded column: ``dim``, or fastai's rule on its number of categories."""
    from backprop.layers.embedding import embedding_dim_rule

    return [dim if dim is not None else embedding_dim_rule(column["n_codes"] - 1)
            for column in preprocessor.embedded_columns]


def input_layer(preprocessor, dim):
    """``(Concat, width of its output)`` for a preprocessor with embedded columns, else None."""
    from backprop import nn

    columns = preprocessor.embedded_columns
    if not columns:
        return None
    branches = {FEATURES_BRANCH: nn.Identity()} if preprocessor.n_features_out else {}
    for column, size in zip(columns, embedding_dims(preprocessor, dim)):
        # padding_idx: an unseen category (code 0) gets the zero vector, as one-hot gives it the zero row
        branches[column["input"]] = nn.Embedding(column["n_codes"], size, padding_idx=UNKNOWN_CODE)
    width = preprocessor.n_features_out + sum(embedding_dims(preprocessor, dim))
    return nn.Concat(branches), width


def input_shapes(preprocessor):
    """One example's shape per input, for :meth:`Model.summary`: ``{"features": (n,), "e0": (), ...}``
    (one code per embedded column); None when the preprocessor embeds nothing."""
    columns = preprocessor.embedded_columns
    if not columns:
        return None
    shapes = {FEATURES_BRANCH: (preprocessor.n_features_out,)} if preprocessor.n_features_out else {}
    shapes.update({column["input"]: () for column in columns})
    return shapes


def check_model_inputs(model, preprocessor, path) -> bool:
    """For a preprocessor with embedded columns: the network must start with the Concat it builds
    (the same inputs, each Embedding with one row per code). True when it was checked; False
    when the preprocessor embeds nothing (the caller checks the width of one matrix).

    Raises:
        CLIError: naming the file and what differs.
    """
    columns = preprocessor.embedded_columns
    if not columns:
        return False
    from backprop.layers.concat import Concat
    from backprop.layers.embedding import Embedding
    from backprop.training.inputs import entry_layer

    entry = entry_layer(model)
    expected = ([FEATURES_BRANCH] if preprocessor.n_features_out else []) + [c["input"] for c in columns]
    if not isinstance(entry, Concat) or list(entry.branch_names) != expected:
        raise CLIError(f"{path}: the preprocessing makes the inputs {expected} but the network does not start "
                       "with a Concat of those branches")
    branches = dict(entry.branches())
    for column in columns:
        layer = branches[column["input"]]
        if not isinstance(layer, Embedding) or layer.num_embeddings != column["n_codes"]:
            raise CLIError(f"{path}: the column {str(column['name'])[:80]!r} has {column['n_codes']} codes but the "
                           f"network's input {column['input']!r} is not an Embedding of as many rows")
    return True


def n_rows(X) -> int:
    """Rows of a matrix or of a dict of inputs."""
    return len(next(iter(X.values()))) if isinstance(X, dict) else len(X)


def first_rows(X, n: int):
    """The first ``n`` rows of a matrix or of every input of a dict."""
    return {key: value[:n] for key, value in X.items()} if isinstance(X, dict) else X[:n]


def width_text(X) -> int:
    """The number of values per row the network receives: features plus one code per embedded column."""
    if isinstance(X, dict):
        return sum(int(np.prod(value.shape[1:])) if value.ndim > 1 else 1 for value in X.values())
    return int(X.shape[1])
