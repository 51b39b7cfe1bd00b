"""MLPRegressor: scikit-learn's multi-layer perceptron regressor, trained by backprop."""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils import column_or_1d
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data
from sklearn.utils._param_validation import StrOptions

from backprop.sklearn._base import BaseMLP

__all__ = ["MLPRegressor"]


class MLPRegressor(RegressorMixin, BaseMLP):
    """Multi-layer perceptron regressor: scikit-learn's ``MLPRegressor``, trained by backprop.

    The parameters, their defaults and meaning, and the fitted attributes are
    scikit-learn's (see ``sklearn.neural_network.MLPRegressor``): the network, with
    linear outputs, minimises ½·mean (ŷ − y)² (``loss="squared_error"``) or the half
    Poisson deviance with ŷ = e^z (``loss="poisson"``), plus α/(2 Σw) Σ‖W‖². ``y`` may
    have several columns (multi-output regression). ``solver`` also accepts "rmsprop"
    and "adamw".

    For several outputs it steps as scikit-learn does, along n_outputs × the gradient of
    the ½·mean it reports (δᴸ = (ŷ − y)/N per output).

    Extra parameters (defaults keep scikit-learn's behaviour): ``dropout``,
    ``batch_norm``, ``callbacks``, ``dtype`` (None: X's dtype, as scikit-learn; or
    "float32" for speed, or "float64"), as for :class:`~backprop.sklearn.MLPClassifier`.
    Extra attributes: ``model_`` and ``validation_loss_curve_``.

    Example:
        >>> from sklearn.datasets import make_regression
        >>> from backprop.sklearn import MLPRegressor
        >>> X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
        >>> reg = MLPRegressor(hidden_layer_sizes=(32,), solver="lbfgs", random_state=0).fit(X, y)
        >>> reg.score(X, y) > 0.9
        True
    """

    _parameter_constraints: dict = {
        **BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dropout=0.0,
        batch_norm=False,
        callbacks=None,
        dtype=None,
    ):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.callbacks = callbacks
        self.dtype = dtype

    def _loss_name(self) -> str:
        return self.loss

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self, X, y, accept_sparse=["csr", "csc"], multi_output=True, y_numeric=True,
            dtype=(np.float64, np.float32), reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        return X, Y, Y if Y.shape[1] > 1 else Y.ravel()

    def _score_outputs(self, outputs, y, sample_weight) -> float:
        if not np.isfinite(outputs).all():
            return np.nan
        return r2_score(y, outputs.ravel() if outputs.shape[1] == 1 else outputs, sample_weight=sample_weight)

    def predict(self, X):
        """Predict using the multi-layer perceptron model.

        Args:
            X: {array-like, sparse matrix} of shape (n_samples, n_features).

        Returns:
            The predicted values, shape (n_samples,) or (n_samples, n_outputs).
        """
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        if y_pred.shape[1] == 1:
            return y_pred.ravel()
        return y_pred

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, r2_score)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to X and the target(s) y.

        Args:
            X: {array-like, sparse matrix} of shape (n_samples, n_features).
            y: targets of shape (n_samples,) or (n_samples, n_outputs).
            sample_weight: array-like of shape (n_samples,), or None.

        Returns:
            self, the trained estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing from the current weights (stochastic solvers only).

        Returns:
            self.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)
