"""The predict client against a fake API on loopback: SigV4, API keys, retries, chunking, order,
errors mapped to input rows, and the stack lookup of the URL (moto)."""

from __future__ import annotations

import csv
import email.utils
import json
import time
from datetime import datetime
from pathlib import Path

import boto3
import pytest
from botocore.credentials import Credentials
from botocore.stub import Stubber

from cli.main import main
from client import predict as predict_client

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"
THROTTLED = {"error": {"code": "throttled", "message": "too many requests to the model; retry later"}}
UNAVAILABLE = {"error": {"code": "endpoint_unavailable", "message": "the model endpoint is unavailable"}}


def write_jsonl(path: Path, rows: list[dict[str, object]], *, blank_first: bool = False) -> Path:
    path.write_text(("\n" if blank_first else "") + "".join(json.dumps(r) + "\n" for r in rows))
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def predict(*args: str) -> int:
    return main(["predict", *args, "--config", "no-such-config.toml"])


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def test_iam_mode_signs_every_chunk_and_output_keeps_input_order(fake_api, aws_env, tmp_path, capsys):
    fake_api.credentials = aws_env
    fake_api.region = REGION
    fake_api.max_delay_s = 0.03  # chunks complete out of order, the first one late
    fake_api.delay = lambda document: 0.3 if document["instances"][0]["a"] == 0 else 0.0
    rows = [{"a": i, "b": 0.5} for i in range(50)]
    out = tmp_path / "out.csv"
    code = predict(str(write_jsonl(tmp_path / "in.jsonl", rows)), "--url", fake_api.url, "--auth", "iam",
                   "--region", REGION, "--batch-rows", "4", "--concurrency", "4", "-o", str(out),
                   "--progress")
    err = capsys.readouterr().err
    assert code == 0, err
    assert [r.signature_ok for r in fake_api.received] == [True] * 13
    assert all(r.headers["x-amz-security-token"] == aws_env.token for r in fake_api.received)
    sent = [r.document["instances"] for r in fake_api.received]
    assert max(map(len, sent)) == 4
    assert sorted(row["a"] for chunk in sent for row in chunk) == list(range(50))
    firsts = [document["instances"][0]["a"] for document in fake_api.completed]
    assert firsts.index(0) > 0  # the first chunk was answered after later ones
    written = read_csv(out)
    assert [int(r["row"]) for r in written] == list(range(1, 51))
    assert [float(r["prediction"]) for r in written] == [i + 0.5 for i in range(50)]
    assert {r["variant"] for r in written} == {"champion"}
    assert all(r["inference_id"].startswith("req-") for r in written)
    assert "predict [" in err and "50/50 rows, 13/13 requests" in err
    assert leftovers(tmp_path) == []


def test_the_signature_check_rejects_a_wrong_secret(fake_api, aws_env, tmp_path, capsys):
    fake_api.credentials = Credentials(aws_env.access_key, "not-the-secret", aws_env.token)
    fake_api.region = REGION
    out = tmp_path / "out.csv"
    code = predict(str(write_jsonl(tmp_path / "in.jsonl", [{"a": 1}])), "--url", fake_api.url,
                   "--auth", "iam", "--region", REGION, "-o", str(out))
    err = capsys.readouterr().err
    assert code == 2
    assert fake_api.received[0].signature_ok is False
    assert err.startswith("error: the API answered HTTP 403 ACCESS_DENIED for input row 1")
    assert "execute-api:Invoke" in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and leftovers(tmp_path) == []


def test_429_with_retry_after_and_503_are_retried(fake_api, tmp_path, capsys):
    fake_api.plan = [(429, {"Retry-After": "1"}, THROTTLED), (503, {"Retry-After": "0"}, UNAVAILABLE),
                     (0, {}, None)]  # and a dropped connection
    rows = [{"a": 1, "b": 2}, {"a": 3, "b": 4}]
    started = time.monotonic()
    code = predict(str(write_jsonl(tmp_path / "in.jsonl", rows)), "--url", fake_api.url,
                   "--output-format", "jsonl")
    elapsed = time.monotonic() - started
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert elapsed >= 1.0  # Retry-After honoured
    assert len(fake_api.received) == 4
    assert {r.body for r in fake_api.received} == {fake_api.received[0].body}
    assert [json.loads(line) for line in captured.out.splitlines()] == [
        {"row": 1, "prediction": 3, "variant": "champion", "inference_id": "req-4"},
        {"row": 2, "prediction": 7, "variant": "champion", "inference_id": "req-4"}]
    assert "(3 retries)" in captured.err


