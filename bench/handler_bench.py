"""Benchmark of the preprocessing Lambda (not a test): `make bench`.

1. Cold start: fresh interpreters that import the handler module the way Lambda does (a copy
   of the asset, symlinks resolved, as its root on sys.path, then `import handler`, which builds
   its service and sagemaker-runtime client) against fresh interpreters that only
   `import boto3` and create a `sagemaker-runtime` client (the floor). Median of N alternating
   runs; time measured inside the child around the import, and the child's whole wall time. The
   handler is measured both with its bytecode cached and without (as deployed: the asset has no
   __pycache__).
2. Warm per-request cost for 1, 100, 1000 and 10000 rows of JSON objects, with a botocore
   Stubber on a real sagemaker-runtime client (no network), for
     handler  the Lambda's service (local/lambda_host.py), full validation on (its log line
              goes to /dev/null)
     floor    json-parses the body, joins each row's values in feature order into CSV with no
              validation, calls the runtime, splits the response lines into floats, json-dumps
     pandas   the same with pandas and numpy (DataFrame -> to_csv, read_csv -> tolist)
   Per call: the median of a round, the best of R interleaved rounds; ratios handler/floor and pandas/handler.

Goals: 1000 rows: handler <= 0.6x floor and >= 3x cheaper than pandas; cold start <= 1.2x its
floor. ``--compare REF`` also cold-starts the handler asset of a git ref in the same run, for a
before/after comparison on one machine state (make bench-handler COMPARE=REF).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contract.encoding import numeric_spec  # noqa: E402
from contract.names import handler_environment  # noqa: E402
from local.lambda_host import ASSET_DIR, load_service  # noqa: E402

REGION = "us-east-1"
ENDPOINT = "bench-endpoint"


def lambda_environment(features: list[str]) -> dict[str, str]:
    """What the function's environment holds: the stack's variables, a region, credentials."""
    return {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench", **handler_environment(ENDPOINT, numeric_spec(features))}


def environment(features: list[str]) -> dict[str, str]:
    """A child interpreter's environment: this one's plus the function's."""
    return {**os.environ, **lambda_environment(features), "PYTHONHASHSEED": "0"}


# ------------------------------------------------------------------------------- cold start

CHILD_HANDLER = """
import sys, time
t0 = time.perf_counter()
sys.path.insert(0, {asset!r})
import handler
print(time.perf_counter() - t0)
"""
CHILD_FLOOR = """
import time
t0 = time.perf_counter()
import boto3
boto3.client("sagemaker-runtime", region_name={region!r})
print(time.perf_counter() - t0)
"""


def child(code: str, env: dict[str, str], extra: list[str]) -> tuple[float, float]:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, *extra, "-c", code], env=env, check=True,
                         capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1]), time.perf_counter() - started


def asset_at(ref: str, into: Path) -> Path:
    """The handler asset (and the contract it links to) as committed at ``ref``."""
    archive = subprocess.run(["git", "archive", ref, "lambda/preprocess", *(
        ["contract"] if subprocess.run(["git", "cat-file", "-e", f"{ref}:contract"], cwd=ROOT,
                                       capture_output=True).returncode == 0 else [])],
        cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "lambda" / "preprocess"


def cold_start(runs: int, features: list[str], compare: str | None = None) -> dict[str, tuple[float, float]]:
    env = environment(features)
    # Copies of the asset outside the repo, as CDK packages it (symlinks followed, no
    # __pycache__): one with its bytecode cached, one without (-B, no __pycache__).
    # -P: nothing but the asset copy and the installed packages is importable in the child.
    with tempfile.TemporaryDirectory() as tmp:
        cached_dir, fresh_dir = Path(tmp) / "cached", Path(tmp) / "fresh"
        for d in (cached_dir, fresh_dir):
            shutil.copytree(ASSET_DIR, d, ignore=shutil.ignore_patterns("__pycache__"))
        extra_codes = {}
        if compare:
            checkout = Path(tmp) / "ref"
            checkout.mkdir()
            ref_dir = Path(tmp) / "ref-asset"
            shutil.copytree(asset_at(compare, checkout), ref_dir, symlinks=False)
            extra_codes[f"{compare[:12]} (as deployed)"] = (
                CHILD_HANDLER.format(asset=str(ref_dir)), ["-P", "-B"])
        codes = {
            "floor: import boto3 + client": (CHILD_FLOOR.format(region=REGION), ["-P"]),
            "handler (bytecode cached)": (CHILD_HANDLER.format(asset=str(cached_dir)), ["-P"]),
            "handler (as deployed, no .pyc)": (CHILD_HANDLER.format(asset=str(fresh_dir)),
                                               ["-P", "-B"]),
            **extra_codes,
        }
        for code, extra in codes.values():  # warm the OS file cache and write the .pyc once
            child(code, env, extra)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in codes}
        for _ in range(runs):
            for name, (code, extra) in codes.items():
                samples[name].append(child(code, env, extra))
    return {name: (statistics.median(s[0] for s in v), statistics.median(s[1] for s in v))
            for name, v in samples.items()}


