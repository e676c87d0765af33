"""Screenshots of the web app for the README: `.venv/bin/python scripts/screenshots.py [DIR]`.

Starts a kurir of its own (SQLite, a temporary data directory), signs two people up in
headless Chromium (Debian's, /usr/bin/chromium) and writes to DIR (docs/screenshots/):

  auth.png        the sign-up screen
  main.png        the main screen with a conversation open (desktop size)
  dark-phone.png  the same conversation on a phone-size screen in the dark theme

It uses the end-to-end tests' helpers, so a screenshot is taken only once the screen is
what a person would see (no fixed waits).
"""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from playwright.sync_api import Browser, sync_playwright  # noqa: E402

from tests.server import Server  # noqa: E402
from tests.web_support import PHONE, launch_chromium, log_in, new_context, sign_up  # noqa: E402

DESKTOP = {"width": 1280, "height": 800}
CONVERSATION = [
    ("alice", "Hi Bob! Are we still on for the climb on Saturday?"),
    ("bob", "Yes! I'll bring the rope and the quickdraws."),
    ("alice", "Great. Meet at the crag car park at 8?"),
    ("bob", "See you there!"),
]


def main(out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    server = Server("sqlite").start()
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            try:
                shoot(browser, server, out_dir)
            finally:
                browser.close()
    finally:
        server.drop()


def shoot(browser: Browser, server: Server, out_dir: str) -> None:
    context = new_context(browser, viewport=DESKTOP)
    page = context.new_page()
    page.goto(server.url + "/")
    page.get_by_role("button", name="Sign up").wait_for()
    page.screenshot(path=os.path.join(out_dir, "auth.png"))
    context.close()

    alice = sign_up(browser, server, "Alice Wibowo", viewport=DESKTOP)
    bob = sign_up(browser, server, "Bob Santoso", viewport=DESKTOP)
    alice.open_chat_by_search(bob.username, bob.display_name)
    alice.send(CONVERSATION[0][1])
    bob.open_dialog(alice.display_name)
    for who, text in CONVERSATION[1:]:
        (alice if who == "alice" else bob).send(text)
        (bob if who == "alice" else alice).expect_message(text)
    alice.page.screenshot(path=os.path.join(out_dir, "main.png"))

    account = {"user": {"id": bob.id, "username": bob.username,
                        "display_name": bob.display_name}, "token": bob.token}
    phone = log_in(browser, server, account, viewport=PHONE, color_scheme="dark",
                   device_scale_factor=2, is_mobile=True, has_touch=True)
    phone.open_dialog(alice.display_name)
    phone.expect_message(CONVERSATION[-1][1])
    phone.page.screenshot(path=os.path.join(out_dir, "dark-phone.png"))
    for person in (alice, bob, phone):
        person.context.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "docs", "screenshots"))
