"""The model archive the built-in XGBoost container loads: ``model.tar.gz``.

It must hold exactly one file, ``xgboost-model``, at the archive root: the container loads
every other non-dot file as another booster (an extra file makes ``/ping`` fail). Training
writes archives with :func:`write_model_archive`; the local runtime reads them like the
container with :func:`read_model_archive`.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from contract.errors import CliError

ARTIFACT_FILENAME = "model.tar.gz"
MODEL_MEMBER = "xgboost-model"


def write_model_archive(model_bytes: bytes, directory: Path, name: str = ARTIFACT_FILENAME) -> Path:
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
