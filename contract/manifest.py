"""The model manifest: the one contract between training, the stacks and the Lambda.

Every model run writes ``manifest.json`` beside its ``model.tar.gz``. The stacks read the
image and model data from it, the API stack hands the input spec (raw fields and their
fitted encodings) to the preprocessing Lambda, and the local runtime loads the artifact it names.
Nobody else parses manifests.

Schema evolution: ``schema_version`` is an integer. A reader accepts every version up to
``SCHEMA_VERSION`` and refuses newer ones with a clear message.
  1  features are numeric; the model reads CSV
  2  features are raw fields of a kind (numeric, categorical with its categories, text with its
     tokenizer version and vocabulary: contract/encoding.py) and ``input_format`` (csv or
     libsvm) says what the model reads. A version 1 manifest loads as all-numeric CSV.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from contract.documents import S3_URI, DocumentError, read_json, write_atomically
from contract.encoding import FORMATS, Field, InputSpec, parse_fields
from contract.images import FRAMEWORK_XGBOOST_VERSIONS

SCHEMA_VERSION = 2
MANIFEST_FILENAME = "manifest.json"
SOURCE_KINDS = ("local", "sagemaker-training", "sagemaker-tuning")

# A feature name ends up in JSON keys, a CSV column order and a Lambda environment
# variable: printable, no separators that would break CSV or the comma-free env encoding.
FEATURE_NAME = re.compile(r"^[^\s,\"'\x00-\x1f]{1,128}$")


class ManifestError(DocumentError):
    """A manifest that cannot be used; the message names the file, the field and the fix."""


Feature = Field  # a raw input field; its kind and fitted encoding live in contract/encoding.py


@dataclass(frozen=True)
class Source:
    """Where the model came from: a local run id or the SageMaker job that trained it."""

    kind: str
    run_id: str
    job_name: str | None = None


@dataclass(frozen=True)
class Manifest:
    source: Source
    framework_version: str
    xgboost_version: str
    region: str
    image_uri: str
    features: tuple[Feature, ...]
    target: str
    hyperparameters: dict[str, str]
    # S3 URI of model.tar.gz once it is in S3 (SageMaker-trained, or a published local run).
    model_data: str | None = None
    # model.tar.gz relative to the manifest's directory, for runs trained on this machine.
    artifact: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    input_format: str = "csv"  # what the model reads: csv or libsvm (contract/encoding.py)
    schema_version: int = SCHEMA_VERSION

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(feature.name for feature in self.features)

    @property
    def input_spec(self) -> InputSpec:
        """The raw fields and format: what the Lambda encodes requests with."""
        return InputSpec(self.features, self.input_format)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["features"] = [feature.to_dict() for feature in self.features]
        # Keys in a fixed, readable order: schema first, then provenance, then content (the
        # long vocabularies last but one, so the short facts read first).
        order = ["schema_version", "source", "framework_version", "xgboost_version", "region",
                 "image_uri", "model_data", "artifact", "target", "input_format",
                 "hyperparameters", "metrics", "features"]
        return {key: data[key] for key in order}

    def with_updates(self, **changes: Any) -> Manifest:
        data = {**self.to_dict(), **changes}
        return parse(data, "<updated manifest>")


def parse(data: Any, path: Path | str) -> Manifest:
    """Validate a decoded manifest document and build a Manifest, or raise ManifestError."""
    if not isinstance(data, dict):
        raise ManifestError(path, "<top level>", "must be a JSON object")

    def required(name: str, kind: type | tuple[type, ...]) -> Any:
        if name not in data or data[name] is None:
            raise ManifestError(path, name, "is missing; re-run training to write a full manifest")
        value = data[name]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise ManifestError(path, name, f"has the wrong type ({type(value).__name__})")
        return value

    version = required("schema_version", int)
    if version < 1 or version > SCHEMA_VERSION:
        raise ManifestError(
            path, "schema_version",
            f"is {version}, this tool reads versions 1..{SCHEMA_VERSION}; "
            "upgrade the project to read newer manifests",
        )

    source_data = required("source", dict)
    kind = source_data.get("kind")
    if kind not in SOURCE_KINDS:
        raise ManifestError(path, "source.kind", f"must be one of {', '.join(SOURCE_KINDS)}")
    run_id = source_data.get("run_id")
    if not isinstance(run_id, str) or not run_id:
        raise ManifestError(path, "source.run_id", "must be a non-empty string")
    job_name = source_data.get("job_name")
    if kind != "local" and not isinstance(job_name, str):
        raise ManifestError(path, "source.job_name", f"is required for a {kind} model")
    source = Source(kind=kind, run_id=run_id, job_name=job_name)

    framework_version = required("framework_version", str)
    if framework_version not in FRAMEWORK_XGBOOST_VERSIONS:
        known = ", ".join(sorted(FRAMEWORK_XGBOOST_VERSIONS))
        raise ManifestError(path, "framework_version", f"{framework_version!r} is not one of {known}")
    xgboost_version = required("xgboost_version", str)
    region = required("region", str)
    image_uri = required("image_uri", str)
    if f".dkr.ecr.{region}." not in image_uri:
        raise ManifestError(path, "image_uri", f"is not an ECR image in the manifest's region {region}")

    model_data = data.get("model_data")
    if model_data is not None and (not isinstance(model_data, str) or not S3_URI.match(model_data)):
        raise ManifestError(path, "model_data", "must be an s3://bucket/key URI or null")
    artifact = data.get("artifact")
    if artifact is not None and (not isinstance(artifact, str) or not artifact):
        raise ManifestError(path, "artifact", "must be a relative path or null")
    if model_data is None and artifact is None:
        raise ManifestError(
            path, "model_data", "and artifact are both empty; the manifest points at no model"
        )

    items = required("features", list)
    for index, item in enumerate(items):
        kind = item.get("type", "numeric") if isinstance(item, dict) else "numeric"
        if version < 2 and kind != "numeric":
            raise ManifestError(path, f"features[{index}].type", f"{kind!r} is not supported "
                                "by schema version 1 (numeric only); write schema_version 2")
    features = _parse_features(items, path)
    input_format = data.get("input_format", "csv") if version >= 2 else "csv"
    if input_format not in FORMATS:
        raise ManifestError(path, "input_format", f"{input_format!r} is not one of {', '.join(FORMATS)}")
    target = required("target", str)
    if target in {feature.name for feature in features}:
        raise ManifestError(path, "target", f"{target!r} is also listed as a feature")

    hyperparameters = required("hyperparameters", dict)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in hyperparameters.items()):
        raise ManifestError(path, "hyperparameters", "must map names to strings (SageMaker's form)")

    metrics = data.get("metrics") or {}
    if not isinstance(metrics, dict) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        for v in metrics.values()
    ):
        raise ManifestError(path, "metrics", "must map names to finite numbers")

    return Manifest(  # read as any version, held (and written again) as the current one
        schema_version=SCHEMA_VERSION, source=source, framework_version=framework_version,
        xgboost_version=xgboost_version, region=region, image_uri=image_uri,
        model_data=model_data, artifact=artifact, features=features, target=target,
        hyperparameters=dict(hyperparameters), metrics={k: float(v) for k, v in metrics.items()},
        input_format=input_format,
    )


def _parse_features(items: list[Any], path: Path | str) -> tuple[Feature, ...]:
    if not items:
        raise ManifestError(path, "features", "is empty; a model needs at least one feature")
    for index, item in enumerate(items):
        name = item.get("name") if isinstance(item, dict) else None
        if isinstance(name, str) and not FEATURE_NAME.match(name):
            raise ManifestError(path, f"features[{index}].name", f"{name!r} must be 1-128 printable "
                                "characters without spaces, commas or quotes")
    try:
        return parse_fields(items)
    except ValueError as error:
        where, _, problem = str(error).partition(": ")
        raise ManifestError(path, where, problem) from None


def load(path: Path | str) -> Manifest:
    """Read and validate ``path`` (a manifest.json, or a run directory holding one)."""
    manifest_path = Path(path)
    if manifest_path.is_dir():
        manifest_path = manifest_path / MANIFEST_FILENAME
    data = read_json(manifest_path, ManifestError,
                     "train this variant first (make train) or fix the path")
    return parse(data, manifest_path)


def artifact_path(manifest: Manifest, manifest_path: Path | str) -> Path | None:
    """The local model.tar.gz a manifest names, resolved against its directory."""
    if manifest.artifact is None:
        return None
    base = Path(manifest_path)
    if base.name == MANIFEST_FILENAME or base.is_file():
        base = base.parent
    return (base / manifest.artifact).resolve()


def write(manifest: Manifest, directory: Path | str) -> Path:
    """Write ``manifest.json`` into ``directory`` atomically (never a half-written file)."""
    payload = json.dumps(manifest.to_dict(), indent=2, sort_keys=False) + "\n"
    return write_atomically(Path(directory) / MANIFEST_FILENAME, payload)
