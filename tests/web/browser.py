"""Headless Chromium from the Debian packages (chromium, chromium-driver), driven by Selenium.

``.ci/run`` installs both with apt when they are missing. Selenium is told where the driver and
the browser are, so it never runs Selenium Manager (which would try to download a browser).
"""

from __future__ import annotations

import os
import shutil
from typing import Any

BROWSER_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
DRIVER_CANDIDATES = ("/usr/bin/chromedriver",)
WINDOW = (1200, 900)


def _first(paths: tuple[str, ...], name: str) -> str | None:
    return next((p for p in paths if os.access(p, os.X_OK)), None) or shutil.which(name)


def find_browser() -> tuple[str, str] | str:
    """(browser, driver) paths, or why they cannot be used."""
    browser = _first(BROWSER_CANDIDATES, "chromium")
    driver = _first(DRIVER_CANDIDATES, "chromedriver")
    missing = [package for package, path in (("chromium", browser), ("chromium-driver", driver))
               if path is None]
    if missing:
        return (f"Debian's {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not "
                f"installed (apt-get install chromium chromium-driver; .ci/run does it in CI)")
    assert browser is not None and driver is not None
    return browser, driver


def start_browser(browser: str, driver: str, window: tuple[int, int] = WINDOW) -> Any:
    """A headless Chromium session; quit() it when done."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--disable-extensions", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-default-apps", "--disable-sync",
                     "--metrics-recording-only", "--hide-scrollbars", "--mute-audio",
                     "--force-device-scale-factor=1", f"--window-size={window[0]},{window[1]}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console errors, CSP violations
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)
