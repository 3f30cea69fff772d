"""training/upload.py against moto (in-process, real boto3): what lands in S3, what a re-run skips,
multipart, the one-line errors and the progress lines.

The requests sent are counted with a botocore event hook on the client; a failure moto cannot
produce (AccessDenied, a 403 on HeadObject) is an event hook that answers the call itself.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from contract.errors import CliError
from training import upload as upload_module
from training.upload import PREPARE_FIX, UPLOAD_FIX, Upload, UploadReport, upload_files

REGION = "us-east-1"
SENDS = ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload")
PART = 5 * 1024**2  # moto's (and S3's) minimum part size


@dataclass
class Aws:
    s3: Any
    bucket: str
    key_arn: str
    calls: Counter[str]
    lines: list[str]

    def upload(self, uploads: list[Upload], **options: Any) -> UploadReport:
        return upload_files(self.s3, self.bucket, self.key_arn, uploads, say=self.lines.append, **options)

    def sent(self) -> int:
        return sum(self.calls[name] for name in SENDS)

    def fail(self, operation: str, status: int, code: str, message: str, key: str,
             after: threading.Event | None = None) -> None:
        """Answer ``operation`` for ``key`` with an error, as S3 would (once ``after`` is set)."""

        def answer(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
            if not params["url_path"].endswith(f"/{key}"):
                return None
            if after is not None:
                after.wait(5)
            return (AWSResponse(f"https://{self.bucket}.s3.amazonaws.com/{key}", status, {}, None),
                    {"Error": {"Code": code, "Message": message},
                     "ResponseMetadata": {"HTTPStatusCode": status}})

        self.s3.meta.events.register(f"before-call.s3.{operation}", answer)


@pytest.fixture(scope="module")
def account() -> Iterator[tuple[boto3.Session, str]]:
    """One moto account for the module (a session's clients share its loaded models: fast)."""
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        yield session, session.client("kms").create_key()["KeyMetadata"]["Arn"]


@pytest.fixture
def aws(account: tuple[boto3.Session, str], request: pytest.FixtureRequest) -> Aws:
    """A new bucket in that account, and a client of its own whose calls are counted."""
    session, key_arn = account
    s3 = session.client("s3")
    bucket = "upload-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:50].strip("-")
    s3.create_bucket(Bucket=bucket)
    calls: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    s3.meta.events.register("before-call.s3.*", count)
    return Aws(s3, bucket, key_arn, calls, [])


def shard(directory: Path, name: str, content: bytes, key_prefix: str = "datasets/run-1/") -> Upload:
    path = directory / name
    path.write_bytes(content)
    return Upload(path=path, key=key_prefix + name, size=len(content),
                  sha256=hashlib.sha256(content).hexdigest())


def shards(directory: Path, count: int) -> list[Upload]:
    return [shard(directory, f"part-{i:03d}.csv", f"{i},{'x' * i}\n".encode() * (i + 1))
            for i in range(count)]


def test_uploads_every_file_encrypted_with_its_checksum(aws: Aws, tmp_path: Path) -> None:
    uploads = shards(tmp_path, 12)
    report = aws.upload(uploads, concurrency=4)

    assert report == UploadReport(uploaded=12, skipped=0, bytes_uploaded=sum(u.size for u in uploads),
                                  bytes_skipped=0)
    assert aws.calls["HeadObject"] == 12 and aws.calls["PutObject"] == 12
    for upload in uploads:
        got = aws.s3.get_object(Bucket=aws.bucket, Key=upload.key)
        assert got["Body"].read() == upload.path.read_bytes()
        assert got["ServerSideEncryption"] == "aws:kms" and got["SSEKMSKeyId"] == aws.key_arn
        assert got["Metadata"] == {"sha256": upload.sha256}


def test_a_second_call_sends_nothing(aws: Aws, tmp_path: Path) -> None:
    uploads = shards(tmp_path, 5)
    aws.upload(uploads)
    aws.calls.clear()
    aws.lines.clear()

    report = aws.upload(uploads)

    total = sum(u.size for u in uploads)
    assert report == UploadReport(uploaded=0, skipped=5, bytes_uploaded=0, bytes_skipped=total)
    assert aws.sent() == 0 and aws.calls["HeadObject"] == 5
    assert aws.lines == [f"upload: all 5 shards already in s3://{aws.bucket}/datasets/run-1/ (skipped)",
                         f"upload: done, 0 shards (0 bytes) sent, 5 ({total} bytes) already there"]


def test_a_resumed_upload_sends_only_what_is_missing_or_stale(aws: Aws, tmp_path: Path) -> None:
    present, stale, missing = (shard(tmp_path, name, name.encode() * 10)
                               for name in ("present", "stale", "missing"))
    aws.upload([present])
    # Same size, but written from other bytes: its checksum is not the recorded one.
    aws.s3.put_object(Bucket=aws.bucket, Key=stale.key, Body=b"S" * stale.size, Metadata={"sha256": "0" * 64})
    aws.calls.clear()

    report = aws.upload([present, stale, missing])

    assert report == UploadReport(uploaded=2, skipped=1, bytes_uploaded=stale.size + missing.size,
                                  bytes_skipped=present.size)
    assert aws.calls["PutObject"] == 2
    for upload in (present, stale, missing):
        got = aws.s3.get_object(Bucket=aws.bucket, Key=upload.key)
        assert got["Body"].read() == upload.path.read_bytes() and got["Metadata"] == {"sha256": upload.sha256}


def test_an_object_of_another_size_or_without_metadata_is_sent_again(aws: Aws, tmp_path: Path) -> None:
    resized, bare = shard(tmp_path, "resized", b"r" * 100), shard(tmp_path, "bare", b"b" * 100)
    aws.s3.put_object(Bucket=aws.bucket, Key=resized.key, Body=b"r" * 99, Metadata={"sha256": resized.sha256})
    aws.s3.put_object(Bucket=aws.bucket, Key=bare.key, Body=b"b" * 100)  # e.g. uploaded by hand
    aws.calls.clear()

    assert aws.upload([resized, bare]).uploaded == 2
    assert aws.calls["PutObject"] == 2


def test_a_file_bigger_than_a_part_goes_multipart(aws: Aws, tmp_path: Path) -> None:
    content = bytes(range(256)) * (11 * 1024**2 // 256) + b"tail"  # 11 MiB and a bit: three parts
    big, small = shard(tmp_path, "big.bin", content), shard(tmp_path, "small.csv", b"1,2\n")

    report = aws.upload([big, small], part_bytes=PART)

    assert report.uploaded == 2 and report.bytes_uploaded == len(content) + 4
    assert aws.calls["CreateMultipartUpload"] == 1 and aws.calls["UploadPart"] == 3
    assert aws.calls["CompleteMultipartUpload"] == 1 and aws.calls["PutObject"] == 1
    got = aws.s3.get_object(Bucket=aws.bucket, Key=big.key)
    assert got["Body"].read() == content
    # The multipart upload carries the encryption and the metadata like a single PUT.
    assert got["ServerSideEncryption"] == "aws:kms" and got["SSEKMSKeyId"] == aws.key_arn
    assert got["Metadata"] == {"sha256": big.sha256}

    aws.calls.clear()
    assert aws.upload([big, small], part_bytes=PART).skipped == 2
    assert aws.sent() == 0


def test_a_missing_local_file_is_reported_before_anything_is_sent(aws: Aws, tmp_path: Path) -> None:
    good = shard(tmp_path, "good.csv", b"1\n")
    gone = Upload(path=tmp_path / "gone.csv", key="datasets/gone.csv", size=3, sha256="0" * 64)

    with pytest.raises(CliError) as raised:
        aws.upload([good, gone])

    assert raised.value.problem == f"prepared shard {tmp_path / 'gone.csv'} is missing, dataset.json lists it"
    assert raised.value.fix == PREPARE_FIX
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert sum(aws.calls.values()) == 0 and aws.lines == []


def test_a_file_of_another_size_is_reported_before_anything_is_sent(aws: Aws, tmp_path: Path) -> None:
    good = shard(tmp_path, "good.csv", b"1\n")
    changed = shard(tmp_path, "changed.csv", b"x" * 40)
    changed.path.write_bytes(b"x" * 12)

    with pytest.raises(CliError) as raised:
        aws.upload([good, changed])

    assert str(raised.value) == (
        f"prepared shard {changed.path} is 12 bytes, dataset.json records 40; "
        "re-run `xgbapi prepare`; the prepared folder changed after it was written")
    assert sum(aws.calls.values()) == 0 and aws.lines == []


def test_a_missing_bucket_is_one_line(aws: Aws, tmp_path: Path) -> None:
    only = shard(tmp_path, "only.csv", b"1,2\n")

    with pytest.raises(CliError) as raised:
        upload_files(aws.s3, "no-such-bucket-here", aws.key_arn, [only], say=aws.lines.append)

    # HeadObject answers 404 for a missing bucket as for a missing key: the PUT says which.
    assert raised.value.problem == (
        f"upload of {only.path} to s3://no-such-bucket-here/datasets/run-1/only.csv failed: An error "
        "occurred (NoSuchBucket) when calling the PutObject operation: The specified bucket does not exist")
    assert raised.value.fix == UPLOAD_FIX
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_a_head_that_is_not_a_404_stops_before_anything_is_sent(aws: Aws, tmp_path: Path) -> None:
    uploads = shards(tmp_path, 3)
    aws.fail("HeadObject", 403, "403", "Forbidden", uploads[1].key)

    with pytest.raises(CliError) as raised:
        aws.upload(uploads)

    assert raised.value.problem == (f"could not check s3://{aws.bucket}/{uploads[1].key}: An error "
                                    "occurred (403) when calling the HeadObject operation: Forbidden")
    assert "s3:ListBucket" in raised.value.fix
    assert aws.sent() == 0 and aws.lines == []


def test_one_failed_file_stops_the_others_and_leaves_no_partial_object(aws: Aws, tmp_path: Path) -> None:
    """The failed file's error is the one raised; a multipart upload running beside it stops at
    its next read and is aborted (no object, no pending upload); files not started never start."""
    big = shard(tmp_path, "big.bin", b"b" * (PART + 1))  # two parts
    bad = shard(tmp_path, "bad.csv", b"1,2\n")
    rest = shards(tmp_path, 6)
    # bad fails once big's multipart upload has begun; big's first part is sent once bad failed.
    begun, failed = threading.Event(), threading.Event()
    aws.s3.meta.events.register("after-call.s3.CreateMultipartUpload", lambda **_: begun.set())
    aws.fail("PutObject", 403, "AccessDenied", "Access Denied", key=bad.key, after=begun)
    aws.s3.meta.events.register("after-call.s3.PutObject", lambda **_: failed.set())

    def slow_first_part(params: dict[str, Any], **_: Any) -> None:
        if params["query_string"].get("partNumber") == 1:
            failed.wait(5)
            time.sleep(0.2)  # bad's worker raises and tells the running uploads to stop

    aws.s3.meta.events.register("before-call.s3.UploadPart", slow_first_part)
    started = time.monotonic()

    with pytest.raises(CliError) as raised:
        aws.upload([big, bad, *rest], concurrency=2, part_bytes=PART)

    assert time.monotonic() - started < 3
    assert raised.value.problem == (
        f"upload of {bad.path} to s3://{aws.bucket}/{bad.key} failed: An error occurred (AccessDenied) "
        "when calling the PutObject operation: Access Denied")
    assert raised.value.fix == UPLOAD_FIX
    assert aws.calls["CompleteMultipartUpload"] == 0 and aws.calls["AbortMultipartUpload"] == 1
    assert aws.s3.list_multipart_uploads(Bucket=aws.bucket).get("Uploads", []) == []
    assert aws.s3.list_objects_v2(Bucket=aws.bucket).get("KeyCount") == 0
    assert aws.calls["PutObject"] == 1  # bad's; the rest were cancelled before they started


def test_start_and_summary_lines(aws: Aws, tmp_path: Path) -> None:
    uploads = [shard(tmp_path, "a.csv", b"a" * 1500, "datasets/run-1/train/"),
               shard(tmp_path, "b.csv", b"b" * 2000, "datasets/run-1/validation/"),
               shard(tmp_path, "c.csv", b"c" * 700, "datasets/run-1/validation/")]
    aws.upload(uploads[:1])
    aws.lines.clear()

    aws.upload(uploads)

    assert aws.lines == [
        f"upload: 2 shards, 2.7 kB to s3://{aws.bucket}/datasets/run-1/, 1 already there (skipped)",
        "upload: done, 2 shards (2.7 kB) sent, 1 (1.5 kB) already there"]


def test_progress_lines_count_bytes_and_shards(aws: Aws, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upload_module, "PROGRESS_SECONDS", 0.0)  # a line on every callback
    big = shard(tmp_path, "big.bin", b"z" * (PART + 1))  # two parts
    small = shard(tmp_path, "small.csv", b"1\n")

    aws.upload([big, small], part_bytes=PART)

    start, *progress, summary = aws.lines
    assert start == f"upload: 2 shards, 5.2 MB to s3://{aws.bucket}/datasets/run-1/"
    assert summary == "upload: done, 2 shards (5.2 MB) sent"
    pattern = re.compile(r"upload: (\d+)/5 MB \((\d+)%\), ([012])/2 shards")
    matches = [pattern.fullmatch(line) for line in progress]
    assert progress and all(matches), progress
    assert progress[-1] == "upload: 5/5 MB (100%), 2/2 shards"
    percents = [int(m.group(2)) for m in matches if m]
    assert percents == sorted(percents)


def test_progress_lines_are_rate_limited(aws: Aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upload_module, "PROGRESS_SECONDS", 3600.0)  # no upload here takes an hour
    aws.upload([shard(tmp_path, "big.bin", b"z" * (PART + 1))], part_bytes=PART)
    assert len(aws.lines) == 2  # start and summary only


def test_nothing_to_upload(aws: Aws) -> None:
    assert aws.upload([]) == UploadReport(uploaded=0, skipped=0, bytes_uploaded=0, bytes_skipped=0)
    assert aws.lines == ["upload: nothing to upload"] and sum(aws.calls.values()) == 0
