"""Every bad input ends as one line `error: <problem>; <fix>`, exit code 2, and nothing written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from cli.main import main
from training.data import Prepared

# The sagemaker backend reads the deployment config (its prefix names the Data stack).
MINIMAL_CONFIG = ('[project]\nprefix = "xgb-demo"\n[[variants]]\nname = "champion"\n'
                  'manifest = "runs/champion/latest/manifest.json"\nweight = 1\n'
                  'instance_type = "ml.m5.large"\ninstance_count = 1\n')

WriteCsv = Callable[[Path, list[str], list[list[object]]], Path]


def _fails(argv: list[str], capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "; " in lines[0], lines[0]
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _rows(n: int) -> list[list[object]]:
    return [[i, i * 2, i * 3.5] for i in range(n)]


def _prepare(tmp_path: Path, source: Path, *extra: str) -> list[str]:
    return ["prepare", "--data", str(source), "--out", str(tmp_path / "prepared"), *extra]


def _nothing_prepared(tmp_path: Path) -> None:
    assert not (tmp_path / "prepared").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fails(_prepare(tmp_path, tmp_path / "nope.csv"), capsys, "does not exist", "--data")
    _nothing_prepared(tmp_path)


def test_missing_target(tmp_path: Path, write_csv: WriteCsv, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_csv(tmp_path / "in.csv", ["a", "b", "y"], _rows(20))
    _fails(_prepare(tmp_path, source), capsys, "'target'", "--target")
    _nothing_prepared(tmp_path)


def test_non_numeric_target(tmp_path: Path, write_csv: WriteCsv, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [[i, i, "yes" if i % 2 else "no"] for i in range(20)]
    source = write_csv(tmp_path / "in.csv", ["a", "b", "y"], rows)
    _fails(_prepare(tmp_path, source, "--target", "y"), capsys, "target column 'y'", "not numeric")
    _nothing_prepared(tmp_path)


def test_feature_forced_numeric_names_the_row(tmp_path: Path, write_csv: WriteCsv,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    rows = [[i, "red" if i == 7 else i, i * 2.0] for i in range(20)]
    source = write_csv(tmp_path / "in.csv", ["a", "color", "y"], rows)
    _fails(_prepare(tmp_path, source, "--target", "y", "--numeric", "color"), capsys,
           "data row 8, column 'color'", "is not a number", "--categorical color")
    _nothing_prepared(tmp_path)


@pytest.mark.parametrize(("flags", "needles"), [
    (["--text", "nope"], ["column 'nope'", "use one of: a, color"]),
    (["--drop", "a,color"], ["every feature column is dropped"]),
    (["--numeric", "a", "--text", "a"], ["two kinds"]),
    (["--max-categories", "0"], ["--max-categories 0 must be at least 1"]),
    (["--text", "color"], ["column 'color'", "no token appears in 2 or more"]),
])
def test_bad_column_choices(tmp_path: Path, write_csv: WriteCsv, capsys: pytest.CaptureFixture[str],
                            flags: list[str], needles: list[str]) -> None:
    rows = [[i, f"c{i}", i * 2.0] for i in range(20)]  # every color unique: no shared token
    source = write_csv(tmp_path / "in.csv", ["a", "color", "y"], rows)
    _fails(_prepare(tmp_path, source, "--target", "y", *flags), capsys, *needles)
    _nothing_prepared(tmp_path)


def test_empty_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.csv"
    source.write_text("")
    _fails(_prepare(tmp_path, source), capsys, "is empty")
    _nothing_prepared(tmp_path)


def test_header_only(tmp_path: Path, write_csv: WriteCsv, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_csv(tmp_path / "in.csv", ["a", "b", "y"], [])
    _fails(_prepare(tmp_path, source, "--target", "y"), capsys, "0 data rows")
    _nothing_prepared(tmp_path)


def test_one_row(tmp_path: Path, write_csv: WriteCsv, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_csv(tmp_path / "in.csv", ["a", "b", "y"], _rows(1))
    _fails(_prepare(tmp_path, source, "--target", "y"), capsys, "1 data rows", "larger dataset")
    _nothing_prepared(tmp_path)


def test_nan_labels(tmp_path: Path, write_csv: WriteCsv, capsys: pytest.CaptureFixture[str]) -> None:
    rows = _rows(20)
    rows[3][2], rows[7][2] = "NaN", ""
    source = write_csv(tmp_path / "in.csv", ["a", "b", "y"], rows)
    _fails(_prepare(tmp_path, source, "--target", "y"), capsys, "2 empty or NaN values")
    _nothing_prepared(tmp_path)


def _train(prepared: Prepared, tmp_path: Path, *extra: str) -> list[str]:
    return ["train", "--prepared", str(prepared.directory), "--runs-dir", str(tmp_path / "runs"), *extra]


def test_unknown_framework_version(prepared: Prepared, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    _fails(_train(prepared, tmp_path, "--framework-version", "9.9-9"), capsys, "'9.9-9'", "3.0-5")
    assert not (tmp_path / "runs").exists()


def test_xgboost_release_other_than_the_containers(prepared: Prepared, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    _fails(_train(prepared, tmp_path, "--framework-version", "1.7-1"), capsys,
           "installed xgboost is 3.0.5", "xgboost-cpu==1.7.6")
    assert not (tmp_path / "runs").exists()


def test_region_without_an_image(prepared: Prepared, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    _fails(_train(prepared, tmp_path, "--region", "xx-nowhere-1"), capsys, "'xx-nowhere-1'", "use one of")
    assert not (tmp_path / "runs").exists()


def test_malformed_hyperparameter(prepared: Prepared, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    _fails(_train(prepared, tmp_path, "--hp", "max_depth"), capsys, "name=value")
    _fails(_train(prepared, tmp_path, "--hp", "num_round=zero"), capsys, "num_round")
    assert not (tmp_path / "runs").exists()


def test_not_prepared_yet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fails(["train", "--prepared", str(tmp_path / "none")], capsys, "no prepared data", "prepare")


def _sagemaker_train(prepared: Prepared, tmp_path: Path) -> list[str]:
    config = tmp_path / "config.toml"
    config.write_text(MINIMAL_CONFIG)
    return _train(prepared, tmp_path, "--backend", "sagemaker", "--config", str(config))


def test_data_stack_not_deployed(prepared: Prepared, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    with mock_aws():
        _fails(_sagemaker_train(prepared, tmp_path), capsys, "stack xgb-demo-data does not exist",
               "deploy the Data stack")
    assert not (tmp_path / "runs").exists()


def test_data_stack_outputs_missing(prepared: Prepared, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    template = {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}}}
    with mock_aws():
        boto3.client("cloudformation", region_name="us-east-1").create_stack(
            StackName="xgb-demo-data", TemplateBody=json.dumps(template))
        _fails(_sagemaker_train(prepared, tmp_path), capsys,
               "no output DataBucketName, SageMakerExecutionRoleArn, DataKeyArn", "make deploy")
    assert not (tmp_path / "runs").exists()


def test_no_aws_credentials(prepared: Prepared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    _fails(_sagemaker_train(prepared, tmp_path), capsys, "no AWS credentials", "aws configure",
           "--backend local")
    assert not (tmp_path / "runs").exists()


def test_publish_without_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fails(["publish", "--run", str(tmp_path / "runs" / "champion" / "latest")], capsys,
           "does not exist", "--run")


def test_file_that_is_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"a,b,target\n\xff\xfe,1,2\n")
    _fails(_prepare(tmp_path, source), capsys, "not UTF-8", "Parquet")
    _nothing_prepared(tmp_path)


def test_infinite_values(tmp_path: Path, write_csv: WriteCsv, capsys: pytest.CaptureFixture[str]) -> None:
    rows = _rows(20)
    rows[4][1] = "inf"
    source = write_csv(tmp_path / "in.csv", ["a", "b", "y"], rows)
    _fails(_prepare(tmp_path, source, "--target", "y"), capsys, "data row 5, column 'b'", "infinite",
           "leave the field empty")
    rows[4][1], rows[5][2] = 1, "-inf"
    source = write_csv(tmp_path / "in.csv", ["a", "b", "y"], rows)
    _fails(_prepare(tmp_path, source, "--target", "y"), capsys, "target column 'y'", "infinite")
    _nothing_prepared(tmp_path)


def test_unwritable_output_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    _fails(["prepare", "--out", str(blocker / "prepared")], capsys, "check the path")
