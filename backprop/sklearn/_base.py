"""What MLPClassifier and MLPRegressor share: scikit-learn's MLP, trained by the library.

The estimator is a front. ``fit`` validates the data as scikit-learn does, builds a
:class:`~backprop.nn.Sequential` of :class:`~backprop.nn.Dense` layers (``model_``)
with scikit-learn's initial weights, and trains it:

* ``solver="sgd" | "adam" | "rmsprop" | "adamw"``: with the library's
  :class:`~backprop.training.loop.Trainer` and optimisers; scikit-learn's
  convergence rules and learning-rate schedules are the callbacks of
  :mod:`backprop.sklearn.callbacks`;
* ``solver="lbfgs"``: with ``scipy.optimize.minimize(method="L-BFGS-B")`` on the
  flattened weights, the engine computing the cost and its gradient, as scikit-learn does.

Notation: a Dense layer holds W of shape (n_out, n_in) (z = W a + b; a batch computes
Z = A Wᵀ + b). scikit-learn's ``coefs_[ℓ]`` has shape (n_in, n_out): it is Wᵀ. The
``coefs_`` and ``intercepts_`` here are views of the model's arrays, so the model
and the attributes never disagree. As in scikit-learn, ``coefs_`` and ``intercepts_`` may
also be assigned to an unfitted estimator: ``partial_fit`` (or a ``warm_start`` fit) then
starts from them.

dtype: as scikit-learn, the network trains in the dtype of the validated X (float64 for
float64 or integer input, float32 for float32 input) and ``coefs_`` have it; ``dtype=
"float32"`` trains in float32 whatever the input (faster), ``"float64"`` in float64.
L-BFGS evaluates its cost and gradient in float64 whatever the dtype (SciPy's stopping
test compares costs to ~1e-9, which a float32 cost cannot resolve).

scikit-learn's numbers, step by step in float64: the initial weights (its draw), the data
order of each epoch (its ``shuffle`` of the index array, from ``random_state``), the cost,
the update (its Adam: :class:`~backprop.sklearn._adam.ScikitLearnAdam`), the stopping rules.
"""

from __future__ import annotations

import contextlib
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils import shuffle as sklearn_shuffle
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import _check_sample_weight, validate_data

from backprop import nn
from backprop import random as bp_random
from backprop.engine.ops.activation import ACTIVATIONS
from backprop.engine.tensor import Tensor, enable_grad, eval_mode, no_grad
from backprop.optim import SGD, AdamW, RMSprop
from backprop.training import fastpath
from backprop.sklearn._adam import ScikitLearnAdam
from backprop.sklearn._objective import MLPObjective
from backprop.sklearn.callbacks import EpochRecord, InvScalingLR, NoImprovementStopping, ValidationScore
from backprop.training.loop import Trainer, TrainingDivergedError

__all__ = ["BaseMLP"]

_STOCHASTIC_SOLVERS = ("sgd", "adam", "rmsprop", "adamw")


@contextlib.contextmanager
def _library_rng_restored():
    """Leave :mod:`backprop.random` as it was: a fit seeds it from ``random_state``."""
    state = bp_random.get_state()
    try:
        yield
    finally:
        bp_random.set_state(state)


