"""``backprop export``: model files from ``backprop train`` as ONNX files that take the raw columns.

The exported files run in ONNX Runtime and give the outputs of ``backprop predict`` (labels equal,
probabilities and regression values to 1e-5 of the unrounded ``predict_proba`` / ``predict``):
on a table with every column kind (numbers, categories, booleans, dates with times, times of
day, missing cells, a category never seen), on the bundled housing and iris data, and on pictures.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from backprop.cli.errors import run_command  # noqa: E402
from backprop.cli.main import cli  # noqa: E402
from backprop.cli.pipeline import load_model_file  # noqa: E402
from backprop.onnx.preprocessing import onnx_inputs  # noqa: E402
from backprop.training import predict_proba  # noqa: E402

TOLERANCE = 1e-5


def run_in_process(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = run_command(cli, [str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


def run_onnx(path, feeds):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))


def mixed_table(n=240, seed=0):
    """A classification table with every column kind the preprocessor knows, and missing cells."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("1968-02-27T00:00:00")
    seconds = rng.integers(0, 60 * 365 * 86_400, n)  # 1968 to 2028: leap days, the epoch, 2000
    frame = pd.DataFrame({
        "weight": rng.normal(5, 2, n).round(2),
        "colour": rng.choice(["black", "white", "ginger"], n),
        "seen": (start + seconds.astype("timedelta64[s]")).astype(str),
        "fed_at": [f"{h:02d}:{m:02d}:{s:02d}" for h, m, s in rng.integers(0, [24, 60, 60], (n, 3))],
        "indoor": pd.Series(rng.choice([True, False], n), dtype=object),
        "litter": rng.integers(1, 6, n),
    })
    score = frame.weight + 2 * (frame.colour == "black") + frame.indoor
    frame["species"] = np.where(score > 7, "dog", np.where(score > 4.5, "cat", "fox"))
    for column, row in [("weight", 3), ("colour", 5), ("seen", 7), ("fed_at", 9), ("indoor", 11)]:
        frame.loc[row, column] = np.nan
    return frame


def check_pipeline(model_path, onnx_path, frame):
    """The ONNX file on the raw rows equals the command line's predict on them."""
    loaded = load_model_file(model_path)
    outputs = run_onnx(onnx_path, onnx_inputs(frame, model_path))
    X = loaded.preprocessor.transform(frame)
    if loaded.task == "regression":
        expected = loaded.preprocessor.inverse_transform_target(loaded.model.predict(X))
        # To 1e-5 in the network's (standardised) units: the target's std scales float32 rounding too.
        std = loaded.preprocessor.get_config()["target"]["std"]
        np.testing.assert_allclose(outputs["prediction"], expected, rtol=TOLERANCE, atol=TOLERANCE * std)
        return outputs
    probabilities = predict_proba(loaded.model, X)
    np.testing.assert_allclose(outputs["probabilities"], probabilities, rtol=TOLERANCE, atol=TOLERANCE)
    np.testing.assert_array_equal(outputs["label"], loaded.preprocessor.inverse_transform_target(probabilities))
    return outputs


@pytest.fixture(scope="module")
def mixed_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mixed")
    mixed_table().to_csv(folder / "table.csv", index=False)
    status, _, err = run_in_process("train", folder / "table.csv", "--target", "species", "--categorical", "litter",
                                    "--epochs", "15", "--out", folder / "model.safetensors")
    assert status == 0, err
    return folder


def test_every_column_kind_through_the_exported_pipeline(mixed_model):
    status, _, err = run_in_process("export", mixed_model / "model.safetensors", mixed_model / "model.onnx")
    assert status == 0, err
    assert err.startswith(f"wrote {mixed_model / 'model.onnx'}: inputs weight, colour, seen, fed_at, indoor, litter")
    kinds = {c["kind"] for c in load_model_file(mixed_model / "model.safetensors").preprocessor.get_config()["columns"]}
    assert kinds == {"numeric", "categorical", "datetime", "time"}
    frame = pd.read_csv(mixed_model / "table.csv")
    frame.loc[0, "colour"] = "purple"  # never seen: an all-zero one-hot row
    outputs = check_pipeline(mixed_model / "model.safetensors", mixed_model / "model.onnx", frame)
    assert outputs["label"].dtype.kind in "OU" and set(outputs["label"]) <= {"cat", "dog", "fox"}


def test_the_predict_command_and_the_onnx_file_agree(mixed_model):
    run_in_process("export", mixed_model / "model.safetensors", mixed_model / "model.onnx")
    status, out, err = run_in_process("predict", mixed_model / "model.safetensors", mixed_model / "table.csv")
    assert status == 0, err
    predicted = pd.read_csv(io.StringIO(out))
    frame = pd.read_csv(mixed_model / "table.csv")
    outputs = run_onnx(mixed_model / "model.onnx", onnx_inputs(frame, mixed_model / "model.safetensors"))
    np.testing.assert_array_equal(outputs["label"], predicted["species"].to_numpy())
    rounded = predicted[["prob_cat", "prob_dog", "prob_fox"]].to_numpy()  # the CSV keeps 6 decimals
    np.testing.assert_allclose(outputs["probabilities"], rounded, atol=1e-6)


def test_network_only_takes_the_preprocessed_matrix(mixed_model):
    status, _, err = run_in_process("export", mixed_model / "model.safetensors", mixed_model / "net.onnx",
                                    "--network-only")
    assert status == 0, err
    loaded = load_model_file(mixed_model / "model.safetensors")
    X = loaded.preprocessor.transform(pd.read_csv(mixed_model / "table.csv"))
    outputs = run_onnx(mixed_model / "net.onnx", {"input": X})
    np.testing.assert_allclose(outputs["output"], loaded.model.predict(X), rtol=TOLERANCE, atol=TOLERANCE)


