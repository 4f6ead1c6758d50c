"""Headless Debian Chromium driven by Playwright (never ``playwright install``)."""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

CHROMIUM = os.environ.get("VMS_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def chromium_available() -> bool:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return False
    return Path(CHROMIUM).is_file()


@asynccontextmanager
async def chromium(width: int = 1280, height: int = 720) -> AsyncIterator:
    """A fresh browser context's page; the browser is closed on exit."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": width, "height": height})
            page = await context.new_page()
            page.on("console", lambda message: _console.append(f"{message.type}: {message.text}"))
            yield page
        finally:
            await browser.close()


_console: list[str] = []


def console_log() -> list[str]:
    """What pages printed to the console (handy in assertion messages)."""
    return list(_console)


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


async def wall_stats(page) -> list[dict]:
    return await page.evaluate("window.vmsWall ? window.vmsWall.stats() : []")
