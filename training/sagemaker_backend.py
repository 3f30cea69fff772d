"""The sagemaker backend: real training, tuning and batch transform jobs, through boto3.

Flow per command: resolve the Data stack (bucket, role, key), upload under a per-run prefix,
start the job, wait with a status line, then write the run directory (manifest only: the model
stays in S3 and the manifest's model_data points at it). Ctrl-C while waiting says which job is
still running in AWS and how to stop it; a failed job ends as a one-line error with its reason.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from training import aws_context, bucket_layout, data, runs
from training import manifest as manifest_module
from training import sagemaker_requests as requests
from training.aws_context import DataStack
from training.errors import CliError
from training.hyperparameters import Range
from training.images import check_framework_version, image_uri
from training.local_runs import build_manifest, check_features, load_run
from training.manifest import Manifest, Source
from training.metrics import regression_metrics

POLL_SECONDS = 30.0  # tests set 0
_NAME_LIMIT = {"training": 63, "tuning": 32, "transform": 63, "model": 63}


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _job_name(prefix: str, variant: str, run_id: str, kind: str) -> str:
    # Tuning job names are limited to 32 characters: keep the unique run id, trim the rest.
    limit = _NAME_LIMIT[kind]
    stamp = run_id.replace("T", "").replace("Z", "")  # 14 digits + "-" + 6 hex
    if kind == "tuning":
        name = f"{prefix[:9]}-{stamp}"
    else:
        name = f"{prefix}-{variant}"[: limit - len(run_id) - 1] + f"-{run_id}"
    return name.replace("--", "-").strip("-")[:limit]


class _Context:
    """What every sagemaker command needs: session, Data stack, image, naming."""

    def __init__(self, args: argparse.Namespace, variant: str) -> None:
        check_framework_version(args.framework_version)
        self.image = image_uri(args.region, args.framework_version)  # fail before touching AWS
        self.prefix = aws_context.stack_prefix(args.config)
        self.aws = aws_context.session(args.region)
        self.stack: DataStack = aws_context.data_stack(self.aws, self.prefix)
        self.args = args
        self.variant = runs.check_variant(variant)
        self.run_id = runs.new_run_id()
        self.sagemaker = aws_context.client(self.aws, "sagemaker")
        self.s3 = aws_context.client(self.aws, "s3")

    def definition(self) -> dict[str, Any]:
        return {"image": self.image, "role_arn": self.stack.role_arn, "bucket": self.stack.bucket,
                "key_arn": self.stack.key_arn, "run_id": self.run_id, "variant": self.variant,
                "instance_type": self.args.instance_type}

    def upload(self, path: Path, key: str) -> str:
        assert key.startswith(bucket_layout.ROLE_PREFIXES)
        try:
            self.s3.upload_file(str(path), self.stack.bucket, key, ExtraArgs={
                "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.stack.key_arn})
        except (ClientError, BotoCoreError) as error:
            raise CliError(f"upload of {path} to s3://{self.stack.bucket}/{key} failed ({error})",
                           "check that the Data stack is deployed and you may write to its bucket") from None
        return f"s3://{self.stack.bucket}/{key}"

    def upload_channels(self, prepared: data.Prepared) -> None:
        for channel in requests.CHANNELS:
            self.upload(prepared.path(f"{channel}.csv"), requests.dataset_prefix(self.run_id, channel)
                        + f"{channel}.csv")

    def call(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        try:
            result: dict[str, Any] = getattr(self.sagemaker, operation)(**request)
            return result
        except NoCredentialsError:
            raise CliError("no AWS credentials found for the sagemaker backend",
                           aws_context.NO_CREDENTIALS_FIX) from None
        except ClientError as error:
            message = error.response.get("Error", {}).get("Message", str(error))
            raise CliError(f"SageMaker {operation} failed: {message}",
                           "fix the cause named there (quota, permissions, region) and retry") from None


def wait(describe: Callable[[], dict[str, Any]], *, kind: str, name: str, status_key: str, stop_hint: str,
         poll_seconds: float | None = None, say: Callable[[str], None] = _say) -> dict[str, Any]:
    """Poll until the job ends; print status and elapsed time; a failed job raises CliError."""
    started = time.monotonic()
    poll = POLL_SECONDS if poll_seconds is None else poll_seconds
    try:
        while True:
            description = describe()
            status = description[status_key]
            say(f"{kind} {name}: {status} ({time.monotonic() - started:.0f}s)")
            if status == "Completed":
                return description
            if status in ("Failed", "Stopped"):
                reason = description.get("FailureReason", "no reason given")
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
    with runs.staged_run(ctx.args.runs_dir, ctx.variant, ctx.run_id) as staging:
        manifest_module.write(manifest, staging)
    runs.point_latest(ctx.args.runs_dir, ctx.variant, ctx.run_id)
    return Path(ctx.args.runs_dir) / ctx.variant / ctx.run_id


def _final_metrics(description: dict[str, Any]) -> dict[str, float]:
    return {m["MetricName"]: float(m["Value"]) for m in description.get("FinalMetricDataList", [])
            if np.isfinite(m.get("Value", np.nan))}


def train_run(args: argparse.Namespace, prepared: data.Prepared, hyperparameters: dict[str, str]) -> Path:
    ctx = _Context(args, args.variant)
    name = _job_name(ctx.prefix, ctx.variant, ctx.run_id, "training")
    ctx.upload_channels(prepared)
    ctx.call("create_training_job", requests.training_job(name=name, hyperparameters=hyperparameters,
                                                          **ctx.definition()))
    description = wait(lambda: ctx.sagemaker.describe_training_job(TrainingJobName=name),
                       kind="training job", name=name, status_key="TrainingJobStatus",
                       stop_hint=_stop_hint("stop-training-job", "--training-job-name", name, args.region))
    manifest = build_manifest(
        source=Source(kind="sagemaker-training", run_id=ctx.run_id, job_name=name),
        framework_version=args.framework_version, region=args.region, prepared=prepared,
        hyperparameters=hyperparameters, metrics=_final_metrics(description),
        model_data=description["ModelArtifacts"]["S3ModelArtifacts"])
    return _write_manifest_run(ctx, manifest)


def tune_run(args: argparse.Namespace, prepared: data.Prepared, base: dict[str, str],
             ranges: tuple[Range, ...]) -> Path:
    ctx = _Context(args, args.variant)
    name = _job_name(ctx.prefix, ctx.variant, ctx.run_id, "tuning")
    ctx.upload_channels(prepared)
    ctx.call("create_hyper_parameter_tuning_job", requests.tuning_job(
        name=name, static_hyperparameters=base, ranges=ranges, max_jobs=args.trials,
        max_parallel=args.parallel, **ctx.definition()))
    description = wait(
        lambda: ctx.sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name),
        kind="tuning job", name=name, status_key="HyperParameterTuningJobStatus",
        stop_hint=_stop_hint("stop-hyper-parameter-tuning-job", "--hyper-parameter-tuning-job-name",
                             name, args.region))
    best_name = (description.get("BestTrainingJob") or {}).get("TrainingJobName")
    if not best_name:
        raise CliError(f"tuning job {name} finished without a best training job",
                       "check its training jobs in the SageMaker console; every trial may have failed")
    best = ctx.call("describe_training_job", {"TrainingJobName": best_name})
    hyperparameters = {k: v for k, v in best.get("HyperParameters", {}).items() if not k.startswith("_")}
    manifest = build_manifest(
        source=Source(kind="sagemaker-tuning", run_id=ctx.run_id, job_name=best_name),
        framework_version=args.framework_version, region=args.region, prepared=prepared,
        hyperparameters=hyperparameters or base, metrics=_final_metrics(best),
        model_data=best["ModelArtifacts"]["S3ModelArtifacts"])
    return _write_manifest_run(ctx, manifest)


def evaluate_run(args: argparse.Namespace, run: Path, prepared: data.Prepared) -> dict[str, float]:
    """Batch transform over the test features, then download and score the predictions."""
    manifest, manifest_path = load_run(run)
    check_features(manifest, prepared)
    if manifest.model_data is None:
        raise CliError(f"run {run} has no model in S3 (model_data is empty)",
                       "publish it first (python -m training publish) or evaluate with --backend local")
    args.framework_version, args.region = manifest.framework_version, manifest.region
    ctx = _Context(args, manifest_path.parent.resolve().parent.name)
    work = f"{bucket_layout.BATCH_TRANSFORM}{ctx.run_id}/"
    input_key, output_prefix = f"{work}input/{data.TEST}", f"{work}output/"
    ctx.upload(prepared.path(data.TEST), input_key)
    model_name = _job_name(ctx.prefix, "eval", ctx.run_id, "model")
    ctx.call("create_model", requests.model(name=model_name, image=manifest.image_uri,
                                            model_data=manifest.model_data, role_arn=ctx.stack.role_arn))
    try:
        job = _job_name(ctx.prefix, "eval", ctx.run_id, "transform")
        ctx.call("create_transform_job", requests.transform_job(
            name=job, model_name=model_name, bucket=ctx.stack.bucket, input_key=input_key,
            output_prefix=output_prefix, key_arn=ctx.stack.key_arn, instance_type=args.instance_type))
        wait(lambda: ctx.sagemaker.describe_transform_job(TransformJobName=job), kind="transform job",
             name=job, status_key="TransformJobStatus",
             stop_hint=_stop_hint("stop-transform-job", "--transform-job-name", job, args.region))
    finally:
        # The model exists only for this evaluation; do not leave it behind.
        try:
            ctx.sagemaker.delete_model(ModelName=model_name)
        except (ClientError, BotoCoreError):
            _say(f"note: could not delete the evaluation model {model_name}; delete it by hand")
    output_key = f"{output_prefix}{data.TEST}.out"
    try:
        body = ctx.s3.get_object(Bucket=ctx.stack.bucket, Key=output_key)["Body"].read().decode()
    except ClientError:
        raise CliError(f"transform output s3://{ctx.stack.bucket}/{output_key} is missing",
                       "check the transform job's logs; it completed without writing predictions") from None
    predictions = np.array([float(v) for v in body.replace(",", "\n").split()], dtype=np.float64)
    _, labels = prepared.load_test()
    if predictions.shape != labels.shape:
        raise CliError(f"transform output has {predictions.size} predictions for {labels.size} test rows",
                       "check that test.csv has one record per line and no header")
    scores = regression_metrics(labels, predictions)
    manifest_module.write(manifest.with_updates(metrics={**manifest.metrics, **scores}), manifest_path.parent)
    return scores


def publish_run(args: argparse.Namespace, run: Path) -> str:
    """Upload a local run's model.tar.gz under models/ and record the S3 URI in its manifest."""
    manifest, manifest_path = load_run(run)
    artifact = manifest_module.artifact_path(manifest, manifest_path)
    if artifact is None or not artifact.is_file():
        raise CliError(f"run {run} has no local model.tar.gz to publish",
                       "a SageMaker-trained run is already in S3 (see its model_data)")
    runs.read_model_archive(artifact)  # refuse to publish an archive the container cannot serve
    args.region, args.framework_version = manifest.region, manifest.framework_version
    variant = manifest_path.parent.resolve().parent.name
    ctx = _Context(args, variant)
    key = f"{requests.model_output_prefix(variant)}published/{manifest.source.run_id}/model.tar.gz"
    uri = ctx.upload(artifact, key)
    manifest_module.write(manifest.with_updates(model_data=uri), manifest_path.parent)
    return uri
