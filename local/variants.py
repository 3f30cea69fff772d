"""The endpoint's variants as the local runtime serves them: models loaded like the container.

Each variant's ``model.tar.gz`` is read with the training code's archive reader and loaded into
the xgboost version the manifest's container runs; a model that cannot load is kept as a broken
variant (it answers ModelError, as a failing container would) instead of stopping the server.
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xgboost as xgb

from contract.artifact import read_model_archive
from contract.config import AppConfig
from contract.errors import CliError
from contract.images import check_xgboost_version
from contract.manifest import Manifest


class InputError(ValueError):
    """The container could not read the request body (it answers 400; the runtime ModelError)."""


@dataclass
class LocalVariant:
    name: str
    weight: float
    manifest: Manifest
    manifest_path: Path
    booster: xgb.Booster | None = None
    load_error: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def feature_count(self) -> int:
        return len(self.manifest.features)

    def predict_csv(self, body: bytes) -> bytes:
        """The container contract: CSV rows without a label in, one prediction per line out."""
        if self.booster is None:
            raise RuntimeError(self.load_error or "model not loaded")
        rows = parse_csv(body, self.feature_count)
        with self._lock:
            predictions = self.booster.inplace_predict(rows, missing=math.nan)
        return "".join(f"{float(value)!r}\n" for value in np.asarray(predictions).ravel()).encode()


def parse_csv(body: bytes, width: int) -> np.ndarray:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("the body is not UTF-8 text") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise InputError("the body has no rows")
    matrix = np.empty((len(lines), width), dtype=np.float32)
    for index, line in enumerate(lines):
        cells = line.split(",")
        if len(cells) != width:
            raise InputError(f"row {index + 1} has {len(cells)} columns; the model has {width} features")
        try:
            matrix[index] = [float(cell) if cell.strip() else math.nan for cell in cells]
        except ValueError:
            raise InputError(f"row {index + 1} has a value that is not a number") from None
    return matrix


def load_variants(config: AppConfig) -> list[LocalVariant]:
    """Every variant of the config with its model loaded (or its load error recorded)."""
    variants = []
    for model in config.models:
        variant = LocalVariant(name=model.variant.name, weight=model.variant.weight,
                               manifest=model.manifest, manifest_path=model.variant.manifest_path)
        variant.booster, variant.load_error = _load(model.manifest, model.artifact_path)
        variants.append(variant)
    return variants


def _load(manifest: Manifest, artifact: Path | None) -> tuple[xgb.Booster | None, str | None]:
    try:
        # The container's xgboost release, checked as training checks it.
        check_xgboost_version(manifest.framework_version, xgb.__version__)
    except CliError as error:
        return None, error.problem
    if artifact is None or not artifact.is_file():
        return None, "the manifest names no local model.tar.gz (publish-only models are not served locally)"
    try:
        booster = xgb.Booster()
        booster.load_model(bytearray(read_model_archive(artifact)))
    except Exception as error:
        return None, f"model.tar.gz does not load: {type(error).__name__}"
    booster.set_param({"nthread": 1})
    return booster, None


class WeightedRouter:
    """Picks a variant in proportion to its weight, as SageMaker does without TargetVariant."""

    def __init__(self, variants: list[LocalVariant], seed: int | None = None) -> None:
        self._variants = [v for v in variants if v.weight > 0]
        self._weights = [v.weight for v in self._variants]
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def pick(self) -> LocalVariant:
        with self._lock:
            return self._random.choices(self._variants, self._weights)[0]
