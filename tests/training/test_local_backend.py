"""Local backend end to end: artifact layout, the version trap, early stopping, run directories."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from contract import artifact
from contract import manifest as manifest_module
from contract.images import image_uri
from training import hyperparameters, local_backend, local_runs
from training.data import Prepared


def _train(prepared: Prepared, runs_dir: Path, variant: str = "champion",
           hp: list[str] | None = None) -> Path:
    return local_runs.train_run(prepared, runs_dir, variant, hyperparameters.with_overrides(hp),
                                "3.0-5", "us-east-1")


def test_artifact_holds_exactly_one_member_named_xgboost_model(prepared: Prepared, tmp_path: Path) -> None:
    run = _train(prepared, tmp_path)
    with tarfile.open(run / "model.tar.gz") as archive:
        members = archive.getmembers()
    assert [m.name for m in members] == ["xgboost-model"] and members[0].isfile()
    assert sorted(p.name for p in run.iterdir()) == ["manifest.json", "model.tar.gz"]


def test_artifact_predicts_identically_in_the_container_xgboost(prepared: Prepared, tmp_path: Path) -> None:
    assert xgb.__version__ == "3.0.5"  # the xgboost of container 3.0-5
    result = local_backend.train(prepared, hyperparameters.with_overrides([]))
    archive = artifact.write_model_archive(result.model_bytes, tmp_path)
    features, _ = prepared.load_test()
    in_memory = result.booster.predict(xgb.DMatrix(features))
    from_artifact = local_backend.predict(artifact.read_model_archive(archive), features)
    assert np.array_equal(in_memory, from_artifact.astype(in_memory.dtype))
    # The container extracts the archive and loads the file by path: do the same.
    with tarfile.open(archive) as opened:
        opened.extractall(tmp_path / "model", filter="data")
    container = xgb.Booster()
    container.load_model(str(tmp_path / "model" / "xgboost-model"))
    assert np.array_equal(in_memory, container.predict(xgb.DMatrix(features)))


def test_early_stopping_takes_effect(prepared: Prepared) -> None:
    # eta 0.2 on 265 rows overfits long before 200 rounds: validation rmse turns up and stops it.
    result = local_backend.train(prepared, hyperparameters.with_overrides([]))
    assert result.rounds_run < 200
    assert result.rounds_run == result.best_iteration + 1 + 10  # stopped 10 rounds after the best
    assert result.booster.num_boosted_rounds() == result.best_iteration + 1  # kept the best model


def test_manifest_is_complete_and_loadable(prepared: Prepared, tmp_path: Path) -> None:
    run = _train(prepared, tmp_path)
    manifest = manifest_module.load(run)
    assert manifest.source.kind == "local" and manifest.source.run_id == run.name
    assert manifest.model_data is None and manifest.artifact == "model.tar.gz"
    assert manifest_module.artifact_path(manifest, run / "manifest.json") == (run / "model.tar.gz").resolve()
    assert manifest.framework_version == "3.0-5" and manifest.xgboost_version == "3.0.5"
    assert manifest.image_uri == image_uri("us-east-1", "3.0-5") and manifest.region == "us-east-1"
    assert manifest.feature_names == prepared.feature_names and manifest.target == "target"
    assert manifest.hyperparameters == hyperparameters.DEFAULTS
    assert manifest.hyperparameters["eval_metric"] == "rmse"
    assert manifest.metrics["validation:rmse"] > 0


def test_runs_never_overwrite_and_latest_moves(prepared: Prepared, tmp_path: Path) -> None:
    first = _train(prepared, tmp_path)
    before = (first / "model.tar.gz").read_bytes()
    second = _train(prepared, tmp_path, hp=["max_depth=3"])
    assert first != second and first.parent == second.parent
    assert (first / "model.tar.gz").read_bytes() == before
    latest = tmp_path / "champion" / "latest"
    assert latest.is_symlink() and latest.readlink() == Path(second.name)


def test_a_failed_run_leaves_nothing_behind(prepared: Prepared, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    first = _train(prepared, tmp_path)

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(local_runs, "write_model_archive", broken)
    with pytest.raises(OSError):
        _train(prepared, tmp_path)
    variant_dir = tmp_path / "champion"
    assert sorted(p.name for p in variant_dir.iterdir()) == sorted([first.name, "latest"])
    assert (variant_dir / "latest").readlink() == Path(first.name)


def test_tuning_improves_or_matches_the_defaults(prepared: Prepared) -> None:
    default = local_backend.train(prepared, hyperparameters.with_overrides([]))
    outcome = local_backend.tune(prepared, hyperparameters.with_overrides([]),
                                 hyperparameters.DEFAULT_RANGES, trials=8, progress=lambda _: None)
    assert len(outcome.trials) == 8
    assert outcome.best.score <= default.best_score
    assert len({tuple(sorted(t.hyperparameters.items())) for t in outcome.trials}) > 1  # it searched
    for trial in outcome.trials:
        assert 3 <= int(trial.hyperparameters["max_depth"]) <= 12
        assert 0.05 <= float(trial.hyperparameters["eta"]) <= 0.5
        assert 0 <= float(trial.hyperparameters["gamma"]) <= 10


def test_evaluate_writes_rmse_mae_r2_into_the_manifest(prepared: Prepared, tmp_path: Path) -> None:
    run = _train(prepared, tmp_path)
    scores = local_runs.evaluate_run(run, prepared)
    manifest = manifest_module.load(run)
    for name in ("rmse", "mae", "r2"):
        assert manifest.metrics[name] == pytest.approx(scores[name])
    assert 0 < scores["mae"] <= scores["rmse"] and scores["r2"] > 0
