"""Run directories: runs/<variant>/<run id>/ with model.tar.gz and manifest.json.

A run is assembled in a hidden staging directory and renamed into place in one step, so a run
directory either holds a complete run or does not exist. Runs are never overwritten: the run id
is a UTC timestamp plus random hex, and the rename refuses an existing target. ``latest`` is a
relative symlink, repointed atomically (a new link renamed over the old one).
"""

from __future__ import annotations

import io
import os
import re
import secrets
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from contract.errors import CliError

LATEST = "latest"
MODEL_MEMBER = "xgboost-model"  # the only file the built-in container may find in the archive
_VARIANT = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # SageMaker's variant-name pattern


def new_run_id(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


def check_variant(variant: str) -> str:
    if not _VARIANT.match(variant):
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


def write_model_archive(model_bytes: bytes, directory: Path, name: str = "model.tar.gz") -> Path:
    """model.tar.gz with exactly one member, xgboost-model, at the archive root."""
    path = Path(directory) / name
    info = tarfile.TarInfo(MODEL_MEMBER)
    info.size = len(model_bytes)
    info.mode = 0o644
    with tarfile.open(path, "w:gz") as archive:
        archive.addfile(info, io.BytesIO(model_bytes))
    return path


def read_model_archive(path: Path) -> bytes:
    with tarfile.open(path, "r:gz") as archive:
        members = archive.getmembers()
        if [m.name for m in members] != [MODEL_MEMBER] or not members[0].isfile():
            raise CliError(f"{path} must hold exactly one file named {MODEL_MEMBER}",
                           "re-train the run; the built-in container loads every file as a model")
        handle = archive.extractfile(members[0])
        assert handle is not None
        return handle.read()
