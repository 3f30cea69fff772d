"""Benchmark of the Lambda on raw fields (not a test): `make bench-encoding`.

The specs are real ``prepare`` output: palmerpenguins (categorical species/island/sex, numeric
measurements, some missing values; a CSV model) and the movie-review snippets (one text field,
5000-token vocabulary; a libsvm model), prepared with prepare's defaults into a temp dir
(``training.data.write_prepared``, what ``xgbapi prepare`` runs). In one run, side by side:

1. Penguins-shaped requests, 1000 rows of JSON objects (the prepared test split's raw rows drawn
   with a fixed seed, as ``contract.encoding.json_row`` sends them: strings, numbers, nulls),
   through the handler's service with a Stubber on a real sagemaker-runtime client (log line to
   /dev/null), against handler_bench.py's numeric floor for 1000 rows of as many fields. The
   numeric handler runs on the floor's body in the same rounds. Methodology and code are
   handler_bench.py's (CPU time; the median per call of a round, the best of R interleaved
   rounds). Before timing, the payload the handler sends for the test split is checked against
   the test file prepare wrote.
2. Reviews: 100 texts of about 200 words each (real snippets joined with a fixed seed).
   ``Encoder(spec).encode`` over the rows, lines joined with "\\n" (the Lambda's encoding step),
   against sklearn's ``CountVectorizer(vocabulary=<the spec's vocabulary, in order>)``
   ``.transform`` plus writing its CSR rows as the same libsvm text. Same timing method. Both
   outputs are compared line by line: equal on every text without HTML tags or entities (the
   tokenizers differ only there: ours drops tags and decodes entities).
3. Cold start with the 5000-token spec: fresh interpreters importing the handler from a copy of
   the asset (symlinks resolved, no __pycache__, input_spec.json in its root,
   INPUT_SPEC_FILE=input_spec.json), against ``import boto3`` + client (handler_bench.py's
   children). Median of N alternating runs; the numeric handler runs in the same rounds.

Goals: 1. penguins handler <= 1.5x the floor, numeric handler <= 0.6x (CPU, 1000 rows);
2. Encoder >= 3x faster than CountVectorizer + serialization (CPU); 3. cold start (as deployed)
<= 1.3x the floor. ``--check``: exit 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.handler_bench import (  # noqa: E402
    CHILD_FLOOR,
    CHILD_HANDLER,
    ENDPOINT,
    REGION,
    _once,
    child,
    dataset,
    lambda_environment,
    make_floor,
    prediction_text,
    time_round,
)
from contract.encoding import CONSTANT, END, Encoder, InputSpec, json_row  # noqa: E402
from contract.names import handler_environment  # noqa: E402
from contract.prepared import TEST, read_test_split  # noqa: E402
from local.lambda_host import ASSET_DIR, function_environment, load_service  # noqa: E402
from training.data import load_prepared  # noqa: E402

AWS = {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
GOAL_RAW, GOAL_NUMERIC, GOAL_TEXT, GOAL_COLD = 1.5, 0.6, 3.0, 1.3


def prepare(data: Path, target: str, out: Path) -> Path:
    """``xgbapi prepare --data DATA --target TARGET --out OUT`` with its defaults, in process."""
    from training.data import load_table, write_prepared

    write_prepared(load_table(str(data), target), out)
    return out


# ------------------------------------------------------------------------------- 1. penguins


def request(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"headers": {"Content-Type": "application/json"}, "body": json.dumps({"instances": rows}),
            "isBase64Encoded": False, "requestContext": {"requestId": "bench"}}


def sent_payload(service: Any, event: dict[str, Any], rows: int) -> bytes:
    """The body the service sends to the endpoint for ``event``."""
    sent: list[bytes] = []

    def capture(params: dict[str, Any], **_: Any) -> None:
        sent.append(params["Body"])

    events = service.runtime.meta.events
    name = "provide-client-params.sagemaker-runtime.InvokeEndpoint"
    events.register(name, capture)
    try:
        result = _once(service.handle, service.runtime, event, prediction_text(rows, random.Random(0)))
    finally:
        events.unregister(name, capture)
    assert result["statusCode"] == 200, result["body"][:300]
    return sent[0]


def penguins(prepared: Path, spec_dir: Path, rows: int, repeats: int,
             seed: int) -> tuple[dict[str, float], dict[str, float], dict[str, Any]]:
    """CPU and wall seconds per request of each variant, and facts about the bodies."""
    test = read_test_split(prepared)
    spec = test.spec
    service = load_service({**AWS, **function_environment(ENDPOINT, spec, spec_dir)})
    assert service.raw_rows is not None and not service.settings.config_error
    features = [f"f{i}" for i in range(len(spec.fields))]
    numeric = load_service(lambda_environment(features))
    rng = random.Random(seed)

    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        # Parity: the test split as JSON -> the lines prepare wrote into the test shards.
        expected = "".join(path.read_text(encoding="utf-8") for path in
                           load_prepared(prepared).shard_paths(TEST)).strip("\n")
        split_event = request([json_row(spec, cells) for cells in test.raw_rows])
        assert sent_payload(service, split_event, len(test.raw_rows)).decode() == expected, \
            "the handler's payload differs from prepare's test file"

        raw_rows = [json_row(spec, rng.choice(test.raw_rows)) for _ in range(rows)]
        nulls = sum(1 for row in raw_rows if None in row.values())
        numeric_event = {**request([]), "body": dataset(rows, features, rng)}
        events = {"handler, penguins body": request(raw_rows), "numeric handler": numeric_event,
                  "floor": numeric_event}
        response = prediction_text(rows, rng)
        variants: dict[str, tuple[Callable[..., dict[str, Any]], Any]] = {
            "handler, penguins body": (service.handle, service.runtime),
            "numeric handler": (numeric.handle, numeric.runtime),
            "floor": (make_floor(numeric.runtime, features), numeric.runtime)}
        answers = {name: json.loads(_once(fn, client, events[name], response)["body"])["predictions"]
                   for name, (fn, client) in variants.items()}
        assert answers["handler, penguins body"] == answers["numeric handler"] == answers["floor"]
        calls = max(3, min(100, 10000 // rows))
        cpu = {name: float("inf") for name in variants}
        wall = dict(cpu)
        for _ in range(repeats):
            for name, (fn, client) in variants.items():
                c, w = time_round(fn, client, events[name], response, calls)
                cpu[name], wall[name] = min(cpu[name], c), min(wall[name], w)
    facts = {"fields": len(spec.fields), "columns": len(spec.column_names()), "nulls": nulls,
             "raw_kb": len(events["handler, penguins body"]["body"]) / 1000,
             "floor_kb": len(events["floor"]["body"]) / 1000, "test_rows": len(test.raw_rows)}
    return cpu, wall, facts


# ------------------------------------------------------------------------------- 2. reviews


def review_texts(reviews_file: Path, count: int, words: int, seed: int) -> list[str]:
    """``count`` texts of at least ``words`` words: real snippets joined in a seeded order."""
    with reviews_file.open(encoding="utf-8", newline="") as handle:
        snippets = [row["review"] for row in csv.DictReader(handle)]
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        parts: list[str] = []
        n = 0
        while n < words:
            parts.append(rng.choice(snippets))
            n += len(parts[-1].split())
        texts.append(" ".join(parts))
    return texts


def sklearn_libsvm(spec: InputSpec, texts: Sequence[str]) -> tuple[Callable[[], str], Callable[[], Any]]:
    """CountVectorizer over the spec's vocabulary, and its CSR rows as the Encoder's libsvm lines."""
    from sklearn.feature_extraction.text import CountVectorizer

    (field,) = spec.fields
    assert spec.format == "libsvm" and field.kind == "text" and not field.stop_words
    columns = spec.column_names()
    assert columns[0] == CONSTANT and columns[-1] == END
    offset, end = 1, f"{len(columns) - 1}:1"
    vectorizer = CountVectorizer(vocabulary=list(field.vocabulary), lowercase=True, binary=field.binary)
    vectorizer.transform(texts[:1])  # validates the vocabulary once, as a fitted vectorizer has

    def transform() -> Any:
        return vectorizer.transform(texts)

    def libsvm() -> str:
        matrix = vectorizer.transform(texts)  # CSR, indices sorted per row
        indptr, indices, data = matrix.indptr.tolist(), (matrix.indices + offset).tolist(), \
            matrix.data.tolist()
        lines = []
        for i in range(len(indptr) - 1):
            a, b = indptr[i], indptr[i + 1]
            lines.append(" ".join(["0:1", *[f"{j}:{v}" for j, v in zip(indices[a:b], data[a:b],
                                                                     strict=True)], end]))
        return "\n".join(lines)

    return libsvm, transform


def best_of(variants: dict[str, Callable[[], Any]], calls: int, repeats: int) -> dict[str, float]:
    """CPU seconds per call: the median of a round of ``calls``, the best of ``repeats``
    interleaved rounds (handler_bench.py's method without the runtime)."""
    best = {name: float("inf") for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            times = []
            for _ in range(calls):
                started = time.process_time()
                fn()
                times.append(time.process_time() - started)
            best[name] = min(best[name], statistics.median(times))
    return best


def reviews(spec: InputSpec, texts: list[str], repeats: int) -> tuple[dict[str, float], dict[str, Any]]:
    encode = Encoder(spec).encode
    (field,) = spec.fields
    rows = [{field.name: text} for text in texts]

    def ours() -> str:
        return "\n".join([encode(row, text=False) for row in rows])

    theirs, transform = sklearn_libsvm(spec, texts)
    a, b = ours().split("\n"), theirs().split("\n")
    plain = [i for i, t in enumerate(texts) if "<" not in t and "&" not in t]
    same = sum(1 for x, y in zip(a, b, strict=True) if x == y)
    differ = [i for i in plain if a[i] != b[i]]
    assert not differ, f"Encoder and CountVectorizer disagree on plain text {differ[0]}"
    started = time.process_time()
    Encoder(spec)
    build = time.process_time() - started
    times = best_of({"Encoder.encode": ours, "CountVectorizer + libsvm text": theirs,
                     "  of which .transform": transform}, calls=20, repeats=repeats)
    facts = {"texts": len(texts), "words": statistics.mean(len(t.split()) for t in texts),
             "tokens": sum(len(line.split()) - 2 for line in a), "same": same, "plain": len(plain),
             "vocabulary": len(field.vocabulary), "build_ms": build * 1000}
    return times, facts


# ------------------------------------------------------------------------------- 3. cold start


def cold_start(spec: InputSpec, runs: int, tmp: Path) -> dict[str, tuple[float, float]]:
    """Median import+client and process seconds per variant (children as handler_bench.py's)."""
    # -B alone decides whether a child writes bytecode: an inherited PYTHONDONTWRITEBYTECODE would
    # leave the cached copy without .pyc.
    inherited = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    base = {**inherited, **AWS, "PYTHONHASHSEED": "0"}
    raw_env = {**base, **handler_environment(ENDPOINT, spec)}  # INPUT_SPEC_FILE=input_spec.json
    numeric_env = {**base, **lambda_environment([f"f{i}" for i in range(10)])}
    cached_dir, fresh_dir = tmp / "cached", tmp / "fresh"
    for d in (cached_dir, fresh_dir):  # as CDK packages it: symlinks followed, no __pycache__
        shutil.copytree(ASSET_DIR, d, ignore=shutil.ignore_patterns("__pycache__"))
        (d / raw_env["INPUT_SPEC_FILE"]).write_text(spec.to_json(), encoding="utf-8")
    check = ("\nassert not handler.SETTINGS.config_error, handler.SETTINGS.config_error"
             "\nassert handler.SERVICE.raw_rows is not None\n")
    codes = {
        "floor: import boto3 + client": (CHILD_FLOOR.format(region=REGION), base, ["-P"]),
        "handler, 5000 tokens (as deployed)": (CHILD_HANDLER.format(asset=str(fresh_dir)) + check,
                                               raw_env, ["-P", "-B"]),
        "handler, 5000 tokens (.pyc cached)": (CHILD_HANDLER.format(asset=str(cached_dir)) + check,
                                               raw_env, ["-P"]),
        "numeric handler (as deployed)": (CHILD_HANDLER.format(asset=str(fresh_dir)), numeric_env,
                                          ["-P", "-B"]),
    }
    for code, env, extra in codes.values():  # warm the OS file cache, write the .pyc once
        child(code, env, extra)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in codes}
    for _ in range(runs):
        for name, (code, env, extra) in codes.items():
            samples[name].append(child(code, env, extra))
    return {name: (statistics.median(s[0] for s in v), statistics.median(s[1] for s in v))
            for name, v in samples.items()}


# ------------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1000, help="penguin rows per request (1000)")
    parser.add_argument("--reviews", type=int, default=100, help="review texts (100)")
    parser.add_argument("--words", type=int, default=200, help="words per review text (200)")
    parser.add_argument("--cold-runs", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args()

    from training.example_data import DEFAULT_CACHE, penguins_csv, reviews_csv

    started = time.perf_counter()
    print(f"python {sys.version.split()[0]} on {os.cpu_count()} cpus")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cache = ROOT / DEFAULT_CACHE
        penguins_dir = prepare(penguins_csv(cache), "body_mass_g", tmp / "penguins")
        reviews_dir = prepare(reviews_csv(cache), "rating", tmp / "reviews")
        reviews_spec = read_test_split(reviews_dir).spec
        print(f"prepared penguins and reviews in {time.perf_counter() - started:.1f} s")

        cold = cold_start(reviews_spec, args.cold_runs, tmp)
        cpu, wall, pf = penguins(penguins_dir, tmp, args.rows, args.repeats, args.seed)
        texts = review_texts(reviews_csv(cache), args.reviews, args.words, args.seed)
        text_times, rf = reviews(reviews_spec, texts, args.repeats)

    floor_import, floor_wall = cold["floor: import boto3 + client"]
    print(f"\n3. Cold start, {rf['vocabulary']}-token spec in the asset (median of {args.cold_runs} "
          "fresh processes)")
    print(f"{'':38s} {'import+client ms':>17s} {'ratio':>6s} {'process ms':>11s} {'ratio':>6s}")
    for name, (imp, proc) in cold.items():
        print(f"{name:38s} {imp * 1000:17.1f} {imp / floor_import:6.2f} {proc * 1000:11.1f} "
              f"{proc / floor_wall:6.2f}")

    print(f"\n1. {args.rows} rows per request, warm cost per request, stubbed runtime (median per call, "
          f"best of {args.repeats} interleaved rounds)")
    print(f"   penguins body: {pf['fields']} raw fields -> {pf['columns']} CSV columns, "
          f"{pf['nulls']} rows with a null, {pf['raw_kb']:.0f} kB; floor body: {pf['fields']} numeric "
          f"fields, {pf['floor_kb']:.0f} kB. Payload of the {pf['test_rows']} test rows = prepare's "
          "test file: yes")
    print(f"{'':24s} {'CPU ms':>8s} {'/floor':>7s} {'wall ms':>8s} {'/floor':>7s}")
    for name in cpu:
        print(f"{name:24s} {cpu[name] * 1000:8.3f} {cpu[name] / cpu['floor']:7.2f} "
              f"{wall[name] * 1000:8.3f} {wall[name] / wall['floor']:7.2f}")

    ours = text_times["Encoder.encode"]
    print(f"\n2. Reviews: {rf['texts']} texts of {rf['words']:.0f} words on average, "
          f"{rf['tokens']} libsvm entries, {rf['vocabulary']}-token vocabulary -> libsvm text "
          f"(CPU, median per call of 20, best of {args.repeats} rounds)")
    for name, t in text_times.items():
        print(f"{name:32s} {t * 1000:8.3f} ms {t / ours:6.2f}x Encoder")
    print(f"   identical lines: {rf['same']}/{rf['texts']} (all {rf['plain']} texts without HTML "
          f"tags or entities agree); Encoder(spec) built in {rf['build_ms']:.1f} ms")

    raw_ratio = cpu["handler, penguins body"] / cpu["floor"]
    numeric_ratio = cpu["numeric handler"] / cpu["floor"]
    text_ratio = text_times["CountVectorizer + libsvm text"] / ours
    cold_ratio = cold["handler, 5000 tokens (as deployed)"][0] / floor_import
    goals = [
        (f"1. penguins, {args.rows} rows: handler <= {GOAL_RAW}x floor (CPU)", raw_ratio,
         raw_ratio <= GOAL_RAW),
        (f"1. numeric, {args.rows} rows: handler <= {GOAL_NUMERIC}x floor (CPU)", numeric_ratio,
         numeric_ratio <= GOAL_NUMERIC),
        (f"2. reviews: Encoder >= {GOAL_TEXT:.0f}x faster than CountVectorizer + text (CPU)",
         text_ratio, text_ratio >= GOAL_TEXT),
        (f"3. cold start, 5000 tokens (as deployed) <= {GOAL_COLD}x floor", cold_ratio,
         cold_ratio <= GOAL_COLD),
    ]
    print("\nGoals")
    for label, ratio, met in goals:
        print(f"  {label}: {ratio:.2f}x -> {'met' if met else 'NOT met'}")
    print(f"\nmake bench-encoding: {time.perf_counter() - started:.0f} s")
    return 1 if args.check and not all(met for _, _, met in goals) else 0


if __name__ == "__main__":
    sys.exit(main())
