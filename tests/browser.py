"""A real headless Chromium (Debian's `chromium` and `chromedriver`, installed when missing) for the tests that
look at HTML: the run report and the documentation site. No host name resolves: a page must work offline."""

from __future__ import annotations

import shutil

from system_packages import ensure_installed


def chromium(resolve_localhost: bool = False):
    """A headless Chromium driven by selenium; `resolve_localhost` lets it reach a server on 127.0.0.1."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    ensure_installed(("chromium", "chromedriver"), ("chromium", "chromium-driver"))
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    rules = "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" if resolve_localhost else "MAP * ~NOTFOUND"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,2400",
                 f"--host-resolver-rules={rules}"):  # offline: no host name resolves
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
