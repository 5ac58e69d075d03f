"""Driving the web app in Debian's headless Chromium through Debian's chromedriver: the browser as a person uses it
(open a route, fill, click, wait with deadlines, read, take a screenshot)."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest

from tests.integration.browser import ARTIFACTS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DESKTOP = (1280, 1000)
PHONE = (375, 812)


def chromedriver_binary() -> str:
    path = shutil.which("chromedriver")
    if not path:
        pytest.fail("Debian's chromedriver is needed for the web app tests: `apt-get install chromium-driver` "
                    "(.ci/run installs it with chromium)")
    return path


class Browser:
    """The app as a person sees it: open a route, fill, click, wait (never sleep), read, take a screenshot."""

    def __init__(self, driver, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url

    # -------------------------------------------------------------- navigation and state
    def reset(self) -> None:
        self.phone(False)
        self.driver.get(f"{self.base_url}/")
        self.driver.execute_script("localStorage.clear(); sessionStorage.clear();")
        self.driver.get_log("browser")  # start each test with an empty console

    def open(self, route: str = "/") -> None:
        """A full page load of `#<route>` (never only a hash change), so the app starts from scratch."""
        self.driver.get("about:blank")
        self.driver.get(f"{self.base_url}/#{route}")
        self.wait_for(lambda d: d.execute_script("return document.getElementById('main')"
                                                 " && !document.getElementById('main').hasAttribute('aria-busy')"),
                      what=f"{route} to render")

    def sign_in(self, token: str, user: dict) -> None:
        """Signed in as the app keeps it (localStorage), without going through the form."""
        self.driver.execute_script("localStorage.setItem('careforall.token', arguments[0]);"
                                   "localStorage.setItem('careforall.user', JSON.stringify(arguments[1]));",
                                   token, user)

    def storage(self, key: str) -> str | None:
        return self.driver.execute_script("return localStorage.getItem(arguments[0])", key)

    def storage_json(self, key: str):
        return self.driver.execute_script("return JSON.parse(localStorage.getItem(arguments[0]))", key)

    def phone(self, on: bool = True) -> None:
        if on:
            self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 1, "mobile": True})
        else:
            self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    # -------------------------------------------------------------- reading and waiting
    def wait_for(self, condition, *, timeout: float = 15, what: str = "the page"):
        from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        # The app re-renders whole regions (the nav after sign-in, a list after a push): an element found
        # an instant before may be gone when the condition reads it. That is "not yet", so poll again.
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1,
                                 ignored_exceptions=(StaleElementReferenceException,)).until(condition)
        except TimeoutException:
            raise AssertionError(f"{what} did not happen within {timeout} s; page shows:\n"
                                 f"{self.text('main')[:1500]}") from None

    def element(self, css: str, *, timeout: float = 15):
        from selenium.webdriver.common.by import By

        return self.wait_for(lambda d: (d.find_elements(By.CSS_SELECTOR, css) or [None])[0], timeout=timeout,
                             what=f"an element {css!r}")

    def elements(self, css: str) -> list:
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css: str) -> str:
        from selenium.common.exceptions import StaleElementReferenceException

        for _ in range(2):  # re-rendered between finding and reading: find it again
            try:
                return self._first_text(css)
            except StaleElementReferenceException:
                pass
        return self._first_text(css)

    def _first_text(self, css: str) -> str:
        found = self.elements(css)
        return found[0].text if found else ""

    def wait_for_text(self, css: str, expected: str, *, timeout: float = 15) -> str:
        self.wait_for(lambda d: expected in self.text(css), timeout=timeout,
                      what=f"{expected!r} in {css!r} (it shows {self.text(css)!r})")
        return self.text(css)

    def attribute(self, css: str, name: str):
        found = self.elements(css)
        return found[0].get_attribute(name) if found else None

    def fill(self, values: dict[str, str], *, within: str = "main") -> None:
        from selenium.webdriver.support.ui import Select

        for name, value in values.items():
            control = self.element(f"{within} [name='{name}']")
            if control.tag_name == "select":
                Select(control).select_by_value(value)
            else:
                control.clear()
                control.send_keys(value)

    def script(self, source: str, *args):
        return self.driver.execute_script(source, *args)

    def script_errors(self) -> list[str]:
        return [entry["message"] for entry in self.driver.get_log("browser")
                if entry.get("level") == "SEVERE" and "Uncaught" in entry.get("message", "")]

    def no_horizontal_overflow(self) -> tuple[int, int]:
        return tuple(self.script("return [document.documentElement.scrollWidth, window.innerWidth]"))

    # -------------------------------------------------------------- the donate form
    def donate(self, amount: str, *, email: str | None = None, name: str | None = None,
               method: str = "pm_card_visa") -> None:
        """Fills the campaign page's donate form (email only for guests) and clicks Donate once."""
        self.element("#donate-form")
        values = {"amount": amount, "payment_method": method}
        if email is not None:
            values["donor_email"] = email
        if name is not None:
            values["donor_name"] = name
        self.fill(values, within="#donate-form")
        self.element("#donate-button").click()

    def pledge_status(self) -> str | None:
        return self.attribute("#pledge-status", "data-status")

    def wait_for_pledge_status(self, status: str, *, timeout: float = 90) -> str:
        self.wait_for(lambda d: self.pledge_status() == status, timeout=timeout,
                      what=f"the pledge status {status} on the page (it shows {self.pledge_status()})")
        return self.text("#pledge-id")

    # -------------------------------------------------------------- artefacts
    def screenshot(self, name: str) -> Path:
        """A PNG of the whole page (not only the viewport) under test-artifacts/screenshots/web-<name>.png,
        taken through the DevTools protocol; asserts it is a PNG."""
        path = ARTIFACTS / "screenshots" / f"web-{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 5000), "scale": 1}})
        path.write_bytes(base64.b64decode(shot["data"]))
        assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
        return path
