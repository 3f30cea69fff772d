"""Identical inputs give byte-identical templates: no timestamps, random values or AWS calls.

The second synth runs in a fresh interpreter with another string hash seed, so an iteration
over a set or anything else that follows ``hash()`` would show as a difference.
"""

import os
import subprocess
import sys

from tests.conftest import ROOT

# tests/conftest.py loaded by path: another installed distribution may own the name "tests".
SYNTH = """
import importlib.util, sys
from pathlib import Path
spec = importlib.util.spec_from_file_location("conftest", "tests/conftest.py")
conftest = sys.modules["conftest"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(conftest)
print(hash("xgb-sagemaker-api"))
conftest.synthesize(conftest.TEST_CONFIG, Path(sys.argv[1]))
"""


def test_two_synths_are_byte_identical(synthesized, tmp_path):
    # This process's seed is random unless PYTHONHASHSEED is set; the child's is another fixed one.
    given = os.environ.get("PYTHONHASHSEED", "")
    seed = str(int(given) + 1) if given.isdigit() else "1"
    result = subprocess.run([sys.executable, "-c", SYNTH, str(tmp_path / "again")], cwd=ROOT,
                            env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout.split()[0]) != hash("xgb-sagemaker-api")  # the hash seeds differ
    first = sorted(p.name for p in synthesized.outdir.glob("*.template.json"))
    assert first == sorted(p.name for p in (tmp_path / "again").glob("*.template.json"))
    assert len(first) == 3
    for name in first:
        assert (synthesized.outdir / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name
