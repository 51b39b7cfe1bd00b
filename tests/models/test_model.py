"""Model: the front door (fit, evaluate, predict..., save, summary, trace) lives here, not on the layers.

The front door's signatures are real (``help(model.fit)`` shows them), no registered layer
class has any of its methods, fitted state is one FitRecord saved with the model, the summary
table says what the layers hold, and Model wraps any module or is subclassed with a forward.
"""

import dataclasses
import inspect
import pydoc

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from backprop.training import FitRecord, Trainer, fit, predict_classes
from backprop.training import loop

FRONT_DOOR = ("fit", "evaluate", "predict", "predict_proba", "predict_classes", "save", "summary", "trace")


@pytest.fixture
def blobs():
    """Three separable 2-D classes with string labels."""
    rng = np.random.default_rng(2)
    centres = np.array([[0.0, 3.0], [3.0, 0.0], [-3.0, -3.0]])
    X = np.concatenate([rng.normal(c, 0.5, size=(20, 2)) for c in centres]).astype(np.float32)
    return X, np.repeat(np.array(["setosa", "versicolor", "virginica"]), 20)


def _classifier(seed=0):
    bp.manual_seed(seed)
    return nn.Sequential(nn.Dense(2, 8, activation="relu"), nn.Dense(8, 3))


# ------------------------------------------------------------- where the door is
@pytest.mark.parametrize("name", FRONT_DOOR)
def test_the_front_door_has_real_signatures_and_docstrings(name):
    method = getattr(bp.Model, name)
    parameters = inspect.signature(method).parameters.values()
    assert not [p for p in parameters if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)], name
    assert method.__doc__ and len(method.__doc__.strip()) > 40, name


def test_model_fit_takes_what_training_fit_takes():
    # One list of arguments: Model.fit passes each on, so the two signatures must not drift apart.
    ours = list(inspect.signature(bp.Model.fit).parameters.values())[1:]
    theirs = list(inspect.signature(loop.fit).parameters.values())[1:]
    assert [(p.name, p.kind, p.default) for p in ours] == [(p.name, p.kind, p.default) for p in theirs]
    ours = list(inspect.signature(bp.Model.evaluate).parameters)[1:]
    assert ours == [name for name in inspect.signature(loop.evaluate).parameters][1:-1]  # less record=


def test_help_shows_the_real_signature():
    text = pydoc.render_doc(_classifier().fit, renderer=pydoc.plaintext)
    assert "fit(X, y=None, *, loss, optimizer='adam', epochs: 'int' = 1" in text
    assert "validation_split" in text and "Returns:" in text


def test_module_has_no_training_or_io_methods():
    for name in FRONT_DOOR:
        assert not hasattr(nn.Module, name), name
    assert not hasattr(nn.Dropout(0.1), "fit")


def test_no_registered_layer_class_has_the_front_door():
    # Iterates the layer registry: a new layer is checked without editing this test.
    layers = [nn.get_module_class(name) for name in nn.registered_modules()]
    models = [klass for klass in layers if issubclass(klass, bp.Model)]
    assert nn.Sequential in models and bp.Model in models
    for klass in layers:
        if klass not in models:
            assert not [name for name in FRONT_DOOR if hasattr(klass, name)], klass.__name__


def test_the_namespaces_gather_the_models():
    assert nn.Sequential is bp.models.Sequential and nn.Model is bp.Model is bp.models.Model
    assert issubclass(nn.Sequential, bp.Model)


# --------------------------------------------------------------- the fit record
def test_fit_keeps_one_record(blobs):
    X, y = blobs
    model = _classifier()
    assert model.fit_record is None and not hasattr(model, "classes_") and not hasattr(model, "n_features_in_")
    model.fit(X, y, loss="cross_entropy", epochs=2, verbose=0, metrics=["accuracy"])
    record = model.fit_record
    assert record == FitRecord(loss="cross_entropy", classes=np.unique(y), n_features_in=2, metrics=("accuracy",))
    assert model.classes_ is record.classes and model.n_features_in_ == 2
    assert record.kind == "multiclass"
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.loss = "mse"
    with pytest.raises(ValueError):
        record.classes[0] = "rose"  # read-only: the record changes only by a new fit
    # No loose fitted attributes are written onto the model or its layers.
    loose = {"loss_name_", "_fit_loss", "classes_", "fit_metrics_", "n_features_in_"}
    assert not [m for m in model.modules() for name in loose if name in m.__dict__]


