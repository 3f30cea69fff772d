"""`make bench-local`: 8 concurrent clients, 5000 requests through the local request path.

The local stack (`xgbapi serve`: API front + real handler + local runtime) runs in its
own process, as `make serve-local` runs it; the clients are threads here with one keep-alive
connection each, each request one row as a JSON object. Prints throughput and latency
percentiles; any non-200 answer is counted and fails the run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contract.config import DEFAULT_CONFIG_PATH, load_config  # noqa: E402
from contract.encoding import json_row  # noqa: E402
from contract.prepared import read_test_split  # noqa: E402
from local.client import ApiClient  # noqa: E402
from local.demo import percentile  # noqa: E402

CLIENTS, REQUESTS = 8, 5000


def main() -> int:
    config = load_config(DEFAULT_CONFIG_PATH)
    test = read_test_split(ROOT / "data" / "prepared")
    if test.spec != config.input_spec:
        raise SystemExit("data/prepared does not match the default config's models: run make train")
    rows = [json.dumps({"instances": [json_row(test.spec, cells)]}).encode() for cells in test.raw_rows]
    server = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--api-port", "0",
                               "--runtime-port", "0"], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    assert server.stdout is not None
    url = next(m[1] for line in server.stdout
               if (m := re.match(r"ready: POST (http://[\d.:]+)/predict", line)))
    threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()  # drain logs
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        api = ApiClient(url)
        mine, bad = [], []
        for n in range(REQUESTS // CLIENTS):
            status, _, _, seconds = api.post("/predict", rows[(index + n) % len(rows)])
            mine.append(seconds)
            if status != 200:
                bad.append(status)
        api.close()
        with lock:
            latencies.extend(mine)
            failures.extend(bad)

    try:
        start = time.perf_counter()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(timeout=30)
    ms = [s * 1000 for s in latencies]
    print(f"{CLIENTS} clients, {len(latencies)} requests, {len(failures)} errors, {elapsed:.1f} s")
    print(f"throughput {len(latencies) / elapsed:.0f} requests/s; latency p50 {percentile(ms, .5):.1f} ms, "
          f"p90 {percentile(ms, .9):.1f} ms, p99 {percentile(ms, .99):.1f} ms, max {max(ms):.1f} ms")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
