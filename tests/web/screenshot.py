"""``make screenshot``: the web page of a trained example, as docs/web.png.

Serves the config's variants on loopback (``make train`` first), opens the page in headless
Chromium, fills it from the first held-out row, compares the variants, predicts for one
assignment key, and saves the whole page as a PNG:

    .venv/bin/python tests/web/screenshot.py --config config/reviews.toml \\
        --prepared data/prepared-reviews --out docs/web.png
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from browser import find_browser, start_browser  # this folder (the script's own, on sys.path)

WIDTH = 1280


def _wait(predicate: Callable[[], Any], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshot: timed out waiting for {what}")
        time.sleep(0.05)


def take(url: str, out: Path, key: str) -> None:
    from selenium.webdriver.common.by import By

    found = find_browser()
    if isinstance(found, str):
        raise SystemExit(f"screenshot: {found}")
    driver = start_browser(*found, window=(WIDTH, 900))
    try:
        driver.get(url + "/")
        _wait(lambda: driver.execute_script("return document.body.getAttribute('data-ready')"), "the form")
        if driver.find_element(By.ID, "fill").is_enabled():
            driver.find_element(By.ID, "fill").click()
            _wait(lambda: "Test row" in driver.find_element(By.ID, "status").text, "a test row")
        driver.find_element(By.ID, "compare").click()

        def answered() -> bool:
            cards = driver.find_elements(By.CSS_SELECTOR, "#cards .card")
            return bool(cards) and all(c.get_attribute("data-status") for c in cards)

        _wait(answered, "every variant's answer")
        driver.find_element(By.ID, "assignment-key").send_keys(key)
        driver.find_element(By.ID, "predict").click()
        _wait(lambda: driver.find_element(By.ID, "result").is_displayed()
              or driver.find_element(By.ID, "message").is_displayed(), "the prediction")
        driver.execute_script("document.activeElement.blur(); window.scrollTo(0, 0);")
        for _ in range(3):  # the window's size holds the viewport and the browser's frame
            height = driver.execute_script("return document.documentElement.scrollHeight")
            inner = driver.execute_script("return window.innerHeight")
            if inner >= height:
                break
            driver.set_window_size(WIDTH, driver.get_window_size()["height"] + int(height) - int(inner))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(driver.get_screenshot_as_png())
    finally:
        driver.quit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--prepared", default=None)
    parser.add_argument("--out", default="docs/web.png")
    parser.add_argument("--key", default="user-8812", help="the assignment key the prediction uses")
    args = parser.parse_args()
    from contract.config import load_config
    from local.stack import running

    with running(load_config(args.config), prepared=args.prepared) as stack, \
            contextlib.redirect_stdout(io.StringIO()):  # the handler's JSON log lines
        take(stack.api_url, Path(args.out), args.key)
    print(f"screenshot: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
