"""The browser harness itself: without Debian's chromedriver the web app tests fail with what to install."""

from __future__ import annotations

import shutil

import pytest

from tests.integration.web.driving import chromedriver_binary


def test_chromedriver_missing_fails_with_install_hint(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)

    with pytest.raises(pytest.fail.Exception, match="apt-get install chromium-driver"):
        chromedriver_binary()


def test_chromedriver_found_is_debians_binary():
    path = chromedriver_binary()

    assert shutil.which("chromedriver") == path
