"""Shared pieces of the web app's end-to-end tests: a live kurir, headless Chromium, people.

The app (kurir/web/static/) is driven the way a person uses it, through the accessible names
it promises (docs: the web issue's list of stable names), so a test that fails here means a
person, or a screen reader, could not do the same. Each person is a fresh browser context
(own storage, locale en-US) on one shared Chromium: Debian's build at /usr/bin/chromium,
which scripts/test.sh installs; a missing browser fails the tests, it never skips them.

Playwright's sync API is used on purpose: the tests are plain functions (pytest-asyncio's
loops stay out of it), and the browser runs on its own while a test talks HTTP to kurir, for
example as a bot answering a button that the page has just pressed.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from tests.server import Server

CHROMIUM = os.environ.get("KURIR_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PASSWORD = "correct horse battery"
WAIT_MS = 15_000  # the longest any one thing a person waits for may take
LIVE_MS = 10_000  # a message sent elsewhere must show up within this, without a reload
PHONE = {"width": 390, "height": 844}

# roles a person operates; each must carry a name (the accessibility smoke test)
CONTROL_ROLES = ("button", "textbox", "searchbox", "combobox", "checkbox", "radio", "link",
                 "switch", "slider", "spinbutton", "menuitem", "tab", "option")
_NAMELESS = re.compile(r"- (" + "|".join(CONTROL_ROLES) + r")(?=$|:| \[)")


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless; never a browser Playwright would download."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: scripts/test.sh installs Debian's chromium")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=CHROMIUM_ARGS)


def web_server() -> Iterator[Server]:
    """A kurir of the module's own on SQLite (the app is the same on either engine)."""
    srv = Server("sqlite").start()
    yield srv
    srv.drop()


def chromium_browser() -> Iterator[Browser]:
    """Debian's Chromium for a module's tests (register with pytest.fixture(scope="module"))."""
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


def crowd(browser: Browser, server: Server) -> Iterator[People]:
    """The people a test makes, each with a browser context of their own; closed after."""
    made = People(browser, server)
    yield made
    made.close()


def unique_username(prefix: str = "web") -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


# --- the API, for setting up what a test is not about ------------------------------------------

