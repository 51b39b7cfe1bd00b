"""``backprop train`` and ``backprop predict`` on pictures: a folder of class subfolders of PNG
files (made from make_ball_images), an .npz file, and the one-line errors for bad pictures."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pandas as pd
import pytest

from backprop.cli.errors import run_command
from backprop.cli.main import cli
from backprop.datasets import make_ball_images

Image = pytest.importorskip("PIL.Image")

SIZE = 24
FAST = ("--conv", "8,16", "--lr", "0.01", "--batch-size", "16")


def save_pictures(folder, X, y, mode="RGB", names=("empty", "ball")):
    """X (N, 3, H, W) in [0, 1] as PNG files folder/<class>/<i>.png; returns the paths and classes."""
    files = []
    for i, (x, label) in enumerate(zip(X, y)):
        pixels = (x.transpose(1, 2, 0) * 255).round().astype(np.uint8)
        picture = Image.fromarray(pixels)
        if mode != "RGB":
            picture = picture.convert(mode)
        path = folder / names[label] / f"{i:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        picture.save(path)
        files.append((path, names[label]))
    return files


def balls(n=60, seed=0):
    return make_ball_images(n, seed=seed, size=SIZE, radius=(3, 5))


@pytest.fixture(scope="module")
def picture_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pictures") / "balls"
    save_pictures(folder, *balls())
    return folder


@pytest.fixture(scope="module")
def picture_model(tmp_path_factory, picture_folder):
    """A model trained once on the folder, in process (the console script's code path)."""
    path = tmp_path_factory.mktemp("models") / "balls.safetensors"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = run_command(cli, ["train", str(picture_folder), *FAST, "--epochs", "12", "--out", str(path),
                                   "--json"])
    assert status == 0, err.getvalue()
    return path, json.loads(out.getvalue().strip().splitlines()[-1])


def run_in_process(capsys, *argv):
    status = run_command(cli, [str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line_error(capsys, argv, *fragments):
    status, _, err = run_in_process(capsys, *argv)
    assert status == 2, err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err


# ------------------------------------------------------------------ training and predicting
def test_train_on_a_folder_reports_the_pictures_and_the_test_accuracy(picture_model):
    _, summary = picture_model
    assert summary["image_shape"] == [3, SIZE, SIZE] and summary["classes"] == ["ball", "empty"]
    assert summary["n_train"] + summary["n_test"] == summary["n_rows"] == 60
    assert summary["task"] == "classification" and summary["epochs_run"] == 12
    assert 0 <= summary["test_accuracy"] <= 1 and summary["model_file"].endswith("balls.safetensors")


def test_predict_on_a_folder_writes_file_label_and_probabilities(backprop_cli, picture_model, picture_folder, tmp_path):
    model, _ = picture_model
    out = tmp_path / "predictions.csv"
    result = backprop_cli("predict", model, picture_folder, "--out", out)
    assert result.returncode == 0, result.stderr
    predictions = pd.read_csv(out)
    assert list(predictions.columns) == ["file", "label", "prob_ball", "prob_empty"]
    files = sorted(str(p.relative_to(picture_folder)) for p in picture_folder.rglob("*.png"))
    assert predictions["file"].tolist() == files
    probabilities = predictions[["prob_ball", "prob_empty"]].to_numpy()
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert (np.array(["ball", "empty"])[probabilities.argmax(axis=1)] == predictions["label"]).all()
    truth = predictions["file"].str.split("/").str[0]
    assert (predictions["label"] == truth).mean() >= 0.8, "the conv net should learn the pictures it was shown"


def test_predict_resizes_as_training_did_and_converts_channels(capsys, tmp_path):
    """Trained on pictures of two sizes with --resize; predicting greyscale pictures of another size works."""
    X, y = balls(24, seed=1)
    save_pictures(tmp_path / "train", X, y)
    small = make_ball_images(4, seed=2, size=16, radius=(3, 4))
    save_pictures(tmp_path / "train", *small)  # a second size among the training pictures
    model = tmp_path / "resized.safetensors"
    status, out, err = run_in_process(capsys, "train", tmp_path / "train", "--resize", "20,20", *FAST,
                                      "--epochs", "1", "--out", model, "--json")
    assert status == 0, err
    assert '"image_shape": [3, 20, 20]' in out and '"resized": true' in out
    save_pictures(tmp_path / "new", *make_ball_images(3, seed=3, size=30), mode="L")
    status, out, err = run_in_process(capsys, "predict", model, tmp_path / "new")
    assert status == 0, err
    assert len(pd.read_csv(io.StringIO(out))) == 3


def test_greyscale_pictures_train_a_one_channel_network(capsys, tmp_path):
    X, y = balls(24, seed=4)
    save_pictures(tmp_path / "grey", X, y, mode="L")
    status, out, err = run_in_process(capsys, "train", tmp_path / "grey", *FAST, "--epochs", "1", "--json")
    assert status == 0, err
    assert '"image_shape": [1, 24, 24]' in out


def test_npz_trains_and_predicts_by_row(capsys, tmp_path):
    X, y = balls(30, seed=5)
    data = tmp_path / "balls.npz"
    np.savez(data, X=X, y=np.where(y == 1, "ball", "empty"))
    model = tmp_path / "npz.safetensors"
    status, out, err = run_in_process(capsys, "train", data, *FAST, "--epochs", "2", "--out", model, "--json")
    assert status == 0, err
    assert '"classes": ["ball", "empty"]' in out
    status, out, err = run_in_process(capsys, "predict", model, data)
    assert status == 0, err
    predictions = pd.read_csv(io.StringIO(out))
    assert list(predictions.columns) == ["row", "label", "prob_ball", "prob_empty"]
    assert predictions["row"].tolist() == list(range(30))


# ------------------------------------------------------------------ bad pictures and options
def test_an_unreadable_picture_is_named(capsys, tmp_path):
    save_pictures(tmp_path / "pics", *balls(12))
    (tmp_path / "pics" / "ball" / "broken.png").write_bytes(b"not a png")
    assert_one_line_error(capsys, ["train", tmp_path / "pics"], "broken.png", "cannot read this picture")


def test_pictures_of_different_sizes_need_resize(capsys, tmp_path):
    save_pictures(tmp_path / "pics", *balls(12))
    Image.new("RGB", (20, 30)).save(tmp_path / "pics" / "empty" / "odd.png")
    assert_one_line_error(capsys, ["train", tmp_path / "pics"], "different sizes", "odd.png is 30×20",
                          "--resize H,W")


def test_predict_refuses_pictures_of_another_size_for_a_model_trained_without_resize(capsys, picture_model,
                                                                                    tmp_path):
    model, _ = picture_model
    save_pictures(tmp_path / "big", *make_ball_images(2, seed=6, size=32))
    assert_one_line_error(capsys, ["predict", model, tmp_path / "big"], "is 32×32", "takes 24×24",
                          "trained without --resize")


@pytest.mark.parametrize("layout, message", [
    ({"only/one.png": True}, "a subfolder of PNG/JPEG pictures for each class, at least two (found 'only')"),
    ({"loose.png": True, "a/1.png": True, "b/2.png": True}, "pictures outside class subfolders (e.g. loose.png)"),
    ({}, "at least two"),
])
def test_folders_without_two_classes_of_pictures(capsys, tmp_path, layout, message):
    folder = tmp_path / "pics"
    folder.mkdir()
    for name in layout:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8)).save(folder / name)
    assert_one_line_error(capsys, ["train", folder], message)


@pytest.mark.parametrize("arrays, message", [
    ({"X": np.zeros((4, 1, 6, 6))}, "must hold the arrays X (N, C, H, W) and y"),
    ({"X": np.zeros((4, 36)), "y": np.arange(4)}, "X must be a non-empty numeric array of shape (N, C, H, W)"),
    ({"X": np.full((4, 1, 6, 6), np.nan), "y": np.arange(4)}, "NaN or infinite"),
    ({"X": np.zeros((4, 1, 6, 6)), "y": np.arange(3)}, "one integer or string label per picture (4)"),
    ({"X": np.array([None] * 4, dtype=object), "y": np.arange(4)}, "cannot read"),
])
def test_bad_npz_files(capsys, tmp_path, arrays, message):
    data = tmp_path / "bad.npz"
    np.savez(data, **arrays)
    assert_one_line_error(capsys, ["train", data], message)


def test_a_file_that_is_not_an_npz(capsys, tmp_path):
    data = tmp_path / "fake.npz"
    data.write_text("hello")
    assert_one_line_error(capsys, ["train", data], "cannot read", "fake.npz")


@pytest.mark.parametrize("option", [("--target", "x"), ("--hidden", "8"), ("--sep", ";"), ("--task", "regression")])
def test_table_options_are_refused_for_pictures(capsys, picture_folder, option):
    assert_one_line_error(capsys, ["train", picture_folder, *option], option[0])


def test_image_options_are_refused_for_a_table(capsys, pets_csv):
    assert_one_line_error(capsys, ["train", pets_csv, "--resize", "8,8"], "--resize applies to image data")
    assert_one_line_error(capsys, ["train", pets_csv, "--conv", "4"], "--conv applies to image data")


@pytest.mark.parametrize("value", ["0,4", "4,4,4", "a"])
def test_resize_must_be_two_positive_sizes(capsys, picture_folder, value):
    assert_one_line_error(capsys, ["train", picture_folder, "--resize", value], "--resize")


def test_a_picture_model_and_a_table_model_refuse_each_others_data(capsys, picture_model, pets_model, pets_csv,
                                                                  picture_folder):
    model, _ = picture_model
    assert_one_line_error(capsys, ["predict", model, pets_csv], "model of pictures", "reads tables")
    assert_one_line_error(capsys, ["predict", pets_model, picture_folder], "was not trained on pictures")


def test_a_crafted_image_config_is_refused(capsys, picture_model, tmp_path):
    from backprop.models import load_with_metadata, save

    model, _ = picture_model
    network, metadata = load_with_metadata(model)
    metadata["images"]["std"] = [0.0, 1.0, 1.0]
    crafted = tmp_path / "crafted.safetensors"
    save(network, crafted, metadata=metadata)
    save_pictures(tmp_path / "pics", *balls(2))
    assert_one_line_error(capsys, ["predict", crafted, tmp_path / "pics"], "image config is invalid",
                          "std must be positive")


# ------------------------------------------------------------------ info, evaluate, explain
def test_info_on_a_picture_model_prints_the_summary_table(capsys, picture_model):
    model, summary = picture_model
    status, out, err = run_in_process(capsys, "info", model)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == f"model: {model}" and "2 classes (ball, empty)" in lines[1]
    assert "Output shape" in out and "Conv2d(relu)" in out and f"(None, 8, {SIZE}, {SIZE})" in out
    assert "(None, 2)" in out and "Total parameters:" in out
    assert f"pictures of 3×{SIZE}×{SIZE}" in out and "standardised" in out and "trained on:" in out
    status, out, _ = run_in_process(capsys, "info", model, "--json")
    described = json.loads(out)
    assert described["classes"] == ["ball", "empty"] and described["image_shape"] == [3, SIZE, SIZE]
    assert described["layers"][0]["output_shape"] == f"(None, 8, {SIZE}, {SIZE})"


def test_evaluate_on_labelled_pictures_scores_as_training_did(capsys, picture_model, picture_folder, tmp_path):
    model, summary = picture_model
    status, out, err = run_in_process(capsys, "evaluate", model, picture_folder, "--json")
    assert status == 0, err
    scores = json.loads(out)
    assert scores["n_rows"] == 60 and 0.5 <= scores["accuracy"] <= 1 and "f1_macro" in scores
    X, y = balls(20, seed=5)
    np.savez(tmp_path / "test.npz", X=X, y=np.array(["empty", "ball"])[y])
    status, out, err = run_in_process(capsys, "evaluate", model, tmp_path / "test.npz")
    assert status == 0 and out.startswith(f"classification on 20 pictures of {tmp_path / 'test.npz'}"), err
    np.savez(tmp_path / "other.npz", X=X, y=np.array(["cat", "ball"])[y])
    assert_one_line_error(capsys, ["evaluate", model, tmp_path / "other.npz"], "labels the model does not know",
                          "'cat'")
    assert_one_line_error(capsys, ["evaluate", model, picture_folder, "--target", "label"], "--target")


def test_explain_traces_one_picture_through_the_conv_layers(capsys, picture_model, picture_folder):
    model, _ = picture_model
    status, out, err = run_in_process(capsys, "explain", model, picture_folder, "--row", "3")
    assert status == 0, err
    flat = " ".join(out.split())  # the first paragraph is wrapped at 80 columns
    assert flat.startswith(f"Picture 3 of {picture_folder} (file ball/") and "labelled 'ball'" in flat
    assert "Conv2d 3 → 8, 3×3 kernel, padding 1, f = relu" in out and "∂J/∂W^1" in out
    assert "All four equations hold to rounding error." in out and "Σ_(n,r,c)" in out
    assert_one_line_error(capsys, ["explain", model, picture_folder, "--row", "60"], "--row 60 is out of range")


def test_the_table_commands_refuse_pictures_for_a_table_model(capsys, pets_model, picture_folder):
    for command in ("evaluate", "explain"):
        assert_one_line_error(capsys, [command, pets_model, picture_folder], "holds pictures", "trained on a table")
