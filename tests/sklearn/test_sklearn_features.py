"""Behaviour beyond the equivalence tests: extras (dropout, batch_norm, class_weight, callbacks,
dtype), verbose output, multi-output, sparse and DataFrame input, reproducibility."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_classification, make_regression

import backprop as bp
from backprop import nn
from backprop import random as bp_random
from backprop.sklearn import MLPClassifier, MLPRegressor
from backprop.training.callbacks import Callback

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def blobs():
    return make_classification(n_samples=400, n_features=8, n_informative=5, n_classes=3, random_state=0)


def test_reproducible_with_random_state_and_leaves_library_rng_alone(blobs):
    X, y = blobs  # 400 examples: mini-batches of 200, shuffled each epoch
    bp_random.manual_seed(123)
    before = bp_random.get_state()
    a = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, dropout=0.2, random_state=3).fit(X, y)
    assert bp_random.get_state() == before
    b = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, dropout=0.2, random_state=3).fit(X, y)
    c = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, dropout=0.2, random_state=4).fit(X, y)
    assert a.loss_curve_ == b.loss_curve_
    assert a.loss_curve_ != c.loss_curve_


def test_verbose_prints_scikit_learns_lines(blobs, capsys):
    X, y = blobs
    MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, verbose=True, random_state=0).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == ["Iteration 1", "Iteration 2", "Iteration 3"]
    assert all(line.startswith("Iteration") and ", loss = " in line for line in lines)

    MLPClassifier(hidden_layer_sizes=(4,), max_iter=30, early_stopping=True, n_iter_no_change=1,
                  tol=10.0, verbose=1, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert "Validation score: " in out
    assert "Validation score did not improve more than tol=10.000000 for 1 consecutive epochs. Stopping." in out

    MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, verbose=2, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert "Iteration 2, loss = " in out and "Epoch 2/2" in out  # plus the library's progress lines


def test_validation_loss_curve(blobs):
    X, y = blobs
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=8, early_stopping=True, random_state=0).fit(X, y)
    assert len(clf.validation_loss_curve_) == len(clf.validation_scores_) == clf.n_iter_
    assert all(np.isfinite(clf.validation_loss_curve_))
    assert MLPClassifier(max_iter=2).fit(X, y).validation_loss_curve_ is None


def test_early_stopping_restores_the_best_weights(blobs):
    X, y = blobs
    states = []

    class RecordWeights(Callback):
        def on_epoch_end(self, epoch, logs=None):
            states.append(self.model.state_dict())

    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=60, learning_rate_init=0.05, early_stopping=True,
                        n_iter_no_change=5, callbacks=[RecordWeights()], random_state=0).fit(X, y)
    best_epoch = int(np.argmax(clf.validation_scores_))
    assert clf.n_iter_ > best_epoch + 1  # it went on after the best epoch
    assert clf.best_validation_score_ == clf.validation_scores_[best_epoch]
    final = clf.model_.state_dict()
    assert all(np.array_equal(final[key], states[best_epoch][key]) for key in final)


def test_class_weight(blobs):
    X, y = blobs
    heavy = MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, class_weight={0: 100.0, 1: 0.01, 2: 0.01},
                          random_state=0).fit(X, y)
    assert np.mean(heavy.predict(X) == 0) > 0.6
    balanced = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, class_weight="balanced", random_state=0)
    sw = np.where(y == 0, 2.0, 1.0)
    plain = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    # "balanced" on balanced classes changes nothing; class weights multiply sample weights
    counts = np.bincount(y)
    expected = len(y) / (3 * counts[y])
    a = balanced.fit(X, y, sample_weight=sw)
    b = plain.fit(X, y, sample_weight=sw * expected)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-6)
    with pytest.raises(ValueError, match="balanced"):
        MLPClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1, 2])


def test_dropout_and_batch_norm_layers(blobs):
    X, y = blobs
    clf = MLPClassifier(hidden_layer_sizes=(16, 8), dropout=0.25, batch_norm=True, max_iter=30, learning_rate_init=0.01,
                        random_state=0).fit(X, y)
    kinds = [type(layer).__name__ for layer in clf.model_]
    assert kinds == ["Dense", "BatchNorm", "ReLU", "Dropout", "Dense", "BatchNorm", "ReLU", "Dropout", "Dense"]
    assert len(clf.coefs_) == 3
    np.testing.assert_array_equal(clf.predict_proba(X), clf.predict_proba(X))  # evaluation mode
    assert clf.score(X, y) > 0.6
    lbfgs = MLPClassifier(hidden_layer_sizes=(16,), solver="lbfgs", batch_norm=True, max_iter=50,
                          random_state=0).fit(X, y)
    assert lbfgs.score(X, y) > 0.8


def test_user_callbacks_run_after_the_estimators_own(blobs):
    X, y = blobs
    seen = []

    class StopAtThree(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((epoch, logs["loss"]))
            if epoch == 2:
                self.trainer.stop_training = True

    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, callbacks=[StopAtThree()], random_state=0).fit(X, y)
    assert clf.n_iter_ == 3 and len(seen) == 3
    assert [loss for _, loss in seen] == clf.loss_curve_


def test_multi_output_regression_and_poisson():
    X, Y = make_regression(n_samples=300, n_features=6, n_targets=3, noise=0.1, random_state=0)
    Y = Y / Y.std(0)
    reg = MLPRegressor(hidden_layer_sizes=(32,), solver="lbfgs", max_iter=300, random_state=0).fit(X, Y)
    assert reg.predict(X).shape == (300, 3) and reg.n_outputs_ == 3
    assert reg.score(X, Y) > 0.9
    counts = np.random.RandomState(0).poisson(np.exp(X[:, 0] / 3))
    poisson = MLPRegressor(loss="poisson", hidden_layer_sizes=(8,), max_iter=100, random_state=0).fit(X, counts)
    assert poisson.out_activation_ == "exp" and (poisson.predict(X) > 0).all()


def test_sparse_and_dataframe_input(blobs):
    X, y = blobs
    dense = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X, y)
    sparse = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.predict_proba(sp.csr_matrix(X)), dense.predict_proba(X), rtol=1e-5)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(frame, y)
    assert list(clf.feature_names_in_) == list(frame.columns) and clf.n_features_in_ == 8


def test_predict_proba_and_log_proba(blobs):
    X, y = blobs
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y == 1)
    proba = clf.predict_proba(X)
    assert proba.shape == (400, 2) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba))
    # fit on float64 X: float64 out for any X, as scikit-learn (its weights are float64 then)
    assert clf.predict_proba(X.astype(np.float32)).dtype == np.float64


def test_model_can_be_saved_by_the_library(blobs, tmp_path):
    """model_ is an ordinary Sequential: the library's pickle-free model files work on it."""
    X, y = blobs
    clf = MLPClassifier(hidden_layer_sizes=(8,), batch_norm=True, max_iter=3, random_state=0).fit(X, y)
    path = tmp_path / "mlp.safetensors"
    clf.model_.save(path)
    loaded = bp.load(path)
    assert isinstance(loaded, nn.Sequential)
    X32 = X.astype(np.float32)
    np.testing.assert_allclose(loaded.eval()(X32).data, clf.model_.eval()(X32).data)


def test_prediction_dtype_follows_scikit_learn():
    import numpy as np
    from sklearn.datasets import load_iris

    from backprop.sklearn import MLPClassifier

    X, y = load_iris(return_X_y=True)
    fit64 = MLPClassifier((8,), max_iter=5).fit(X, y)
    fit32 = MLPClassifier((8,), max_iter=5).fit(X.astype(np.float32), y)
    assert fit64.predict_proba(X.astype(np.float32)).dtype == np.float64
    assert fit32.predict_proba(X.astype(np.float32)).dtype == np.float32
    assert fit32.predict_proba(X).dtype == np.float64
