"""`make bench-synth`: wall time of `make synth` against a one-bucket hello-world CDK app.

Both run through the pinned CDK CLI (`npx cdk synth`), the hello world with CDK's defaults
(built-in template validator on), ours as `make synth` runs it (validator off, cdk-nag on;
cfn-lint runs in `make test` and `make lint` instead).
Prints the median of N runs each.
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

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
ENV = cli_env(validation=True)  # the hello world keeps CDK's defaults; make synth sets its own


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=ENV, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    cdk = str(CDK)
    hello_dir = ROOT / "bench" / "synth_baseline"
    hello = [timed([cdk, "synth", "--no-notices", "--quiet", "-o", "/tmp/hello-cdk.out"], hello_dir)
             for _ in range(RUNS)]
    ours = [timed(["make", "--no-print-directory", "synth"], ROOT) for _ in range(RUNS)]
    print(f"{'app':<44}{'median s':>10}{'min s':>8}")
    for label, times in (("hello world, 1 bucket, CDK defaults", hello),
                         ("make synth (3 stacks, cdk-nag, cost line)", ours)):
        print(f"{label:<44}{statistics.median(times):>10.1f}{min(times):>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
