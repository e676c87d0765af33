"""The web app end to end: people in headless Chromium talking to a live kurir.

Each scenario is what a person does with the app open (sign up, find someone, chat live, lose
the network, share a file, press a bot's button), checked by what they would see, and found
by the accessible names the app promises. Nothing waits a fixed time: every wait is
Playwright's auto-waiting with a deadline, and nothing is reloaded, so whatever shows up got
there live.
"""

from __future__ import annotations

import os
import re
import secrets
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.server import Server
from tests.web_support import (
    LIVE_MS,
    PASSWORD,
    People,
    Person,
    api_call,
    api_register,
    bot_call,
    chromium_browser,
    crowd,
    fetch_in_page,
    js_bytes,
    loaded_scripts,
    name,
    nameless_controls,
    new_context,
    poll_bot_update,
    sha256,
    unique_username,
    web_server,
)

JS_GZIP_BUDGET = 200 * 1024

server = pytest.fixture(scope="module")(web_server)


browser = pytest.fixture(scope="module")(chromium_browser)
people = pytest.fixture(crowd)


def unread(person: Person, title: str, n: int) -> None:
    """The chat's entry says how many are unread in its accessible name ("… 2 unread"), as a
    screen reader reads it; the badge itself is hidden from screen readers."""
    expect(person.dialog(title)).to_have_accessible_name(
        re.compile(rf"\b{n} unread$"), timeout=LIVE_MS)


# --- (a) two people, live both ways ---------------------------------------------------------------

def test_two_people_find_each_other_and_chat_live(people: People) -> None:
    alice = people.sign_up(name("Alice"))
    bob = people.sign_up(name("Bob"))

    alice.open_chat_by_search(bob.username, bob.display_name)
    alice.send("hello Bob")
    # Bob has not opened the chat: it appears in his list, with its unread count
    expect(bob.dialog(alice.display_name)).to_be_visible(timeout=LIVE_MS)
    unread(bob, alice.display_name, 1)
    alice.send("are you there?")
    unread(bob, alice.display_name, 2)

    bob.open_dialog(alice.display_name)
    bob.expect_message("hello Bob")
    bob.expect_message("are you there?")
    expect(bob.dialog(alice.display_name)).not_to_have_accessible_name(
        re.compile(r"unread$"), timeout=LIVE_MS)

    bob.send("hi Alice, here I am")
    alice.expect_message("hi Alice, here I am")
    alice.send("good to see you")
    bob.expect_message("good to see you")
    for person in (alice, bob):
        person.assert_in_order(
            ["hello Bob", "are you there?", "hi Alice, here I am", "good to see you"])


# --- (b) offline and back -----------------------------------------------------------------------

def test_messages_sent_while_offline_show_in_order_when_back(people: People) -> None:
    alice = people.sign_up(name("Alice"))
    bob = people.sign_up(name("Bob"))
    alice.open_chat_by_search(bob.username, bob.display_name)
    alice.send("before the tunnel")
    bob.open_dialog(alice.display_name)
    bob.expect_message("before the tunnel")

    bob.context.set_offline(True)
    expect(bob.connection).to_have_text("Offline", timeout=LIVE_MS)
    sent = [f"while you were away {i}" for i in (1, 2, 3)]
    for text in sent:
        alice.send(text)

    bob.context.set_offline(False)
    bob.expect_online()
    for text in sent:
        bob.expect_message(text)
    bob.assert_in_order(["before the tunnel", *sent])  # in order, each once


# --- (c) a group ------------------------------------------------------------------------------

def test_group_members_see_each_others_messages_live(people: People, server: Server) -> None:
    accounts = [api_register(server, name(who)) for who in ("Ann", "Ben", "Cat")]
    ann, ben, cat = (people.log_in(account) for account in accounts)
    title = name("Weekend plans")
    api_call(server, "chats.createGroup", ann.token, title=title, user_ids=[ben.id, cat.id])

    for person in (ann, ben, cat):
        expect(person.dialog(title)).to_be_visible(timeout=LIVE_MS)
        person.open_dialog(title)
    for author, text in ((ann, "who brings the tent?"), (ben, "I do"), (cat, "I bring food")):
        author.send(text)
        for member in (ann, ben, cat):
            member.expect_message(text)
    for member in (ann, ben, cat):
        member.assert_in_order(["who brings the tent?", "I do", "I bring food"])


