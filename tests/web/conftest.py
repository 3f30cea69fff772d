"""The web page in a real browser: one headless Chromium per test session (per xdist worker),
shared by every test; two small trained deployments served with the page.

- ``numeric_site``: the session's two-variant numeric deployment (tests/conftest.py, diabetes
  columns, plus a variant whose model cannot load) behind the local request path.
- ``reviews_site``: a reviews-like deployment trained here: a text field, a categorical one that
  refuses unseen categories, and a challenger that also reads a number the champion does not.

The browser tests skip when Chromium or its driver is missing, saying so, but only outside CI:
with ``CI`` set (``.ci/run`` exports it) they fail instead.
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.predict.conftest import aws_env  # noqa: F401 (the fake-credentials fixture, shared)
from tests.web.browser import find_browser, start_browser

WAIT_S = 15.0
POSITIVE = ["gorgeous", "witty", "moving", "funny", "clever", "tender", "great", "fresh"]
NEGATIVE = ["dull", "slow", "clumsy", "tired", "bland", "silly", "awful", "flat"]
NEUTRAL = ["film", "plot", "cast", "story", "music", "ending", "scenes", "director"]
GENRES = ["drama", "comedy", "horror"]
MAX_CHARS = 300

REVIEWS_CONFIG = """
[project]
prefix = "xgb-web"

[[variants]]
name = "champion"
manifest = "{runs}/champion/latest/manifest.json"
weight = 0.6

[[variants]]
name = "challenger"
manifest = "{runs}/challenger/latest/manifest.json"
weight = 0.4
"""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    found = find_browser()
    if isinstance(found, str):
        if in_ci():
            pytest.fail(f"CI is set and the browser tests cannot run: {found}", pytrace=False)
        pytest.skip(f"browser tests skipped outside CI: {found}")
    driver = start_browser(*found)
    try:
        yield driver
    finally:
        driver.quit()


@dataclass
class Site:
    name: str  # numeric | reviews
    url: str  # the page's server: http://127.0.0.1:port
    config: Any
    prepared: Path


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def open_page(driver: Any, url: str, width: int = 1200, height: int = 900) -> None:
    """Load the page at ``url`` at this window size and wait until its form is drawn."""
    driver.set_window_size(width, height)
    driver.get(url + "/")
    wait_for(lambda: driver.execute_script("return document.body.getAttribute('data-ready')"),
             "the form to be drawn from /spec")


@pytest.fixture(scope="session")
def numeric_site(deployment: Any) -> Iterator[Site]:
    from local.stack import running

    with running(deployment.config, prepared=deployment.prepared.directory) as stack:
        yield Site("numeric", stack.api_url, deployment.config, deployment.prepared.directory)


def _reviews_table(path: Path, rows: int = 240) -> None:
    rng = np.random.default_rng(14)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review", "genre", "runtime", "rating"])
        for _ in range(rows):
            good, bad = int(rng.integers(0, 4)), int(rng.integers(0, 4))
            words = (list(rng.choice(POSITIVE, size=good)) + list(rng.choice(NEGATIVE, size=bad))
                     + list(rng.choice(NEUTRAL, size=int(rng.integers(2, 6)))))
            rng.shuffle(words)
            genre = GENRES[int(rng.integers(0, len(GENRES)))]
            runtime = float(rng.normal(110, 15))
            rating = good - bad + (0.5 if genre == "comedy" else 0) + (runtime - 110) / 30
            writer.writerow(["The " + " ".join(words) + ".", genre, f"{runtime:.1f}", f"{rating:.3f}"])


@pytest.fixture(scope="session")
def reviews_deployment(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """Champion: review (text) and genre (categorical, unseen refused), CSV. Challenger: the
    same and runtime (numeric), libsvm. Both prepared from one split."""
    from contract.config import load_config
    from contract.encoding import FitOptions
    from training import data, hyperparameters, local_runs
    from training.defaults import DEFAULT_REGION

    root = tmp_path_factory.mktemp("web-reviews")
    _reviews_table(root / "reviews.csv")
    table = data.load_table(str(root / "reviews.csv"), "rating")
    options = FitOptions(vocabulary_size=30, min_category_count=1, unseen="reject", max_chars=MAX_CHARS)
    kinds = {"review": "text", "genre": "categorical", "runtime": "numeric"}
    choices = {"champion": data.ColumnChoices(kinds=kinds, drop=("runtime",), input_format="csv",
                                              options=options),
               "challenger": data.ColumnChoices(kinds=kinds, input_format="libsvm", options=options)}
    prepared_dirs = {}
    for variant, choice in choices.items():
        prepared = data.write_prepared(table, root / f"prepared-{variant}", choices=choice)
        local_runs.train_run(prepared, root / "runs", variant,
                             hyperparameters.with_overrides(["num_round=20"]), "3.0-5", DEFAULT_REGION)
        prepared_dirs[variant] = prepared.directory
    (root / "config.toml").write_text(REVIEWS_CONFIG.format(runs=root / "runs"))
    return load_config(root / "config.toml"), prepared_dirs["challenger"]


@pytest.fixture(scope="session")
def reviews_site(reviews_deployment: tuple[Any, Path]) -> Iterator[Site]:
    from local.stack import running

    config, prepared = reviews_deployment
    with running(config, prepared=prepared) as stack:
        yield Site("reviews", stack.api_url, config, prepared)
