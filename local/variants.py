"""The endpoint's variants as the local runtime serves them: models loaded like the container.

Each variant's ``model.tar.gz`` is read with the training code's archive reader and loaded into
the xgboost version the manifest's container runs; a model that cannot load is kept as a broken
variant (it answers ModelError, as a failing container would) instead of stopping the server.

``LocalVariant.invoke`` answers ``POST /invocations`` as the built-in container's algorithm-mode
server does (aws/sagemaker-xgboost-container, tags v1.7-1-1 and v3.0-5, which serve alike):
``algorithm_mode/serve.py`` ``invocations()`` and ``_parse_accept``, ``algorithm_mode/
serve_utils.py`` ``parse_content_data``, ``_get_sparse_matrix_from_libsvm`` and
``encode_predictions_as_json``, ``data_utils.py`` ``get_content_type``, and sagemaker-containers
2.8.6.post2 ``_encoders.array_to_csv``. Status codes as the container sets them: 415 for a
content type it does not read *and* for a body it cannot parse into a DMatrix, 400 when the
booster refuses the matrix, 406 for an Accept it does not support, 500 for an Accept it lists
but cannot encode without selectable inference output.
"""

from __future__ import annotations

import json
import math
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xgboost as xgb
from scipy.sparse import csr_matrix

from contract.artifact import read_model_archive
from contract.config import AppConfig
from contract.errors import CliError
from contract.images import check_xgboost_version
from contract.manifest import Manifest

CSV = "text/csv"
JSON = "application/json"
# serve.py SUPPORTED_ACCEPTS: the Accept values the container does not answer 406.
SUPPORTED_ACCEPTS = ("application/json", "application/jsonlines", "application/x-recordio-protobuf",
                     "text/csv")
# data_utils.get_content_type: what each accepted request content type (lower case, parameters
# removed) reads as. Parquet passes it but parse_content_data has no branch for it (415).
_REQUEST_FORMATS = {
    "csv": "csv", "text/csv": "csv",
    "libsvm": "libsvm", "text/libsvm": "libsvm", "text/x-libsvm": "libsvm",
    "parquet": "parquet", "application/x-parquet": "parquet",
    "recordio-protobuf": "recordio-protobuf", "application/x-recordio-protobuf": "recordio-protobuf",
}
# Framework versions whose container shifts 1-based libsvm indices down by one (see
# parse_libsvm). None of the released images does: the shift is on the container's master
# branch only (commit 7eefe63, May 2026), not in the v1.7-1-1 or v3.0-5 tags nor on branch
# release-3.0.5. Add a version here when an image that carries it becomes a framework version.
LIBSVM_SHIFTING_FRAMEWORK_VERSIONS: frozenset[str] = frozenset()


