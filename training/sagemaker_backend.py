"""The sagemaker backend: real training, tuning and batch transform jobs, through the SageMaker SDK.

Flow per command: resolve the Data stack (bucket, role, key), upload under a per-run prefix,
start the job with the SageMaker Python SDK v3 (training/sagemaker_sdk.py), poll its SDK job
resource with a status line, then write the run directory (manifest only: the model stays in S3
and the manifest's model_data points at it). Ctrl-C while waiting says which job is still
running in AWS and how to stop it; a failed or stopped job ends as a one-line error with its
reason. The SDK's own ``wait()`` is not used: it draws a transient progress panel, cannot be
told how to report Ctrl-C, and treats a stopped job as finished.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from botocore.exceptions import BotoCoreError, ClientError

from contract import bucket_layout
from contract import manifest as manifest_module
from contract.artifact import read_model_archive
from contract.config import load_config
from contract.errors import CliError
from contract.images import check_framework_version, image_uri
from contract.manifest import Manifest, Source
from contract.prepared import TEST, TRAIN
from deployed import aws as aws_context
from deployed.aws import DataStack
from training import data, dry_run, runs
from training import sagemaker_requests as requests
from training.hyperparameters import Range
from training.local_runs import build_manifest, check_features, load_run
from training.metrics import StreamingScores
from training.requests import JobKind, JobTarget, TuningBudget
from training.upload import Upload, upload_files

if TYPE_CHECKING:
    from training import sagemaker_sdk

POLL_SECONDS = 30.0  # tests set 0
_NAME_LIMIT = {"training": 63, "tuning": 32, "transform": 63, "model": 63}
_SDK_STAMP = 15  # ModelTrainer appends "-YYYYmmddHHMMSS" to the base job name
_SINGLE_PUT_LIMIT = 5 * 1024**3  # S3's largest single PUT

NO_CREDENTIALS_FIX = aws_context.NO_CREDENTIALS_FIX + ", or use --backend local"


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _job_name(prefix: str, variant: str, run_id: str, kind: str) -> str:
    # Tuning job names are limited to 32 characters: keep the unique run id, trim the rest.
    limit = _NAME_LIMIT[kind]
    stamp = run_id.replace("T", "").replace("Z", "")  # 14 digits + "-" + 6 hex
    if kind == "tuning":
        name = f"{prefix[:9]}-{stamp}"
    elif kind == "training":
        # A base name: the SDK adds the timestamp; the run id's random part ties job and run.
        hex_part = run_id.rsplit("-", 1)[-1]
        name = f"{prefix}-{variant}"[: limit - _SDK_STAMP - len(hex_part) - 1] + f"-{hex_part}"
    else:
        name = f"{prefix}-{variant}"[: limit - len(run_id) - 1] + f"-{run_id}"
    return name.replace("--", "-").strip("-")[:limit]


def _aws_errors(action: str) -> contextlib.AbstractContextManager[None]:
    """AWS errors from boto3 or the SDK as one-line CliErrors (no traceback)."""
    return aws_context.aws_errors(f"SageMaker {action}", credentials_fix=NO_CREDENTIALS_FIX,
                                  fix="fix the cause named there (quota, permissions, region) and retry")


@contextmanager
def _no_profile() -> Iterator[None]:
    saved = {name: os.environ.pop(name) for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")
             if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


# The request a dry run of each command ends at; evaluate's CreateModel is answered on the way.
_DRY_RUN_FINAL = {"train": "CreateTrainingJob", "tune": "CreateHyperParameterTuningJob",
                  "evaluate": "CreateTransformJob"}


def recorder(kind: JobKind) -> dry_run.Recorder:
    answers = {"CreateModel": {"ModelArn": "<not created: dry run>"}} if kind == "evaluate" else {}
    return dry_run.Recorder(final=frozenset({_DRY_RUN_FINAL[kind]}), answers=answers)


def dry_run_requests(start: Callable[..., object], *args: Any) -> list[dry_run.Request]:
    """Run ``start`` (train_run, tune_run or evaluate_run) as a dry run: the requests it would send."""
    try:
        start(*args)
    except dry_run.Stop as stop:
        return stop.requests
    raise AssertionError(f"the dry run of {start.__name__} ended without reaching its job request")


class _Context:
    """What every sagemaker command needs: session, Data stack, image, naming."""

    def __init__(self, target: JobTarget, variant: str) -> None:
        check_framework_version(target.framework_version)
        self.image = image_uri(target.region, target.framework_version)  # fail before touching AWS
        self.prefix = load_config(target.config, resolve_models=False).prefix
        self.target = target
        self.variant = runs.check_variant(variant)
        self.run_id = runs.new_run_id()
        self.dry_run = target.dry_run is not None
        self.stack: DataStack
        if target.dry_run is not None:
            # Same code path, no AWS: a hooked session, and the stack values from flags.
            self.stack, placeholders = dry_run.data_stack(target.dry_run, self.prefix)
            self.aws = recorder(target.kind).session(target.region)
            _say("dry run: nothing is uploaded or submitted, no AWS API is called; job names and S3 "
                 f"prefixes carry this dry run's run id {self.run_id}, a real run gets its own")
            if placeholders:
                _say(f"dry run: <placeholders> stand in for the output(s) {', '.join(placeholders)} of stack "
                     f"{self.stack.name}; pass --bucket, --role-arn and --kms-key-arn for the real values")
        else:
            try:
                self.aws = aws_context.session(target.region)
            except CliError as error:
                raise CliError(f"{error.problem} for the sagemaker backend", NO_CREDENTIALS_FIX) from None
            self.stack = aws_context.data_stack(self.aws, self.prefix)
        self.sagemaker = aws_context.client(self.aws, "sagemaker")
        self.s3 = aws_context.client(self.aws, "s3")

    def sdk(self) -> tuple[Any, Any]:
        """The SDK module (imported only now: it takes seconds) and a session on the Data bucket."""
        with _aws_errors("session setup"):
            # The SDK opens a default boto3 session while it imports, which reads AWS_PROFILE: a
            # dry run must not depend on a profile this machine may not have.
            with _no_profile() if self.dry_run else contextlib.nullcontext():
                from training import sagemaker_sdk
            return sagemaker_sdk, sagemaker_sdk.session(self.aws, self.stack.bucket)

    def definition(self, prepared: data.Prepared, dataset: str) -> sagemaker_sdk.JobDefinition:
        from training import sagemaker_sdk

        return sagemaker_sdk.JobDefinition(
            image=self.image, role_arn=self.stack.role_arn, bucket=self.stack.bucket,
            key_arn=self.stack.key_arn, dataset=dataset, variant=self.variant,
            instance_type=self.target.instance_type, instance_count=self.target.instance_count,
            content_type=prepared.spec.content_type)

    def upload(self, path: Path, key: str) -> str:
        """Upload a model archive with SSE-KMS and a full-object SHA256 checksum S3 keeps (one
        PUT up to S3's 5 GiB limit: a multipart SHA256 would be a checksum of parts)."""
        assert key.startswith(bucket_layout.ROLE_PREFIXES)
        if self.dry_run:
            _say(f"dry run: would upload {path} to s3://{self.stack.bucket}/{key} (SSE-KMS)")
            return f"s3://{self.stack.bucket}/{key}"
        from boto3.s3.transfer import TransferConfig

        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.stack.key_arn,
                 "ChecksumAlgorithm": "SHA256"}
        try:
            self.s3.upload_file(str(path), self.stack.bucket, key, ExtraArgs=extra,
                                Config=TransferConfig(multipart_threshold=_SINGLE_PUT_LIMIT))
        except (ClientError, BotoCoreError) as error:
            raise CliError(f"upload of {path} to s3://{self.stack.bucket}/{key} failed ({error})",
                           "check that the Data stack is deployed and you may write to its bucket") from None
        return f"s3://{self.stack.bucket}/{key}"

    def upload_splits(self, prepared: data.Prepared, splits: tuple[str, ...]) -> str:
        """Upload the splits' shards under the prepared data's own prefix (its fingerprint): a
        re-run after a failure, or another job on the same data, skips the shards already there."""
        dataset = prepared.fingerprint()
        uploads = [Upload(path=prepared.directory / shard.file, size=shard.bytes, sha256=shard.sha256,
                          key=requests.dataset_prefix(dataset, split) + Path(shard.file).name)
                   for split in splits for shard in prepared.shards[split]]
        if self.dry_run:
            total = sum(u.size for u in uploads)
            _say(f"dry run: would upload {len(uploads)} shard(s), {total} bytes, from {prepared.directory} "
                 f"to s3://{self.stack.bucket}/{bucket_layout.DATASETS}{dataset}/ (SSE-KMS; shards "
                 "already there with the same SHA-256 are skipped)")
            return dataset
        upload_files(self.s3, self.stack.bucket, self.stack.key_arn, uploads, say=_say)
        return dataset

    def call(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        with _aws_errors(operation):
            result: dict[str, Any] = getattr(self.sagemaker, operation)(**request)
        return result


Status = tuple[str, str | None]  # job status, failure reason


def wait(poll_status: Callable[[], Status], *, kind: str, name: str, stop_hint: str,
         poll_seconds: float | None = None, say: Callable[[str], None] = _say) -> None:
    """Poll until the job ends; print status and elapsed time; a failed job raises CliError."""
    started = time.monotonic()
    poll = POLL_SECONDS if poll_seconds is None else poll_seconds
    try:
        while True:
            with _aws_errors(f"status of {kind} {name}"):
                status, reason = poll_status()
            say(f"{kind} {name}: {status} ({time.monotonic() - started:.0f}s)")
            if status == "Completed":
                return
            if status in ("Failed", "Stopped"):
                reason = reason or "no reason given"
                raise CliError(f"{kind} {name} {status.lower()}: {reason}",
                               "fix the cause, then run the command again (CloudWatch logs: "
                               "/aws/sagemaker/TrainingJobs or /aws/sagemaker/TransformJobs)")
            time.sleep(poll)
    except KeyboardInterrupt:
        say(f"interrupted: {kind} {name} is still running in AWS and still billing; "
            f"stop it with: {stop_hint}")
        raise


def _stop_hint(operation: str, option: str, name: str, region: str) -> str:
    return f"aws sagemaker {operation} {option} {name} --region {region}"


def _write_manifest_run(ctx: _Context, manifest: Manifest) -> Path:
    with runs.staged_run(ctx.target.runs_dir, ctx.variant, ctx.run_id) as staging:
        manifest_module.write(manifest, staging)
    runs.point_latest(ctx.target.runs_dir, ctx.variant, ctx.run_id)
    return Path(ctx.target.runs_dir) / ctx.variant / ctx.run_id


def _training_status(job: Any) -> Callable[[], Status]:
    from training.sagemaker_sdk import value

    def poll() -> Status:
        job.refresh()
        return str(job.training_job_status), value(job.failure_reason)
    return poll


def _final_metrics(job: Any) -> dict[str, float]:
    from training.sagemaker_sdk import value

    metrics = value(job.final_metric_data_list) or []
    return {str(m.metric_name): float(m.value) for m in metrics
            if value(m.value) is not None and np.isfinite(m.value)}


def _model_data(job: Any) -> str:
    from training.sagemaker_sdk import value

    artifacts = value(job.model_artifacts)
    uri = value(artifacts.s3_model_artifacts) if artifacts is not None else None
    if not uri:
        raise CliError(f"training job {job.training_job_name} completed without a model artifact",
                       "check the job in the SageMaker console; its output may have been removed")
    return str(uri)


def check_instance_count(target: JobTarget, prepared: data.Prepared) -> None:
    """Sharded by S3 key, each instance trains on whole shard files: an instance without one
    would have no data, so N instances need N train shards or more."""
    shards, count = len(prepared.shards[TRAIN]), target.instance_count
    if count > shards:
        train_mb = sum(shard.bytes for shard in prepared.shards[TRAIN]) / 1024**2
        raise CliError(f"--instance-count {count} needs at least {count} train shards; "
                       f"{prepared.directory} has {shards}",
                       f"re-run `xgbapi prepare` with --shard-mb {train_mb / count * 0.9:.3g} or less, "
                       f"or use --instance-count {shards}")


def train_run(target: JobTarget, variant: str, prepared: data.Prepared,
              hyperparameters: dict[str, str]) -> Path:
    check_instance_count(target, prepared)
    ctx = _Context(target, variant)
    base_name = _job_name(ctx.prefix, ctx.variant, ctx.run_id, "training")
    dataset = ctx.upload_splits(prepared, requests.CHANNELS)
    sdk, session = ctx.sdk()
    with _aws_errors("CreateTrainingJob"):
        job = sdk.start_training(session, ctx.definition(prepared, dataset), hyperparameters, base_name)
    name = str(job.training_job_name)
    wait(_training_status(job), kind="training job", name=name,
         stop_hint=_stop_hint("stop-training-job", "--training-job-name", name, target.region))
    manifest = build_manifest(
        source=Source(kind="sagemaker-training", run_id=ctx.run_id, job_name=name),
        framework_version=target.framework_version, region=target.region, prepared=prepared,
        hyperparameters=hyperparameters, metrics=_final_metrics(job), model_data=_model_data(job))
    return _write_manifest_run(ctx, manifest)


def tune_run(target: JobTarget, variant: str, prepared: data.Prepared, base: dict[str, str],
             ranges: tuple[Range, ...], budget: TuningBudget) -> Path:
    check_instance_count(target, prepared)
    ctx = _Context(target, variant)
    name = _job_name(ctx.prefix, ctx.variant, ctx.run_id, "tuning")
    dataset = ctx.upload_splits(prepared, requests.CHANNELS)
    sdk, session = ctx.sdk()
    with _aws_errors("CreateHyperParameterTuningJob"):
        job = sdk.start_tuning(session, ctx.definition(prepared, dataset), name=name,
                               static_hyperparameters=base, ranges=ranges, max_jobs=budget.trials,
                               max_parallel=budget.parallel)

    def poll() -> Status:
        job.refresh()
        return str(job.hyper_parameter_tuning_job_status), sdk.value(job.failure_reason)

    wait(poll, kind="tuning job", name=name,
         stop_hint=_stop_hint("stop-hyper-parameter-tuning-job", "--hyper-parameter-tuning-job-name",
                              name, target.region))
    best_job = sdk.value(job.best_training_job)
    best_name = sdk.value(best_job.training_job_name) if best_job is not None else None
    if not best_name:
        raise CliError(f"tuning job {name} finished without a best training job",
                       "check its training jobs in the SageMaker console; every trial may have failed")
    with _aws_errors("DescribeTrainingJob"):
        best = sdk.training_job(ctx.aws, best_name)
    hyperparameters = {k: v for k, v in (sdk.value(best.hyper_parameters) or {}).items()
                       if not k.startswith("_")}
    manifest = build_manifest(
        source=Source(kind="sagemaker-tuning", run_id=ctx.run_id, job_name=best_name),
        framework_version=target.framework_version, region=target.region, prepared=prepared,
        hyperparameters=hyperparameters or base, metrics=_final_metrics(best), model_data=_model_data(best))
    return _write_manifest_run(ctx, manifest)


def evaluate_run(target: JobTarget, run: Path, prepared: data.Prepared) -> dict[str, float]:
    """Batch transform over the test features, then download and score the predictions."""
    manifest, manifest_path = load_run(run)
    check_features(manifest, prepared)
    if manifest.model_data is None:
        raise CliError(f"run {run} has no model in S3 (model_data is empty)",
                       "publish it first (xgbapi publish) or evaluate with --backend local")
    target = target.for_model(manifest.region, manifest.framework_version)
    ctx = _Context(target, manifest_path.parent.resolve().parent.name)
    dataset = ctx.upload_splits(prepared, (TEST,))
    input_prefix = requests.dataset_prefix(dataset, TEST)
    output_prefix = f"{bucket_layout.BATCH_TRANSFORM}{ctx.run_id}/output/"
    model_name = _job_name(ctx.prefix, "eval", ctx.run_id, "model")
    ctx.call("create_model", requests.model(name=model_name, image=manifest.image_uri,
                                            model_data=manifest.model_data, role_arn=ctx.stack.role_arn))
    try:
        name = _job_name(ctx.prefix, "eval", ctx.run_id, "transform")
        sdk, session = ctx.sdk()
        with _aws_errors("CreateTransformJob"):
            job = sdk.start_transform(session, name=name, model_name=model_name, bucket=ctx.stack.bucket,
                                      input_prefix=input_prefix, output_prefix=output_prefix,
                                      key_arn=ctx.stack.key_arn, instance_type=target.instance_type,
                                      instance_count=target.instance_count,
                                      content_type=prepared.spec.content_type)

        def poll() -> Status:
            job.refresh()
            return str(job.transform_job_status), sdk.value(job.failure_reason)

        wait(poll, kind="transform job", name=name,
             stop_hint=_stop_hint("stop-transform-job", "--transform-job-name", name, target.region))
    finally:
        # The model exists only for this evaluation; do not leave it behind.
        try:
            if not ctx.dry_run:  # a dry run created no model
                ctx.sagemaker.delete_model(ModelName=model_name)
        except (ClientError, BotoCoreError):
            _say(f"note: could not delete the evaluation model {model_name}; delete it by hand")
    scores = StreamingScores()
    labels = data.test_label_batches(prepared)
    for shard, expected in zip(prepared.shards[TEST], labels, strict=True):
        # Batch transform writes <input object name>.out per input object, lines in input order.
        key = f"{output_prefix}{Path(shard.file).name}.out"
        scores.add(expected, _transform_output(ctx, key, shard.rows))
    result = scores.result()
    manifest_module.write(manifest.with_updates(metrics={**manifest.metrics, **result}), manifest_path.parent)
    return result


def _transform_output(ctx: _Context, key: str, rows: int) -> np.ndarray:
    """One output file's predictions, read as a stream (one shard's worth in memory)."""
    try:
        body = ctx.s3.get_object(Bucket=ctx.stack.bucket, Key=key)["Body"]
        predictions = np.array([float(value) for line in body.iter_lines() if line.strip()
                                for value in line.decode().split(",")], dtype=np.float64)
    except ClientError:
        raise CliError(f"transform output s3://{ctx.stack.bucket}/{key} is missing",
                       "check the transform job's logs; it completed without writing predictions") from None
    except (ValueError, UnicodeDecodeError):
        raise CliError(f"transform output s3://{ctx.stack.bucket}/{key} holds something other than "
                       "numbers", "check the transform job's Accept type (text/csv) and its logs") from None
    except BotoCoreError as error:
        raise CliError(f"reading transform output s3://{ctx.stack.bucket}/{key} failed ({error})",
                       "retry; the job's output stays in S3") from None
    if predictions.size != rows:
        raise CliError(f"transform output {key} has {predictions.size} predictions for {rows} test rows",
                       "check that the test shards have one record per line and no header")
    return predictions


def publish_run(target: JobTarget, run: Path) -> str:
    """Upload a local run's model.tar.gz under models/ and record the S3 URI in its manifest."""
    manifest, manifest_path = load_run(run)
    artifact = manifest_module.artifact_path(manifest, manifest_path)
    if artifact is None or not artifact.is_file():
        raise CliError(f"run {run} has no local model.tar.gz to publish",
                       "a SageMaker-trained run is already in S3 (see its model_data)")
    read_model_archive(artifact)  # refuse to publish an archive the container cannot serve
    target = target.for_model(manifest.region, manifest.framework_version)
    variant = manifest_path.parent.resolve().parent.name
    ctx = _Context(target, variant)
    key = f"{requests.model_output_prefix(variant)}published/{manifest.source.run_id}/model.tar.gz"
    uri = ctx.upload(artifact, key)  # promote checks the local file against it
    manifest_module.write(manifest.with_updates(model_data=uri), manifest_path.parent)
    return uri
