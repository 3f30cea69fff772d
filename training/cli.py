"""``python -m training <command>``: prepare, train, tune, evaluate, publish, train-examples, predict.

Every user-fixable problem ends as one line, ``error: <problem>; <fix>``, exit code 2, and no
traceback. Work that writes files stages it first, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from contract.errors import CliError
from contract.images import DEFAULT_FRAMEWORK_VERSION, ImageError
from contract.manifest import ManifestError
from training import cost, data, dry_run, hyperparameters, local_runs, predict_client

DEFAULT_PREPARED = Path("data/prepared")
DEFAULT_RUNS = Path("runs")
DEFAULT_REGION = "us-east-1"
DEFAULT_CONFIG = "config/default.toml"
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


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
    parser.add_argument("--config", default=DEFAULT_CONFIG,
                        help="deployment config; its project.prefix names the Data stack (sagemaker)")
    parser.add_argument("--instance-type", default="ml.m5.large", help="sagemaker job instance type")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    prepare = commands.add_parser("prepare", help="split a dataset into the built-in algorithm's CSVs",
                                  description="Split train/validation/test with a fixed seed and write "
                                  "label-first CSVs without header or index.")
    prepare.add_argument("--data", help="CSV (with header) or Parquet file; default: sklearn's bundled "
                         "diabetes data (no download)")
    prepare.add_argument("--target", default=data.DEFAULT_TARGET,
                         help=f"label column (default {data.DEFAULT_TARGET!r})")
    prepare.add_argument("--out", type=Path, default=DEFAULT_PREPARED, help="output directory")
    prepare.add_argument("--seed", type=int, default=data.DEFAULT_SEED)
    prepare.add_argument("--validation-fraction", type=float, default=0.2)
    prepare.add_argument("--test-fraction", type=float, default=0.2)

    train = commands.add_parser("train", help="train one model run",
                                description="Train with the course hyperparameters (override with --hp).")
    train.add_argument("--variant", default="champion", help="variant slot the run is for")
    train.add_argument("--hp", action="append", metavar="NAME=VALUE",
                       help=f"override a hyperparameter; defaults: {hyperparameters.DEFAULTS}")
    _common(train)
    dry_run.add_arguments(train)

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

    evaluate = commands.add_parser("evaluate", help="score a run on the test split (RMSE, MAE, R2)",
                                   description="Predict the test split and write the scores into "
                                   "the run's manifest.")
    evaluate.add_argument("--variant", default="champion", help="evaluate runs/<variant>/latest")
    evaluate.add_argument("--run", type=Path, help="run directory (default: the variant's latest)")
    _common(evaluate)
    dry_run.add_arguments(evaluate)

    publish = commands.add_parser("publish", help="upload a local run's artifact to the Data bucket",
                                  description="Upload model.tar.gz under models/ and record its S3 URI "
                                  "in the manifest, so a stack deploys it from S3.")
    publish.add_argument("--variant", default="champion")
    publish.add_argument("--run", type=Path, help="run directory (default: the variant's latest)")
    _common(publish, backend=False)

    examples = commands.add_parser("train-examples", help="train every variant of a config locally",
                                   description="First variant: default hyperparameters; the others: "
                                   "max_depth=3. Then evaluate each (what `make train` runs).")
    examples.add_argument("--config", default=DEFAULT_CONFIG)
    examples.add_argument("--data", help="dataset (default: the bundled demo data)")
    examples.add_argument("--target", default=data.DEFAULT_TARGET)
    examples.add_argument("--region", default=DEFAULT_REGION)
    examples.add_argument("--framework-version", default=DEFAULT_FRAMEWORK_VERSION)
    examples.add_argument("--prepared", type=Path, default=DEFAULT_PREPARED)
    predict_client.add_parser(commands)
    cost.add_parser(commands)
    return parser


def _run_dir(args: argparse.Namespace) -> Path:
    return Path(args.run) if args.run else args.runs_dir / args.variant / "latest"


def cmd_prepare(args: argparse.Namespace) -> None:
    table = data.load_table(args.data, args.target)
    prepared = data.write_prepared(table, args.out, args.seed, args.validation_fraction, args.test_fraction)
    print(f"prepared {len(table.labels)} rows of {table.source} into {prepared.directory} "
          f"(target {table.target!r}, {len(table.feature_names)} features)")


def _print_dry_run(start: Callable[..., object], *args: object) -> None:
    """The requests a sagemaker command would send, as JSON on stdout (see training/dry_run.py)."""
    from training import sagemaker_backend

    sys.stdout.write(dry_run.render(sagemaker_backend.dry_run_requests(start, *args)))


def cmd_train(args: argparse.Namespace) -> None:
    dry_run.check_arguments(args)
    hp = hyperparameters.with_overrides(args.hp)
    prepared = data.load_prepared(args.prepared)
    if args.dry_run:
        from training import sagemaker_backend

        return _print_dry_run(sagemaker_backend.train_run, args, prepared, hp)
    if args.backend == "sagemaker":
        from training import sagemaker_backend

        run = sagemaker_backend.train_run(args, prepared, hp)
    else:
        run = local_runs.train_run(prepared, args.runs_dir, args.variant, hp, args.framework_version,
                                   args.region)
    print(f"trained {run}")


def cmd_tune(args: argparse.Namespace) -> None:
    base = hyperparameters.with_overrides(args.hp)
    ranges = hyperparameters.parse_ranges(args.range)
    if args.trials < 1 or args.parallel < 1:
        raise CliError("--trials and --parallel must be at least 1", "e.g. --trials 20 --parallel 3")
    dry_run.check_arguments(args)
    prepared = data.load_prepared(args.prepared)
    if args.dry_run:
        from training import sagemaker_backend

        return _print_dry_run(sagemaker_backend.tune_run, args, prepared, base, ranges)
    if args.backend == "sagemaker":
        from training import sagemaker_backend

        run = sagemaker_backend.tune_run(args, prepared, base, ranges)
    else:
        run = local_runs.tune_run(prepared, args.runs_dir, args.variant, base, ranges, args.trials,
                                  args.framework_version, args.region, seed=args.seed)
    print(f"tuned {run}")


def cmd_evaluate(args: argparse.Namespace) -> None:
    dry_run.check_arguments(args)
    prepared = data.load_prepared(args.prepared)
    run = _run_dir(args)
    if args.dry_run:
        from training import sagemaker_backend

        return _print_dry_run(sagemaker_backend.evaluate_run, args, run, prepared)
    if args.backend == "sagemaker":
        from training import sagemaker_backend

        scores = sagemaker_backend.evaluate_run(args, run, prepared)
    else:
        scores = local_runs.evaluate_run(run, prepared)
    print(f"evaluated {run}: " + ", ".join(f"{k}={v:.4f}" for k, v in scores.items()))


def cmd_publish(args: argparse.Namespace) -> None:
    from training import sagemaker_backend

    uri = sagemaker_backend.publish_run(args, _run_dir(args))
    print(f"published {uri}")


def cmd_train_examples(args: argparse.Namespace) -> None:
    from training import examples

    for line in examples.train_examples(Path(args.config), args.prepared, data_path=args.data,
                                        target=args.target, region=args.region,
                                        framework_version=args.framework_version):
        print(line)


COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {
    "prepare": cmd_prepare, "train": cmd_train, "tune": cmd_tune, "evaluate": cmd_evaluate,
    "publish": cmd_publish, "train-examples": cmd_train_examples, "predict": predict_client.run,
    "cost": cost.run,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (ImageError, ManifestError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        # Disk full, permission denied, ...: staged writes were already rolled back.
        where = f" ({error.filename})" if error.filename else ""
        print(f"error: {error.strerror or error}{where}; check the path, permissions and free space",
              file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        # Backends that start AWS jobs print what is still running before re-raising.
        print("interrupted; nothing was written for the unfinished step", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0
