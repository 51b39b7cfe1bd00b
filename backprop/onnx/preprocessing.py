"""The command line's preprocessing as ONNX nodes, so that an exported file takes the raw columns.

``backprop train`` stores a :class:`~backprop.cli.preprocessing.TabularPreprocessor` in the model
file; :func:`pipeline_model` puts its transform in front of the network and the outputs of
``backprop predict`` behind it. The file has one input per raw column, in the table's order,
named by the column, each of shape (N, 1), as skl2onnx names a DataFrame's columns:

============  ==========  ==========================================================================
column kind   ONNX input  what the graph does (as ``TabularPreprocessor.transform``)
============  ==========  ==========================================================================
numeric       float64     NaN (missing) → the training mean; then (x − mean)/std
categorical   string      one-hot over the training categories; a category never seen → all zeros
              (an embedded column, ``--embed-above``: its code, 0 for one never seen);
                          a missing cell is ``""`` or ``"<missing>"``. Values are matched as the
                          command line matches them: as text, whole numbers without ".0"
                          (``"94110"``), booleans as ``"True"``/``"False"``
datetime      float64     seconds since 1970-01-01T00:00:00 UTC (a timezone-aware date converted to
                          UTC; NaN: missing). The fractional year (standardised) and (sin, cos) of
                          the month, weekday, day of year and time of day are computed in the graph
                          from the seconds, with the proleptic Gregorian calendar
time          float64     seconds since midnight (NaN: missing) → (sin, cos) of the time of day
============  ==========  ==========================================================================

ONNX has no parser for date strings, so the client parses a date column to seconds (the
number that pandas' ``Timestamp.timestamp()`` gives); :func:`onnx_inputs` does it for a
DataFrame with the command line's own parser. What ONNX cannot do: refuse a bad cell. The
command line stops on an infinite number or a text that is not a date; the graph computes
NaN or infinite outputs for such a row instead.

Outputs: a classifier's ``"label"`` (the class, as the target column held it) and
``"probabilities"`` (float64, one column per class in sorted order, as the ``prob_<class>``
columns); a regressor's ``"prediction"`` (float64, in the target's units).

Each column kind's nodes are one function of :data:`COLUMN_EXPORTS`, keyed by the kinds the
preprocessor's config holds; a test iterates the kinds, so a new kind without an export fails.
"""

from __future__ import annotations

import numpy as np

from backprop.onnx import outputs as output_nodes
from backprop.onnx.graph import GraphBuilder

__all__ = ["pipeline_model", "onnx_inputs", "COLUMN_EXPORTS", "OUTPUT_NAMES", "SECONDS_PER_DAY"]

SECONDS_PER_DAY = 86_400.0
OUTPUT_NAMES = ("label", "probabilities", "prediction")
_MISSING_TEXT = ""  # what a client sends for an empty cell of a categorical column


# ------------------------------------------------------------------ helpers
def _floor_div(graph, x: str, divisor: float) -> str:
    return graph.node("Floor", [graph.node("Div", [x, graph.constant(float(divisor), "divisor")])])


def _mod(graph, x: str, divisor: float) -> str:
    """x − ⌊x/d⌋·d (≥ 0 for d > 0), as Python's %."""
    return graph.node("Sub", [x, graph.node("Mul", [_floor_div(graph, x, divisor), graph.constant(float(divisor))])])


def _affine(graph, x: str, scale: float, shift: float) -> str:
    return graph.node("Add", [graph.node("Mul", [x, graph.constant(float(scale))]), graph.constant(float(shift))])


def _cyclic(graph, phase: str) -> list:
    """(sin, cos) of 2π·phase."""
    angle = graph.node("Mul", [phase, graph.constant(2 * np.pi, "two_pi")])
    return [graph.node("Sin", [angle], "sin"), graph.node("Cos", [angle], "cos")]


def _zero_where_missing(graph, features: list, missing: str) -> list:
    zero = graph.constant(0.0, "zero")
    return [graph.node("Where", [missing, zero, feature]) for feature in features]