def test_retries_are_bounded_and_leave_no_output(fake_api, tmp_path, capsys):
    fake_api.plan = [(503, {"Retry-After": "0"}, UNAVAILABLE)] * 2 + [(504, {}, {"message": "timeout"})] * 5
    out = tmp_path / "out.csv"
    code = predict(str(write_jsonl(tmp_path / "in.jsonl", [{"a": 1}] * 3)), "--url", fake_api.url,
                   "--max-attempts", "3", "-o", str(out))
    err = capsys.readouterr().err
    assert code == 2
    assert len(fake_api.received) == 3
    assert err.startswith("error: request for input rows 1-3 failed after 3 attempts, last: HTTP 504")
    assert not out.exists() and leftovers(tmp_path) == []


def test_chunks_respect_the_byte_budget(fake_api, tmp_path, capsys):
    rows = [{f"feature_{j}": 1000.0 + i + j / 8 for j in range(10)} for i in range(60)]
    code = predict(str(write_jsonl(tmp_path / "in.jsonl", rows)), "--url", fake_api.url,
                   "--batch-bytes", "1000", "--concurrency", "3")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert len(fake_api.received) > 5
    assert all(len(r.body) <= 1000 for r in fake_api.received)
    received = sorted(fake_api.received, key=lambda r: r.document["instances"][0]["feature_0"])
    assert [row for r in received for row in r.document["instances"]] == rows
    lines = captured.out.splitlines()
    assert lines[0] == "row,prediction,variant,inference_id" and len(lines) == 61
    assert [float(line.split(",")[1]) for line in lines[1:]] == [sum(r.values()) for r in rows]


def test_api_key_mode_sends_x_api_key(fake_api, tmp_path, capsys, monkeypatch):
    source = str(write_jsonl(tmp_path / "in.jsonl", [{"a": 1}, {"a": 2}]))
    assert predict(source, "--url", fake_api.url, "--auth", "api_key", "--api-key", "k-123",
                   "--batch-rows", "1") == 0
    monkeypatch.setenv("XGB_API_KEY", "k-env")  # --url with a key in the environment: api_key mode
    assert predict(source, "--url", fake_api.url) == 0
    assert [r.headers.get("x-api-key") for r in fake_api.received] == ["k-123", "k-123", "k-env"]
    assert all("authorization" not in r.headers for r in fake_api.received)
    monkeypatch.delenv("XGB_API_KEY")
    assert predict(source, "--url", fake_api.url, "--auth", "api_key") == 2
    assert "no key was given; pass --api-key or set XGB_API_KEY" in capsys.readouterr().err


def test_a_4xx_names_the_input_row_and_stops(fake_api, tmp_path, capsys):
    rows = [{"a": i} for i in range(10)]
    rows[7]["bad"] = 1  # input row 8, line 9 (after a blank first line); instance 1 of rows 7-9
    out = tmp_path / "out.jsonl"
    code = predict(str(write_jsonl(tmp_path / "in.jsonl", rows, blank_first=True)), "--url", fake_api.url,
                   "--batch-rows", "3", "--concurrency", "2", "-o", str(out))
    err = capsys.readouterr().err
    assert code == 2
    assert err == ('error: the API rejected input row 8 (line 9): HTTP 422 unknown_feature: '
                   'instances[1]: unknown feature "bad" [instances[1] of the request with input '
                   'rows 7-9]; fix that row and run again\n')
    assert not out.exists() and leftovers(tmp_path) == []


def test_target_variant_goes_in_every_request(fake_api, tmp_path, capsys):
    code = predict(str(write_jsonl(tmp_path / "in.jsonl", [{"a": 1}] * 5)), "--url", fake_api.url,
                   "--batch-rows", "2", "--target-variant", "challenger")
    out = capsys.readouterr().out
    assert code == 0
    assert [r.document["target_variant"] for r in fake_api.received] == ["challenger"] * 3
    assert out.count(",challenger,") == 5


DEPLOYED_CONFIG = """
[project]
prefix = "xgb-test"
region = "{region}"

[api]
auth = "{auth}"

[[variants]]
name = "champion"
manifest = "untrained/manifest.json"
weight = 1
"""
STACK = {"StackName": "xgb-test-api"}


