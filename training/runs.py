"""Run directories: runs/<variant>/<run id>/ with model.tar.gz and manifest.json.

A run is assembled in a hidden staging directory and renamed into place in one step, so a run
directory either holds a complete run or does not exist. Runs are never overwritten: the run id
is a UTC timestamp plus random hex, and the rename refuses an existing target. ``latest`` is a
relative symlink, repointed atomically (a new link renamed over the old one).
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from contract.documents import VARIANT_NAME
from contract.errors import CliError

LATEST = "latest"


def new_run_id(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


def check_variant(variant: str) -> str:
    if not VARIANT_NAME.match(variant):
        raise CliError(f"variant {variant!r} is not a SageMaker variant name",
                       "use 1-63 letters, digits and single hyphens, e.g. champion")
    return variant


@contextmanager
def staged_run(runs_dir: Path, variant: str, run_id: str) -> Iterator[Path]:
    """Yield a staging directory; on success it becomes runs_dir/variant/run_id, else vanishes."""
    variant_dir = Path(runs_dir) / check_variant(variant)
    variant_dir.mkdir(parents=True, exist_ok=True)
    final = variant_dir / run_id
    if final.exists():
        raise CliError(f"run directory {final} already exists", "runs are never overwritten; retry")
    staging = Path(tempfile.mkdtemp(dir=variant_dir, prefix=f".staging-{run_id}-"))
    try:
        yield staging
        staging.chmod(0o755)  # mkdtemp makes it private; a run directory is ordinary project output
        os.rename(staging, final)  # fails rather than replacing if final appeared meanwhile
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def point_latest(runs_dir: Path, variant: str, run_id: str) -> Path:
    variant_dir = Path(runs_dir) / variant
    link = variant_dir / LATEST
    temporary = variant_dir / f".{LATEST}-{secrets.token_hex(4)}"
    os.symlink(run_id, temporary)  # relative: the runs tree can move or be copied as a whole
    os.replace(temporary, link)
    return link
