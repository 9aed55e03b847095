#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Makes the XGBoost test models and the predictions XGBoost itself gives on a fixed input set.

Run with Debian's python3-xgboost (1.7): /usr/bin/python3 scripts/make_xgboost_models.py [out_dir]
Writes, into tests/data/xgboost/ by default:
  fraud_classifier.json / .ubj   binary:logistic, 20 trees, 5 named features
  fraud_classifier_v2.json       the same data, other seed and depth (a second version to canary)
  amount_regressor.json / .ubj   reg:squarederror, 20 trees, the same 5 features
  fraud_classifier_100.ubj       binary:logistic, 100 trees of depth 3 (for benchmarks/xgboost)
  inputs.csv                     32 float32 rows (some with missing values), header = feature names
  classifier_predictions.csv     probability and raw margin per input row
  regressor_predictions.csv      value per input row
Numbers are written as the shortest decimal that reads back as the same float32, so a C++ reader
that parses them as double and narrows to float gets XGBoost's exact outputs.
"""
import os
import sys

import numpy as np
import xgboost as xgb

FEATURES = ["amount", "account_age_days", "tx_last_24h", "distance_km", "hour"]
TREES = 20


def training_data(seed):
    rng = np.random.default_rng(seed)
    n = 2000
    x = np.column_stack([
        rng.lognormal(3.5, 1.0, n),       # amount
        rng.uniform(0, 3650, n),          # account_age_days
        rng.poisson(3, n),                # tx_last_24h
        rng.exponential(20, n),           # distance_km
        rng.integers(0, 24, n),           # hour
    ]).astype(np.float32)
    z = (0.02 * x[:, 0] - 0.001 * x[:, 1] + 0.3 * x[:, 2] + 0.03 * x[:, 3]
         + 0.8 * ((x[:, 4] < 6) | (x[:, 4] > 22)) - 2.0)
    fraud = (rng.uniform(size=n) < 1 / (1 + np.exp(-z))).astype(np.float32)
    refund = (0.6 * x[:, 0] + 2.0 * x[:, 2] + rng.normal(0, 5, n)).astype(np.float32)
    return x, fraud, refund


def inputs():
    rng = np.random.default_rng(7)
    n = 32
    x = np.column_stack([
        rng.lognormal(3.5, 1.0, n), rng.uniform(0, 3650, n), rng.poisson(3, n),
        rng.exponential(20, n), rng.integers(0, 24, n),
    ]).astype(np.float32)
    x[3, 1] = np.nan  # missing values take each tree's default branch
    x[17, 3] = np.nan
    return x


def fmt(v):
    """Shortest decimal text that reads back as the same float32 ("nan" for a missing value)."""
    v = np.float32(v)
    return "nan" if np.isnan(v) else np.format_float_positional(v, unique=True, trim="-")


def train(objective, label, seed, depth, trees=TREES):
    x, fraud, refund = training_data(1234)
    d = xgb.DMatrix(x, label=fraud if label == "fraud" else refund, feature_names=FEATURES)
    params = {"objective": objective, "max_depth": depth, "eta": 0.3, "seed": seed,
              "nthread": 1, "tree_method": "exact"}
    return xgb.train(params, d, num_boost_round=trees)


def check_inplace(booster, x, **kw):
    """The C API's XGBoosterPredictFromDense is inplace_predict; it must agree with DMatrix."""
    via_dmatrix = booster.predict(xgb.DMatrix(x, feature_names=FEATURES), **kw)
    inplace = booster.inplace_predict(x, predict_type="margin" if kw else "value")
    assert via_dmatrix.dtype == np.float32 and np.array_equal(via_dmatrix, inplace), kw
    return via_dmatrix


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "tests", "data", "xgboost")
    os.makedirs(out, exist_ok=True)
    x = inputs()

    clf = train("binary:logistic", "fraud", seed=1, depth=3)
    clf2 = train("binary:logistic", "fraud", seed=2, depth=4)
    reg = train("reg:squarederror", "refund", seed=3, depth=3)
    for booster, name in ((clf, "fraud_classifier"), (reg, "amount_regressor")):
        booster.save_model(os.path.join(out, name + ".json"))
        booster.save_model(os.path.join(out, name + ".ubj"))
    clf2.save_model(os.path.join(out, "fraud_classifier_v2.json"))
    big = train("binary:logistic", "fraud", seed=1, depth=3, trees=100)
    big.save_model(os.path.join(out, "fraud_classifier_100.ubj"))
    assert xgb.Booster(model_file=os.path.join(out, "fraud_classifier_100.ubj")).num_boosted_rounds() == 100

    with open(os.path.join(out, "inputs.csv"), "w") as f:
        f.write(",".join(FEATURES) + "\n")
        for row in x:
            f.write(",".join(fmt(v) for v in row) + "\n")

    prob = check_inplace(clf, x)
    margin = check_inplace(clf, x, output_margin=True)
    with open(os.path.join(out, "classifier_predictions.csv"), "w") as f:
        f.write("probability,margin\n")
        for p, m in zip(prob, margin):
            f.write(f"{fmt(p)},{fmt(m)}\n")

    value = check_inplace(reg, x)
    with open(os.path.join(out, "regressor_predictions.csv"), "w") as f:
        f.write("value\n")
        for v in value:
            f.write(fmt(v) + "\n")

    # Reloading each saved file must give the same predictions (JSON and UBJSON are lossless).
    for name, ref in (("fraud_classifier", prob), ("amount_regressor", value)):
        for ext in (".json", ".ubj"):
            b = xgb.Booster(model_file=os.path.join(out, name + ext))
            assert np.array_equal(b.inplace_predict(x), ref), name + ext
    print("wrote", out, "with xgboost", xgb.__version__)


if __name__ == "__main__":
    main()
