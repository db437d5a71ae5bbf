"""A realistic inference workload from a real scikit-learn model on a bundled dataset.

scikit-learn's diabetes data (442 patients; age, sex, bmi, blood pressure, six serum
measurements) trains a gradient-boosting regressor. Requests are drawn from the data with
a little jitter; from ``drift_at`` on, ``bmi`` shifts up, ``bp`` spreads out and the ``sex``
mix swaps; a share of requests carries an injected outlier (flagged ``_outlier`` in the
generator's truth table, never sent).

Examples
--------
>>> w = Workload(seed=0)
>>> base = w.training_frame()
>>> sorted(base.columns)[:4], len(base) >= 442
(['age', 'bmi', 'bp', 'prediction'], True)
>>> records, truth = w.requests(100, start_ms=0, rate=100.0, drift_at=0.5)
>>> records[0]["features"].keys() == set(FEATURES) and truth["outlier"].dtype == bool
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

FEATURES = {
    "age": "numeric",
    "sex": "categorical",
    "bmi": "numeric",
    "bp": "numeric",
    "s1": "numeric",
    "s2": "numeric",
    "s3": "numeric",
    "s4": "numeric",
    "s5": "numeric",
    "s6": "numeric",
}
MODEL = "diabetes"


@dataclass
class Workload:
    seed: int = 0
    outlier_share: float = 0.01

    def __post_init__(self) -> None:
        from sklearn.datasets import load_diabetes
        from sklearn.ensemble import GradientBoostingRegressor

        data = load_diabetes(as_frame=True, scaled=False)
        frame = data.frame.copy()
        frame["sex"] = np.where(frame["sex"] > 1.5, "F", "M").astype(object)
        self.data = frame
        self.numeric = [f for f, k in FEATURES.items() if k == "numeric"]
        X = self._model_matrix(frame)
        self.model = GradientBoostingRegressor(random_state=self.seed, n_estimators=50, max_depth=3).fit(X, frame["target"])
        self.scale = frame[self.numeric].std().to_numpy()

    def _model_matrix(self, frame: pd.DataFrame) -> np.ndarray:
        return np.column_stack([frame[self.numeric].to_numpy(np.float64), (frame["sex"] == "F").to_numpy(np.float64)])

    def sample(self, n: int, rng: np.random.Generator, drifted: np.ndarray | None = None) -> pd.DataFrame:
        """``n`` rows drawn from the data with jitter; rows where ``drifted`` is True are shifted."""
        idx = rng.integers(0, len(self.data), n)
        rows = self.data.iloc[idx].reset_index(drop=True)
        out = rows[list(FEATURES)].copy()
        jitter = rng.normal(0, 0.05, size=(n, len(self.numeric))) * self.scale
        out[self.numeric] = out[self.numeric].to_numpy(np.float64) + jitter
        if drifted is not None and drifted.any():
            d = drifted
            out.loc[d, "bmi"] = out.loc[d, "bmi"] + 0.8 * self.scale[self.numeric.index("bmi")]
            bp = out.loc[d, "bp"]
            out.loc[d, "bp"] = bp.mean() + (bp - bp.mean()) * 1.8
            out.loc[d, "sex"] = np.where(rng.random(int(d.sum())) < 0.85, "F", "M")
        out["prediction"] = self.model.predict(self._model_matrix(out))
        return out

    def training_frame(self, n: int = 5000) -> pd.DataFrame:
        """The baseline: rows like the training data, with the model's predictions."""
        rng = np.random.default_rng(self.seed)
        return self.sample(n, rng)

    def requests(self, n: int, start_ms: int, rate: float, drift_at: float | None = 0.5) -> tuple[list[dict[str, Any]], pd.DataFrame]:
        """``n`` inference-log records at ``rate``/s from ``start_ms``, and their truth table."""
        rng = np.random.default_rng(self.seed + 1)
        ts = start_ms + np.floor(np.arange(n) * 1000.0 / rate).astype(np.int64)
        drifted = np.zeros(n, bool) if drift_at is None else np.arange(n) >= int(n * drift_at)
        frame = self.sample(n, rng, drifted)
        outlier = rng.random(n) < self.outlier_share
        if outlier.any():
            cols = rng.integers(0, len(self.numeric), int(outlier.sum()))
            for row, col in zip(np.flatnonzero(outlier), cols):
                name = self.numeric[col]
                frame.loc[row, name] = self.data[name].max() + 6 * self.scale[col]
        ids = [f"req-{self.seed}-{i:08d}" for i in range(n)]
        features = frame[list(FEATURES)].to_dict("records")
        preds = frame["prediction"].to_numpy()
        records = [
            {"request_id": ids[i], "model": MODEL, "ts": int(ts[i]), "features": features[i], "prediction": float(preds[i])}
            for i in range(n)
        ]
        truth = pd.DataFrame({"request_id": ids, "ts": ts, "drifted": drifted, "outlier": outlier})
        return records, truth


def spec_dict(**overrides: Any) -> dict[str, Any]:
    """A monitor spec for the workload (plain mapping; deep-merge your overrides)."""
    spec: dict[str, Any] = {
        "model": MODEL,
        "schema": {"features": dict(FEATURES), "prediction": "numeric"},
        "window": {"size": "15s", "watermark": "6s", "idle_timeout": "5s"},
        "outliers": {"detectors": [{"name": "range"}, {"name": "stddev"}, {"name": "mahalanobis"}, {"name": "unseen_category"}]},
        "drift": {"detectors": [{"name": n} for n in ("kl", "js", "wasserstein_hist", "ks", "psi", "chi2")]},
        "cluster": {"local": {"n_workers": 1, "threads_per_worker": 2}},
    }
    return _deep_merge(spec, overrides)


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = _deep_merge(dict(base[key]), value)
        else:
            base[key] = value
    return base