def test_a_second_fit_replaces_the_record_and_keeps_the_classes(blobs):
    X, y = blobs
    model = _classifier()
    model.fit(X, y, loss="cross_entropy", epochs=1, verbose=0, metrics=["accuracy"])
    first = model.fit_record
    model.fit(X[:10], y[:10], loss="cross_entropy", epochs=1, verbose=0)  # a subset: the classes stay
    assert model.fit_record is not first and model.fit_record.metrics == ()
    np.testing.assert_array_equal(model.classes_, first.classes)


def test_a_plain_module_trains_through_bp_fit_and_its_record_stays_with_the_trainer(blobs):
    X, y = blobs
    bp.manual_seed(0)
    dense = nn.Dense(2, 3)
    history = fit(dense, X, y, loss="cross_entropy", epochs=1, verbose=0)
    assert isinstance(history, bp.History) and "fit_record" not in dense.__dict__
    trainer = Trainer(dense, loss="cross_entropy", verbose=0)
    trainer.fit(X, y, epochs=3)
    assert trainer.fit_record.loss == "cross_entropy" and list(trainer.fit_record.classes) == sorted(set(y))
    labels = predict_classes(dense, X, record=trainer.fit_record)
    assert set(labels) <= set(y)
    with pytest.raises(ValueError, match="need a model fit with a classification loss"):
        predict_classes(dense, X)  # the module itself keeps no record


def test_evaluate_defaults_to_the_recorded_loss_and_metrics(blobs):
    X, y = blobs
    model = _classifier()
    with pytest.raises(ValueError, match="not been fit"):
        model.evaluate(X, y)
    model.fit(X, y, loss="cross_entropy", epochs=2, verbose=0, metrics=["accuracy"])
    assert model.evaluate(X, y) == model.evaluate(X, y, loss="cross_entropy", metrics=["accuracy"])


def test_the_record_is_saved_and_loaded_with_the_model(tmp_path, blobs):
    X, y = blobs
    model = _classifier()
    model.fit(X, y, loss="cross_entropy", epochs=2, verbose=0, metrics=["accuracy", "f1"])
    path = tmp_path / "m.safetensors"
    model.save(path, metadata={"note": "blobs"})
    loaded, metadata = bp.load_with_metadata(path)
    assert type(loaded) is nn.Sequential and metadata == {"note": "blobs"}
    assert loaded.fit_record == model.fit_record
    np.testing.assert_array_equal(loaded.predict_classes(X), model.predict_classes(X))
    assert loaded.evaluate(X, y) == pytest.approx(model.evaluate(X, y))


def test_callables_are_not_saved_but_their_names_are_not_invented(tmp_path, blobs):
    X, y = blobs
    model = _classifier()

    def share_right(y_true, y_pred):
        return float(np.mean(np.argmax(y_pred, axis=1) == y_true))

    model.fit(X, y, loss="cross_entropy", epochs=1, verbose=0, metrics=["accuracy", share_right])
    model.save(tmp_path / "m.safetensors")
    assert bp.load(tmp_path / "m.safetensors").fit_record.metrics == ("accuracy",)

    def squares(prediction, target, sample_weight=None):
        return ((prediction - bp.Tensor(np.asarray(target).reshape(prediction.shape))) ** 2).mean()

    regressor = bp.Model(nn.Dense(2, 1))
    regressor.fit(X, X[:, 0], loss=squares, epochs=1, verbose=0)
    assert regressor.fit_record.loss is None and regressor.fit_record.loss_spec is squares
    assert regressor.evaluate(X, X[:, 0])["loss"] >= 0  # the callable itself is kept in memory
    regressor.save(tmp_path / "r.safetensors")
    loaded = bp.load(tmp_path / "r.safetensors")
    assert loaded.fit_record.loss is None and loaded.fit_record.n_features_in == 2
    with pytest.raises(ValueError, match="not been fit"):
        loaded.evaluate(X, X[:, 0])  # a file cannot name a custom loss