# -------------------------------------------------------------- the columns
def numeric_nodes(graph, x: str, column: dict) -> list:
    """x' = (x − mean)/std, a missing cell (NaN) imputed with the mean first."""
    mean = graph.constant(column["mean"], "mean")
    filled = graph.node("Where", [graph.node("IsNaN", [x]), mean, x], "imputed")
    return [graph.node("Div", [graph.node("Sub", [filled, mean]), graph.constant(column["std"], "std")], "scaled")]


def categorical_nodes(graph, x: str, column: dict) -> list:
    """One-hot over the categories: LabelEncoder (category → index, −1 unseen), then index == k."""
    categories = list(column["categories"])
    keys, values = list(categories), list(range(len(categories)))
    if "<missing>" in categories and _MISSING_TEXT not in categories:
        keys.append(_MISSING_TEXT)
        values.append(categories.index("<missing>"))
    codes = graph.node("LabelEncoder", [x], "category_index", domain="ai.onnx.ml", keys_strings=keys,
                       values_int64s=values, default_int64=-1)
    hot = graph.node("Equal", [codes, graph.constant(np.arange(len(categories)), "category_range")])
    return [graph.cast(hot, graph.dtype)]


def embedded_nodes(graph, x: str, column: dict) -> list:
    """The category codes of an embedded column, int64 of shape (N,): category j → j + 1, and a
    category never seen → 0 (``UNKNOWN_CODE``), as ``transform_inputs``; a missing cell as in
    :func:`categorical_nodes`."""
    from backprop.cli.preprocessing import UNKNOWN_CODE

    categories = list(column["categories"])
    keys, values = list(categories), [j + 1 for j in range(len(categories))]
    if "<missing>" in categories and _MISSING_TEXT not in categories:
        keys.append(_MISSING_TEXT)
        values.append(categories.index("<missing>") + 1)
    codes = graph.node("LabelEncoder", [x], "category_code", domain="ai.onnx.ml", keys_strings=keys,
                       values_int64s=values, default_int64=UNKNOWN_CODE)
    return [graph.node("Reshape", [codes, graph.constant(np.array([-1]), "flat")], "codes")]


def _calendar(graph, seconds: str) -> dict:
    """Year, month, day of year (from 0), days in the year, weekday (Monday 0) and seconds of the day,
    from seconds since 1970-01-01 UTC: H. Hinnant's ``civil_from_days`` in floating point (exact for
    whole days far beyond any date a table holds)."""
    days = _floor_div(graph, seconds, SECONDS_PER_DAY)
    of_day = graph.node("Sub", [seconds, graph.node("Mul", [days, graph.constant(SECONDS_PER_DAY)])])
    z = graph.node("Add", [days, graph.constant(719_468.0)])  # days since 0000-03-01
    era = _floor_div(graph, z, 146_097)
    doe = graph.node("Sub", [z, graph.node("Mul", [era, graph.constant(146_097.0)])])  # [0, 146096]
    yoe_days = graph.node("Add", [graph.node("Sub", [doe, _floor_div(graph, doe, 1460)]),
                                  graph.node("Sub", [_floor_div(graph, doe, 36_524), _floor_div(graph, doe, 146_096)])])
    yoe = _floor_div(graph, yoe_days, 365)  # year of the era, [0, 399]
    doy_march = graph.node("Sub", [doe, graph.node("Add", [graph.node("Mul", [yoe, graph.constant(365.0)]),
                                                           graph.node("Sub", [_floor_div(graph, yoe, 4),
                                                                              _floor_div(graph, yoe, 100)])])])
    mp = _floor_div(graph, _affine(graph, doy_march, 5.0, 2.0), 153)  # month from March, [0, 11]
    month = graph.node("Add", [mp, graph.node("Where", [graph.node("Less", [mp, graph.constant(10.0)]),
                                                        graph.constant(3.0), graph.constant(-9.0)])])
    january_or_february = graph.cast(graph.node("LessOrEqual", [month, graph.constant(2.0)]), graph.dtype)
    year = graph.node("Add", [graph.node("Add", [yoe, graph.node("Mul", [era, graph.constant(400.0)])]),
                              january_or_february], "year")
    # Days from 1970-01-01 to 1 January of that year, by the inverse (days_from_civil of (year, 1, 1)).
    before = graph.node("Sub", [year, graph.constant(1.0)])
    era_1 = _floor_div(graph, before, 400)
    yoe_1 = graph.node("Sub", [before, graph.node("Mul", [era_1, graph.constant(400.0)])])
    doe_1 = graph.node("Add", [graph.node("Add", [graph.node("Mul", [yoe_1, graph.constant(365.0)]),
                                                  _floor_div(graph, yoe_1, 4)]),
                               graph.node("Sub", [graph.constant(306.0), _floor_div(graph, yoe_1, 100)])])
    january_first = graph.node("Sub", [graph.node("Add", [graph.node("Mul", [era_1, graph.constant(146_097.0)]),
                                                          doe_1]), graph.constant(719_468.0)])
    day_of_year = graph.node("Sub", [days, january_first], "day_of_year")
    leap = graph.node("Or", [
        graph.node("And", [graph.node("Equal", [_mod(graph, year, 4), graph.constant(0.0)]),
                           graph.node("Not", [graph.node("Equal", [_mod(graph, year, 100), graph.constant(0.0)])])]),
        graph.node("Equal", [_mod(graph, year, 400), graph.constant(0.0)])])
    days_in_year = graph.node("Add", [graph.constant(365.0), graph.cast(leap, graph.dtype)])
    weekday = _mod(graph, graph.node("Add", [days, graph.constant(3.0)]), 7)  # 1970-01-01 was a Thursday
    return {"year": year, "month": month, "day_of_year": day_of_year, "days_in_year": days_in_year,
            "weekday": weekday, "seconds_of_day": of_day}


