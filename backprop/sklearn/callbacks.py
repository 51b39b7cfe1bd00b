"""scikit-learn's end-of-epoch rules for its MLP, as callbacks of the library's Trainer.

After each epoch scikit-learn's ``_fit_stochastic`` does, in this order (and so do
these callbacks, listed in the order the estimator installs them):

1. :class:`EpochRecord`: ``n_iter_ += 1``, ``t_ += n_samples``, ``loss_`` (the mean
   of the batch costs weighted by batch size) appended to ``loss_curve_``; at
   ``verbose`` it prints ``Iteration N, loss = ...``.
2. :class:`ValidationScore` (``early_stopping=True``): the score (accuracy or R²) on
   the held-out set, appended to ``validation_scores_``.
3. :class:`InvScalingLR` (``solver="sgd"``, ``learning_rate="invscaling"``):
   η = η₀ / (t_ + 1)^power_t, with t_ the number of examples seen so far.
4. :class:`NoImprovementStopping`: an epoch counts as "no improvement" when the
   training loss is not below ``best_loss_ − tol`` (or the validation score is not
   above ``best_validation_score_ + tol``). Once more than ``n_iter_no_change``
   epochs in a row count, training stops, except with ``learning_rate="adaptive"``
   (sgd), where η is divided by 5 and counting restarts, until η ≤ 1e-6. With early
   stopping it keeps the weights of the best score, which the estimator loads back
   after training.

The counters and best values live on the estimator, as scikit-learn's do, so that
``partial_fit`` and ``warm_start`` continue them.
"""

from __future__ import annotations

from backprop.optim import SGD
from backprop.training.callbacks import Callback, get_learning_rate, set_learning_rate

__all__ = ["EpochRecord", "ValidationScore", "InvScalingLR", "NoImprovementStopping", "change_learning_rate"]


def change_learning_rate(optimizer, lr: float) -> None:
    """Set η, keeping an SGD step's momentum part as it was (scikit-learn's velocity).

    scikit-learn's velocity is in weight units, v ← μ v − η g, so a new η only affects
    the new gradients. The library's SGD (PyTorch's) keeps the buffer b ← μ b + g and
    steps by η b; rescaling b by η_old/η_new keeps η b, the same velocity, which makes
    the two updates identical across rate changes.
    """
    old = get_learning_rate(optimizer)
    set_learning_rate(optimizer, lr)
    if isinstance(optimizer, SGD):
        for state in optimizer.state.values():
            buffer = state.get("momentum_buffer")
            if buffer is not None:
                buffer *= old / lr


class EpochRecord(Callback):
    """Record the epoch as scikit-learn does: ``n_iter_``, ``t_``, ``loss_``, ``loss_curve_``.

    Args:
        estimator: the MLP estimator whose attributes are updated.
        n_samples: examples per epoch (the training part when early stopping).
        verbose: print ``Iteration N, loss = L`` after each epoch.
    """

    def __init__(self, estimator, n_samples: int, verbose: bool = False):
        self.estimator = estimator
        self.n_samples = int(n_samples)
        self.verbose = bool(verbose)

    def on_epoch_end(self, epoch, logs=None):
        est = self.estimator
        est.n_iter_ += 1
        est.loss_ = float(logs["loss"])
        est.t_ += self.n_samples
        est.loss_curve_.append(est.loss_)
        if self.verbose:
            print("Iteration %d, loss = %.8f" % (est.n_iter_, est.loss_))