def test_a_loss_config_round_trips_through_the_record_json():
    record = FitRecord(loss="mse", n_features_in=3, metrics=("mae",))
    assert FitRecord.from_json(record.to_json(), "f") == record
    huber = FitRecord.of_fit(bp.losses.Huber(delta=2.0))
    assert huber.loss == "huber" and huber.loss_config == {"delta": 2.0}
    assert huber.loss_spec == bp.losses.Huber(delta=2.0)
    loaded = FitRecord.from_json(huber.to_json(), "f")
    assert loaded.loss_spec == {"name": "huber", "delta": 2.0} and loaded.loss_object == bp.losses.Huber(2.0)
    custom = FitRecord.of_fit(lambda prediction, target: bp.losses.mse(prediction, target))
    assert custom.loss is None and custom.loss_config == {}  # a custom callable: nothing a file could rebuild
    with pytest.raises(bp.ModelFileError, match="refused by mse"):
        FitRecord.from_json({"loss": {"name": "mse", "config": {"delta": 2.0}}}, "f")


def test_a_sequential_slice_has_no_record(blobs):
    X, y = blobs
    model = _classifier()
    model.fit(X, y, loss="cross_entropy", epochs=1, verbose=0)
    assert model[:1].fit_record is None


# -------------------------------------------------------------------- wrapping
def test_a_model_wraps_any_module(tmp_path, blobs):
    X, y = blobs
    bp.manual_seed(1)
    dense = nn.Dense(2, 3)
    model = bp.Model(dense)
    assert model.module is dense and [name for name, _ in model.named_parameters()] == ["module.W", "module.b"]
    assert model.expected_in_features() == 2 and model.output_features(2) == 3
    np.testing.assert_array_equal(model.predict(X), dense(bp.Tensor(X)).data)
    model.fit(X, y, loss="cross_entropy", epochs=3, verbose=0)
    model.save(tmp_path / "w.safetensors")
    loaded = bp.load(tmp_path / "w.safetensors")
    assert type(loaded) is bp.Model and type(loaded.module) is nn.Dense
    assert loaded.fit_record == model.fit_record
    np.testing.assert_array_equal(loaded.predict_classes(X), model.predict_classes(X))
    with pytest.raises(TypeError, match="must be a Module"):
        bp.Model("dense")


def test_a_file_of_a_bare_module_loads_as_a_wrapped_model(tmp_path):
    bp.manual_seed(2)
    dense = nn.Dense(3, 2)
    bp.save(dense, tmp_path / "d.safetensors")
    loaded = bp.load(tmp_path / "d.safetensors")
    assert type(loaded) is bp.Model and loaded.fit_record is None
    for key, value in dense.state_dict().items():
        np.testing.assert_array_equal(loaded.module.state_dict()[key], value)


def test_a_subclass_with_its_own_forward(tmp_path, blobs):
    X, y = blobs

    @nn.register_module(name="TestModelTwoLayer")
    class TwoLayer(bp.Model):
        def __init__(self):
            super().__init__()
            self.hidden = nn.Dense(2, 8, activation="tanh")
            self.out = nn.Dense(8, 3)

        def forward(self, x):
            return self.out(self.hidden(x))

    bp.manual_seed(3)
    model = TwoLayer()
    model.fit(X, y, loss="cross_entropy", optimizer=bp.optim.Adam(model.parameters(), lr=0.05), epochs=30,
              batch_size=None, verbose=0)
    assert (model.predict_classes(X) == y).mean() > 0.9
    model.save(tmp_path / "t.safetensors")
    loaded = bp.load(tmp_path / "t.safetensors")
    assert type(loaded) is TwoLayer and loaded.fit_record == model.fit_record
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    rows = model.summary(print_fn=None).splitlines()
    assert any(row.startswith("hidden") for row in rows) and any(row.startswith("out") for row in rows)
    with pytest.raises(NotImplementedError, match="does not implement forward"):
        bp.Model()(bp.Tensor(X))