def datetime_nodes(graph, x: str, column: dict) -> list:
    """The date features of seconds since the epoch: as ``_datetime_features``, 0 where missing."""
    missing = graph.node("IsNaN", [x], "missing")
    seconds = graph.node("Where", [missing, graph.constant(0.0), x])
    calendar = _calendar(graph, seconds)
    year_phase = graph.node("Div", [calendar["day_of_year"], calendar["days_in_year"]])
    features = []
    for part in column["parts"]:
        if part == "year":
            fractional = graph.node("Add", [calendar["year"], year_phase])
            features.append(_affine(graph, fractional, 1.0 / column["year_std"], -column["year_mean"] / column["year_std"]))
        elif part == "month":
            features += _cyclic(graph, _affine(graph, calendar["month"], 1 / 12, -1 / 12))
        elif part == "weekday":
            features += _cyclic(graph, graph.node("Div", [calendar["weekday"], graph.constant(7.0)]))
        elif part == "dayofyear":
            features += _cyclic(graph, year_phase)
        elif part == "timeofday":
            features += _cyclic(graph, graph.node("Div", [calendar["seconds_of_day"], graph.constant(SECONDS_PER_DAY)]))
        else:
            raise ValueError(f"the date part {part!r} has no ONNX export")
    return _zero_where_missing(graph, features, missing)


def time_nodes(graph, x: str, column: dict) -> list:
    """(sin, cos) of the time of day from seconds since midnight; 0 where missing."""
    missing = graph.node("IsNaN", [x], "missing")
    seconds = graph.node("Where", [missing, graph.constant(0.0), x])
    return _zero_where_missing(graph, _cyclic(graph, graph.node("Div", [seconds, graph.constant(SECONDS_PER_DAY)])),
                               missing)


COLUMN_EXPORTS = {"numeric": (numeric_nodes, np.float64), "categorical": (categorical_nodes, str),
                  "datetime": (datetime_nodes, np.float64), "time": (time_nodes, np.float64),
                  "embedded": (embedded_nodes, str)}
"""``{column kind: (the function adding its nodes, its ONNX input's dtype)}``. Each gives the column's
feature blocks (N, k), an embedded column its codes (N,), which go to the network's Concat."""


