"""The web app in Debian's headless Chromium, driven by Selenium through Debian's chromedriver (never a downloaded
browser or driver: Selenium Manager is skipped because both paths are given). One browser for the session, a clean
origin (no token, no receipts) for each test, against the session's local stack."""

from __future__ import annotations

import shutil
import tempfile

import pytest

from tests.integration.browser import FLAGS, chromium_binary
from tests.integration.web.driving import DESKTOP, Browser, chromedriver_binary


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.web_call_failed = report.failed


@pytest.fixture(scope="session")
def driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="careforall-selenium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium_binary()
    for flag in [*FLAGS, f"--user-data-dir={profile}", f"--window-size={DESKTOP[0]},{DESKTOP[1]}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(service=Service(executable_path=chromedriver_binary()), options=options)
    chrome.set_page_load_timeout(30)
    chrome.set_script_timeout(30)
    try:
        yield chrome
    finally:
        chrome.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def browser(driver, stack, request) -> "Browser":
    page = Browser(driver, stack.base_url)
    page.reset()
    yield page
    if getattr(request.node, "web_call_failed", False):
        page.screenshot(f"failed-{request.node.name}"[:120])
    errors = page.script_errors()
    page.phone(False)
    assert not errors, f"uncaught errors in the page: {errors}"
