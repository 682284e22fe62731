"""Browser tests: the real embedded `kb serve` (started once for the module) driven in Debian's
headless Chromium through Playwright. No browser is downloaded: Playwright launches /usr/bin/chromium."""

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from bench.service import EmbeddedServer, embedded_env

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying to reach Google's hosts.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}


@dataclass
class Service:
    url: str
    key: str
    other_key: str  # a second workspace's

    def api(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key or self.key}"}, timeout=60
        )


@dataclass
class BrowserEvents:
    """What a page did that a test may forbid: dialogs opened, script errors, console errors."""

    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="session")
def kb_service(tmp_path_factory) -> Iterator[Service]:
    workdir = tmp_path_factory.mktemp("kb-ui")
    server = EmbeddedServer(workdir)
    try:
        created = subprocess.run(
            [sys.executable, "-m", "kb", "keys", "create", "--workspace", "globex"],
            cwd=workdir, env=embedded_env(), capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        yield Service(server.url, server.first_key(), created.stdout.strip())
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make test does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def events() -> BrowserEvents:
    return BrowserEvents()


@pytest.fixture
def page(browser, kb_service, events) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP, base_url=kb_service.url)
    opened = context.new_page()
    opened.set_default_timeout(30_000)

    def on_dialog(dialog) -> None:
        events.dialogs.append(dialog.message)
        # confirm() is how the UI asks before deleting; a test that expects it accepts it
        dialog.accept() if dialog.type == "confirm" else dialog.dismiss()

    opened.on("dialog", on_dialog)
    opened.on("pageerror", lambda error: events.errors.append(str(error)))
    opened.on(
        "console", lambda message: message.type == "error" and events.console_errors.append(message.text)
    )
    yield opened
    context.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory) -> Path:
    """`make screenshots` points KB_SCREENSHOT_DIR at docs/screenshots; otherwise they go to a temp dir."""
    configured = os.environ.get("KB_SCREENSHOT_DIR")
    path = Path(configured) if configured else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def sign_in(page: Page, key: str) -> None:
    page.goto("/ui/")
    page.fill("#api-key", key)
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:text-is('Datasets')")


def screenshots(page: Page, directory: Path, name: str) -> None:
    """The page at the desktop width (all of it) and at a phone's (the first screen)."""
    page.screenshot(path=str(directory / f"{name}.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(directory / f"{name}-phone.png"))
    page.set_viewport_size(DESKTOP)