# ---------------------------------------------------------------- the model
def _tabular_preprocessor(metadata):
    from backprop.cli.preprocessing import TabularPreprocessor

    config = metadata.get("preprocessing") if isinstance(metadata, dict) else None
    if not isinstance(config, dict):
        raise ValueError("export_onnx: include_preprocessing=True needs a model file written by 'backprop train' "
                         "(this one stores no preprocessing); export it with include_preprocessing=False")
    preprocessor = TabularPreprocessor.from_config(config)
    if preprocessor.task is None:
        raise ValueError("export_onnx: the model file's preprocessing has no target")
    return preprocessor


def pipeline_model(model, metadata: dict):
    """The ``onnx.ModelProto`` of preprocessing → network → ``backprop predict``'s outputs."""
    from backprop.training.inference import parameter_dtype

    if isinstance(metadata, dict) and isinstance(metadata.get("images"), dict):
        return image_pipeline_model(model, metadata)
    preprocessor = _tabular_preprocessor(metadata)
    columns = preprocessor.get_config()["columns"]
    graph = GraphBuilder(np.float64)  # the preprocessing computes in float64, as transform does
    names = [str(column["name"]) for column in columns]
    clash = sorted(set(names) & set(OUTPUT_NAMES))
    if clash or len(set(names)) != len(names):
        raise ValueError(f"export_onnx: the columns {clash or names} cannot be ONNX inputs: the names of the inputs "
                         f"must be distinct and differ from the outputs {list(OUTPUT_NAMES)}; rename them and train again")
    for name in names + list(OUTPUT_NAMES):
        graph.reserve(name)
    inputs, blocks, codes = [], [], []
    for name, column in zip(names, columns):
        export, dtype = COLUMN_EXPORTS[column["kind"]]
        inputs.append(graph.value_info(name, dtype, ["N", 1]))
        (codes if column["kind"] == "embedded" else blocks).extend(export(graph, name, column))
    network_dtype = parameter_dtype(model)
    features = None
    if blocks:
        features = graph.node("Concat", blocks, "features", axis=1) if len(blocks) > 1 else blocks[0]
        features = graph.cast(features, np.float32)  # transform returns float32
        if network_dtype != np.float32:
            features = graph.cast(features, network_dtype)
    scores = model.onnx_nodes(graph.in_dtype(network_dtype), _network_input(model, features, codes))
    outputs = []
    if preprocessor.task == "regression":
        target = preprocessor.get_config()["target"]
        values = graph.node("Reshape", [graph.cast(scores, np.float64), graph.constant(np.array([-1]), "flat")])
        outputs.append(graph.output(_affine(graph, values, target["std"], target["mean"]), "prediction",
                               np.float64, ["N"]))
    else:
        from backprop.losses import get_loss

        record = model.fit_record
        loss = record.loss_object if record is not None and record.loss_object is not None else get_loss("cross_entropy")
        classes = np.asarray(preprocessor.classes)
        n_outputs = len(classes) if loss.kind == "multiclass" else 1  # (the command line fits cross_entropy)
        p = output_nodes.probability_nodes(graph, scores, loss, n_outputs)
        label = output_nodes.label_nodes(graph, p, loss, n_outputs, classes)
        outputs.append(graph.output(label, "label", classes.dtype, ["N"]))
        outputs.append(graph.output(p, "probabilities", np.float64, ["N", len(classes)]))
    doc = (f"backprop train's preprocessing and network: one input per raw column ({len(names)}), "
           f"outputs {[value.name for value in outputs]}; see backprop.onnx.preprocessing for the input types.")
    return graph.model(inputs, outputs, doc_string=doc)


def _network_input(model, features, codes):
    """The matrix alone, or, with embedded columns, the names for the network's Concat in its branch
    order (``"features"``, ``"e0"``, ... as ``transform_inputs`` names them)."""
    if not codes:
        return features
    from backprop.cli.preprocessing import FEATURES_BRANCH, embedded_branch
    from backprop.training.inputs import entry_layer

    given = {embedded_branch(index): name for index, name in enumerate(codes)}
    if features is not None:
        given[FEATURES_BRANCH] = features
    concat = entry_layer(model)
    names = getattr(concat, "branch_names", ())
    if sorted(names) != sorted(given):
        raise ValueError(f"export_onnx: the network's first layer takes the inputs {list(names)}, but the "
                         f"preprocessing makes {sorted(given)}")
    return [given[name] for name in names]


