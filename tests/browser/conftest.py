"""A real headless Chromium (Debian's chromium + chromium-driver) driven by selenium.

Never skipped: without the browser these tests fail, naming the packages (``make browser``
installs them where it can). Nothing is downloaded at run time: the driver is the one on
PATH, so selenium's own driver manager never runs.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

MISSING = (
    "headless Chromium not found ({what}): install the Debian/Ubuntu packages chromium and "
    "chromium-driver (`make browser` does, as root or with sudo)"
)


def _find(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(MISSING.format(what=" or ".join(names)))


class Browser:
    """One Chrome session; ``downloads`` is where a page's saved files land."""

    def __init__(self, driver: webdriver.Chrome, downloads: Path) -> None:
        self.driver = driver
        self.downloads = downloads

    def requested_urls(self) -> list[str]:
        """Every URL the page asked the network for since the last call (performance log)."""
        urls = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                urls.append(message["params"]["request"]["url"])
        return urls

    def console_errors(self) -> list[str]:
        return [e["message"] for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]

    def width(self, width: int, height: int = 900) -> None:
        self.driver.set_window_size(width, height)


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    options = webdriver.ChromeOptions()
    options.binary_location = _find("chromium", "chromium-browser", "google-chrome")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    options.add_argument("--window-size=1280,900")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    downloads = tmp_path_factory.mktemp("downloads")
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads)})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=_find("chromedriver")))
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    try:
        yield Browser(driver, downloads)
    finally:
        driver.quit()


@pytest.fixture
def page(browser: Browser) -> Iterator[Any]:
    browser.width(1280)
    browser.requested_urls()  # start each test with an empty log
    browser.console_errors()
    yield browser
    for stale in browser.downloads.iterdir():
        stale.unlink()