def test_trace_defaults_to_the_recorded_loss(blobs):
    X, y = blobs
    model = _classifier()
    with pytest.raises(ValueError, match="not been fit"):
        model.trace(X[0], y[0])
    model.fit(X, y, loss="cross_entropy", epochs=1, verbose=0)
    assert model.trace(X[0], y[0]).loss_name == "cross_entropy"
    assert model.trace(X[:4], y[:4]).max_residual < 1e-4


# --------------------------------------------------------------------- summary
def _table(text):
    """{layer name: its row's cells} of a summary table."""
    lines = text.splitlines()
    rules = [i for i, line in enumerate(lines) if set(line) == {"="}]
    return {line.split()[0]: line.split() for line in lines[rules[0] + 1:rules[1]]}, lines


def _total(lines, label):
    return int(next(line for line in lines if line.startswith(label)).split(": ")[1].replace(",", ""))


def test_summary_of_a_dense_network(blobs, capsys):
    X, y = blobs
    model = _classifier()
    text = model.summary()
    assert capsys.readouterr().out == text + "\n"
    rows, lines = _table(text)
    assert lines[0] == "Model: Sequential"
    assert list(rows) == ["0", "1"]
    assert rows["0"][1:] == ["Dense(relu)", "(None,", "8)", str(model[0].num_parameters()), "0"]
    assert rows["1"][1:] == ["Dense", "(None,", "3)", str(model[1].num_parameters()), "0"]
    assert _total(lines, "Total parameters") == _total(lines, "Trainable parameters") == model.num_parameters()
    assert _total(lines, "Non-trainable parameters") == 0
    assert not any(line.startswith("Fit with") for line in lines)
    model.fit(X, y, loss="cross_entropy", epochs=1, verbose=0)
    fitted = model.summary(print_fn=None).splitlines()[-1]
    assert fitted.startswith("Fit with: loss cross_entropy, 2 input features, 3 classes ['setosa'")


def test_summary_counts_batchnorm_statistics_as_non_trainable():
    bp.manual_seed(0)
    model = nn.Sequential(nn.Dense(4, 5), nn.BatchNorm(5), nn.Dropout(0.2),
                          nn.Sequential(nn.ReLU(), nn.Dense(5, 2)))
    rows, lines = _table(model.summary(print_fn=None))
    assert list(rows) == ["0", "1", "2", "3.0", "3.1"]  # nested chains are walked down to their layers
    norm = model[1]
    running = norm.running_mean.size + norm.running_var.size
    assert rows["1"][1:] == ["BatchNorm", "(None,", "5)", str(norm.num_parameters()), str(running)]
    assert rows["2"][-2:] == ["0", "0"] and rows["3.1"][2:4] == ["(None,", "2)"]
    assert _total(lines, "Non-trainable parameters") == running
    assert _total(lines, "Total parameters") == model.num_parameters() + running


def test_summary_of_a_conv_network():
    bp.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1, activation="relu"), nn.MaxPool2d(2),
                          nn.Conv2d(3, 4, 2), nn.GlobalAvgPool2d(), nn.Dense(4, 2))
    rows, _ = _table(model.summary(print_fn=None))
    # Without an input shape the image layers' shapes are unknown; the Dense after them is not.
    assert [rows[name][2] for name in ("0", "1", "2", "3")] == ["?"] * 4
    assert rows["4"][2:4] == ["(None,", "2)"]

    rows, _ = _table(model.summary(input_shape=(1, 8, 8), print_fn=None))
    shape = (1, 8, 8)  # what each layer says it outputs, chained, against the table's forward pass
    for index, layer in enumerate(model):
        shape = layer.output_shape(shape) if hasattr(layer, "output_shape") else (layer.output_features(None),)
        assert " ".join(rows[str(index)][2:2 + len(shape) + 1]) == "(None, " + ", ".join(map(str, shape)) + ")"
    assert rows["0"][-2:] == [str(model[0].num_parameters()), "0"]
    with pytest.raises(ValueError, match="cannot take inputs of shape"):
        model.summary(input_shape=(2, 8, 8), print_fn=None)
    with pytest.raises(ValueError, match="input_shape"):
        model.summary(input_shape=(0, 8), print_fn=None)