# --- (d) a file up and down ---------------------------------------------------------------------

def test_attachment_upload_progress_and_download_bytes(people: People) -> None:
    alice = people.sign_up(name("Alice"))
    bob = people.sign_up(name("Bob"))
    alice.open_chat_by_search(bob.username, bob.display_name)
    payload = os.urandom(1_300_000)  # several parts of 512 KiB
    file_name = f"notes-{secrets.token_hex(2)}.bin"

    # hold the parts until the progress bar has been seen, so a fast loopback cannot hide it
    held: list[Route] = []
    released = False

    def hold(route: Route) -> None:
        if released:
            route.continue_()
        else:
            held.append(route)

    alice.page.route("**/api/v1/upload/**", hold)
    attach(alice.page, file_name, payload)
    expect(alice.page.get_by_role("progressbar").first).to_be_visible()
    released = True
    for route in held:
        route.continue_()
    alice.expect_message(file_name, timeout=30_000)
    expect(alice.page.get_by_role("progressbar")).to_have_count(0, timeout=30_000)

    bob.open_dialog(alice.display_name)
    bob.expect_message(file_name)
    got = download(bob.page, bob.message(file_name), file_name)
    assert len(got) == len(payload)
    assert sha256(got) == sha256(payload)


def attach(page: Page, file_name: str, payload: bytes) -> None:
    """Choose a file as a person would: the "File" input, or the chooser "Attach" opens."""
    files = {"name": file_name, "mimeType": "application/octet-stream", "buffer": payload}
    field = page.get_by_label("File", exact=True)
    if field.count():
        field.set_input_files(files)  # type: ignore[arg-type]
        return
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach").click()
    chooser.value.set_files(files)  # type: ignore[arg-type]


def download(page: Page, article: Any, file_name: str) -> bytes:
    """The file behind a message: what clicking its link downloads (or, when the click opens
    it rather than saving it, the bytes its link then points at, fetched by the page)."""
    control = article.get_by_role("link").or_(
        article.get_by_role("button", name=re.compile(f"Download|{re.escape(file_name)}"))).first
    expect(control).to_be_visible()
    try:
        with page.expect_download(timeout=10_000) as event:
            control.click()
    except PlaywrightTimeoutError:
        href = control.get_attribute("href")
        if not href or href == "#":
            raise
        return fetch_in_page(page, href)
    with open(event.value.path(), "rb") as f:
        return f.read()


# --- (e) a bot's inline button ----------------------------------------------------------------

def test_bot_inline_button_press_shows_the_bots_answer(people: People, server: Server) -> None:
    owner = api_register(server, name("Owner"))
    bot_name = name("Button Bot")
    made = api_call(server, "bots.create", owner["token"],
                    username=f"press{secrets.token_hex(3)}_bot", display_name=bot_name)
    token, bot = made["token"], made["bot"]
    user = people.sign_up(name("Tess"))

    user.open_chat_by_search(bot["username"], bot_name)
    user.send("/start")
    update, offset = poll_bot_update(server, token, "message", 0)
    assert update["message"]["text"] == "/start"
    bot_call(server, token, "sendMessage", chat_id=update["message"]["chat"]["id"],
             text="Choose wisely",
             reply_markup={"inline_keyboard": [[{"text": "Press me", "callback_data": "yes"}]]})
    user.expect_message("Choose wisely")

    user.message("Choose wisely").get_by_role("button", name="Press me").click()
    update, offset = poll_bot_update(server, token, "callback_query", offset)
    assert update["callback_query"]["data"] == "yes"
    assert update["callback_query"]["from"]["id"] == user.id
    bot_call(server, token, "answerCallbackQuery",
             callback_query_id=update["callback_query"]["id"], text="You chose wisely")
    expect(user.page.get_by_text("You chose wisely")).to_be_visible(timeout=LIVE_MS)


# --- (f) language --------------------------------------------------------------------------------