class BaseMLP(BaseEstimator):
    """The shared machinery of :class:`MLPClassifier` and :class:`MLPRegressor`; not for direct use."""

    # scikit-learn's BaseMultilayerPerceptron._parameter_constraints (1.9), with our
    # extra solvers and parameters.
    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions({"lbfgs", "sgd", "adam", "rmsprop", "adamw"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        # ours
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_norm": ["boolean"],
        "callbacks": [list, tuple, None],
        "dtype": [StrOptions({"float32", "float64"}), None],
    }

    # ------------------------------------------------------------ overridden
    def _loss_name(self) -> str:
        raise NotImplementedError

    def _validate_input(self, X, y, incremental: bool, reset: bool):
        """Return (X, Y, y): validated features, encoded 2-D targets, targets for scoring."""
        raise NotImplementedError

    def _class_sample_weight(self, y, incremental: bool):
        """Per-example weights from ``class_weight`` (classifier), or None."""
        return None

    def _score_outputs(self, outputs: np.ndarray, y, sample_weight) -> float:
        raise NotImplementedError

    # ------------------------------------------------------------ attributes
    @property
    def coefs_(self) -> list:
        """scikit-learn's weight matrices, ``coefs_[ℓ]`` of shape (n_in, n_out): views of Wᵀ.

        Before any fit, the list assigned by the user (if any), as it is.
        """
        if "model_" not in self.__dict__:
            return self._assigned("coefs_")
        return [layer.W.data.T for layer in self._dense_layers()]

    @coefs_.setter
    def coefs_(self, coefs) -> None:
        if "model_" not in self.__dict__:
            self.__dict__["_assigned_coefs_"] = coefs  # the list itself: it may be filled in afterwards
            return
        layers = self._dense_layers()
        if len(coefs) != len(layers):
            raise ValueError(f"coefs_ must hold {len(layers)} matrices, got {len(coefs)}")
        for layer, coef in zip(layers, coefs):
            coef = np.asarray(coef)
            if coef.shape != layer.W.shape[::-1]:
                raise ValueError(f"a coefs_ matrix of shape {coef.shape} for a layer expecting {layer.W.shape[::-1]}")
            layer.W.data = np.ascontiguousarray(coef.T, dtype=layer.W.dtype)

    @property
    def intercepts_(self) -> list:
        """scikit-learn's bias vectors, ``intercepts_[ℓ]`` of shape (n_out,): views of b.

        Before any fit, the list assigned by the user (if any), as it is.
        """
        if "model_" not in self.__dict__:
            return self._assigned("intercepts_")
        return [layer.b.data for layer in self._dense_layers()]

    @intercepts_.setter
    def intercepts_(self, intercepts) -> None:
        if "model_" not in self.__dict__:
            self.__dict__["_assigned_intercepts_"] = intercepts
            return
        layers = self._dense_layers()
        if len(intercepts) != len(layers):
            raise ValueError(f"intercepts_ must hold {len(layers)} vectors, got {len(intercepts)}")
        for layer, intercept in zip(layers, intercepts):
            intercept = np.asarray(intercept)
            if intercept.shape != layer.b.shape:
                raise ValueError(
                    f"an intercepts_ vector of shape {intercept.shape} for a layer expecting {layer.b.shape}"
                )
            layer.b.data = np.array(intercept, dtype=layer.b.dtype)

    def _assigned(self, name: str) -> list:
        try:
            return self.__dict__["_assigned_" + name]
        except KeyError:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'") from None

    def _dense_layers(self) -> list:
        return [layer for layer in self.model_ if isinstance(layer, nn.Dense)]

    # ------------------------------------------------------------------- fit
    def _fit(self, X, y, sample_weight=None, incremental=False):
        hidden_layer_sizes = self.hidden_layer_sizes
        if not hasattr(hidden_layer_sizes, "__iter__"):
            hidden_layer_sizes = [hidden_layer_sizes]
        hidden_layer_sizes = list(hidden_layer_sizes)
        if np.any(np.array(hidden_layer_sizes) <= 0):
            raise ValueError("hidden_layer_sizes must be > 0, got %s." % hidden_layer_sizes)
        if self.solver == "lbfgs" and self.dropout > 0:
            raise ValueError(
                "dropout makes the cost random, which solver='lbfgs' cannot minimise; "
                "use a stochastic solver ('adam', 'sgd', ...) or dropout=0"
            )
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)

        X, Y, y = self._validate_input(X, y, incremental, reset=first_pass)
        building = first_pass or "model_" not in self.__dict__  # (or from coefs_ assigned by hand)
        if building:
            self._fit_X_dtype = X.dtype  # predictions come in the promotion of this and X's dtype
        dtype = self._training_dtype(X.dtype, building)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        class_weight = self._class_sample_weight(y, incremental)
        if class_weight is not None:
            sample_weight = class_weight if sample_weight is None else sample_weight * class_weight
        if sp.issparse(X):
            X = X.toarray()  # the engine computes on dense arrays
        with np.errstate(over="ignore"):  # reported below, naming the dtype
            X = np.ascontiguousarray(X, dtype=dtype)
            Y = np.ascontiguousarray(Y, dtype=dtype)
        # (The data were validated finite: only a cast to float32 can make them infinite.)
        if dtype != np.float64 and not (np.isfinite(X).all() and np.isfinite(Y).all()):
            raise ValueError(
                f"X or y has values too large for dtype={dtype.name!r} (beyond ±{np.finfo(dtype).max:.3g}); "
                "scale the data, or use dtype='float64'"
            )

        self.n_outputs_ = Y.shape[1]
        layer_units = [X.shape[1]] + hidden_layer_sizes + [self.n_outputs_]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(layer_units, dtype)
        elif "model_" not in self.__dict__:
            self._initialize_from_assigned_weights(layer_units, dtype)
        elif self.model_.parameters()[0].dtype != dtype:
            self.model_.to(dtype)
        self._objective = MLPObjective(
            self.out_activation_, [layer.W for layer in self._dense_layers()], self.alpha,
            penalise=self.solver != "adamw",
        )

        if self.solver in _STOCHASTIC_SOLVERS:
            self._fit_stochastic(X, Y, y, sample_weight, incremental)
        else:
            self._fit_lbfgs(X, Y, sample_weight)

        if not all(np.isfinite(p.data).all() for p in self.model_.parameters()):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may"
                " contain large values and need to be preprocessed."
            )
        return self

    def _training_dtype(self, X_dtype: np.dtype, building: bool) -> np.dtype:
        """``dtype`` when set; else, as scikit-learn, X's (a new network) or the network's own."""
        if self.dtype is not None:
            return np.dtype(self.dtype)
        if building:
            return np.dtype(X_dtype)
        return self.model_.parameters()[0].dtype

    def _initialize(self, layer_units: list, dtype: np.dtype) -> None:
        """Set the fitted attributes of a first fit and build ``model_`` with scikit-learn's initial weights."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._output_activation()
        self.__dict__.pop("_assigned_coefs_", None)
        self.__dict__.pop("_assigned_intercepts_", None)
        self.model_ = self._build_model(layer_units, dtype)
        self._best_state = self.model_.state_dict()
        if self.solver in _STOCHASTIC_SOLVERS:
            self._reset_stochastic_record()

    def _output_activation(self) -> str:
        if not is_classifier(self):
            return "exp" if self._loss_name() == "poisson" else "identity"
        if self._label_binarizer.y_type_ == "multiclass":
            return "softmax"
        return "logistic"

    def _reset_stochastic_record(self, only_missing: bool = False) -> None:
        """The stochastic solvers' record (loss curve, best values, counters), as a first fit sets it."""
        if self.early_stopping:
            record = {"validation_scores_": [], "validation_loss_curve_": [],
                      "best_validation_score_": -np.inf, "best_loss_": None}
        else:
            record = {"best_loss_": np.inf, "validation_scores_": None, "validation_loss_curve_": None,
                      "best_validation_score_": None}
        record = {"loss_curve_": [], "_no_improvement_count": 0, **record}
        for name, value in record.items():
            if not (only_missing and hasattr(self, name)):
                setattr(self, name, value)

    def _initialize_from_assigned_weights(self, layer_units: list, dtype: np.dtype) -> None:
        """Build ``model_`` from the ``coefs_`` and ``intercepts_`` a user assigned before any fit.

        As scikit-learn then does, training starts from them; the attributes scikit-learn's
        first fit would have set and the user did not are set as it sets them.
        """
        coefs, intercepts = self._assigned("coefs_"), self._assigned("intercepts_")
        expected = list(zip(layer_units[:-1], layer_units[1:]))
        shapes = [np.shape(c) for c in coefs]
        if shapes != expected or [np.shape(b) for b in intercepts] != [(n,) for _, n in expected]:
            raise ValueError(
                f"the assigned coefs_ have shapes {shapes} and intercepts_ {[np.shape(b) for b in intercepts]}; "
                f"this data and hidden_layer_sizes need coefs_ of shapes {expected}"
            )
        for name, value in (("n_iter_", 0), ("t_", 0), ("n_layers_", len(layer_units)),
                            ("out_activation_", self._output_activation())):
            if not hasattr(self, name):
                setattr(self, name, value)
        self.model_ = self._build_model(layer_units, dtype, weights=(coefs, intercepts))
        self.__dict__.pop("_assigned_coefs_")
        self.__dict__.pop("_assigned_intercepts_")
        self._best_state = self.model_.state_dict()
        if self.solver in _STOCHASTIC_SOLVERS:
            self._reset_stochastic_record(only_missing=True)

    def _build_model(self, layer_units: list, dtype: np.dtype, weights=None) -> nn.Sequential:
        """Dense layers (hidden: f = ``activation``; output: z, the loss applies its activation).

        With ``batch_norm`` a hidden layer is Dense → BatchNorm → f, with ``dropout`` then
        Dropout. The weights are ``weights`` = (coefs, intercepts) when given, else
        scikit-learn's ``_init_coef``: for each layer in turn, coef then intercept drawn
        from U(−r, r), r = √(factor / (fan_in + fan_out)), factor 6 (2 for logistic), from
        ``random_state``.
        """
        factor = 2.0 if self.activation == "logistic" else 6.0
        n_layers = len(layer_units) - 1
        layers = []
        for i, (fan_in, fan_out) in enumerate(zip(layer_units[:-1], layer_units[1:])):
            hidden = i < n_layers - 1
            # scikit-learn's names (identity, logistic, tanh, relu) are names or aliases in the registry
            activation = self.activation if hidden and not self.batch_norm else None
            dense = nn.Dense(fan_in, fan_out, activation=activation, weight_init="zeros", dtype=dtype)
            if weights is None:
                init_bound = np.sqrt(factor / (fan_in + fan_out))
                coef = self._random_state.uniform(-init_bound, init_bound, (fan_in, fan_out))
                intercept = self._random_state.uniform(-init_bound, init_bound, fan_out)
            else:
                coef, intercept = np.asarray(weights[0][i]), np.asarray(weights[1][i])
            dense.W.data = np.ascontiguousarray(coef.T, dtype=dtype)
            dense.b.data = np.array(intercept, dtype=dtype)
            layers.append(dense)
            if hidden and self.batch_norm:
                layers += [nn.BatchNorm(fan_out, dtype=dtype), nn.activation_layer(ACTIVATIONS.get(self.activation))()]
            if hidden and self.dropout > 0:
                layers.append(nn.Dropout(self.dropout))
        return nn.Sequential(*layers)

    # -------------------------------------------------------- stochastic
    def _make_optimizer(self):
        params = self.model_.parameters()
        lr = self.learning_rate_init
        betas = (self.beta_1, self.beta_2)
        if self.solver == "sgd":
            nesterov = bool(self.nesterovs_momentum) and self.momentum > 0
            return SGD(params, lr=lr, momentum=self.momentum, nesterov=nesterov)
        if self.solver == "adam":
            return ScikitLearnAdam(params, lr=lr, betas=betas, eps=self.epsilon)
        if self.solver == "adamw":
            return AdamW(params, lr=lr, betas=betas, eps=self.epsilon, weight_decay=self.alpha)
        return RMSprop(params, lr=lr, eps=self.epsilon)

    def _fit_stochastic(self, X, Y, y, sample_weight, incremental: bool) -> None:
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = self._make_optimizer()
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")

        X_val = None
        if self.early_stopping:
            # scikit-learn's split, stratified except for multi-label classification.
            stratify = Y.astype(bool) if is_classifier(self) and self.n_outputs_ == 1 else None
            arrays = [X, Y, y] if sample_weight is None else [X, Y, y, sample_weight]
            parts = train_test_split(*arrays, random_state=self._random_state,
                                     test_size=self.validation_fraction, stratify=stratify)
            X, X_val, Y, Y_val, y, y_val = parts[:6]
            sample_weight, sample_weight_val = (parts[6], parts[7]) if sample_weight is not None else (None, None)
            if X_val.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase 'validation_fraction' "
                    "or the size of your dataset."
                )

        n_samples = X.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn(
                    "Got `batch_size` less than 1 or larger than "
                    "sample size. It is going to be clipped"
                )
            batch_size = int(np.clip(self.batch_size, 1, n_samples))

        verbose = bool(self.verbose)
        callbacks = [EpochRecord(self, n_samples, verbose)]
        if self.early_stopping:
            callbacks.append(ValidationScore(self, X_val, Y_val, y_val, sample_weight_val, verbose))
        if self.solver == "sgd" and self.learning_rate == "invscaling":
            callbacks.append(InvScalingLR(self, self.learning_rate_init, self.power_t))
        stopping = NoImprovementStopping(
            self, self.tol, self.n_iter_no_change, self.early_stopping,
            adaptive=self.solver == "sgd" and self.learning_rate == "adaptive", verbose=verbose,
        )
        callbacks.append(stopping)
        callbacks += list(self.callbacks or ())

        trainer = Trainer(
            self.model_, loss=self._objective, optimizer=self._optimizer, callbacks=callbacks,
            batch_size=batch_size, shuffle=self.shuffle, verbose=1 if self.verbose >= 2 else 0,
            divergence_factor=None,  # scikit-learn has no blow-up test; a NaN is reported as it reports it
            order_rng=_ScikitLearnOrder(self._random_state, n_samples),
        )
        # Dropout masks (no part of scikit-learn) come from the library's generator, seeded
        # from random_state; without dropout nothing is drawn, so that the data order is
        # scikit-learn's.
        seed = int(self._random_state.randint(np.iinfo(np.int32).max)) if self.dropout > 0 else None
        self.n_iter_ = 0
        try:
            with _library_rng_restored():
                trainer.fit(X, Y, epochs=1 if incremental else self.max_iter,
                            sample_weight=sample_weight, seed=seed)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        except TrainingDivergedError:
            # A NaN cost: fit's check of the weights then raises scikit-learn's own error.
            if all(np.isfinite(p.data).all() for p in self.model_.parameters()):
                raise
        self.model_.eval()

        if not incremental and not stopping.stopped and self.n_iter_ == self.max_iter:
            warnings.warn(
                "Stochastic Optimizer: Maximum iterations (%d) "
                "reached and the optimization hasn't converged yet." % self.max_iter,
                ConvergenceWarning,
            )
        if self.early_stopping:
            self.model_.load_state_dict(self._best_state)

    def _validation_result(self, X, Y, y, sample_weight) -> tuple:
        """(score, cost) on held-out data, from one forward pass in evaluation mode."""
        z = self._raw_outputs(X)
        with no_grad():
            loss = float(self._objective(Tensor(z), Y, sample_weight).data)
        return self._score_outputs(self._objective.outputs(z), y, sample_weight), loss

    # ------------------------------------------------------------- lbfgs
    def _lbfgs_parameters(self) -> list:
        """(Parameter, transpose) in scikit-learn's packing order: coefs, intercepts, then the rest."""
        dense = self._dense_layers()
        packed = [(layer.W, True) for layer in dense] + [(layer.b, False) for layer in dense]
        seen = {id(p) for p, _ in packed}
        return packed + [(p, False) for p in self.model_.parameters() if id(p) not in seen]

    def _fit_lbfgs(self, X, Y, sample_weight) -> None:
        """scipy's L-BFGS-B on the packed parameters, the cost and gradient evaluated in float64.

        A float32 network is cast to float64 for the optimisation and back afterwards.
        """
        dtype = self.model_.parameters()[0].dtype
        if dtype != np.float64:
            self.model_.to(np.float64)
        try:
            self._minimise_lbfgs(np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64),
                                 None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64))
        finally:
            if dtype != np.float64:
                self.model_.to(dtype)

    def _minimise_lbfgs(self, X, Y, sample_weight) -> None:
        params = self._lbfgs_parameters()
        X_tensor = Tensor(X)

        def view(array, transpose):
            return array.T if transpose else array

        def pack(arrays) -> np.ndarray:
            return np.concatenate([view(a, t).ravel() for a, (_, t) in zip(arrays, params)]).astype(np.float64)

        def unpack(theta: np.ndarray) -> None:
            start = 0
            for p, transpose in params:
                target = view(p.data, transpose)
                target[...] = theta[start:start + p.size].reshape(target.shape)
                start += p.size

        # A plain Dense stack runs on the fused fast path (the engine's gradients, no graph).
        fused = fastpath.compile_model(self.model_, self._objective)

        def cost_and_gradient(theta):
            unpack(theta)
            self.model_.zero_grad()
            if fused is not None:
                cost, _ = fused.train_step(X, Y, sample_weight)
                return float(cost), pack([p.grad for p, _ in params])
            with enable_grad():
                cost = self._objective(self.model_(X_tensor), Y, sample_weight)
                cost.backward()
            return float(cost.data), pack([p.grad for p, _ in params])

        self.model_.train()
        options = {"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol}
        if self.verbose and _scipy_has_iprint():
            options["iprint"] = 1
        result = scipy.optimize.minimize(
            cost_and_gradient, pack([p.data for p, _ in params]), method="L-BFGS-B", jac=True, options=options,
        )
        self.n_iter_ = _check_lbfgs_result(result, self.max_iter)
        self.loss_ = float(result.fun)
        unpack(result.x)
        self._refresh_batch_norm_statistics(X_tensor)
        self.model_.zero_grad()
        self.model_.eval()
        if fused is not None:
            fused.release_buffers()  # (the whole X's activations: not kept with the estimator)

    def _refresh_batch_norm_statistics(self, X_tensor) -> None:
        """After L-BFGS: running statistics = those of the full data at the final weights."""
        norms = [m for m in self.model_.modules() if isinstance(m, nn.BatchNorm)]
        if not norms:
            return
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.momentum = 1.0
        with no_grad():
            self.model_(X_tensor)
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum

    # ------------------------------------------------------------ predict
    def _raw_outputs(self, X: np.ndarray) -> np.ndarray:
        """The last layer's z for dense X of the model's dtype, in evaluation mode (no flag changed).

        A float64 X is predicted in float64, from float64 copies of the weights: then every
        row's result is independent of the other rows of the batch (a float32 BLAS product
        may round a row differently with another batch size), as scikit-learn's is.
        """
        fused = fastpath.compile_model(self.model_)
        if fused is not None:
            return fused.predict(X)
        with eval_mode(), no_grad():  # per thread: no flag is flipped under another thread's feet
            return self.model_(Tensor(X)).data

    def _forward_pass_fast(self, X, check_input=True) -> np.ndarray:
        """scikit-learn's name: the output activations for X, in X's float dtype (as scikit-learn's)."""
        if check_input:
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        out_dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
        # scikit-learn's weights have the dtype of the X they were fit on, and its outputs the
        # promotion of both: a float32 X on a model fit on float64 data predicts float64.
        out_dtype = np.result_type(out_dtype, getattr(self, "_fit_X_dtype", out_dtype))
        if sp.issparse(X):
            X = X.toarray()
        compute_dtype = np.float64 if out_dtype == np.float64 else self.model_.parameters()[0].dtype
        X = np.ascontiguousarray(X, dtype=compute_dtype)
        return self._objective.outputs(self._raw_outputs(X)).astype(out_dtype, copy=False)

    def _score_with_function(self, X, y, sample_weight, score_function):
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return score_function(y, y_pred, sample_weight=sample_weight)

    def _check_solver(self):
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError(
                "partial_fit is only available for stochastic"
                " optimizers. %s is not stochastic." % self.solver
            )
        return True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class _ScikitLearnOrder:
    """scikit-learn's data order for the Trainer: each epoch, ``order = shuffle(order, random_state)``.

    scikit-learn shuffles the previous epoch's index array again (``sklearn.utils.shuffle``
    with the estimator's ``_random_state``); replaying it gives the same mini-batches.
    """

    def __init__(self, random_state, n_samples: int):
        self.random_state = random_state
        self.order = np.arange(n_samples, dtype=int)

    def permutation(self, n: int) -> np.ndarray:
        if n != self.order.size:
            raise ValueError(f"an order of {self.order.size} examples was asked for {n}")
        self.order = sklearn_shuffle(self.order, random_state=self.random_state)
        return self.order


def _scipy_has_iprint() -> bool:
    """L-BFGS-B's ``iprint`` option was removed in SciPy 1.15 (scikit-learn passes it before)."""
    major, minor = (int(part) for part in scipy.__version__.split(".")[:2])
    return (major, minor) < (1, 15)


def _check_lbfgs_result(result, max_iter: int) -> int:
    """The number of iterations, with scikit-learn's ConvergenceWarning when L-BFGS did not converge."""
    n_iter = min(result.nit, max_iter)
    if result.status != 0:
        message = (
            f"lbfgs failed to converge after {n_iter} iteration(s) (status={result.status}):\n"
            f"{result.message}\n"
        )
        if n_iter == max_iter:
            message += (
                "\nIncrease the number of iterations to improve the convergence "
                f"(max_iter={max_iter})."
            )
        message += (
            "\nYou might also want to scale the data as shown in:\n"
            "    https://scikit-learn.org/stable/modules/preprocessing.html"
        )
        warnings.warn(message, ConvergenceWarning, stacklevel=3)
    return n_iter
