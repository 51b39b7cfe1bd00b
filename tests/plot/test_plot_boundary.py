"""Decision boundaries of two-input classifiers."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from backprop.plot import decision_boundary  # noqa: E402


class ThreeClassScores:
    """Logits of three classes split by the lines x1 = x2 and x1 = -x2."""

    def predict(self, points):
        x1, x2 = points[:, 0], points[:, 1]
        return np.stack([x1 - x2, x2 - x1, np.abs(x1 + x2) - 1.0], axis=1)


class OneLogit:
    def predict(self, points):
        return (points[:, 0] - 0.5)[:, None]


def _points(n=60, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 2))


def test_regions_and_points_of_every_class(tmp_path):
    X = _points()
    y = ThreeClassScores().predict(X).argmax(axis=1)
    path = tmp_path / "boundary.png"
    figure = decision_boundary(ThreeClassScores(), X, y, path, resolution=50)
    (axes,) = figure.axes
    assert len(axes.collections) >= 1 + len(np.unique(y))  # the filled regions, one scatter per class
    assert [t.get_text() for t in axes.get_legend().get_texts()] == [str(c) for c in np.unique(y)]
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_single_logit_and_string_labels():
    X = _points()
    y = np.where(X[:, 0] > 0.5, "yes", "no")
    figure = decision_boundary(OneLogit(), X, y, resolution=20)
    assert [t.get_text() for t in figure.axes[0].get_legend().get_texts()] == ["no", "yes"]


def test_backprop_model_outputs(tmp_path):
    from backprop.nn import Dense, Sequential

    model = Sequential(Dense(2, 8, activation="tanh"), Dense(8, 3))
    X = _points(30)
    figure = decision_boundary(model, X, np.arange(30) % 3, resolution=20)
    assert figure.axes[0].get_title() == "decision boundary"


def test_needs_two_inputs():
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        decision_boundary(OneLogit(), np.zeros((5, 3)), np.zeros(5))
    with pytest.raises(ValueError, match="y must have shape"):
        decision_boundary(OneLogit(), np.zeros((5, 2)), np.zeros(4))


def test_axis_and_class_names_come_from_the_data():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(_points(), columns=["height", "weight"])
    y = pd.Series(np.where(X["height"] > 0.5, "tall", "short"), name="build")
    (axes,) = decision_boundary(OneLogit(), X, y, resolution=20).axes
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("height", "weight")
    assert axes.get_legend().get_title().get_text() == "build"
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["short", "tall"]


@pytest.mark.parametrize("class_names", [["setosa", "versicolor", "virginica"],
                                         {0: "setosa", 1: "versicolor", 2: "virginica"}])
def test_axis_and_class_names_from_arguments(class_names):
    X = _points()
    y = ThreeClassScores().predict(X).argmax(axis=1)
    (axes,) = decision_boundary(ThreeClassScores(), X, y, resolution=20, feature_names=("petal length", "petal width"),
                                class_names=class_names).axes
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("petal length", "petal width")
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["setosa", "versicolor", "virginica"]


@pytest.mark.parametrize("arguments, fragment", [
    ({"feature_names": ["only one"]}, "feature_names must be two strings"),
    ({"feature_names": "ab"}, "feature_names must be two strings"),
    ({"class_names": ["a", "b"]}, "class_names must name each of the 3 classes"),
])
def test_bad_names_are_refused(arguments, fragment):
    X = _points()
    y = ThreeClassScores().predict(X).argmax(axis=1)
    with pytest.raises(ValueError, match=fragment):
        decision_boundary(ThreeClassScores(), X, y, resolution=20, **arguments)
