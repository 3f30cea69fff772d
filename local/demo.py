"""``make demo``: the held-out test rows through the whole local request path, reported per variant.

Every row goes as one ``POST /predict`` (an object of the row's raw fields, as a client would
send it: numbers, categories, text, null for missing) through the API front, the real handler
(which encodes it) and the local runtime; the report shows which
variant served how many requests, their end-to-end latency and their error on the served rows.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import sys
from pathlib import Path
from typing import Any

from contract.config import load_config
from contract.encoding import json_row
from contract.errors import CliError
from contract.prepared import DATASET_FILE, read_test_split
from local.client import ApiClient
from local.stack import running

LOG_FILE = Path("runs") / "local-demo-handler.log"


class DemoError(CliError):
    """The demo cannot start: no prepared data, or data the models were not trained on."""


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def run(config_path: str, prepared_dir: str, *, rounds: int = 3, seed: int | None = None) -> int:
    config = load_config(config_path)
    if not Path(prepared_dir, DATASET_FILE).is_file():
        raise DemoError(f"no prepared data in {prepared_dir}", "run make train first")
    test = read_test_split(prepared_dir)
    labels = test.labels
    needed = {name for _, _, spec in config.handler_variants for name in spec.field_names}
    missing = sorted(needed - set(test.spec.field_names))
    if missing or test.spec != config.input_spec:
        raise DemoError(f"{prepared_dir} holds data prepared for other models than {config_path}'s "
                        f"(fields {list(test.spec.field_names)}"
                        + (f"; the models also need {missing}" if missing else "") + ")",
                        "run make train again (with the same EXAMPLE)")
    instances = [json_row(test.spec, cells) for cells in test.raw_rows]
    total = rounds * len(labels)
    served: dict[str, list[tuple[float, float, float]]] = {}  # variant -> (prediction, label, seconds)
    failures: dict[str, int] = {}
    LOG_FILE.parent.mkdir(parents=True, exist_ok=True)
    with running(config, seed=seed) as stack, LOG_FILE.open("w") as log, \
            contextlib.redirect_stdout(log):  # the handler's JSON log lines
        print(f"local stack: POST {stack.api_url}/predict -> handler -> runtime {stack.runtime_url}",
              file=sys.stderr)
        client = ApiClient(stack.api_url)
        try:
            for done in range(total):
                row = done % len(labels)
                # One key per test row, as if each row were a user: every round sends a row to
                # the same variant (sticky assignment), and the keys split by the weights.
                status, _, body, seconds = client.predict({"instances": [instances[row]],
                                                           "assignment_key": f"row-{row}"})
                if status != 200:
                    is_error = isinstance(body, dict) and "error" in body
                    code = body["error"]["code"] if is_error else str(status)
                    failures[code] = failures.get(code, 0) + 1
                else:
                    served.setdefault(body["variant"], []).append(
                        (float(body["predictions"][0]), float(labels[row]), seconds))
                if done % 25 == 0 or done == total - 1:  # one line, rewritten in place
                    print(f"\r  sending test rows: {done + 1}/{total}", end="", file=sys.stderr, flush=True)
        finally:
            client.close()
            print(file=sys.stderr)
    print(report(served, failures, config, total))
    print("assignment: each test row is one user (assignment_key row-<n>), so every round sends a "
          "row to the same variant; the handler encodes it with that variant's input spec")
    print(f"(handler log lines: {LOG_FILE})")
    return 0 if not failures else 1


def report(served: dict[str, list[tuple[float, float, float]]], failures: dict[str, int],
           config: Any, total: int) -> str:
    weights = {v.name: v.weight for v in config.variants}
    offline = {m.variant.name: m.manifest.metrics.get("rmse") for m in config.models}
    weight_sum = sum(weights.values())
    lines = [f"{total} requests, {sum(failures.values())} failed" + (f" {failures}" if failures else ""),
             f"{'variant':<12}{'weight':>8}{'requests':>10}{'share':>8}{'p50 ms':>9}{'p90 ms':>9}"
             f"{'p99 ms':>9}{'RMSE':>9}{'MAE':>8}{'offline RMSE':>14}"]
    for name in weights:
        rows = served.get(name, [])
        if not rows:
            lines.append(f"{name:<12}{weights[name] / weight_sum:>8.2f}{0:>10}")
            continue
        latencies = [r[2] * 1000 for r in rows]
        errors = [r[0] - r[1] for r in rows]
        rmse = math.sqrt(statistics.fmean(e * e for e in errors))
        mae = statistics.fmean(abs(e) for e in errors)
        offline_rmse = f"{offline[name]:.2f}" if offline.get(name) is not None else "-"
        lines.append(f"{name:<12}{weights[name] / weight_sum:>8.2f}{len(rows):>10}{len(rows) / total:>8.2f}"
                     f"{percentile(latencies, .5):>9.2f}{percentile(latencies, .9):>9.2f}"
                     f"{percentile(latencies, .99):>9.2f}{rmse:>9.2f}{mae:>8.2f}{offline_rmse:>14}")
    return "\n".join(lines)