# ------------------------------------------------------------------------------- warm path


def make_floor(runtime: Any, features: list[str]) -> Any:
    def floor_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        body = json.loads(event["body"])
        csv = "\n".join(",".join(str(row[name]) for name in features) for row in body["instances"])
        response = runtime.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Body=csv)
        predictions = [float(line) for line in response["Body"].read().decode().splitlines()]
        return {"statusCode": 200, "body": json.dumps({"predictions": predictions})}

    return floor_handler


def make_pandas(runtime: Any, features: list[str]) -> Any:
    import numpy as np
    import pandas as pd

    def pandas_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        body = json.loads(event["body"])
        frame = pd.DataFrame(body["instances"], columns=features)
        csv = frame.to_csv(header=False, index=False)
        response = runtime.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Body=csv)
        result = pd.read_csv(io.BytesIO(response["Body"].read()), header=None)
        predictions = np.asarray(result.iloc[:, 0], dtype=np.float64)
        return {"statusCode": 200, "body": json.dumps({"predictions": predictions.tolist()})}

    return pandas_handler


def dataset(rows: int, features: list[str], rng: random.Random) -> str:
    """Rows of JSON objects: a third integer counts, the rest decimals of 2-6 places."""
    def value(j: int) -> Any:
        if j % 3 == 0:
            return rng.randint(0, 5000)
        return round(rng.uniform(-1000, 1000), rng.randint(2, 6))

    return json.dumps({"instances": [{f: value(j) for j, f in enumerate(features)}
                                     for _ in range(rows)]})


def prediction_text(rows: int, rng: random.Random) -> bytes:
    return "".join(f"{rng.random()!r}\n" for _ in range(rows)).encode()


def time_round(fn: Any, client: Any, event: dict[str, Any], response_body: bytes,
               calls: int) -> tuple[float, float]:
    """Median CPU and wall seconds per call over `calls` calls, the runtime stubbed by botocore's
    Stubber. CPU time (process_time) is the cost measure: other work on a shared machine
    preempts this process and inflates wall time, but not its CPU time."""
    from botocore.response import StreamingBody
    from botocore.stub import Stubber

    with Stubber(client) as stub:
        for _ in range(calls):
            stub.add_response("invoke_endpoint", {
                "Body": StreamingBody(io.BytesIO(response_body), len(response_body)),
                "ContentType": "text/csv", "InvokedProductionVariant": "champion"})
        cpu, wall = [], []
        for _ in range(calls):
            cpu_started, wall_started = time.process_time(), time.perf_counter()
            result = fn(event, None)
            cpu.append(time.process_time() - cpu_started)
            wall.append(time.perf_counter() - wall_started)
            assert result["statusCode"] == 200, result["body"][:300]
    return statistics.median(cpu), statistics.median(wall)


Timings = list[tuple[int, dict[str, float], dict[str, float]]]  # rows, CPU and wall per variant


