"""The proof on data: on 20,000 visits of 2000 shops (``make_shops``), embeddings match one-hot encoding's
test accuracy with a fraction of its input memory (and, at D = 8, of its parameters).

The recipe is benchmarks/embeddings.py's (which reports the figures over several seeds): the
same hidden layer of 32 ReLU units after either encoding, Adam lr 3e-3, batch 128, early
stopping on 15% of the training rows. Test accuracy on 4000 rows has a standard error of
about 0.7 points, so "match" is within 1.5 points; both must beat the model that ignores
the shop by far, so the embedding did learn the shops.
"""

import tracemalloc

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from backprop.datasets import make_shops
from backprop.layers.embedding import embedding_dim_rule

N_SHOPS = 2000


def _fit_and_score(model, encode, codes, numeric, y):
    cut = int(0.8 * len(y))
    tracemalloc.start()
    try:
        X = encode(codes[:cut], numeric[:cut])
        model.fit(X, y[:cut], loss="binary_cross_entropy_with_logits", epochs=40, batch_size=128, verbose=0, seed=0,
                  optimizer=bp.optim.Adam(model.parameters(), lr=3e-3), validation_split=0.15,
                  callbacks=[bp.callbacks.EarlyStopping(patience=2, restore_best_weights=True)])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    accuracy = float((model.predict_classes(encode(codes[cut:], numeric[cut:])) == y[cut:]).mean())
    input_bytes = sum(a.nbytes for a in X.values()) if isinstance(X, dict) else X.nbytes
    return {"accuracy": accuracy, "parameters": model.num_parameters(), "input_bytes": input_bytes, "peak": peak}


def _one_hot(codes, numeric):
    X = np.zeros((len(codes), N_SHOPS + numeric.shape[1]), np.float32)
    X[np.arange(len(codes)), codes] = 1.0
    X[:, N_SHOPS:] = numeric
    return X


def _embedded(dim):
    return nn.Sequential(nn.Concat({"shop": nn.Embedding(N_SHOPS, dim, weight_init={"name": "normal", "std": 0.05}),
                                    "numeric": nn.Identity()}),
                         nn.Dense(dim + 4, 32, activation="relu"), nn.Dense(32, 1))


@pytest.mark.slow
def test_embeddings_match_one_hot_in_accuracy_with_far_less_memory():
    data = make_shops(n_samples=20000, n_shops=N_SHOPS, seed=0)
    codes, numeric, y = data.X[:, 0].astype(np.int64), np.ascontiguousarray(data.X[:, 1:]), data.y
    results = {}
    bp.manual_seed(0)
    results["one-hot"] = _fit_and_score(nn.Sequential(nn.Dense(N_SHOPS + 4, 32, activation="relu"), nn.Dense(32, 1)),
                                        _one_hot, codes, numeric, y)
    for dim in (8, embedding_dim_rule(N_SHOPS)):
        bp.manual_seed(0)
        results[dim] = _fit_and_score(_embedded(dim), lambda c, x: {"shop": c, "numeric": x}, codes, numeric, y)
    bp.manual_seed(0)
    results["numeric only"] = _fit_and_score(nn.Sequential(nn.Dense(4, 32, activation="relu"), nn.Dense(32, 1)),
                                             lambda c, x: x, codes, numeric, y)
    one_hot, small, rule = results["one-hot"], results[8], results[50]
    for embedded in (small, rule):
        assert embedded["accuracy"] >= one_hot["accuracy"] - 0.015
        assert embedded["accuracy"] >= results["numeric only"]["accuracy"] + 0.04  # the shops were learnt
        assert embedded["input_bytes"] * 100 < one_hot["input_bytes"]  # one int per row instead of 2000 floats
        assert embedded["peak"] * 10 < one_hot["peak"]
    assert small["parameters"] * 3 < one_hot["parameters"]  # 2000·8 + 12·32 + 33 against 2004·32 + 32 + 33