def deployed(tmp_path: Path, auth: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(DEPLOYED_CONFIG.format(region=REGION, auth=auth))
    return path


@pytest.fixture
def cloudformation(aws_env, monkeypatch) -> Stubber:
    """DescribeStacks answered by botocore's Stubber; everything else is the real session."""
    session = boto3.Session()
    client = session.client("cloudformation", region_name=REGION)
    monkeypatch.setattr(session, "client", lambda *args, **kwargs: client)
    monkeypatch.setattr(predict_client, "_session", lambda: session)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def stack_with(outputs: list[dict[str, str]]) -> dict[str, object]:
    return {"Stacks": [{"StackName": "xgb-test-api", "CreationTime": datetime(2026, 11, 27),
                        "StackStatus": "CREATE_COMPLETE", "Outputs": outputs}]}


def test_deployed_api_url_from_the_stack_output_signed_with_sigv4(fake_api, aws_env, cloudformation,
                                                                   tmp_path, capsys):
    fake_api.credentials = aws_env
    fake_api.region = REGION
    outputs = [{"OutputKey": "Other", "OutputValue": "x"},
               {"OutputKey": "PredictUrl", "OutputValue": fake_api.url}]
    cloudformation.add_response("describe_stacks", stack_with(outputs), STACK)
    source = str(write_jsonl(tmp_path / "in.jsonl", [{"a": 1}, {"a": 2}]))
    code = main(["predict", source, "--config", str(deployed(tmp_path, "iam"))])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert [r.signature_ok for r in fake_api.received] == [True]
    assert captured.out.splitlines()[1:] == ["1,1,champion,req-1", "2,2,champion,req-1"]


def test_deployed_api_key_mode_and_stack_errors(fake_api, cloudformation, tmp_path, capsys):
    source = str(write_jsonl(tmp_path / "in.jsonl", [{"a": 1}]))
    cloudformation.add_client_error("describe_stacks", "ValidationError",
                                    "Stack with id xgb-test-api does not exist", 400, expected_params=STACK)
    assert main(["predict", source, "--config", str(deployed(tmp_path, "iam"))]) == 2
    assert capsys.readouterr().err == (
        f"error: stack xgb-test-api does not exist in {REGION}; deploy it (make train, then make "
        "deploy), check --config and --region, or pass --url\n")
    cloudformation.add_response("describe_stacks", stack_with([]), STACK)
    assert main(["predict", source, "--config", str(deployed(tmp_path, "iam"))]) == 2
    assert capsys.readouterr().err.startswith(
        "error: stack xgb-test-api in eu-west-1 has no output PredictUrl; deploy it")
    cloudformation.add_client_error("describe_stacks", "AccessDenied", "not allowed", 403)
    assert main(["predict", source, "--config", str(deployed(tmp_path, "iam"))]) == 2
    assert ("cannot describe stack xgb-test-api in eu-west-1: not allowed; check the credentials may "
            "call cloudformation:DescribeStacks") in capsys.readouterr().err
    cloudformation.add_response("describe_stacks", stack_with(
        [{"OutputKey": "PredictUrl", "OutputValue": fake_api.url}]), STACK)
    assert main(["predict", source, "--config", str(deployed(tmp_path, "api_key")),
                 "--api-key", "k-9"]) == 0
    assert [r.headers.get("x-api-key") for r in fake_api.received] == ["k-9"]


def test_missing_credentials_are_one_line_errors(fake_api, aws_env, tmp_path, capsys, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    source = str(write_jsonl(tmp_path / "in.jsonl", [{"a": 1}]))
    assert main(["predict", source, "--config", str(deployed(tmp_path, "iam"))]) == 2
    assert capsys.readouterr().err.startswith(
        "error: no AWS credentials found to look up stack xgb-test-api; configure credentials")
    assert predict(source, "--url", fake_api.url, "--auth", "iam", "--region", REGION) == 2
    assert capsys.readouterr().err.startswith(
        "error: no AWS credentials found to sign the request (api.auth is iam); configure")
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    assert predict(source, "--url", fake_api.url, "--auth", "iam", "--region", REGION) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the AWS configuration could not be read: ") and "no-such-profile" in err
    assert len(err.splitlines()) == 1
    assert fake_api.received == []


def test_csv_cells_become_exact_json_literals():
    assert [predict_client.json_value(c) for c in ["1.50", " -2e3 ", "", "+1", ".5", "-.5", "1.", "007",
                                                    "abc", "nan", "1,5"]] == [
        "1.50", "-2e3", "null", "1", "0.5", "-0.5", "1", "7", '"abc"', '"nan"', '"1,5"']


def test_chunks_respect_row_and_byte_caps():
    rows = [predict_client.Row(i + 1, i + 2, json.dumps({"x": "y" * (i % 50)})) for i in range(500)]
    for max_rows, max_bytes in [(1, 10**6), (7, 10**6), (10000, 300), (13, 1000)]:
        chunks = predict_client.make_chunks(rows, max_rows, max_bytes, "challenger")
        assert [row for chunk in chunks for row in chunk.rows] == rows
        for chunk in chunks:
            document = json.loads(chunk.body)
            assert len(document["instances"]) == len(chunk.rows) <= max_rows
            assert len(chunk.body) <= max_bytes and document["target_variant"] == "challenger"


def test_retry_after_is_read_as_seconds_or_an_http_date():
    assert predict_client.parse_retry_after("3") == 3.0
    assert predict_client.parse_retry_after(None) is None
    assert predict_client.parse_retry_after("soon") is None
    assert predict_client.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    later = predict_client.parse_retry_after(email.utils.formatdate(time.time() + 30, usegmt=True))
    assert later is not None and 25 < later <= 30
