"""Regression scores written into a manifest's metrics."""

from __future__ import annotations

import numpy as np


def regression_metrics(labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    labels = np.asarray(labels, dtype=np.float64)
    predictions = np.asarray(predictions, dtype=np.float64)
    if labels.shape != predictions.shape or labels.size == 0:
        raise ValueError(f"{predictions.size} predictions for {labels.size} labels")
    errors = predictions - labels
    total = float(np.sum((labels - labels.mean()) ** 2))
    return {
        "rmse": float(np.sqrt(np.mean(errors**2))),
        "mae": float(np.mean(np.abs(errors))),
        # R2 is undefined for constant labels; 0.0 says "no better than the mean" there.
        "r2": float(1 - np.sum(errors**2) / total) if total > 0 else 0.0,
    }