class InputError(ValueError):
    """The container refused the request; ``status`` is its HTTP status (the runtime's
    OriginalStatusCode inside a ModelError): 400 unless said otherwise."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class LocalVariant:
    name: str
    weight: float  # the starting (config) weight; WeightedRouter holds the live one
    manifest: Manifest
    manifest_path: Path
    booster: xgb.Booster | None = None
    load_error: str | None = None
    # Whether this variant's container shifts 1-based libsvm indices (parse_libsvm).
    libsvm_shift: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def feature_count(self) -> int:
        """The columns the model reads: the booster's own count once loaded (an encoded
        manifest's fields can be fewer than its columns), else the manifest's features."""
        if self.booster is not None:
            return int(self.booster.num_features())
        return len(self.manifest.features)

    def invoke(self, body: bytes, content_type: str | None,
               accept: str | None = None) -> tuple[str, bytes]:
        """One ``POST /invocations``: (response content type, body), or InputError with the
        container's status. Steps in the container's order: read the body, predict, Accept."""
        request_format = parse_content_type(content_type)
        if self.booster is None:
            raise InputError(self.load_error or "the model is not loaded", 500)
        if request_format == "csv":
            rows = parse_csv(body, self.feature_count)
            with self._lock:
                predictions = self.booster.inplace_predict(rows, missing=math.nan)
        else:
            matrix = parse_libsvm(body, shift_one_based=self.libsvm_shift)
            predictions = self._predict_sparse(matrix)
        response_type = parse_accept(accept)
        return encode_predictions(np.asarray(predictions), response_type)

    def _predict_sparse(self, matrix: csr_matrix) -> np.ndarray:
        assert self.booster is not None
        columns = int(matrix.shape[1])
        if columns > self.feature_count:
            # xgboost refuses it at predict ("Check failed: num_feature >= num_col_"), which the
            # container answers 400 (serve.py invocations: "Unable to evaluate payload provided").
            raise InputError(f"Unable to evaluate payload provided: the request has {columns} "
                             f"columns (largest feature index {columns - 1}); the model has "
                             f"{self.feature_count} features. Number of columns does not match "
                             "number of features in booster.")
        try:
            dmatrix = xgb.DMatrix(matrix)
        except xgb.core.XGBoostError as error:  # inf values: in parse_content_data's try (415)
            raise InputError(_libsvm_failure(error), 415) from None
        try:
            with self._lock:
                # serve_utils.predict: Booster.predict(dtest, validate_features=False), all trees.
                result: np.ndarray = self.booster.predict(dmatrix, validate_features=False)
        except xgb.core.XGBoostError as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise InputError(f"Unable to evaluate payload provided: {first_line}") from None
        return result


def parse_content_type(content_type: str | None) -> str:
    """``csv`` or ``libsvm`` as data_utils.get_content_type reads the request's Content-Type
    (lower-cased, parameters after ``;`` ignored except csv's ``label_size``, which must be 1);
    InputError 415 for anything else, as invocations() answers a failing parse_content_data.

    One deliberate difference: the container reads a request without Content-Type as libsvm;
    here it is 415 as before (what SageMaker forwards when InvokeEndpoint has no ContentType is
    not documented)."""
    if not content_type:
        raise InputError("Content-type None is not supported.", 415)
    media, _, parameters = content_type.lower().partition(";")
    request_format = _REQUEST_FORMATS.get(media.strip())
    if request_format == "csv":
        for parameter in parameters.split(";"):
            key, _, value = parameter.partition("=")
            if key.strip() == "label_size" and value.strip().strip('"') != "1":
                raise InputError(f"{content_type} is not an accepted csv ContentType. Optional "
                                 "parameter label_size must be equal to 1", 415)
    if request_format in ("csv", "libsvm"):
        return request_format
    if request_format == "recordio-protobuf":  # the container reads it; this runtime does not
        raise InputError(f"Content-type {content_type} is not supported by the local runtime "
                         "(the container reads it; send text/csv or text/libsvm).", 415)
    raise InputError(f"Content-type {content_type} is not supported.", 415)


def parse_accept(accept: str | None) -> str:
    """The response type as serve.py _parse_accept picks it: no Accept or ``*/*`` is text/csv
    (SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT is not set on the models), parameters are ignored,
    anything outside SUPPORTED_ACCEPTS is 406. A list (``a, b``) is one unsupported value."""
    media = (accept or "").partition(";")[0].strip()
    if not media or media == "*/*":
        return CSV
    if media.lower() not in SUPPORTED_ACCEPTS:
        raise InputError(f"Accept type {media} is not supported. Please use supported accept "
                         f"types: {list(SUPPORTED_ACCEPTS)}.", 406)
    return media.lower()


def encode_predictions(predictions: np.ndarray, accept: str) -> tuple[str, bytes]:
    """(Content-Type, body) as invocations() encodes ``preds.tolist()``; Flask's ``mimetype``
    adds ``; charset=utf-8`` to text types, so CSV answers ``text/csv; charset=utf-8``."""
    values = predictions.tolist()
    if accept == JSON:
        # serve_utils.encode_predictions_as_json: one {"score": ...} per row; a multi-output
        # row's score is the row's list. json.dumps with its default separators.
        return JSON, json.dumps({"predictions": [{"score": value} for value in values]}).encode()
    if accept == CSV:
        # sagemaker_containers _encoders.array_to_csv: one row per line, a multi-output row's
        # values joined by commas; numbers as str(np.float64), which is repr(float).
        lines = [",".join(repr(float(v)) for v in value) if isinstance(value, list)
                 else repr(float(value)) for value in values]
        return f"{CSV}; charset=utf-8", "".join(line + "\n" for line in lines).encode()
    # application/jsonlines, application/x-recordio-protobuf: encoders.encode has no encoder
    # for them and raises UnsupportedFormatError, uncaught in invocations(): Flask's 500.
    raise InputError("Internal Server Error: the server encountered an internal error and was "
                     f"unable to complete your request (no encoder for {accept}).", 500)


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


def parse_libsvm(body: bytes, *, shift_one_based: bool = False) -> csr_matrix:
    """A ``text/libsvm`` body as the container reads it; InputError 415 where it fails.

    Mirrors aws/sagemaker-xgboost-container src/sagemaker_xgboost_container/algorithm_mode/
    serve_utils.py: ``parse_content_data`` strips the body and decodes UTF-8, then
    ``_get_sparse_matrix_from_libsvm`` splits lines on newlines and items on single spaces,
    keeps every item holding a ``:`` as ``index:value`` (the text between the first and second
    colon is the value; items without a colon, such as a label, are skipped), converts with
    ``np.array(...).astype(int)`` / ``.astype(float)`` and builds ``csr_matrix((data, (row,
    col)))``: absent entries are missing values, a repeated index sums, explicit zeros stay
    zeros, the width is the largest index + 1 and the rows run to the last row with an entry.
    Any failure there (non-numeric index or value, negative index, no entry at all) is a
    RuntimeError the server answers 415.

    ``shift_one_based``: the container's master branch (commit 7eefe63, "Shift 1-based libsvm
    indices to 0-based", serve_utils.py lines 111-113) subtracts one from every index when the
    smallest index in the request is >= 1. The released 1.7-1 and 3.0-5 images do not (see
    LIBSVM_SHIFTING_FRAMEWORK_VERSIONS), so it is off unless a variant's container has it.
    """
    try:
        text = body.strip().decode("utf-8")
        rows: list[int] = []
        cols: list[str] = []
        data: list[str] = []
        for row_index, line in enumerate(text.split("\n")):
            for item in line.split(" "):
                if ":" in item:
                    parts = item.split(":")
                    rows.append(row_index)
                    cols.append(parts[0])
                    data.append(parts[1])
        col = np.array(cols).astype(int)
        if shift_one_based and len(col) > 0 and col.min() >= 1:
            col = col - 1
        values = np.array(data).astype(float)
        return csr_matrix((values, (np.array(rows), col)))
    except Exception as error:  # the container catches every exception here
        raise InputError(_libsvm_failure(error), 415) from None


def _libsvm_failure(error: Exception) -> str:
    detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return ("Loading libsvm data failed with Exception, please ensure data is in libsvm format: "
            f"{type(error).__name__}: {detail}")


def load_variants(config: AppConfig) -> list[LocalVariant]:
    """Every variant of the config with its model loaded (or its load error recorded)."""
    variants = []
    for model in config.models:
        variant = LocalVariant(name=model.variant.name, weight=model.variant.weight,
                               manifest=model.manifest, manifest_path=model.variant.manifest_path,
                               libsvm_shift=model.manifest.framework_version
                               in LIBSVM_SHIFTING_FRAMEWORK_VERSIONS)
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
    """Picks a variant in proportion to its weight, as SageMaker does without TargetVariant.

    The weights are live: ``set_weights`` (the runtime's UpdateEndpointWeightsAndCapacities)
    changes them for every pick after it, so a traffic shift also moves the requests the runtime
    routes itself. A variant's ``LocalVariant.weight`` stays the weight it started with (the
    config's); ``weights()`` is what the endpoint routes by now.
    """

    def __init__(self, variants: list[LocalVariant], seed: int | None = None) -> None:
        self._names = [v.name for v in variants]
        self._by_name = {v.name: v for v in variants}
        self._weights = {v.name: float(v.weight) for v in variants}
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._rebuild()

    def _rebuild(self) -> None:
        # Only positive weights are candidates: a weight-0 variant is never picked, and a seed
        # gives the same picks as the router did before weights could change.
        self._candidates = [self._by_name[n] for n in self._names if self._weights[n] > 0]
        self._candidate_weights = [self._weights[v.name] for v in self._candidates]

    def weights(self) -> dict[str, float]:
        """Each variant's current weight, in the variants' order (a copy)."""
        with self._lock:
            return {name: self._weights[name] for name in self._names}

    def set_weights(self, weights: Mapping[str, float]) -> None:
        """Change the named variants' weights at once (the others keep theirs). ValueError, and
        nothing changed, for an unknown variant, a weight that is negative or not finite, or a
        result where no variant has a positive weight."""
        unknown = sorted(set(weights) - set(self._by_name))
        if unknown:
            raise ValueError(f"no variant {', '.join(unknown)}")
        bad = sorted(name for name, weight in weights.items()
                     if not math.isfinite(weight) or weight < 0)
        if bad:
            raise ValueError(f"weights must be finite and >= 0 ({', '.join(bad)})")
        with self._lock:
            final = {**self._weights, **{name: float(w) for name, w in weights.items()}}
            if not any(weight > 0 for weight in final.values()):
                raise ValueError("at least one variant must keep a weight > 0")
            self._weights = final
            self._rebuild()

    def pick(self) -> LocalVariant:
        with self._lock:
            return self._random.choices(self._candidates, self._candidate_weights)[0]
