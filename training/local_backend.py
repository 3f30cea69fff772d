"""The local backend: the built-in container's training, tuning and scoring, on this machine.

It trains with the same xgboost release the target container runs (see images.py): a model saved
by a newer xgboost loads in an older container without an error and predicts wrong values.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xgboost as xgb

from contract.errors import CliError
from contract.images import check_xgboost_version
from contract.prepared import TRAIN, VALIDATION
from training.data import Prepared
from training.hyperparameters import EARLY_STOPPING_ROUNDS, NUM_ROUND, Range

Progress = Callable[[str], None]
SMALL_DATA_ROWS = 100_000


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _first_line(error: Exception) -> str:
    """xgboost's message without its C++ stack trace."""
    text = str(error).strip()
    return text.splitlines()[0] if text else "unknown error"


def check_xgboost(framework_version: str) -> str:
    """The xgboost version to record; refuse to train with any other release than the container's."""
    return check_xgboost_version(framework_version, xgb.__version__)


@dataclass(frozen=True)
class TrainResult:
    booster: xgb.Booster
    best_iteration: int  # 0-based round with the lowest validation metric
    best_score: float  # validation metric at best_iteration
    rounds_run: int  # rounds trained before early stopping ended the run

    @property
    def model_bytes(self) -> bytes:
        # UBJSON: the default format of the container's xgboost, exact floats.
        return bytes(self.booster.save_raw(raw_format="ubj"))


class ShardIter(xgb.DataIter):
    """A split's shards, one batch each, for xgboost's iterator-built matrices: the whole split
    is never one array in memory, only one shard at a time (and, in memory or in a disk cache,
    the quantized matrix)."""

    def __init__(self, prepared: Prepared, split: str, cache: Path | None = None) -> None:
        self._prepared, self._paths, self._next = prepared, prepared.shard_paths(split), 0
        super().__init__(cache_prefix=None if cache is None else str(cache / split), release_data=True)

    def next(self, input_data: Callable[..., None]) -> bool:
        if self._next == len(self._paths):
            return False
        features, labels = self._prepared.read_shard(self._paths[self._next], labelled=True)
        input_data(data=features, label=labels)
        self._next += 1
        return True

    def reset(self) -> None:
        self._next = 0


@dataclass
class TrainingData:
    """The train split as a quantized matrix (hist, xgboost's and the container's default tree
    method) and the validation split, built once from the shards and reused by every trial."""

    train: xgb.DMatrix
    validation: xgb.DMatrix
    train_rows: int

    def release(self) -> None:
        # Freed matrices delete their external-memory pages themselves (xgboost warns at exit
        # about pages removed under a live matrix).
        del self.train, self.validation


def matrix_settings(hyperparameters: dict[str, str]) -> tuple[str, str | None]:
    """What the training matrix is built for: the tree method and, for hist, the bins."""
    return hyperparameters.get("tree_method", "hist"), hyperparameters.get("max_bin")


@contextmanager
def training_data(prepared: Prepared, hyperparameters: dict[str, str]) -> Iterator[TrainingData]:
    """One train shard: quantized in memory. More shards (in either split): xgboost's external
    memory, pages in a disk cache next to the prepared folder (removed afterwards), so training's
    memory does not grow with the rows. Both give the trees of a DMatrix over the whole split.
    A tree method other than hist (approx, exact) gets the raw values, as a DMatrix."""
    external = len(prepared.shards[TRAIN]) > 1 or len(prepared.shards[VALIDATION]) > 1
    cache = Path(tempfile.mkdtemp(dir=prepared.directory.parent, prefix=".xgb-cache-")) if external else None
    method, bins = matrix_settings(hyperparameters)
    matrices: TrainingData | None = None
    try:
        try:
            train_iter = ShardIter(prepared, TRAIN, cache)
            train: xgb.DMatrix
            if method in ("hist", "auto"):
                quantized = xgb.ExtMemQuantileDMatrix if external else xgb.QuantileDMatrix
                train = quantized(train_iter, **({"max_bin": int(bins)} if bins else {}))
            else:
                train = xgb.DMatrix(train_iter)
            # Validation stays raw values (a DMatrix, paged like train when external), as the
            # container reads it: predicting a quantized matrix every round is ~40x slower on a
            # 5000-column bag of words, and its metric would be on bin values, not the data.
            matrices = TrainingData(train, xgb.DMatrix(ShardIter(prepared, VALIDATION, cache)),
                                    prepared.rows(TRAIN))
            del train  # release() must drop the last reference
        except (xgb.core.XGBoostError, ValueError) as error:
            raise CliError(f"xgboost could not read {prepared.directory} for tree_method={method}"
                           f"{f' max_bin={bins}' if bins else ''}: {_first_line(error)}",
                           "check the --hp values, or re-run `xgbapi prepare`") from None
        yield matrices
    finally:
        if matrices is not None:
            matrices.release()
        if cache is not None:
            shutil.rmtree(cache, ignore_errors=True)


def train(prepared: Prepared, hyperparameters: dict[str, str]) -> TrainResult:
    """Train from the prepared shards exactly as the container reads them (no feature names)."""
    with training_data(prepared, hyperparameters) as matrices:
        return train_matrices(matrices, hyperparameters)


