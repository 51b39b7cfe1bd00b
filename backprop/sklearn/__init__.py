"""``backprop.sklearn``: drop-in replacements for scikit-learn's MLP estimators.

Same parameters, defaults and fitted attributes as ``sklearn.neural_network``'s
``MLPClassifier`` and ``MLPRegressor``; the network is a :class:`backprop.nn.Sequential`
(``model_``) trained by the library's Trainer (or L-BFGS on the engine's gradients).
Needs scikit-learn (``pip install backprop[sklearn]``).

    >>> from backprop.sklearn import MLPClassifier
    >>> clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=50)
"""

from backprop.sklearn.classifier import MLPClassifier
from backprop.sklearn.regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
