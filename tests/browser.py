"""Headless Chromium for the dashboard's tests: Debian's chromium package driven by Playwright
(never a browser Playwright downloads), a page object that signs in and saves screenshots as
test artefacts, and the page errors a test must not leave behind.

Chromium missing fails the tests with how to install it (``.ci/run`` installs it); set
``PERFLEDGER_SKIP_BROWSER=1`` to skip them instead on a machine without it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

CHROMIUM = Path(os.environ.get("PERFLEDGER_CHROMIUM", "/usr/bin/chromium"))
# No sandbox: CI runs as root in a container, where Chromium's sandbox cannot start. The rest
# keeps a test run from reaching the network (component updates, sync, first-run fetches).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = (
    Path(os.environ.get("PERFLEDGER_ARTIFACTS", Path(__file__).parents[1] / "test-artifacts"))
    / "dashboard"
)
# A reader east of UTC, so that the pages' moments are converted with a time zone.
TIMEZONE = "Europe/Berlin"


def chromium_executable() -> Path:
    """Debian's Chromium, or the test fails saying how to get it (skips only when asked to)."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    message = (
        f"the dashboard's browser tests need headless Chromium at {CHROMIUM}: "
        "apt-get install --no-install-recommends chromium (.ci/run installs it)"
    )
    if os.environ.get("PERFLEDGER_SKIP_BROWSER") == "1":
        pytest.skip(f"{message}; skipped because PERFLEDGER_SKIP_BROWSER=1")
    pytest.fail(message)


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    executable = chromium_executable()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(executable), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


class Dashboard:
    """One browser tab on the dashboard; remembers every URL it asked for and every script
    error it hit."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.urls: list[str] = []
        self.script_errors: list[str] = []
        page.on("request", lambda request: self.urls.append(request.url))
        page.on("websocket", lambda socket: self.urls.append(socket.url))
        page.on("pageerror", lambda error: self.script_errors.append(str(error)))

    async def open(self) -> None:
        await self.page.goto(self.base_url + "/")
        await expect(self.page.get_by_role("heading", name="Sign in")).to_be_visible()

    async def sign_in(self, token: str) -> None:
        await self.open()
        await self.page.get_by_label("Bearer token", exact=True).fill(token)
        await self.page.get_by_role("button", name="Sign in", exact=True).click()
        await expect(self.page.locator("#sign-out")).to_be_visible()

    async def view(self, label: str) -> None:
        """Open a view from the navigation bar and wait until its heading shows."""
        await (
            self.page.get_by_role("navigation", name="Dashboard views")
            .get_by_role("link", name=label)
            .click()
        )
        await expect(self.page.get_by_role("heading", level=1)).to_have_text(label)

    async def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path


@contextlib.asynccontextmanager
async def dashboard(browser: Browser, base_url: str) -> AsyncIterator[Dashboard]:
    """A fresh browser context (its own session storage) with one tab on the dashboard."""
    context = await browser.new_context(
        viewport={"width": 1360, "height": 900}, timezone_id=TIMEZONE, locale="en-GB"
    )
    context.set_default_timeout(20_000)
    try:
        yield Dashboard(await context.new_page(), base_url)
    finally:
        await context.close()
