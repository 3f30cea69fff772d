"""Where a person finds the page: `xgbapi serve` / `make serve-local` print its address, `make
demo` ends by naming it, and `make serve-local` passes the prepared data its test rows come from."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import urllib.request
from typing import Any

from tests.conftest import ROOT


def test_serve_prints_the_page_and_serves_it(deployment: Any) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--config", deployment.config.source, "--api-port", "0",
         "--runtime-port", "0", "--prepared", str(deployment.prepared.directory)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    printed = []
    try:
        for line in process.stdout:
            printed.append(line)
            if line.startswith("ready: "):
                break
        page = re.search(r"^  page: (http://127\.0\.0\.1:\d+)/  \(try the model in a browser; test rows "
                         rf"from {re.escape(str(deployment.prepared.directory))}\)$", "".join(printed), re.M)
        assert page, "".join(printed)
        assert printed[-1].startswith(f"ready: POST {page[1]}/predict")
        with urllib.request.urlopen(page[1] + "/", timeout=10) as response:
            assert response.headers["Content-Type"] == "text/html; charset=utf-8"
            assert b"Fill from a test row" in response.read()
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "stopped: both servers closed" in out
    assert "warning" not in err  # loopback: nothing to warn about


def make_dry_run(*args: str) -> list[str]:
    result = subprocess.run(["make", "--no-print-directory", "-n", *args], cwd=ROOT, check=True,
                            capture_output=True, text=True)
    return result.stdout.splitlines()


def test_make_serve_local_passes_the_prepared_data() -> None:
    assert make_dry_run("serve-local")[-1].startswith(
        ".venv/bin/xgbapi serve --config config/default.toml --prepared data/prepared")
    assert "--prepared data/prepared-reviews" in make_dry_run("serve-local", "EXAMPLE=reviews")[-1]


def test_make_demo_ends_by_naming_the_page() -> None:
    assert make_dry_run("demo", "EXAMPLE=reviews", "API_PORT=9090")[-1] == (
        'echo "try the model in a browser: make serve-local EXAMPLE=reviews, then open '
        'http://127.0.0.1:9090/ (docs/web.md)"')
    assert "make serve-local, then open http://127.0.0.1:8080/" in make_dry_run("demo")[-1]
