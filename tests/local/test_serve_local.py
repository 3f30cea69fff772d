"""`make serve-local` (xgbapi serve): ready line, serves, stops cleanly on SIGTERM/Ctrl-C."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT


def start(config_path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--config", str(config_path),
         "--api-port", "0", "--runtime-port", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        match = re.match(r"ready: POST (http://127\.0\.0\.1:\d+)/predict", line)
        if match:
            return process, match[1]
    process.kill()
    raise AssertionError(f"no ready line; stderr: {process.stderr.read() if process.stderr else ''}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serves_then_stops_cleanly(deployment, tmp_path, signum):
    config_path = tmp_path / "config.toml"
    config_path.write_text(Path(deployment.config.source).read_text())
    process, url = start(config_path)
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=10) as response:
            assert [v["name"] for v in json.load(response)["variants"]] == [
                "champion", "challenger", "broken"]
    finally:
        process.send_signal(signum)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "stopped: both servers closed" in out
    with pytest.raises(OSError):  # nothing is left listening
        urllib.request.urlopen(f"{url}/health", timeout=2)


def test_untrained_config_is_a_one_line_error(tmp_path):
    config_path = tmp_path / "config.toml"
    config_path.write_text('[project]\nprefix = "fresh"\n[[variants]]\nname = "a"\n'
                           'manifest = "runs/none/latest/manifest.json"\nweight = 1\n')
    result = subprocess.run([sys.executable, "-m", "cli", "serve", "--config", str(config_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("error: no trained model found")
    assert "Traceback" not in result.stderr