def test_summary_of_a_wrapped_module():
    bp.manual_seed(0)
    rows, lines = _table(bp.Model(nn.Dense(3, 1)).summary(print_fn=None))
    assert lines[0] == "Model: Model" and rows["module"][1:4] == ["Dense", "(None,", "1)"]


def test_summary_infers_shapes_through_a_concat_and_embeddings():
    bp.manual_seed(0)
    city, shop = nn.Embedding(20, 3), nn.Embedding(5, 2)
    concat = nn.Concat({"city": nn.Sequential(city, nn.Flatten()), "numeric": nn.Identity(), "shop": shop})
    model = bp.Model(nn.Sequential(concat, nn.Dense(2 * 3 + 5 + 2, 4), nn.Dense(4, 1)))
    # The Identity fixes no width, so by default the Concat's output is unknown; the Dense rows are not.
    rows, _ = _table(model.summary(print_fn=None))
    assert rows["module.0"][2] == "?" and rows["module.1"][2:4] == ["(None,", "4)"]

    by_name = _table(model.summary({"city": (2,), "numeric": 5, "shop": ()}, print_fn=None))[0]
    in_order = _table(model.summary(((2,), (5,), ()), print_fn=None))[0]
    assert by_name == in_order
    expected = {"module.0": (2 * city.embedding_dim + 5 + shop.embedding_dim,),
                "module.0.city.0": (2, city.embedding_dim), "module.0.city.1": (2 * city.embedding_dim,),
                "module.0.numeric": (5,), "module.0.shop": (shop.embedding_dim,), "module.1": (4,)}
    for name, shape in expected.items():  # each branch's layers on their own input, then the join
        assert " ".join(by_name[name][2:3 + len(shape)]) == "(None, " + ", ".join(map(str, shape)) + ")"
    assert by_name["module.0"][-2:] == [str(concat.num_parameters()), "0"]

    for bad, match in [((2, 5), "a dict"), ({"city": (2,)}, "missing"), ({"city": 2, "numeric": (), "shop": ()},
                                                                        "numeric"),
                       ({"city": 3, "numeric": 5, "shop": ()}, "cannot take inputs of shape")]:
        with pytest.raises(ValueError, match=match):
            model.summary(bad, print_fn=None)


def test_summary_of_a_concat_of_branches_that_fix_their_inputs_and_of_an_embedding():
    bp.manual_seed(0)
    model = nn.Sequential(nn.Concat(nn.Embedding(5, 2), nn.Dense(3, 4)), nn.Dense(6, 1))
    rows, _ = _table(model.summary(print_fn=None))  # an Embedding alone: one code per example
    assert rows["0"][2:4] == ["(None,", "6)"] and rows["0.0"][2:4] == ["(None,", "2)"]
    assert rows["0.1"][2:4] == ["(None,", "4)"]
    chain = nn.Sequential(nn.Embedding(5, 2), nn.Flatten(), nn.Dense(6, 1))
    rows, _ = _table(chain.summary((3,), print_fn=None))  # codes (N, 3) -> (N, 3, D)
    assert rows["0"][2:5] == ["(None,", "3,", "2)"] and rows["1"][2:4] == ["(None,", "6)"]
    chain.fit(np.random.default_rng(0).integers(0, 5, (20, 3)), np.zeros((20, 1)), loss="mse", epochs=1, verbose=0)
    assert _table(chain.summary(print_fn=None))[0]["0"][2:5] == ["(None,", "3,", "2)"]  # the fit's code columns


@pytest.mark.parametrize("module", ["backprop.models.model", "backprop.models.saving", "backprop.io.model_file"])
def test_the_examples_in_the_docstrings_run(module):
    import doctest
    import importlib

    assert doctest.testmod(importlib.import_module(module)).failed == 0