def test_indonesian_browser_gets_indonesian_then_english_from_settings(
        browser: Browser, server: Server) -> None:
    """navigator.language "id-ID" shows Bahasa Indonesia (names from i18n.js's id dictionary);
    Settings switches the app to English in place."""
    context = new_context(browser, locale="id-ID")
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url + "/")
        expect(page.locator("html")).to_have_attribute("lang", "id")
        page.get_by_role("textbox", name="Nama pengguna").fill(unique_username())
        page.get_by_role("textbox", name="Nama tampilan").fill(name("Sari"))
        page.get_by_label("Kata sandi", exact=True).fill(PASSWORD)
        expect(page.get_by_role("button", name="Sign up")).to_have_count(0)
        page.get_by_role("button", name="Daftar").click()

        expect(page.get_by_role("searchbox", name="Cari")).to_be_visible()
        expect(page.get_by_role("status", name="Koneksi")).to_have_text("Daring", timeout=LIVE_MS)
        page.get_by_role("button", name="Pengaturan").click()
        page.get_by_role("combobox", name="Bahasa").select_option(label="English")

        expect(page.get_by_role("button", name="Log out")).to_be_attached()
        expect(page.get_by_role("searchbox", name="Search")).to_be_attached()
        expect(page.get_by_role("button", name="Keluar")).to_have_count(0)
        expect(page.locator("html")).to_have_attribute("lang", "en")
    finally:
        context.close()
    assert not errors, errors


# --- accessibility and weight -------------------------------------------------------------------

def test_every_control_has_an_accessible_name(people: People, browser: Browser,
                                              server: Server) -> None:
    context = new_context(browser)
    try:
        page = context.new_page()
        page.goto(server.url + "/")
        expect(page.get_by_role("button", name="Sign up")).to_be_visible()
        assert nameless_controls(page) == [], "sign-up form"
        page.get_by_role("button", name="I have an account").or_(
            page.get_by_role("link", name="I have an account")).first.click()
        expect(page.get_by_role("button", name="Log in")).to_be_visible()
        assert nameless_controls(page) == [], "log-in form"
    finally:
        context.close()

    alice = people.sign_up(name("Alice"))
    bob = people.sign_up(name("Bob"))
    assert nameless_controls(alice.page) == [], "main screen"
    alice.open_chat_by_search(bob.username, bob.display_name)
    alice.send("a message, so the conversation has one")
    assert nameless_controls(alice.page) == [], "conversation"
    alice.page.get_by_role("button", name="Settings").click()
    expect(alice.page.get_by_role("button", name="Log out")).to_be_attached()
    assert nameless_controls(alice.page) == [], "settings"


def test_the_nameless_control_check_finds_them(browser: Browser) -> None:
    """The check above can fail: it sees a control without a name, however it is marked up."""
    context = new_context(browser)
    try:
        page = context.new_page()
        page.set_content(
            '<button>Named</button><button aria-label="Also named">x</button>'
            '<button><svg></svg></button><button disabled></button><input>'
            '<a href="/x"></a><input type="search"><button>a: "quoted" name</button>')
        assert nameless_controls(page) == [
            "- button:", "- button [disabled]", "- textbox", "- link:", "- searchbox"]
    finally:
        context.close()


def test_app_javascript_is_small(people: People) -> None:
    alice = people.sign_up(name("Alice"))
    bob = people.sign_up(name("Bob"))
    alice.open_chat_by_search(bob.username, bob.display_name)
    alice.send("so that the conversation's code is loaded too")
    alice.page.get_by_role("button", name="Settings").click()
    scripts = loaded_scripts(alice.page)
    assert any(url.endswith("/static/app.js") for url in scripts), scripts
    raw, gz = js_bytes(scripts)
    assert gz < JS_GZIP_BUDGET, (raw, gz, scripts)


def test_log_out_returns_to_the_sign_in_screen(people: People) -> None:
    alice = people.sign_up(name("Alice"))
    settings_or_menu = alice.page.get_by_role("button", name="Log out")
    if not settings_or_menu.is_visible():
        alice.page.get_by_role("button", name="Settings").click()
    settings_or_menu.click()
    expect(alice.page.get_by_role("textbox", name="Username")).to_be_visible()
    expect(alice.page.get_by_role("searchbox", name="Search")).to_have_count(0)
    # and it stays logged out: nothing left behind signs the next visit in
    alice.page.reload()
    expect(alice.page.get_by_role("button", name="Sign up").or_(
        alice.page.get_by_role("button", name="Log in")).first).to_be_visible()
    expect(alice.page.get_by_role("searchbox", name="Search")).to_have_count(0)
    alice.page.evaluate("window.__e2e_page = true")  # reloaded on purpose above