def warm(sizes: list[int], features: list[str], repeats: int) -> Timings:
    service = load_service(lambda_environment(features))
    client = service.runtime
    variants = {"handler": service.handle, "floor": make_floor(client, features),
                "pandas": make_pandas(client, features)}
    rng = random.Random(42)
    results = []
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        for rows in sizes:
            event = {"headers": {"Content-Type": "application/json"}, "body": dataset(rows, features, rng),
                     "isBase64Encoded": False, "requestContext": {"requestId": "bench"}}
            response_body = prediction_text(rows, rng)
            outputs = {name: json.loads(fn_result["body"])["predictions"] for name, fn_result in (
                (name, _once(fn, client, event, response_body)) for name, fn in variants.items())}
            assert outputs["handler"] == outputs["floor"] == outputs["pandas"]  # same answers
            calls = max(3, min(100, 10000 // rows))
            cpu = {name: float("inf") for name in variants}
            wall = dict(cpu)
            for _ in range(repeats):  # interleaved rounds: machine load hits all variants alike
                for name, fn in variants.items():
                    c, w = time_round(fn, client, event, response_body, calls)
                    cpu[name], wall[name] = min(cpu[name], c), min(wall[name], w)
            results.append((rows, cpu, wall))
    return results


def assignment_overhead(features: list[str], repeats: int) -> tuple[dict[str, float], int, int]:
    """Per-request CPU time of 1-row requests without variant assignment (VARIANTS unset), with a
    sticky key and at random (live weights cached, as between lookups), and the DescribeEndpoint
    lookups a fresh service makes at import and over its first 100 requests."""
    from preprocessing.weights import LiveWeights

    lookups = []

    def describe() -> dict[str, float]:  # stands in for the signed DescribeEndpoint
        lookups.append(1)
        return {"champion": 0.7, "challenger": 0.3}

    variants = json.dumps([{"name": "champion", "weight": 0.7}, {"name": "challenger", "weight": 0.3}])
    plain = load_service(lambda_environment(features))
    assigning = load_service({**lambda_environment(features), "VARIANTS": variants})
    assigning.weights = LiveWeights({"champion": 0.7, "challenger": 0.3}, describe, ttl_seconds=30)
    at_import = len(lookups)
    rng = random.Random(7)
    body = json.loads(dataset(1, features, rng))
    events = {
        "none": (plain, body),
        "keyed": (assigning, {**body, "assignment_key": "user-12345"}),
        "random": (assigning, body),
    }
    response_body = prediction_text(1, rng)
    cpu = {name: float("inf") for name in events}
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        _once(assigning.handle, assigning.runtime, _event(body), response_body)
        for _ in range(99):
            _once(assigning.handle, assigning.runtime, _event(body), response_body)
        first_100 = len(lookups)
        for _ in range(repeats):
            for name, (service, doc) in events.items():
                c, _ = time_round(service.handle, service.runtime, _event(doc), response_body, 200)
                cpu[name] = min(cpu[name], c)
    return cpu, at_import, first_100


def _event(doc: dict[str, Any]) -> dict[str, Any]:
    return {"headers": {"Content-Type": "application/json"}, "body": json.dumps(doc),
            "isBase64Encoded": False, "requestContext": {"requestId": "bench"}}


def _once(fn: Any, client: Any, event: dict[str, Any], response_body: bytes) -> dict[str, Any]:
    from botocore.response import StreamingBody
    from botocore.stub import Stubber

    with Stubber(client) as stub:
        stub.add_response("invoke_endpoint", {
            "Body": StreamingBody(io.BytesIO(response_body), len(response_body)),
            "ContentType": "text/csv", "InvokedProductionVariant": "champion"})
        return fn(event, None)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", type=int, default=10, help="features per row (default 10)")
    parser.add_argument("--cold-runs", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--sizes", default="1,100,1000,10000")
    parser.add_argument("--compare", metavar="REF",
                        help="also cold-start the handler asset of this git ref (before/after)")
    args = parser.parse_args()
    features = [f"f{i}" for i in range(args.features)]

    print(f"python {sys.version.split()[0]} on {os.cpu_count()} cpus; {args.features} features per row")
    cold = cold_start(args.cold_runs, features, args.compare)
    floor_import, floor_wall = cold["floor: import boto3 + client"]
    print(f"\nCold start (median of {args.cold_runs} fresh processes)")
    print(f"{'':34s} {'import+client ms':>17s} {'ratio':>6s} {'process ms':>11s} {'ratio':>6s}")
    for name, (imp, wall) in cold.items():
        print(f"{name:34s} {imp * 1000:17.1f} {imp / floor_import:6.2f} {wall * 1000:11.1f} "
              f"{wall / floor_wall:6.2f}")

    rows = warm([int(s) for s in args.sizes.split(",")], features, args.repeats)
    for label, index in (("CPU", 1), ("wall-clock", 2)):
        print(f"\nWarm per-request cost, {label} ms, stubbed runtime (median per call, best of "
              f"{args.repeats} interleaved rounds), rows of JSON objects")
        print(f"{'rows':>6s} {'handler':>9s} {'floor':>9s} {'pandas':>9s} "
              f"{'handler/floor':>14s} {'pandas/handler':>15s}")
        for result in rows:
            n, t = result[0], result[index]
            h, f, p = t["handler"], t["floor"], t["pandas"]
            print(f"{n:6d} {h * 1000:9.3f} {f * 1000:9.3f} {p * 1000:9.3f} {h / f:14.2f} {p / h:15.1f}")

    overhead, at_import, first_100 = assignment_overhead(features, args.repeats)
    print(f"\nVariant assignment, 1-row requests, CPU ms per request (median of 200, best of "
          f"{args.repeats} interleaved rounds)")
    for name, seconds in overhead.items():
        print(f"  {name:8s} {seconds * 1000:8.4f}  (+{(seconds - overhead['none']) * 1000:.4f})")
    print(f"  DescribeEndpoint lookups: {at_import} at import, {first_100} over the first 100 requests")

    at_1000 = {r[0]: (r[1]["handler"], r[1]["floor"], r[1]["pandas"]) for r in rows}.get(1000)
    print("\nGoals")
    handler_import = cold["handler (as deployed, no .pyc)"][0]
    ratio = handler_import / floor_import
    print(f"  cold start <= 1.2x floor (as deployed): {ratio:.2f}x -> {'met' if ratio <= 1.2 else 'NOT met'}")
    if at_1000:
        h, f, p = at_1000
        verdict = "met" if h / f <= 0.6 else "NOT met"
        print(f"  1000 rows handler <= 0.6x floor (CPU): {h / f:.2f}x -> {verdict}")
        print(f"  1000 rows pandas >= 3x handler (CPU): {p / h:.1f}x -> {'met' if p / h >= 3 else 'NOT met'}")
    extra = max(overhead["keyed"], overhead["random"]) - overhead["none"]
    print(f"  assignment adds < 0.05 ms per request (p50, CPU): +{extra * 1000:.4f} ms -> "
          f"{'met' if extra < 0.00005 else 'NOT met'}")
    print(f"  a cold start makes <= 1 DescribeEndpoint call: {first_100} -> "
          f"{'met' if at_import == 0 and first_100 <= 1 else 'NOT met'}")


if __name__ == "__main__":
    main()
