"""`make train`: every config variant trained locally, and the stacks' config loader accepts them."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main
from contract.config import load_config

CONFIG = """
[project]
prefix = "xgb-train-test"

[[variants]]
name = "champion"
manifest = "runs/champion/latest/manifest.json"
weight = 0.7

[[variants]]
name = "challenger"
manifest = "runs/challenger/latest/manifest.json"
weight = 0.3
"""


def test_train_examples_gives_a_config_with_every_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "config.toml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    assert main(["train-examples", "--config", "config.toml"]) == 0
    config = load_config("config.toml", base_dir=tmp_path)
    assert config.has_models and [m.variant.name for m in config.models] == ["champion", "challenger"]
    champion, challenger = (m.manifest for m in config.models)
    assert champion.hyperparameters["max_depth"] == "5" and challenger.hyperparameters["max_depth"] == "3"
    assert all({"rmse", "mae", "r2"} <= set(m.manifest.metrics) for m in config.models)
    assert all(m.artifact_path is not None and m.artifact_path.is_file() for m in config.models)
    assert "loads with every variant's model" in capsys.readouterr().out


def test_cli_train_tune_evaluate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["prepare"]) == 0
    assert main(["train", "--variant", "champion", "--hp", "max_depth=4"]) == 0
    assert main(["tune", "--variant", "challenger", "--trials", "3"]) == 0
    assert main(["evaluate", "--variant", "challenger"]) == 0
    captured = capsys.readouterr()
    assert "tune: trial 3/3" in captured.err  # progress
    assert "rmse=" in captured.out
    assert (tmp_path / "runs" / "champion" / "latest" / "model.tar.gz").is_file()


@pytest.mark.parametrize("command", ["prepare", "train", "tune", "evaluate", "publish", "train-examples"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: xgbapi" in capsys.readouterr().out


def test_python_dash_m_cli_runs_the_one_command_line() -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "cli", "--help"], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2], check=False)
    assert done.returncode == 0
    for command in ("prepare", "train", "tune", "evaluate", "publish", "train-examples", "predict",
                    "serve", "demo", "status", "traffic", "ab-report", "cost", "diff", "deploy-emulated"):
        assert command in done.stdout
