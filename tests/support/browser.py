"""Headless Chromium driven by Selenium: Debian's ``chromium`` + ``chromium-driver``, no downloads.

Without them a test skips with the reason, except in CI (``CI`` set), where it fails:
``deploy/test.sh`` installs them as root, so a missing browser there is a real failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM_BINARY", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")


def _missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).exists() or shutil.which(path)):
            return f"{path} not installed (apt-get install chromium chromium-driver)"
    return None


@contextmanager
def chromium(width: int = 1280, height: int = 800) -> Iterator[object]:
    """A headless Chromium window of ``width``×``height`` CSS pixels."""
    reason = _missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={width},{height}", "--force-device-scale-factor=1", "--lang=en-US"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(10)  # find_element waits for a page still loading after a click
    # The viewport itself is width×height (a window size would include the browser's frame).
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    try:
        yield driver
    finally:
        driver.quit()


def follow(driver: Any, element: Any, timeout: float = 30.0) -> None:
    """Click ``element`` and wait until the browser has left the page (a link or a form post).

    Reading ``current_url`` or the new page right after ``click()`` races the navigation
    on a loaded machine; waiting for the old document to go stale does not.
    """
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, timeout).until(lambda _: _has_left(page))


def _has_left(page: Any) -> bool:
    """Whether the document ``page`` belongs to is gone.

    Selenium's ``staleness_of`` knows only the stale-element error; mid-navigation Chromium
    can answer instead that the node "does not belong to the document", which means the same.
    Any other error is a page still in between: keep waiting.
    """
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        page.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        return "does not belong to the document" in (error.msg or "")
    return False

