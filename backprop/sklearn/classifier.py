"""MLPClassifier: scikit-learn's multi-layer perceptron classifier, trained by backprop."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import column_or_1d
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data
from sklearn.utils._param_validation import StrOptions

from backprop.sklearn._base import BaseMLP

__all__ = ["MLPClassifier"]


class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier: scikit-learn's ``MLPClassifier``, trained by backprop.

    The parameters, their defaults and meaning, and the fitted attributes are
    scikit-learn's (see ``sklearn.neural_network.MLPClassifier``): the network
    minimises the log-loss plus α/(2 Σw) Σ‖W‖², with softmax outputs for several
    classes and logistic outputs for two classes or multi-label targets (a 2-D 0/1
    indicator y). ``solver`` also accepts "rmsprop" and "adamw" (where α is AdamW's
    decoupled weight decay instead of a penalty in the cost).

    Extra parameters, whose defaults keep scikit-learn's behaviour:

    Args:
        dropout: drop rate of the Dropout layer after each hidden layer (0: none);
            not with ``solver="lbfgs"``.
        batch_norm: put a BatchNorm layer between each hidden Dense layer and its activation.
        class_weight: None, "balanced" (n_samples / (n_classes · count of the class)) or
            ``{class: weight}``; multiplies ``sample_weight``.
        callbacks: :class:`backprop.training.callbacks.Callback` objects run by the
            trainer after the estimator's own (stochastic solvers).
        dtype: None (default: as scikit-learn, the dtype of X, float64 unless X is
            float32), or "float32" (faster; about 1e-7 relative rounding) or "float64"
            whatever X. The network trains in it and ``coefs_`` and ``intercepts_`` have it;
            L-BFGS evaluates its cost and gradient in float64 in any case.

    ``verbose``: True or 1 prints scikit-learn's ``Iteration N, loss = ...`` lines; 2
    also shows the library's progress bar for each epoch.

    Extra attributes: ``model_`` (the trained :class:`~backprop.nn.Sequential`, whose
    last layer outputs the logits z) and ``validation_loss_curve_`` (the cost on the
    held-out set at each epoch, with ``early_stopping``; else None).

    Example:
        >>> from sklearn.datasets import load_iris
        >>> from backprop.sklearn import MLPClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = MLPClassifier(hidden_layer_sizes=(16,), solver="lbfgs", random_state=0).fit(X, y)
        >>> clf.score(X, y) > 0.9
        True
    """

    _parameter_constraints: dict = {
        **BaseMLP._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
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
        class_weight=None,
        callbacks=None,
        dtype=None,
    ):
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
        self.class_weight = class_weight
        self.callbacks = callbacks
        self.dtype = dtype

    def _loss_name(self) -> str:
        return "log_loss"

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
            dtype=(np.float64, np.float32), reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)

        # scikit-learn's rules: a new fit defines classes_; warm_start must see the same
        # classes; partial_fit may see a subset of them.
        if (not hasattr(self, "classes_")) or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same "
                        "classes as in the previous call to fit. Previously "
                        f"got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. "
                    f"`self.classes_` has {self.classes_}. 'y' has {classes}."
                )
        Y = self._label_binarizer.transform(y).astype(bool)
        if Y.ndim == 1:
            Y = Y.reshape(-1, 1)
        return X, Y, y

    def _class_sample_weight(self, y, incremental):
        if self.class_weight is None:
            return None
        if self._label_binarizer.y_type_.startswith("multilabel"):
            if self.class_weight != "balanced":
                raise ValueError("class_weight for multi-label targets must be 'balanced' or None")
            return compute_sample_weight("balanced", y)
        if self.class_weight == "balanced":
            if incremental:
                raise ValueError(
                    "class_weight 'balanced' is not supported for partial_fit. In order "
                    "to use 'balanced' weights, use compute_class_weight('balanced', "
                    "classes=classes, y=y). Pass the resulting weights as the "
                    "class_weight parameter."
                )
            present = np.unique(y)
            weights = dict(zip(present, compute_class_weight("balanced", classes=present, y=y)))
        else:
            weights = self.class_weight
        return np.array([weights.get(label, 1.0) for label in y], dtype=np.float64)

    def _score_outputs(self, outputs, y, sample_weight) -> float:
        if not np.isfinite(outputs).all():
            return np.nan
        return accuracy_score(y, self._labels(outputs), sample_weight=sample_weight)

    def _labels(self, outputs: np.ndarray):
        if self.n_outputs_ == 1:
            outputs = outputs.ravel()
        return self._label_binarizer.inverse_transform(outputs)

    def predict(self, X):
        """Predict using the multi-layer perceptron classifier.

        Args:
            X: {array-like, sparse matrix} of shape (n_samples, n_features).

        Returns:
            The predicted classes, shape (n_samples,) or (n_samples, n_classes) for multi-label.
        """
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        return self._labels(self._forward_pass_fast(X, check_input=check_input))

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, accuracy_score)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to X and the class labels (or 2-D label indicator) y.

        Args:
            X: {array-like, sparse matrix} of shape (n_samples, n_features).
            y: labels of shape (n_samples,), or a 0/1 indicator of shape (n_samples, n_labels).
            sample_weight: array-like of shape (n_samples,), or None.

        Returns:
            self, the trained estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y); the first call needs ``classes`` (all classes of all calls).

        Only for the stochastic solvers, as in scikit-learn.

        Returns:
            self.
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict_proba(self, X):
        """Probability of each class, shape (n_samples, n_classes), columns in ``classes_`` order."""
        check_is_fitted(self)
        y_pred = self._forward_pass_fast(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    def predict_log_proba(self, X):
        """log(predict_proba(X))."""
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
