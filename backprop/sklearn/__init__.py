"""``backprop.sklearn``: drop-in replacements for scikit-learn's MLP estimators.

Same parameters, defaults and fitted attributes as ``sklearn.neural_network``'s
``MLPClassifier`` and ``MLPRegressor``, and in float64 (the default for float64 data)
the same numbers step by step; scikit-learn's own ``test_mlp.py`` passes on them
(``tests/sklearn/test_sklearn_own_tests.py``). The network is a
:class:`backprop.nn.Sequential` (``model_``) trained by the library's Trainer (or L-BFGS
on its gradients).
Needs scikit-learn (``pip install "backprop-nn[sklearn]"``); without it, importing
this package raises an ImportError that says so.

    >>> from backprop.sklearn import MLPClassifier
    >>> clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=50)
"""

from backprop._install import install_hint

try:  # before the estimators, whose imports would fail on a deeper, less telling line
    import sklearn  # noqa: F401
except ImportError as error:
    raise ImportError(f"backprop.sklearn needs scikit-learn, which is not installed: "
                      f"{install_hint('sklearn')}", name=error.name) from None

from backprop.sklearn.classifier import MLPClassifier
from backprop.sklearn.regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
