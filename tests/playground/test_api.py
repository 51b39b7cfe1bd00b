"""The playground's API, through Starlette's TestClient: every number it sends is the library's."""

from __future__ import annotations

import base64
import io
import re
from importlib import resources

import numpy as np
import pytest

import backprop as bp
from backprop.cli.errors import run_command
from backprop.cli.main import cli
from backprop.playground.app import MAX_BODY_BYTES
from backprop.playground.data import GRID, NEURON_GRID
from backprop.playground.datasets import DATASETS


def decode(plane: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(plane), dtype=np.uint8)


def train(client, session_id, epochs):
    response = client.post(f"/api/sessions/{session_id}/train", json={"epochs": epochs})
    assert response.status_code == 200, response.text
    return response.json()


# ----------------------------------------------------------------------------- the page

def test_the_page_and_its_files_load_nothing_from_outside(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for path in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        assert path.startswith(("/static/", "data:")), path
        if path.startswith("/static/"):
            assert client.get(path).status_code == 200
    static = resources.files("backprop.playground").joinpath("static")
    for entry in static.iterdir():
        text = entry.read_text(encoding="utf-8")
        # The SVG namespace is a name, not a download.
        urls = set(re.findall(r"https?://[^\s\"'`)]+", text)) - {"http://www.w3.org/2000/svg"}
        assert not urls, (entry.name, urls)


def test_the_options_come_from_the_library(client):
    options = client.get("/api/options").json()
    assert options["optimizers"] == bp.optim.OPTIMIZERS.names()
    assert [d["name"] for d in options["datasets"]] == list(DATASETS)
    assert options["defaults"]["dataset"] == "circle"


# ----------------------------------------------------------------------------- training

@pytest.mark.parametrize("dataset", list(DATASETS))
def test_every_dataset_trains_and_the_state_has_every_picture(client, make_session, dataset):
    session = make_session(dataset=dataset, n_samples=200, layers=[{"neurons": 5, "activation": "tanh"}])
    data, state = session["data"], session["state"]
    assert data["task"] == "classification" and data["classes"] == [0, 1]
    assert len(data["train"]["x"]) == 100 and len(data["test"]["x"]) == 100
    assert session["sizes"] == [2, 5, 2] and session["grid"] == [GRID, NEURON_GRID]
    assert state["epoch"] == 0
    planes = [decode(p) for p in state["output"]["planes"]]
    assert len(planes) == 2 and all(p.size == GRID * GRID for p in planes)
    # The two planes are P(class 0) and P(class 1) of every grid point: they sum to 255 (rounded).
    assert np.all(np.abs(planes[0].astype(int) + planes[1] - 255) <= 1)
    assert [len(layer) for layer in state["neurons"]] == [5, 2]
    assert all(decode(n["plane"]).size == NEURON_GRID ** 2 for layer in state["neurons"] for n in layer)
    later = train(client, session["id"], 20)
    assert later["epoch"] >= 1 and len(later["history"]["loss"]) == later["epoch"]
    assert len(later["history"]["val_loss"]) == later["epoch"]


def test_training_lowers_the_loss_and_changes_the_boundary(client, make_session):
    session = make_session(dataset="gaussians", optimizer="adam", lr=0.03)
    before = decode(session["state"]["output"]["planes"][1])
    state = session["state"]
    for _ in range(10):
        state = train(client, session["id"], 50)
        if state["epoch"] >= 40:
            break
    losses = state["history"]["loss"]
    assert losses[-1] < 0.5 * losses[0]
    assert state["history"]["val_accuracy"][-1] > 0.9
    assert np.abs(decode(state["output"]["planes"][1]).astype(int) - before).mean() > 10


def test_the_state_shows_the_models_own_weights_and_outputs(live_session, client, make_session):
    session = make_session(dataset="xor")
    state = train(client, session["id"], 5)
    net = live_session(session["id"]).network
    for layer, dense in zip(state["weights"], net.dense):
        np.testing.assert_array_equal(np.array(layer["W"], dtype=np.float32), dense.W.data)
        np.testing.assert_array_equal(np.array(layer["b"], dtype=np.float32), dense.b.data)
    data = live_session(session["id"]).data
    probabilities = bp.training.predict_proba(net.model, data.grid)
    np.testing.assert_array_equal(decode(state["output"]["planes"][1]), np.round(probabilities[:, 1] * 255))
    # Neuron j of layer 1: its a over the neuron grid, scaled by its own max |a|.
    a1 = net.layer_outputs(data.neuron_grid)[0][:, 0].astype(np.float64)
    neuron = state["neurons"][0][0]
    assert neuron["scale"] == pytest.approx(np.abs(a1).max())
    np.testing.assert_array_equal(decode(neuron["plane"]), np.round((a1 / neuron["scale"] + 1) / 2 * 255))


def test_zero_initialisation_keeps_the_neurons_identical_and_the_monitor_says_so(client, make_session):
    session = make_session(init="zeros", layers=[{"neurons": 4, "activation": "tanh"}])
    assert any("symmetric initialisation" in w["message"] for w in session["state"]["warnings"])
    assert session["state"]["warnings"][0]["epoch"] == 0
    state = train(client, session["id"], 20)
    planes = [n["plane"] for n in state["neurons"][0]]
    assert len(set(planes)) == 1  # every neuron of the layer draws the same picture
    W = np.array(state["weights"][0]["W"])
    assert np.all(W == W[:1])


def test_a_diverging_run_stops_says_why_and_saves_nothing(client, make_session):
    session = make_session(optimizer="sgd", lr=10.0, loss="", dataset="spiral",
                           layers=[{"neurons": 16, "activation": "relu"}] * 4)
    state = session["state"]
    for _ in range(20):
        state = train(client, session["id"], 50)
        if state["diverged"]:
            break
    assert state["diverged"] and "Lower the learning rate" in state["diverged"]
    if any(not np.all(np.isfinite(np.array(w["W"], dtype=float))) for w in state["weights"]):
        response = client.get(f"/api/sessions/{session['id']}/model.safetensors")
        assert response.status_code == 409 and "cannot save" in response.json()["error"]


# ----------------------------------------------------------------------------- one example

def test_the_step_is_bp_traces_and_the_update_is_the_notes(live_session, client, make_session):
    session = make_session(dataset="moons", regularization="l2", reg_lambda=0.01, lr=0.1,
                           layers=[{"neurons": 3, "activation": "sigmoid"}, {"neurons": 2, "activation": "arctan"}])
    sid = session["id"]
    train(client, sid, 3)
    live = live_session(sid)
    x, y = live.data.X_train[7], live.data.y_train[7]
    expected = bp.trace(live.network.model, x, y, loss="cross_entropy")
    traced = client.post(f"/api/sessions/{sid}/trace", json={"split": "train", "index": 7}).json()
    assert traced["x"] == x.tolist() and traced["loss"] == pytest.approx(expected.loss, rel=1e-6)
    assert traced["max_residual"] < 1e-5
    for got, record in zip(traced["layers"], expected.layers):
        for key in ("z", "a", "delta", "dW", "db", "W", "b", "a_prev"):
            np.testing.assert_array_equal(np.array(got[key], dtype=np.float32), getattr(record, key), err_msg=key)
    assert traced["layers"][-1]["jacobian"] and traced["output_in_loss"] == "softmax"
    W_before = [d.W.data.copy() for d in live.network.dense]
    applied = client.post(f"/api/sessions/{sid}/apply", json={"split": "train", "index": 7}).json()
    for layer, dense, before, record in zip(applied["trace"]["layers"], live.network.dense, W_before, expected.layers):
        penalty = 2 * 0.01 * before  # L2(λ) = λ Σ W²: its gradient 2λW, from the regulariser
        np.testing.assert_allclose(np.array(layer["penalty_dW"]), penalty, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(dense.W.data, before - 0.1 * (record.dW + penalty), rtol=1e-6, atol=1e-7)
        np.testing.assert_array_equal(np.array(applied["state"]["weights"][record.index - 1]["W"],
                                               dtype=np.float32), dense.W.data)


def test_trace_of_a_test_row_and_of_a_regression_output(live_session, client, make_session):
    csv = "a,b,y\n" + "\n".join(f"{i % 7},{i % 5},{(i % 7) * 0.5 - (i % 5)}" for i in range(60))
    session = make_session(csv=csv, dataset="csv", features=["a", "b"], target="y", task="regression",
                           output_activation="linear", loss="half_mse")
    traced = client.post(f"/api/sessions/{session['id']}/trace", json={"split": "test", "index": 1}).json()
    live = live_session(session["id"])
    expected = bp.trace(live.network.model, live.data.X_test[1], live.data.y_test[1], loss="half_mse")
    np.testing.assert_array_equal(np.array(traced["layers"][0]["delta"], dtype=np.float32), expected.layers[0].delta)
    assert not traced["layers"][-1]["jacobian"] and traced["x_raw"] == live.data.raw_test[1].tolist()


def test_batch_norm_cannot_be_stepped_through_and_says_so(client, make_session):
    session = make_session(batch_norm=True)
    assert session["traceable"] is False
    response = client.post(f"/api/sessions/{session['id']}/trace", json={"index": 0})
    assert response.status_code == 409 and "batch_norm" in response.json()["error"]
    assert train(client, session["id"], 3)["epoch"] >= 1  # it still trains


# ----------------------------------------------------------------------------- the model file

def write_rows(path, rows):
    path.write_text("x1,x2\n" + "\n".join(f"{a},{b}" for a, b in rows) + "\n")


@pytest.mark.parametrize("loss", ["cross_entropy", "binary_cross_entropy_with_logits"])
def test_the_downloaded_model_is_what_backprop_predict_reads(live_session, client, make_session, tmp_path, capsys,
                                                              loss):
    session = make_session(dataset="circle", loss=loss, optimizer="adam", lr=0.03)
    train(client, session["id"], 30)
    response = client.get(f"/api/sessions/{session['id']}/model.safetensors")
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    path = tmp_path / "playground.safetensors"
    path.write_bytes(response.content)
    loaded, metadata = bp.load_with_metadata(path)
    assert metadata["task"] == "classification" and metadata["target"] == "label"
    live = live_session(session["id"])
    rows = np.array([[0.0, 0.0], [4.5, 0.5], [-1.0, 5.0], [2.0, -2.0]])
    write_rows(tmp_path / "rows.csv", rows)
    assert run_command(cli, ["predict", str(path), str(tmp_path / "rows.csv")]) == 0
    import pandas as pd

    predicted = pd.read_csv(io.StringIO(capsys.readouterr().out))
    X = live.data.preprocessor.transform(pd.DataFrame(rows, columns=["x1", "x2"]))
    expected = bp.training.predict_proba(live.network.model, X)
    np.testing.assert_allclose(predicted[["prob_0", "prob_1"]].to_numpy(), expected, atol=2e-6)
    np.testing.assert_array_equal(predicted["label"], expected.argmax(axis=1))


def test_a_regression_model_predicts_in_the_targets_units(client, make_session, tmp_path, capsys):
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-3, 3, 200), rng.uniform(-3, 3, 200)
    csv = "a,b,price\n" + "\n".join(f"{p},{q},{100 + 20 * p - 5 * q}" for p, q in zip(a, b))
    session = make_session(csv=csv, dataset="csv", features=["a", "b"], target="price", task="auto",
                           layers=[], optimizer="adam", lr=0.1)
    assert session["data"]["task"] == "regression" and session["sizes"] == [2, 1]
    train(client, session["id"], 200)
    path = tmp_path / "linear.safetensors"
    path.write_bytes(client.get(f"/api/sessions/{session['id']}/model.safetensors").content)
    (tmp_path / "rows.csv").write_text("a,b\n1,1\n-2,0\n")
    assert run_command(cli, ["predict", str(path), str(tmp_path / "rows.csv")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "price"
    np.testing.assert_allclose([float(v) for v in out[1:]], [115, 60], atol=1.0)


# ----------------------------------------------------------------------------- CSV uploads

def test_a_csv_upload_lists_its_columns_and_trains_on_the_chosen_ones(client, make_session):
    csv = "height;weight;kind;note\n" + "\n".join(
        f"{1.5 + (i % 10) / 20};{50 + i % 30};{'cat' if i % 3 else 'dog'};n{i}" for i in range(90))
    info = client.post("/api/csv", json={"csv": csv}).json()
    assert info["rows"] == 90
    assert [(c["name"], c["numeric"]) for c in info["columns"]] == [
        ("height", True), ("weight", True), ("kind", False), ("note", False)]
    session = make_session(csv=csv, dataset="csv", features=["weight", "height"], target="kind")
    assert session["data"]["classes"] == ["cat", "dog"] and session["data"]["features"] == ["weight", "height"]
    lo1, hi1, lo2, hi2 = session["data"]["extent"]
    assert lo1 < 50 < 79 < hi1 and lo2 < 1.5 < 1.95 < hi2
    assert train(client, session["id"], 5)["epoch"] >= 1


@pytest.mark.parametrize("csv, settings, fragment", [
    ("a,b,c\n1,2,3\n", {"features": ["a", "x"], "target": "c"}, "no column 'x'"),
    ("a,b,c\n" + "1,u,0\n2,v,1\n" * 10, {"features": ["a", "b"], "target": "c"}, "'b' is not numeric"),
    ("a,b,c\n" + "1,2,0\n" * 5, {"features": ["a", "b"], "target": "c"}, "at least 10"),
    ("a,b,c\n" + "".join(f"{i},{i},{i % 12}\n" for i in range(60)),
     {"features": ["a", "b"], "target": "c", "task": "classification"}, "12 classes"),
    ("a,b,c\n" + "".join(f"{i},{i},{i}.5\n" for i in range(60)),
     {"features": ["a", "b"], "target": "c", "loss": "cross_entropy"}, "does not fit a regression target"),
    ("", {"features": ["a", "b"], "target": "c"}, "empty"),
])
def test_unusable_uploads_are_refused_naming_the_problem(client, csv, settings, fragment):
    response = client.post("/api/sessions", json={"settings": {"dataset": "csv", **settings}, "csv": csv})
    assert response.status_code == 422, response.text
    assert fragment in response.json()["error"]


def test_a_csv_dataset_without_its_text_is_refused(client):
    response = client.post("/api/sessions", json={"settings": {"dataset": "csv", "features": ["a", "b"],
                                                               "target": "c"}})
    assert response.status_code == 422 and "CSV text" in response.json()["error"]


# ----------------------------------------------------------------------------- bad requests

@pytest.mark.parametrize("method, path, body, status, fragment", [
    ("post", "/api/sessions", b"{bad", 400, "not valid JSON"),
    ("post", "/api/sessions", b"[1, 2]", 400, "JSON object"),
    ("post", "/api/sessions", b'{"settings": {"lr": -1}}', 422, "lr must be"),
    ("post", "/api/sessions", b'{"settings": {"layers": [{"neurons": 4, "activation": "relux"}]}}', 422,
     "layers[0].activation"),
    ("post", "/api/sessions", b'{"setings": {}}', 422, "unknown field"),
    ("post", "/api/sessions", b'{"settings": {}, "csv": 5}', 422, "csv must be"),
    ("post", "/api/sessions", b'{"settings": {"batch_size": 300}}', 422, "larger than the 200 training rows"),
    ("post", "/api/sessions", b'{"settings": {"batch_norm": true, "batch": "stochastic"}}', 422,
     "batch normalisation needs at least 2"),
    ("post", "/api/sessions", b'{"settings": {"batch_norm": true, "batch_size": 199}}', 422, "the last batch has 1"),
    ("post", "/api/sessions", b'{"settings": {"loss": "mse"}}', 422, "does not fit a classification target"),
    ("get", "/api/sessions/nope", None, 404, "no such session"),
    ("post", "/api/sessions/nope/train", b"{}", 404, "no such session"),
    ("get", "/api/nothing", None, 404, "Not Found"),
    ("post", "/api/csv", b'{"csv": ""}', 422, "empty"),
])
def test_bad_requests_get_a_status_and_a_message_naming_the_problem(client, method, path, body, status, fragment):
    response = getattr(client, method)(path, **({} if body is None else {"content": body}))
    assert response.status_code == status, response.text
    message = response.json()["error"]
    assert fragment in message and "\n" not in message


@pytest.mark.parametrize("path, body, fragment", [
    ("train", {"epochs": 0}, "epochs must be"),
    ("train", {"epochs": 1.5}, "epochs must be"),
    ("train", {"epochs": 10_000}, "epochs must be"),
    ("train", {"epoch": 1}, "unknown field"),
    ("trace", {"split": "validation"}, "split must be"),
    ("trace", {"index": 200}, "index must be an integer from 0 to 199"),
    ("trace", {"index": -1}, "index must be"),
    ("apply", {"index": "3"}, "index must be"),
])
def test_bad_session_requests_are_422_naming_the_field(client, make_session, path, body, fragment):
    session = make_session()
    response = client.post(f"/api/sessions/{session['id']}/{path}", json=body)
    assert response.status_code == 422 and fragment in response.json()["error"]


def test_a_body_over_the_limit_is_413(client):
    response = client.post("/api/sessions", content=b" " * (MAX_BODY_BYTES + 1))
    assert response.status_code == 413 and "larger than" in response.json()["error"]


def test_the_store_keeps_the_most_recent_sessions(client, make_session):
    first = make_session()["id"]
    others = [make_session()["id"] for _ in range(3)]
    assert client.get(f"/api/sessions/{first}").status_code == 200  # used again: the newest now
    make_session()  # the fifth of at most four: forgets the least recently used, others[0]
    assert client.get(f"/api/sessions/{others[0]}").status_code == 404
    assert client.get(f"/api/sessions/{first}").status_code == 200
    assert len(client.app.state.sessions) == 4