@pytest.mark.parametrize("dataset, target", [("housing", "price"), ("iris", "target")])
def test_bundled_data(dataset, target, tmp_path):
    status, _, err = run_in_process("datasets", dataset, "--out", tmp_path / "data.csv")
    assert status == 0, err
    status, _, err = run_in_process("train", tmp_path / "data.csv", "--target", target, "--epochs", "10",
                                    "--out", tmp_path / "model.safetensors")
    assert status == 0, err
    status, _, err = run_in_process("export", tmp_path / "model.safetensors", tmp_path / "model.onnx")
    assert status == 0, err
    check_pipeline(tmp_path / "model.safetensors", tmp_path / "model.onnx", pd.read_csv(tmp_path / "data.csv"))


def test_pictures_are_standardised_in_the_graph(tmp_path):
    from backprop.cli.images import load_image_model
    from backprop.datasets import make_ball_images

    X, y = make_ball_images(24, seed=5, size=16, radius=(3, 5))
    np.savez(tmp_path / "balls.npz", X=X, y=np.where(y == 1, "ball", "empty"))
    status, _, err = run_in_process("train", tmp_path / "balls.npz", "--conv", "4", "--epochs", "2",
                                    "--batch-size", "8", "--out", tmp_path / "balls.safetensors")
    assert status == 0, err
    status, _, err = run_in_process("export", tmp_path / "balls.safetensors", tmp_path / "balls.onnx")
    assert status == 0, err
    loaded = load_image_model(tmp_path / "balls.safetensors")
    outputs = run_onnx(tmp_path / "balls.onnx", {"pixels": X.astype(np.float32)})
    probabilities = predict_proba(loaded.model, loaded.transform.transform(X))
    np.testing.assert_allclose(outputs["probabilities"], probabilities, rtol=TOLERANCE, atol=TOLERANCE)
    np.testing.assert_array_equal(outputs["label"], np.array(["ball", "empty"])[probabilities.argmax(axis=1)])


def test_a_model_saved_from_python_exports_its_network(tmp_path):
    import backprop as bp

    model = bp.nn.Sequential(bp.nn.Dense(3, 2))
    model.save(tmp_path / "plain.safetensors")
    status, _, err = run_in_process("export", tmp_path / "plain.safetensors", tmp_path / "plain.onnx")
    assert status == 0, err
    assert "inputs input; outputs output" in err


@pytest.mark.parametrize("make_input, fragment", [
    (lambda folder: (folder / "junk.safetensors").write_text("no") and folder / "junk.safetensors",
     "is not a backprop model file"),
])
def test_bad_input_is_one_line_and_exit_2(make_input, fragment, tmp_path):
    status, _, err = run_in_process("export", make_input(tmp_path), tmp_path / "out.onnx")
    assert status == 2 and err.count("\n") == 1 and err.startswith("error: ") and fragment in err, err
    assert not (tmp_path / "out.onnx").exists()


def test_an_unwritable_destination_is_one_line_and_exit_2(mixed_model, tmp_path):
    status, _, err = run_in_process("export", mixed_model / "model.safetensors", tmp_path / "no" / "such" / "m.onnx")
    assert status == 2 and err.count("\n") == 1 and err.startswith("error: "), err


def test_a_missing_model_file_is_one_line_and_exit_2(tmp_path):
    status, _, err = run_in_process("export", tmp_path / "absent.safetensors", tmp_path / "m.onnx")
    assert status == 2 and err.count("\n") == 1 and "absent.safetensors" in err, err


def test_include_preprocessing_needs_a_file_from_backprop_train(tmp_path):
    import backprop as bp

    bp.nn.Sequential(bp.nn.Dense(3, 2)).save(tmp_path / "plain.safetensors")
    with pytest.raises(ValueError, match="needs a model file written by 'backprop train'"):
        bp.export_onnx(tmp_path / "plain.safetensors", tmp_path / "plain.onnx", include_preprocessing=True)
    assert not (tmp_path / "plain.onnx").exists()


def test_onnx_inputs_names_the_missing_columns(mixed_model):
    frame = pd.read_csv(mixed_model / "table.csv").drop(columns=["colour", "seen"])
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['colour', 'seen'\]"):
        onnx_inputs(frame, mixed_model / "model.safetensors")


def test_embedded_columns_feed_the_networks_concat(tmp_path):
    frame = mixed_table(seed=1)
    frame["shop"] = [f"shop{i % 40}" for i in range(len(frame))]
    frame.to_csv(tmp_path / "table.csv", index=False)
    status, _, err = run_in_process("train", tmp_path / "table.csv", "--target", "species", "--embed-above", "2",
                                    "--keep-id-columns", "--epochs", "5", "--out", tmp_path / "model.safetensors")
    assert status == 0, err
    kinds = [c["kind"] for c in load_model_file(tmp_path / "model.safetensors").preprocessor.get_config()["columns"]]
    assert "embedded" in kinds
    status, _, err = run_in_process("export", tmp_path / "model.safetensors", tmp_path / "model.onnx")
    assert status == 0, err
    raw = pd.read_csv(tmp_path / "table.csv")
    raw.loc[0, "shop"] = "a shop never seen"
    loaded = load_model_file(tmp_path / "model.safetensors")
    outputs = run_onnx(tmp_path / "model.onnx", onnx_inputs(raw, tmp_path / "model.safetensors"))
    probabilities = predict_proba(loaded.model, loaded.preprocessor.transform_inputs(raw))
    np.testing.assert_allclose(outputs["probabilities"], probabilities, rtol=TOLERANCE, atol=TOLERANCE)
    np.testing.assert_array_equal(outputs["label"], loaded.preprocessor.inverse_transform_target(probabilities))