def image_pipeline_model(model, metadata: dict):
    """A model of pictures from ``backprop train FOLDER``: input ``"pixels"`` (N, C, H, W) float32, the
    pictures as the command line reads them (decoded, resized, scaled to [0, 1]; decoding and resizing
    stay with the client, ONNX has no image codec), standardised per channel in the graph; outputs
    ``"label"`` and ``"probabilities"``, as ``backprop predict MODEL FOLDER``."""
    from backprop.cli.images import ImageTransform
    from backprop.losses import get_loss
    from backprop.training.inference import parameter_dtype

    transform = ImageTransform.from_config(metadata["images"])
    graph = GraphBuilder(np.float32)  # transform computes in float32
    for name in ("pixels", "label", "probabilities"):
        graph.reserve(name)
    centred = graph.node("Sub", ["pixels", graph.constant(transform.mean[:, None, None], "channel_mean")])
    x = graph.node("Div", [centred, graph.constant(transform.std[:, None, None], "channel_std")], "standardised")
    network_dtype = parameter_dtype(model)
    if network_dtype != np.float32:
        x = graph.cast(x, network_dtype)
    scores = model.onnx_nodes(graph.in_dtype(network_dtype), x)
    record = model.fit_record
    loss = record.loss_object if record is not None and record.loss_object is not None else get_loss("cross_entropy")
    classes = np.asarray(transform.classes)
    n_outputs = len(classes) if loss.kind == "multiclass" else 1
    p = output_nodes.probability_nodes(graph, scores, loss, n_outputs)
    label = output_nodes.label_nodes(graph, p, loss, n_outputs, classes)
    outputs = [graph.output(label, "label", classes.dtype, ["N"]),
               graph.output(p, "probabilities", np.float64, ["N", len(classes)])]
    inputs = [graph.value_info("pixels", np.float32, ["N", transform.channels, transform.height, transform.width])]
    return graph.model(inputs, outputs, doc_string="backprop train's pictures: 'pixels' (N, C, H, W) in [0, 1] "
                                                   "-> label, probabilities")


def onnx_inputs(frame, model_path) -> dict:
    """The feeds of an exported pipeline for the raw rows of ``frame``, as the command line reads them.

    Numbers become float64 (NaN where missing), categories their matching text, dates seconds
    since 1970-01-01 UTC, times seconds since midnight; each an (N, 1) array.

    Raises:
        ValueError: a column of the model is missing from ``frame``.
    """
    from backprop.cli import preprocessing as tabular
    from backprop.models import load_with_metadata

    _, metadata = load_with_metadata(model_path)
    preprocessor = _tabular_preprocessor(metadata)
    missing = [name for name in preprocessor.feature_names_in if name not in frame.columns]
    if missing:
        raise ValueError(f"onnx_inputs: the frame lacks the column(s) {missing} that the model was trained on")
    feeds = {}
    for column in preprocessor.get_config()["columns"]:
        series = frame[column["name"]]
        if column["kind"] == "numeric":
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        elif column["kind"] in ("categorical", "embedded"):
            values = np.array([_MISSING_TEXT if key == tabular.MISSING_CATEGORY else key
                               for key in tabular._category_keys(series)], dtype=object)
        elif column["kind"] == "datetime":
            values = np.full(len(series), np.nan)
            present = series.notna().to_numpy()
            stamps = tabular._parse_dates(series[present] if series.dtype.kind == "M" else series[present].astype(str))
            values[present] = (stamps - np.datetime64("1970-01-01")).dt.total_seconds().to_numpy()
        else:
            values = np.full(len(series), np.nan)
            present = series.notna().to_numpy()
            values[present] = tabular._parse_times(series[present].astype(str))
        feeds[str(column["name"])] = values.reshape(-1, 1)
    return feeds
