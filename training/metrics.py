"""Regression scores written into a manifest's metrics, accumulated batch by batch.

Scoring streams the test split shard by shard (local predictions, or batch transform output
files), so the scores are sums updated per batch: squared and absolute errors, and the labels'
mean and sum of squared deviations (Chan et al.'s pairwise update), never all rows at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class StreamingScores:
    rows: int = 0
    squared_error: float = 0.0
    absolute_error: float = 0.0
    label_mean: float = 0.0
    label_deviation: float = 0.0  # sum of squared deviations from the mean

    def add(self, labels: np.ndarray, predictions: np.ndarray) -> None:
        labels = np.asarray(labels, dtype=np.float64)
        predictions = np.asarray(predictions, dtype=np.float64)
        if labels.shape != predictions.shape:
            raise ValueError(f"{predictions.size} predictions for {labels.size} labels")
        if labels.size == 0:
            return
        errors = predictions - labels
        self.squared_error += float(np.sum(errors**2))
        self.absolute_error += float(np.sum(np.abs(errors)))
        n, mean = labels.size, float(labels.mean())
        deviation = float(np.sum((labels - mean) ** 2))
        total = self.rows + n
        delta = mean - self.label_mean
        self.label_deviation += deviation + delta**2 * self.rows * n / total
        self.label_mean += delta * n / total
        self.rows = total

    def result(self) -> dict[str, float]:
        if self.rows == 0:
            raise ValueError("0 predictions for 0 labels")
        return {
            "rmse": float(np.sqrt(self.squared_error / self.rows)),
            "mae": self.absolute_error / self.rows,
            # R2 is undefined for constant labels; 0.0 says "no better than the mean" there.
            "r2": 1 - self.squared_error / self.label_deviation if self.label_deviation > 0 else 0.0,
        }
