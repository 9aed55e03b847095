#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Makes the TorchScript test models and the predictions PyTorch itself gives on a fixed input set.

Run with Debian's python3-torch (1.13): /usr/bin/python3 scripts/make_torch_models.py [out_dir]
Writes, into tests/data/torch/ by default:
  fraud_classifier.pt     torch.jit.script of a 5-8-2 MLP ending in softmax; the module declares
                          its signature (n_features, feature_names, class_names attributes)
  fraud_classifier_v2.pt  the same architecture, other seed (a second version to canary/hot-swap)
  amount_regressor.pt     torch.jit.trace of a 5-4-1 MLP: declares nothing (signature from options)
  nan_guard.pt            scripted; forward() raises when a feature is NaN (a module that throws)
  state_dict.pt           torch.save of the classifier's weights: a zip, but not a TorchScript module
  predictions.json        32 float32 input rows and each model's float32 outputs on them
Numbers are written as the shortest decimal that reads back as the same float32.
torch.jit.script reads the modules' source, so the classes live in this file.
"""
import json
import os
import sys
from typing import List

import numpy as np
import torch

FEATURES = ["amount", "account_age_days", "tx_last_24h", "distance_km", "hour"]


class FraudClassifier(torch.nn.Module):
    n_features: int
    feature_names: List[str]
    class_names: List[str]

    def __init__(self):
        super().__init__()
        self.n_features = len(FEATURES)
        self.feature_names = list(FEATURES)
        self.class_names = ["legit", "fraud"]
        self.hidden = torch.nn.Linear(5, 8)
        self.out = torch.nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.out(torch.relu(self.hidden(x))), dim=1)


class AmountRegressor(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(5, 4)
        self.out = torch.nn.Linear(4, 1)

    def forward(self, x):
        return self.out(torch.tanh(self.hidden(x)))


class NanGuard(torch.nn.Module):
    n_features: int

    def __init__(self):
        super().__init__()
        self.n_features = 5
        self.score = torch.nn.Linear(5, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if bool(torch.isnan(x).any()):
            raise ValueError("NanGuard: a feature is NaN")
        return self.score(x)


def inputs():
    """32 rows of scaled fraud-like features (the models are small and untrained: only the
    arithmetic is under test)."""
    rng = np.random.default_rng(7)
    n = 32
    x = np.column_stack([
        rng.lognormal(0.5, 0.8, n), rng.uniform(0, 3.65, n), rng.poisson(3, n) / 3.0,
        rng.exponential(0.5, n), rng.integers(0, 24, n) / 24.0,
    ]).astype(np.float32)
    return x


def fmt(v):
    return float(np.format_float_positional(np.float32(v), unique=True, trim="-"))


def build(cls, seed):
    torch.manual_seed(seed)
    return cls().eval()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "tests", "data", "torch")
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    x = inputs()
    xt = torch.from_numpy(x)

    modules = {
        "fraud_classifier": torch.jit.script(build(FraudClassifier, 1)),
        "fraud_classifier_v2": torch.jit.script(build(FraudClassifier, 2)),
        "amount_regressor": torch.jit.trace(build(AmountRegressor, 3), torch.zeros(1, 5)),
        "nan_guard": torch.jit.script(build(NanGuard, 4)),
    }
    reference = {"features": FEATURES, "inputs": [[fmt(v) for v in row] for row in x]}
    for name, module in modules.items():
        path = os.path.join(out, name + ".pt")
        module.save(path)
        with torch.no_grad():
            y = module(xt)
        assert y.dtype == torch.float32
        reloaded = torch.jit.load(path)
        with torch.no_grad():
            assert torch.equal(reloaded(xt), y), name
        reference[name] = [[fmt(v) for v in row] for row in y.reshape(len(x), -1).numpy()]
    torch.save(build(FraudClassifier, 1).state_dict(), os.path.join(out, "state_dict.pt"))
    with open(os.path.join(out, "predictions.json"), "w") as f:
        # One row per line, so that a reviewer can read the numbers.
        tables = [k for k in reference if k != "features"]
        f.write('{\n"features": ' + json.dumps(FEATURES) + ",\n")
        f.write(",\n".join(json.dumps(k) + ": [\n  " +
                            ",\n  ".join(json.dumps(row) for row in reference[k]) + "]"
                            for k in tables))
        f.write("\n}\n")
    print("wrote", out, "with torch", torch.__version__)


if __name__ == "__main__":
    main()
