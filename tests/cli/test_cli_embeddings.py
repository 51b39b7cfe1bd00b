"""``backprop train --embed-above K``: categorical columns as codes for embeddings, end to end.

The preprocessor's codes (unseen → 0), its config from an untrusted file, the Concat +
Embedding network the command builds, and predict / evaluate / info on the saved file.
"""

import json

import numpy as np
import pytest

from backprop.cli.preprocessing import TabularPreprocessor
from backprop.datasets import make_shops

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def shops():
    return make_shops(n_samples=1500, n_shops=60, seed=0, as_frame=True)


def test_columns_above_the_cardinality_become_codes_and_unseen_ones_code_0(shops):
    frame = shops.assign(colour=np.where(shops["price"] > 0, "red", "blue"))
    prep = TabularPreprocessor(embed_above=10).fit(frame, target="purchase")
    assert [c["name"] for c in prep.embedded_columns] == ["shop"]
    assert prep.n_features_out == 4 + 2  # numeric columns + colour one-hot; the shop is not in the matrix
    inputs = prep.transform_inputs(frame)
    assert set(inputs) == {"features", "e0"}
    np.testing.assert_array_equal(inputs["features"], prep.transform(frame))
    categories = sorted(frame["shop"].unique())
    np.testing.assert_array_equal(inputs["e0"], [categories.index(s) + 1 for s in frame["shop"]])
    unseen = frame.iloc[:3].assign(shop=["nowhere", categories[0], None])
    assert prep.transform_inputs(unseen)["e0"].tolist() == [0, 1, 0]
    assert TabularPreprocessor().fit(frame, target="purchase").embedded_columns == []  # one-hot by default


def test_the_config_round_trips_and_a_bad_one_is_refused(shops):
    prep = TabularPreprocessor(embed_above=10).fit(shops, target="purchase")
    config = json.loads(json.dumps(prep.get_config()))
    again = TabularPreprocessor.from_config(config)
    np.testing.assert_array_equal(again.transform_inputs(shops)["e0"], prep.transform_inputs(shops)["e0"])
    for bad in (0, -1, "10", True, 2.5):
        with pytest.raises(ValueError, match="embed_above"):
            TabularPreprocessor.from_config({**config, "embed_above": bad})
    broken = json.loads(json.dumps(config))
    broken["columns"][0]["categories"] = ["a", "a"]
    with pytest.raises(ValueError, match="not distinct"):
        TabularPreprocessor.from_config(broken)
    with pytest.raises(TypeError, match="embed_above"):
        TabularPreprocessor(embed_above=0).fit(shops, target="purchase")


def test_train_embeds_and_the_file_predicts_evaluates_and_describes_itself(backprop_cli, tmp_path, shops):
    data = tmp_path / "shops.csv"
    shops.to_csv(data, index=False)
    model = tmp_path / "m.safetensors"
    result = backprop_cli("train", data, "--target", "purchase", "--embed-above", 50, "--embedding-dim", 6,
                          "--epochs", 5, "--hidden", "16", "--out", model, "--json")
    assert result.returncode == 0, result.stderr
    summary = result.json()
    assert summary["embedded_columns"] == [{"name": "shop", "categories": 60, "dim": 6}]
    import backprop as bp
    network = bp.load(model)
    assert type(network[0]).__name__ == "Concat" and network[0].e0.W.shape == (61, 6)
    assert network[1].W.shape == (16, 4 + 6)
    predicted = backprop_cli("predict", model, data)
    assert predicted.returncode == 0, predicted.stderr
    assert predicted.stdout.splitlines()[0] == "purchase,prob_0,prob_1"
    assert len(predicted.stdout.splitlines()) == len(shops) + 1
    evaluated = backprop_cli("evaluate", model, data, "--json")
    assert evaluated.returncode == 0 and 0.5 < evaluated.json()["accuracy"] <= 1
    info = backprop_cli("info", model)
    assert info.returncode == 0 and "embedded: codes 1..60" in info.stdout and "Embedding" in info.stdout
    shapes = {line.split()[0]: " ".join(line.split()[2:4]) for line in info.stdout.splitlines()
              if line.split() and line.split()[0] in ("0", "0.features", "0.e0")}
    assert shapes == {"0": "(None, 10)", "0.features": "(None, 4)", "0.e0": "(None, 6)"}  # real shapes, no "?"
    explained = backprop_cli("explain", model, data, "--row", 0)  # refused before the data are read
    assert explained.returncode == 2 and len(explained.stderr.strip().splitlines()) == 1
    assert "cannot explain" in explained.stderr and "Concat of the inputs ['features', 'e0']" in explained.stderr
    assert "supports one array of features" in explained.stderr
    auto = backprop_cli("train", data, "--target", "purchase", "--embed-above", 50, "--epochs", 1, "--json")
    assert auto.json()["embedded_columns"][0]["dim"] == 16  # min(50, round(1.6 · 60^0.56))


def test_bad_options_are_one_line_errors(backprop_cli, tmp_path, shops):
    data = tmp_path / "shops.csv"
    shops.iloc[:50].to_csv(data, index=False)
    for option in (("--embed-above", 0), ("--embedding-dim", "big"), ("--embedding-dim", 0)):
        result = backprop_cli("train", data, "--target", "purchase", *option)
        assert result.returncode == 2 and result.stdout == "", result.stderr


def test_a_file_whose_network_does_not_take_the_embedded_inputs_is_refused(backprop_cli, tmp_path, shops):
    from backprop import nn
    from backprop.models import load_with_metadata, save

    data = tmp_path / "shops.csv"
    shops.to_csv(data, index=False)
    model = tmp_path / "m.safetensors"
    assert backprop_cli("train", data, "--target", "purchase", "--embed-above", 50, "--epochs", 1,
                        "--out", model).returncode == 0
    network, metadata = load_with_metadata(model)
    wrong = nn.Sequential(nn.Concat({"features": nn.Identity(), "e0": nn.Embedding(7, 16)}), *list(network)[1:])
    save(wrong, tmp_path / "wrong.safetensors", metadata=metadata)
    result = backprop_cli("predict", tmp_path / "wrong.safetensors", data)
    assert result.returncode != 0 and "61 codes" in result.stderr and len(result.stderr.strip().splitlines()) == 1
