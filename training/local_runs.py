"""Local model runs: train or tune on this machine, write the run directory, score it."""

from __future__ import annotations

from pathlib import Path

from contract import manifest as manifest_module
from contract.artifact import ARTIFACT_FILENAME, read_model_archive, write_model_archive
from contract.errors import CliError
from contract.images import image_uri
from contract.manifest import Manifest, ManifestError, Source
from contract.prepared import TEST
from training import runs
from training.data import Prepared, test_label_batches
from training.hyperparameters import Range
from training.local_backend import TrainResult, check_xgboost, predict, train, tune
from training.metrics import StreamingScores


def build_manifest(*, source: Source, framework_version: str, region: str, prepared: Prepared,
                   hyperparameters: dict[str, str], metrics: dict[str, float],
                   artifact: str | None = None, model_data: str | None = None) -> Manifest:
    from contract.images import FRAMEWORK_XGBOOST_VERSIONS

    return Manifest(
        source=source, framework_version=framework_version,
        xgboost_version=FRAMEWORK_XGBOOST_VERSIONS[framework_version], region=region,
        image_uri=image_uri(region, framework_version),
        features=prepared.spec.fields, input_format=prepared.spec.format, target=prepared.target,
        hyperparameters=dict(hyperparameters), model_data=model_data, artifact=artifact,
        metrics=metrics,
    )


def _write_run(runs_dir: Path, variant: str, prepared: Prepared, hyperparameters: dict[str, str],
               result: TrainResult, framework_version: str, region: str) -> Path:
    run_id = runs.new_run_id()
    # Validate everything that can fail before anything is written.
    manifest = build_manifest(
        source=Source(kind="local", run_id=run_id), framework_version=framework_version,
        region=region, prepared=prepared, hyperparameters=hyperparameters,
        metrics={"validation:rmse": result.best_score,
                 "best_iteration": float(result.best_iteration)},
        artifact=ARTIFACT_FILENAME)
    with runs.staged_run(runs_dir, variant, run_id) as staging:
        write_model_archive(result.model_bytes, staging, ARTIFACT_FILENAME)
        manifest_module.write(manifest, staging)
    runs.point_latest(runs_dir, variant, run_id)
    return Path(runs_dir) / variant / run_id


def train_run(prepared: Prepared, runs_dir: Path, variant: str, hyperparameters: dict[str, str],
              framework_version: str, region: str) -> Path:
    check_xgboost(framework_version)
    image_uri(region, framework_version)  # fail on a region without an image before training
    result = train(prepared, hyperparameters)
    return _write_run(runs_dir, variant, prepared, hyperparameters, result, framework_version, region)


def tune_run(prepared: Prepared, runs_dir: Path, variant: str, base: dict[str, str],
             ranges: tuple[Range, ...], trials: int, framework_version: str, region: str,
             seed: int = 0) -> Path:
    check_xgboost(framework_version)
    image_uri(region, framework_version)
    outcome = tune(prepared, base, ranges, trials=trials, seed=seed)
    return _write_run(runs_dir, variant, prepared, outcome.best.hyperparameters, outcome.result,
                      framework_version, region)


def load_run(run: Path) -> tuple[Manifest, Path]:
    path = Path(run)
    manifest_path = path / manifest_module.MANIFEST_FILENAME if path.is_dir() else path
    try:
        return manifest_module.load(manifest_path), manifest_path
    except ManifestError as error:
        raise CliError(str(error), "pass --run with a run directory written by train or tune") from None


def evaluate_run(run: Path, prepared: Prepared) -> dict[str, float]:
    """Predict the test split in-process with the run's artifact; write RMSE, MAE, R2 into the manifest."""
    manifest, manifest_path = load_run(run)
    check_features(manifest, prepared)
    artifact = manifest_module.artifact_path(manifest, manifest_path)
    if artifact is None or not artifact.is_file():
        raise CliError(f"run {run} has no local model.tar.gz",
                       "evaluate a SageMaker-trained run with --backend sagemaker")
    check_xgboost(manifest.framework_version)
    model = read_model_archive(artifact)
    scores = StreamingScores()
    batches = zip(prepared.shard_paths(TEST), test_label_batches(prepared), strict=True)
    for path, expected in batches:  # one shard in memory at a time
        features, _ = prepared.read_shard(path, labelled=False)
        if features.shape[0] != expected.size:
            raise CliError(f"{path} has {features.shape[0]} rows, dataset.json records {expected.size}",
                           "re-run `xgbapi prepare`")
        scores.add(expected, predict(model, features))
    updated = manifest.with_updates(metrics={**manifest.metrics, **scores.result()})
    manifest_module.write(updated, manifest_path.parent)
    return scores.result()


def check_features(manifest: Manifest, prepared: Prepared) -> None:
    if manifest.feature_names != prepared.feature_names:
        raise CliError(f"the run was trained on features {list(manifest.feature_names)} but "
                       f"{prepared.directory} has {list(prepared.feature_names)}",
                       "evaluate with the prepared data the run was trained on (--prepared)")
    if manifest.input_spec != prepared.spec:
        raise CliError(f"the run was trained on another encoding of the same fields than "
                       f"{prepared.directory} holds (categories, vocabulary or format differ)",
                       "evaluate with the prepared data the run was trained on (--prepared)")