def train_matrices(matrices: TrainingData, hyperparameters: dict[str, str]) -> TrainResult:
    params = {k: v for k, v in hyperparameters.items() if k not in (NUM_ROUND, EARLY_STOPPING_ROUNDS)}
    params.setdefault("eval_metric", "rmse")
    # Threads are a runtime choice, not a model setting, so they stay out of the manifest. On small
    # data OpenMP threads cost more than they save (about 10x slower here on a busy 2-core box).
    if matrices.train_rows < SMALL_DATA_ROWS:
        params.setdefault("nthread", "1")
    metric = params["eval_metric"]
    dtrain, dval = matrices.train, matrices.validation
    history: dict[str, dict[str, list[float]]] = {}
    # save_best keeps only the trees up to the best round, so every reader of the artifact
    # predicts the best round's values without needing an iteration range.
    stopper = xgb.callback.EarlyStopping(rounds=int(hyperparameters[EARLY_STOPPING_ROUNDS]),
                                         metric_name=metric, data_name="validation", save_best=True)
    try:
        booster = xgb.train(params, dtrain, num_boost_round=int(hyperparameters[NUM_ROUND]),
                            evals=[(dtrain, "train"), (dval, "validation")], evals_result=history,
                            callbacks=[stopper], verbose_eval=False)
    except xgb.core.XGBoostError as error:
        raise CliError(f"xgboost rejected the hyperparameters: {_first_line(error)}",
                       "check the --hp values against the XGBoost parameter docs") from None
    scores = history["validation"][metric]
    best = int(np.argmin(scores))
    return TrainResult(booster=booster, best_iteration=best, best_score=float(scores[best]),
                       rounds_run=len(scores))


def predict(model_bytes: bytes, features: np.ndarray) -> np.ndarray:
    """Load an artifact's model the way the container does and predict (no feature names)."""
    booster = xgb.Booster()
    booster.load_model(bytearray(model_bytes))
    return np.asarray(booster.predict(xgb.DMatrix(features)), dtype=np.float64)


@dataclass(frozen=True)
class Trial:
    hyperparameters: dict[str, str]
    score: float


@dataclass(frozen=True)
class TuneResult:
    best: Trial
    trials: tuple[Trial, ...]
    result: TrainResult  # the best trial's trained model


def tune(prepared: Prepared, base: dict[str, str], ranges: tuple[Range, ...], trials: int = 20,
         seed: int = 0, progress: Progress = _stderr) -> TuneResult:
    """Bayesian search (Gaussian process + expected improvement) minimizing validation rmse.

    The first trial is the base hyperparameters clipped into the ranges, so the search never
    reports a result worse than the defaults; a few random trials follow before the model guides.
    """
    if trials < 1:
        raise CliError(f"--trials {trials} must be at least 1", "pass e.g. --trials 20")
    with contextlib.ExitStack() as stack:
        built: dict[tuple[str, str | None], TrainingData] = {}

        def matrices(hyperparameters: dict[str, str]) -> TrainingData:
            """Built once per tree method and bin count: once, unless max_bin is tuned."""
            settings = matrix_settings(hyperparameters)
            if settings not in built:
                stack.close()  # one set of matrices in memory at a time
                built.clear()
                built[settings] = stack.enter_context(training_data(prepared, hyperparameters))
            return built[settings]

        return _search(matrices, base, ranges, trials, seed, progress)


def _search(matrices: Callable[[dict[str, str]], TrainingData], base: dict[str, str],
            ranges: tuple[Range, ...], trials: int, seed: int, progress: Progress) -> TuneResult:
    rng = np.random.default_rng(seed)
    lows = np.array([r.low for r in ranges])
    spans = np.array([r.high - r.low for r in ranges])

    def to_values(unit: np.ndarray) -> list[float]:
        return [r.clip(r.low + u * (r.high - r.low)) for r, u in zip(ranges, unit, strict=True)]

    def hp_for(values: list[float]) -> dict[str, str]:
        return {**base, **{r.name: r.format(v) for r, v in zip(ranges, values, strict=True)}}

    try:
        start_values = [r.clip(float(base[r.name])) if r.name in base else (r.low + r.high) / 2
                        for r in ranges]
    except ValueError:
        raise CliError("a tuned hyperparameter has a non-numeric starting value",
                       "pass numbers with --hp for the names in the ranges") from None
    points: list[np.ndarray] = [(np.array(start_values) - lows) / spans]
    scores: list[float] = []
    done: list[Trial] = []
    best_result: TrainResult | None = None
    started = time.monotonic()
    initial = min(trials, 5)
    for index in range(trials):
        if index >= len(points):
            points.append(rng.random(len(ranges)) if index < initial
                          else _next_point(np.array(points), np.array(scores), rng))
        values = to_values(points[index])
        points[index] = (np.array(values) - lows) / spans  # the point actually evaluated
        hyperparameters = hp_for(values)
        result = train_matrices(matrices(hyperparameters), hyperparameters)
        scores.append(result.best_score)
        done.append(Trial(hyperparameters, result.best_score))
        if best_result is None or result.best_score < best_result.best_score:
            best_result = result
        progress(f"tune: trial {index + 1}/{trials} validation:rmse={result.best_score:.4f} "
                 f"best={best_result.best_score:.4f} elapsed={time.monotonic() - started:.1f}s")
    assert best_result is not None
    best = min(done, key=lambda t: t.score)
    return TuneResult(best=best, trials=tuple(done), result=best_result)


def _next_point(points: np.ndarray, scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from scipy.stats import norm
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import Matern, WhiteKernel

    model = GaussianProcessRegressor(kernel=Matern(nu=2.5) + WhiteKernel(1e-3), normalize_y=True,
                                     random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on a handful of points
        model.fit(points, scores)
    candidates = rng.random((2000, points.shape[1]))
    mean, std = model.predict(candidates, return_std=True)
    std = np.maximum(std, 1e-9)
    improvement = scores.min() - mean - 0.01 * abs(scores.min())
    z = improvement / std
    expected = improvement * norm.cdf(z) + std * norm.pdf(z)
    return np.asarray(candidates[int(np.argmax(expected))])