class ValidationScore(Callback):
    """Score the held-out set after each epoch (early stopping).

    Appends to ``validation_scores_`` (accuracy or R², as the estimator's ``score``) and
    to ``validation_loss_curve_`` (the training cost on the held-out set).

    Args:
        estimator: the MLP estimator; it provides ``_validation_result(X, Y, y, w)``.
        X, Y, y, sample_weight: the held-out features, encoded targets, original
            targets and weights.
        verbose: print ``Validation score: S`` after each epoch.
    """

    def __init__(self, estimator, X, Y, y, sample_weight=None, verbose: bool = False):
        self.estimator = estimator
        self.X, self.Y, self.y, self.sample_weight = X, Y, y, sample_weight
        self.verbose = bool(verbose)

    def on_epoch_end(self, epoch, logs=None):
        est = self.estimator
        score, loss = est._validation_result(self.X, self.Y, self.y, self.sample_weight)
        est.validation_scores_.append(score)
        est.validation_loss_curve_.append(loss)
        if self.verbose:
            print("Validation score: %f" % score)


class InvScalingLR(Callback):
    """η = η₀ / (t + 1)^power_t after each epoch, t = the estimator's ``t_`` (examples seen).

    scikit-learn updates the rate at the end of each epoch, not at each step, so the
    first epoch runs at η₀.
    """

    def __init__(self, estimator, learning_rate_init: float, power_t: float):
        self.estimator = estimator
        self.learning_rate_init = float(learning_rate_init)
        self.power_t = float(power_t)

    def on_epoch_end(self, epoch, logs=None):
        lr = self.learning_rate_init / (self.estimator.t_ + 1) ** self.power_t
        change_learning_rate(self.trainer.optimizer, lr)


class NoImprovementStopping(Callback):
    """scikit-learn's convergence test: ``tol`` and ``n_iter_no_change``, on the loss or the validation score.

    With ``early_stopping`` it also keeps the weights of the best validation score
    in ``estimator._best_state`` (the estimator loads them back after training).

    Args:
        estimator: the MLP estimator (``loss_curve_``, ``best_loss_``,
            ``validation_scores_``, ``best_validation_score_``, ``_no_improvement_count``).
        tol: the smallest change that counts as an improvement.
        n_iter_no_change: epochs in a row without improvement that are tolerated.
        early_stopping: watch the validation score (True) or the training loss.
        adaptive: instead of stopping, divide the learning rate by 5 (until it is ≤ 1e-6).
        verbose: print why training stops or the rate changes.

    Attributes:
        stopped: True once it has stopped training.
    """

    def __init__(self, estimator, tol: float, n_iter_no_change, early_stopping: bool,
                 adaptive: bool = False, verbose: bool = False):
        self.estimator = estimator
        self.tol = float(tol)
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = bool(early_stopping)
        self.adaptive = bool(adaptive)
        self.verbose = bool(verbose)
        self.stopped = False

    def _update_count(self) -> None:
        """scikit-learn's ``_update_no_improvement_count``."""
        est = self.estimator
        if self.early_stopping:
            last = est.validation_scores_[-1]
            if last < est.best_validation_score_ + self.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if last > est.best_validation_score_:
                est.best_validation_score_ = last
                est._best_state = est.model_.state_dict()
        else:
            last = est.loss_curve_[-1]
            if last > est.best_loss_ - self.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if last < est.best_loss_:
                est.best_loss_ = last

    def on_epoch_end(self, epoch, logs=None):
        self._update_count()
        est = self.estimator
        if est._no_improvement_count <= self.n_iter_no_change:
            return
        if self.early_stopping:
            message = "Validation score did not improve more than tol=%f for %d consecutive epochs." % (
                self.tol, self.n_iter_no_change)
        else:
            message = "Training loss did not improve more than tol=%f for %d consecutive epochs." % (
                self.tol, self.n_iter_no_change)
        if self.adaptive:
            lr = get_learning_rate(self.trainer.optimizer)
            if lr > 1e-6:
                lr /= 5.0
                change_learning_rate(self.trainer.optimizer, lr)
                est._no_improvement_count = 0
                if self.verbose:
                    print(message + " Setting learning rate to %f" % lr)
                return
            if self.verbose:
                print(message + " Learning rate too small. Stopping.")
        elif self.verbose:
            print(message + " Stopping.")
        self.stopped = True
        self.trainer.stop_training = True
