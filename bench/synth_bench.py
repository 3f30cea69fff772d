"""`make bench-synth`: wall time of `make synth` against a one-bucket hello-world CDK app.

Both run through the pinned CDK CLI (`npx cdk synth`), the hello world with CDK's defaults
(built-in template validator on), ours as `make synth` runs it (validator off, cdk-nag on;
cfn-lint runs in `make test` and `make lint` instead).
Prints the median (and the fastest) of BENCH_RUNS runs each, default 5, alternating the two,
and the ratio of the medians; docs/benchmarks.md quotes this output.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.cdk_cli import CDK, ROOT, cli_env

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
ENV = cli_env(validation=True)  # the hello world keeps CDK's defaults; make synth sets its own


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=ENV, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    cdk = str(CDK)
    hello_dir = ROOT / "bench" / "synth_baseline"
    hello: list[float] = []
    ours: list[float] = []
    for _ in range(RUNS):  # alternating, so a change in machine load hits both alike
        hello.append(timed([cdk, "synth", "--no-notices", "--quiet", "-o", "/tmp/hello-cdk.out"], hello_dir))
        ours.append(timed(["make", "--no-print-directory", "synth"], ROOT))
    print(f"median of {RUNS} runs each (BENCH_RUNS={RUNS})")
    print(f"{'app':<44}{'median s':>10}{'min s':>8}")
    for label, times in (("hello world, 1 bucket, CDK defaults", hello),
                         ("make synth (3 stacks, cdk-nag, cost line)", ours)):
        print(f"{label:<44}{statistics.median(times):>10.1f}{min(times):>8.1f}")
    print(f"make synth / hello world (medians): {statistics.median(ours) / statistics.median(hello):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
