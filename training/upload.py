"""Uploading prepared data shards to S3: concurrent, multipart for big files, resumable by checksum.

Resume by checksum: every object is written with the user metadata ``sha256``, the hex SHA-256
recorded when the shard was written. Before a shard is sent, HeadObject asks whether its key
already holds an object of the recorded size and checksum; if it does, the shard is skipped. A
re-run after a failure (a dropped connection, expired credentials, Ctrl-C, one shard's error)
therefore sends only what is missing or stale, not the whole dataset again. That is safe
because S3 writes an object, its metadata included, only when its upload completes (the
PutObject, or the CompleteMultipartUpload): an interrupted upload leaves no object at all, only
the parts of a multipart upload, which the bucket's lifecycle rule aborts after a few days.

Metadata rather than S3's own ChecksumSHA256: for a multipart upload, S3's SHA256 checksum is a
checksum of the parts' checksums ("<base64>-<part count>"), which depends on the part size and
is not the SHA-256 of the file, so it could not be compared with the recorded one. The bytes of
each request are still checked in transit (botocore sends a CRC checksum with each PutObject
and UploadPart). Local files are checked against their recorded size, not re-hashed: hashing
every shard on every run would cost as much reading as the upload it is meant to save.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError

from contract.errors import CliError

PROGRESS_SECONDS = 2.0  # at most one progress line this often
_MB = 1000**2
_DEFAULT_POOL = 10  # botocore's default max_pool_connections

PREPARE_FIX = "re-run `xgbapi prepare`; the prepared folder changed after it was written"
HEAD_FIX = ("check that the Data stack is deployed and that you may read and list its bucket "
            "(without s3:ListBucket, S3 answers 403 rather than 404 for a missing object)")
UPLOAD_FIX = ("check that the Data stack is deployed and that you may write to its bucket with its "
              "KMS key; a re-run sends only what is missing")

_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True)
class Upload:
    path: Path  # local file
    key: str  # S3 key
    size: int  # bytes, as recorded when the file was written
    sha256: str  # hex SHA-256 of the file's bytes, as recorded when it was written


@dataclass(frozen=True)
class UploadReport:
    uploaded: int  # files sent
    skipped: int  # files already in S3 with the same checksum
    bytes_uploaded: int
    bytes_skipped: int


class _Stopped(Exception):
    """Raised inside a transfer (from its byte callback) once another shard failed or the user
    pressed Ctrl-C, so running uploads end at their next read instead of running to the end.
    An Exception, not a BaseException: s3transfer must treat it as a failure and abort the
    multipart upload."""


def upload_files(s3: Any, bucket: str, key_arn: str, uploads: Sequence[Upload], *,
                 say: Callable[[str], None], concurrency: int = 4,
                 part_bytes: int = 16 * 1024**2) -> UploadReport:
    """Upload ``uploads`` to ``bucket`` with SSE-KMS under ``key_arn``, skipping those already
    there with the recorded size and checksum. Raises CliError (one line) on the first failure;
    what was sent by then stays sent, and a re-run skips it."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency}")
    if len({u.key for u in uploads}) != len(uploads):
        raise ValueError("two uploads have the same key")
    for upload in uploads:  # before anything is sent
        _check_local(upload)
    if not uploads:
        say("upload: nothing to upload")
        return UploadReport(uploaded=0, skipped=0, bytes_uploaded=0, bytes_skipped=0)

    destination = f"s3://{bucket}/{_common_prefix([u.key for u in uploads])}"
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="upload") as pool:
        there = _each(pool, stop, lambda u: _already_there(s3, bucket, u), uploads)
        skipped = [u for u, present in zip(uploads, there, strict=True) if present]
        send = [u for u, present in zip(uploads, there, strict=True) if not present]
        report = UploadReport(uploaded=len(send), skipped=len(skipped),
                              bytes_uploaded=sum(u.size for u in send),
                              bytes_skipped=sum(u.size for u in skipped))
        if send:
            say(f"upload: {_count(len(send))}, {_human(report.bytes_uploaded)} to {destination}"
                + (f", {len(skipped)} already there (skipped)" if skipped else ""))
        else:
            say(f"upload: all {_count(len(skipped))} already in {destination} (skipped)")
        progress = _Progress(say, report.bytes_uploaded, len(send), stop)
        # Every thread of every transfer shares the client's connection pool: more threads than
        # connections would only queue on it (and make urllib3 warn that the pool is full).
        pool_size = getattr(getattr(s3.meta, "config", None), "max_pool_connections", None) or _DEFAULT_POOL
        config = TransferConfig(multipart_threshold=part_bytes, multipart_chunksize=part_bytes,
                                max_concurrency=max(1, pool_size // concurrency))
        _each(pool, stop, lambda u: _send(s3, bucket, key_arn, u, config, progress), send)
    say(f"upload: done, {_count(report.uploaded)} ({_human(report.bytes_uploaded)}) sent"
        + (f", {report.skipped} ({_human(report.bytes_skipped)}) already there" if report.skipped else ""))
    return report


def _check_local(upload: Upload) -> None:
    try:
        size = upload.path.stat().st_size
    except FileNotFoundError:
        raise CliError(f"prepared shard {upload.path} is missing, dataset.json lists it",
                       PREPARE_FIX) from None
    if size != upload.size:
        raise CliError(f"prepared shard {upload.path} is {size} bytes, dataset.json records {upload.size}",
                       PREPARE_FIX)


def _already_there(s3: Any, bucket: str, upload: Upload) -> bool:
    """Whether the key holds this shard: the recorded size and sha256 metadata. The metadata is
    only ever on a complete object (see the module docstring), so this is a finished upload."""
    try:
        head = s3.head_object(Bucket=bucket, Key=upload.key)
    except ClientError as error:
        # 404 for a missing key, and for a missing bucket too (a HEAD answer has no body to
        # tell them apart): the upload then fails with NoSuchBucket.
        if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            return False
        raise CliError(f"could not check s3://{bucket}/{upload.key}: {_one_line(error)}", HEAD_FIX) from None
    except BotoCoreError as error:
        raise CliError(f"could not check s3://{bucket}/{upload.key}: {_one_line(error)}", HEAD_FIX) from None
    metadata = head.get("Metadata") or {}
    return bool(head.get("ContentLength") == upload.size
                and str(metadata.get("sha256", "")).lower() == upload.sha256.lower())


def _send(s3: Any, bucket: str, key_arn: str, upload: Upload, config: TransferConfig,
          progress: _Progress) -> None:
    progress.check()
    extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_arn, "Metadata": {"sha256": upload.sha256}}
    # S3 writes the object, its metadata included, only when the PutObject or the
    # CompleteMultipartUpload succeeds: an object carrying the sha256 metadata is a complete one,
    # which is what the skip rule relies on.
    try:
        s3.upload_file(str(upload.path), bucket, upload.key, ExtraArgs=extra, Config=config,
                       Callback=progress.sent)
    except (S3UploadFailedError, ClientError, BotoCoreError, OSError) as error:
        # boto3 wraps a ClientError as S3UploadFailedError("Failed to upload <path> to ...: <error>");
        # the message names the file and key already, so keep only the ClientError's.
        cause = error.__context__ if isinstance(error, S3UploadFailedError) else error
        raise CliError(f"upload of {upload.path} to s3://{bucket}/{upload.key} failed: "
                       f"{_one_line(cause or error)}", UPLOAD_FIX) from None
    progress.finished()


def _each(pool: ThreadPoolExecutor, stop: threading.Event, work: Callable[[_T], _R],
          items: Sequence[_T]) -> list[_R]:
    """``work`` on every item in the pool; the results in order. On the first error the items
    not started are cancelled and those running are told to stop (they end at their next read),
    then that error is raised; on Ctrl-C the same, and KeyboardInterrupt is raised."""

    def guarded(item: _T) -> _R:
        try:
            return work(item)
        except BaseException:
            stop.set()  # at once, in this thread: it must not start the next item meanwhile
            raise

    futures: list[Future[_R]] = [pool.submit(guarded, item) for item in items]
    try:
        first = next((f for f in as_completed(futures) if f.exception() is not None), None)
        if first is not None:
            stop.set()
            for future in futures:
                future.cancel()
            wait(futures)
    except BaseException:  # Ctrl-C while waiting
        stop.set()
        for future in futures:
            future.cancel()
        raise
    if first is None:
        return [future.result() for future in futures]
    # The first to end may be one that was told to stop (it can end before the failed one's
    # future records its error): raise the failure itself.
    errors = [first.exception()] + [f.exception() for f in futures if not f.cancelled()]
    failure = next((e for e in errors if e is not None and not isinstance(e, _Stopped)), errors[0])
    assert failure is not None
    raise failure


class _Progress:
    """Bytes and shards sent so far, counted from every transfer's threads; says a progress line
    at most every PROGRESS_SECONDS."""

    def __init__(self, say: Callable[[str], None], total_bytes: int, total_files: int,
                 stop: threading.Event) -> None:
        self._say = say
        self._total_bytes = total_bytes
        self._total_files = total_files
        self._stop = stop
        self._lock = threading.Lock()
        self._bytes = 0
        self._files = 0
        self._said = time.monotonic()

    def check(self) -> None:
        if self._stop.is_set():
            raise _Stopped

    def sent(self, bytes_transferred: int) -> None:
        """boto3's Callback: bytes sent since the last call (negative when a part is retried)."""
        self.check()
        with self._lock:  # said under the lock too: lines from two threads stay in order
            self._bytes += bytes_transferred
            self._say_due()

    def finished(self) -> None:
        with self._lock:
            self._files += 1
            self._say_due()

    def _say_due(self) -> None:
        now = time.monotonic()
        if now - self._said < PROGRESS_SECONDS:
            return
        self._said = now
        percent = 100 * self._bytes // self._total_bytes if self._total_bytes else 100
        self._say(f"upload: {self._bytes / _MB:.0f}/{self._total_bytes / _MB:.0f} MB ({percent}%), "
                  f"{self._files}/{self._total_files} shards")


def _common_prefix(keys: Sequence[str]) -> str:
    """The folder every key is under ("" for the bucket's root)."""
    common = keys[0].split("/")[:-1]
    for key in keys[1:]:
        folder = key.split("/")[:-1]
        while common != folder[: len(common)]:
            common = common[:-1]
    return "".join(f"{part}/" for part in common)


def _count(files: int) -> str:
    return f"{files} shard" if files == 1 else f"{files} shards"


def _human(size: int) -> str:
    for unit, scale in (("GB", 1000**3), ("MB", 1000**2), ("kB", 1000)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return "1 byte" if size == 1 else f"{size} bytes"


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())