def api_call(server: Server, method: str, token: str | None = None, **params: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = httpx.post(f"{server.url}/api/v1/{method}", json=params, headers=headers, timeout=30)
    body = r.json()
    assert body["ok"], (method, params, body)
    return body["result"]


def api_register(server: Server, display_name: str) -> dict[str, Any]:
    """A user made over the API: {user, token, session_id}; its password is PASSWORD."""
    result: dict[str, Any] = api_call(server, "auth.register", username=unique_username(),
                                      password=PASSWORD, display_name=display_name)
    return result


def bot_call(server: Server, token: str, method: str, **params: Any) -> Any:
    """A Bot API call as a bot would make it (/bot<token>/<method>, JSON body)."""
    r = httpx.post(f"{server.url}/bot{token}/{method}", json=params, timeout=60)
    body = r.json()
    assert body["ok"], (method, params, body)
    return body["result"]


# --- people ------------------------------------------------------------------------------------

@dataclass
class Person:
    """Someone with the app open in a browser context of their own."""

    server: Server
    context: BrowserContext
    page: Page
    username: str
    display_name: str
    _token: str = field(default="", repr=False)
    _id: int = 0

    @property
    def token(self) -> str:
        """A token of a second session of this account, for API look-ups the test needs."""
        if not self._token:
            result = api_call(self.server, "auth.login", username=self.username,
                              password=PASSWORD, device="e2e test")
            self._token, self._id = result["token"], int(result["user"]["id"])
        return self._token

    @property
    def id(self) -> int:
        if not self._id:
            _ = self.token
        return self._id

    # screens
    @property
    def chats(self) -> Locator:
        return self.page.get_by_role("list", name="Chats")

    @property
    def messages(self) -> Locator:
        return self.page.get_by_role("log", name="Messages")

    @property
    def connection(self) -> Locator:
        return self.page.get_by_role("status", name="Connection")

    def dialog(self, title: str) -> Locator:
        """The entry of a chat in the "Chats" list (a button or a link named title first)."""
        name = re.compile("^" + re.escape(title))
        return (self.chats.get_by_role("button", name=name)
                .or_(self.chats.get_by_role("link", name=name)).first)

    def message(self, text: str) -> Locator:
        return self.messages.get_by_role("article").filter(has_text=text)

    # actions
    def open_chat_by_search(self, query: str, name: str) -> None:
        """Find someone (or a bot) with the "Search" box and open the chat with them."""
        search = self.page.get_by_role("searchbox", name="Search")
        search.fill(query)
        results = self.page.get_by_role("list", name="Search results")
        results.get_by_role("button", name=name).first.click()
        self.expect_conversation(name)

    def open_dialog(self, title: str) -> None:
        self.dialog(title).click()
        self.expect_conversation(title)

    def expect_conversation(self, title: str) -> None:
        expect(self.page.get_by_role("heading", level=2, name=title)).to_be_visible()
        expect(self.messages).to_be_visible()

    def send(self, text: str) -> None:
        """Type and press "Send"; the sender's own message shows at once."""
        composer = self.page.get_by_role("textbox", name="Message")
        composer.fill(text)
        self.page.get_by_role("button", name="Send").click()
        self.expect_message(text)
        expect(composer).to_have_value("")

    def expect_message(self, text: str, timeout: int = LIVE_MS) -> None:
        expect(self.message(text)).to_be_visible(timeout=timeout)

    def message_texts(self) -> list[str]:
        """The text of each message article shown, oldest first (with its time, name...)."""
        return [t.strip() for t in self.messages.get_by_role("article").all_inner_texts()]

    def assert_in_order(self, texts: list[str]) -> None:
        """Each text is a line of exactly one article, and those articles are in this order."""
        shown = [article.splitlines() for article in self.message_texts()]
        where = []
        for text in texts:
            hits = [i for i, lines in enumerate(shown) if text in (x.strip() for x in lines)]
            assert len(hits) == 1, (text, hits, shown)
            where.append(hits[0])
        assert where == sorted(where), (texts, shown)

    def expect_online(self) -> None:
        expect(self.connection).to_have_text("Online", timeout=WAIT_MS)


def new_context(browser: Browser, **options: Any) -> BrowserContext:
    """A browser context in English (en-US) unless options name another locale."""
    context = browser.new_context(**{"locale": "en-US", **options})
    context.set_default_timeout(WAIT_MS)
    return context


def sign_up(browser: Browser, server: Server, display_name: str,
            **context_options: Any) -> Person:
    """A new account made on the app's sign-up form in a fresh browser context."""
    context = new_context(browser, **context_options)
    page = context.new_page()
    page.goto(server.url + "/")
    username = unique_username()
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Display name").fill(display_name)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    person = Person(server, context, page, username, display_name)
    expect_main_screen(person)
    return person


def log_in(browser: Browser, server: Server, account: dict[str, Any],
           **context_options: Any) -> Person:
    """Log in on the app with an account made over the API (api_register)."""
    context = new_context(browser, **context_options)
    page = context.new_page()
    page.goto(server.url + "/")
    page.get_by_role("button", name="I have an account").or_(
        page.get_by_role("link", name="I have an account")).first.click()
    user = account["user"]
    page.get_by_role("textbox", name="Username").fill(user["username"])
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    person = Person(server, context, page, user["username"], user["display_name"],
                    _token=account["token"], _id=int(user["id"]))
    expect_main_screen(person)
    return person


def expect_main_screen(person: Person) -> None:
    expect(person.page.get_by_role("searchbox", name="Search")).to_be_visible(timeout=WAIT_MS)
    expect(person.chats).to_be_attached()
    person.expect_online()


# --- checks on the page itself -------------------------------------------------------------------

def nameless_controls(page: Page) -> list[str]:
    """Controls in the page's accessibility tree with no accessible name (as YAML lines)."""
    tree = page.locator("body").aria_snapshot()
    # a line YAML had to quote reads `- 'button "name": …'`
    lines = [line.strip().replace("- '", "- ", 1) for line in tree.splitlines()]
    return [line for line in lines if _NAMELESS.match(line)]


def loaded_scripts(page: Page) -> list[str]:
    """Every script the page has loaded from this server (modules imported lazily too)."""
    urls: list[str] = page.evaluate(
        "() => performance.getEntriesByType('resource').map(e => e.name)"
        "    .concat([...document.scripts].map(s => s.src))")
    origin = page.url.split("/", 3)[:3]
    prefix = "/".join(origin) + "/static/"
    return sorted({u.split("#")[0] for u in urls if u.startswith(prefix) and
                   u.split("?")[0].endswith(".js")})


def js_bytes(urls: list[str]) -> tuple[int, int]:
    """(raw, gzip) bytes of the given scripts, as served."""
    raw = gz = 0
    for url in urls:
        body = httpx.get(url, timeout=30).raise_for_status().content
        raw += len(body)
        gz += len(gzip.compress(body, compresslevel=9))
    return raw, gz


def fetch_in_page(page: Page, url: str) -> bytes:
    """The bytes behind a URL (blob:, or on the server) as the page itself would get them."""
    encoded: str = page.evaluate(
        """async (url) => {
             const buf = new Uint8Array(await (await fetch(url)).arrayBuffer());
             let s = ""; for (let i = 0; i < buf.length; i += 0x8000)
               s += String.fromCharCode(...buf.subarray(i, i + 0x8000));
             return btoa(s);
           }""", url)
    return base64.b64decode(encoded)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def poll_bot_update(server: Server, token: str, kind: str, offset: int,
                    deadline_s: float = 15.0) -> tuple[dict[str, Any], int]:
    """Long-poll getUpdates until an update carrying `kind` arrives; (it, the next offset)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        for update in bot_call(server, token, "getUpdates", offset=offset, timeout=1):
            offset = update["update_id"] + 1
            if kind in update:
                return update, offset
    raise AssertionError(f"the bot got no {kind} within {deadline_s}s")


class People:
    """The people of one test; their contexts are closed after it. Uncaught errors in any of
    their pages (a script that threw, a CSP refusal) fail the test: the app must not have
    them."""

    def __init__(self, browser: Browser, server: Server) -> None:
        self.browser = browser
        self.server = server
        self.made: list[Person] = []
        self.errors: list[str] = []

    def _watch(self, person: Person) -> Person:
        self.made.append(person)
        person.page.on("pageerror", lambda e: self.errors.append(f"{person.display_name}: {e}"))
        person.page.on("console", lambda m: self.errors.append(
            f"{person.display_name}: {m.text}") if "Content Security Policy" in m.text else None)
        # a person who asked for something means it: confirm() and the like are accepted
        person.page.on("dialog", lambda dialog: dialog.accept())
        # a marker the page keeps as long as it is not reloaded
        person.page.evaluate("window.__e2e_page = true")
        return person

    def sign_up(self, display_name: str, **context_options: Any) -> Person:
        return self._watch(sign_up(self.browser, self.server, display_name, **context_options))

    def log_in(self, account: dict[str, Any]) -> Person:
        return self._watch(log_in(self.browser, self.server, account))

    def close(self) -> None:
        for person in self.made:
            assert person.page.evaluate("window.__e2e_page === true"), \
                f"{person.display_name}'s page was reloaded"
            person.context.close()
        assert not self.errors, self.errors


def name(prefix: str) -> str:
    """A display name no other test uses (search results are named by display names)."""
    return f"{prefix} {secrets.token_hex(2)}"
