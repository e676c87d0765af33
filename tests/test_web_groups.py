"""The web app's second step end to end: groups, channels, invite links, forwards, bot
commands, pins and comments, each done by two or three people in headless Chromium.

As in tests/test_web_e2e.py, everything is found by the accessible names the app promises
(the web issue's list of stable names, step 2), every wait is Playwright's auto-waiting with
a deadline, nothing is reloaded unless the scenario is itself a page load (an invite link),
and an uncaught error in any page fails the test. What a test is not about (a second
account, a bot, a discussion group) is set up over the API.
"""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import Browser, Locator, expect

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
    name,
    nameless_controls,
    new_context,
    poll_bot_update,
    web_server,
)

server = pytest.fixture(scope="module")(web_server)

VIEWS = re.compile(r"^\d+ views?$")


browser = pytest.fixture(scope="module")(chromium_browser)
people = pytest.fixture(crowd)


# --- what a person finds on the page --------------------------------------------------------------

def modal(person: Person, title: str) -> Locator:
    return person.page.get_by_role("dialog", name=title)


def chat_info(person: Person) -> Locator:
    """The "Chat info" panel (a dialog or a complementary side panel)."""
    page = person.page
    return page.get_by_role("dialog", name="Chat info").or_(
        page.get_by_role("complementary", name="Chat info")).first


def open_chat_info(person: Person) -> Locator:
    person.page.get_by_role("button", name="Chat info").click()
    panel = chat_info(person)
    expect(panel).to_be_visible()
    return panel


def member(panel: Locator, display_name: str) -> Locator:
    """A member's item in the panel's "Members" list."""
    return panel.get_by_role("list", name="Members").get_by_role("listitem").filter(
        has_text=display_name)


def composer(person: Person) -> Locator:
    """The composer as a person can use it: shown and enabled."""
    return person.page.get_by_role("textbox", name="Message", disabled=False)


def expect_cannot_write(person: Person) -> None:
    """No composer to type into: gone, hidden or disabled."""
    expect(composer(person)).to_have_count(0, timeout=LIVE_MS)


def pick_people(scope: Locator, people: list[Person]) -> None:
    """Tick each person in an "Add people" search (by username; ticked by display name)."""
    search = scope.get_by_role("searchbox", name="Add people")
    for person in people:
        search.fill(person.username)
        box = scope.get_by_role("checkbox", name=person.display_name)
        box.check()
        expect(box).to_be_checked()


def message_action(person: Person, text: str, action: str) -> None:
    """Press one of a message's actions ("Reply", "Forward", "Pin"...). They are shown for the
    message pointed at (or focused), next to what it says, so only one set is in the log."""
    person.message(text).hover()
    button = person.messages.get_by_role("button", name=action, exact=True)
    expect(button).to_have_count(1)
    button.click()


def dismiss(person: Person, panel: Locator) -> None:
    """Close a dialog or menu the way a keyboard user would: Escape (twice from a search field
    with text in it, whose first Escape, in Chromium, clears the field)."""
    page = person.page
    if page.evaluate("(e => e && e.type === 'search' && e.value !== '')(document.activeElement)"):
        page.keyboard.press("Escape")
        expect(page.locator("input[type=search]:focus")).to_have_value("")
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()


def channel_username() -> str:
    return f"news{secrets.token_hex(4)}"


# --- (a) a group made in the app ----------------------------------------------------------------

def test_group_created_in_the_app_chat_live_admin_and_remove(people: People) -> None:
    ann, ben, cat = (people.sign_up(name(who)) for who in ("Ann", "Ben", "Cat"))
    title = name("Book club")

    ann.page.get_by_role("button", name="New group").click()
    form = modal(ann, "New group")
    form.get_by_role("textbox", name="Group name").fill(title)
    pick_people(form, [ben, cat])
    form.get_by_role("button", name="Create").click()
    expect(form).to_be_hidden()
    ann.expect_conversation(title)

    for person in (ann, ben, cat):
        expect(person.dialog(title)).to_be_visible(timeout=LIVE_MS)
    for person in (ben, cat):
        person.open_dialog(title)
    for author, text in ((ann, "first book?"), (ben, "Dune"), (cat, "seconded")):
        author.send(text)
        for reader in (ann, ben, cat):
            reader.expect_message(text)
    for reader in (ann, ben, cat):
        reader.assert_in_order(["first book?", "Dune", "seconded"])

    panel = open_chat_info(ann)
    expect(panel.get_by_role("heading", name=title).or_(panel.get_by_text(title)).first
           ).to_be_visible()
    expect(panel.get_by_text("3 members")).to_be_visible()
    for person in (ann, ben, cat):
        expect(member(panel, person.display_name)).to_have_count(1)

    member(panel, ben.display_name).get_by_role("button", name="Make admin").click()
    expect(member(panel, ben.display_name).get_by_role("button", name="Remove admin")
           ).to_be_visible()
    chat_id = next(d["chat"]["id"] for d in api_call(ann.server, "messages.getDialogs", ann.token)
                   if d["chat"]["title"] == title)
    roles = {m["user_id"]: m["role"] for m in
             api_call(ann.server, "chats.getMembers", ann.token, chat_id=chat_id)}
    assert roles[ben.id] == "admin", roles

    member(panel, cat.display_name).get_by_role("button", name="Remove", exact=True).click()
    expect(member(panel, cat.display_name)).to_have_count(0)
    expect(panel.get_by_text("2 members")).to_be_visible()
    expect_cannot_write(cat)
    ben.send("Cat left us")
    ann.expect_message("Cat left us")


# --- (b) a public channel ---------------------------------------------------------------------

def test_public_channel_found_joined_and_read_live(people: People) -> None:
    ann, ben = people.sign_up(name("Ann")), people.sign_up(name("Ben"))
    title, link = name("Harbour news"), channel_username()

    ann.page.get_by_role("button", name="New channel").click()
    form = modal(ann, "New channel")
    form.get_by_role("textbox", name="Channel name").fill(title)
    form.get_by_role("textbox", name="Public link").fill(link)
    form.get_by_role("textbox", name="Description").fill("ships in and out")
    form.get_by_role("button", name="Create").click()
    expect(form).to_be_hidden()
    ann.expect_conversation(title)
    ann.send("first post")

    ben.open_chat_by_search(link, title)
    ben.expect_message("first post")
    expect_cannot_write(ben)
    ben.page.get_by_role("button", name="Join").click()
    expect(ben.page.get_by_role("button", name="Join")).to_have_count(0)
    expect(ben.dialog(title)).to_be_visible(timeout=LIVE_MS)
    expect_cannot_write(ben)  # a subscriber reads; only admins post

    ann.send("the ferry is late")
    ben.expect_message("the ferry is late")
    expect(ben.message("the ferry is late").get_by_label(VIEWS)).to_be_visible(timeout=LIVE_MS)
    expect(ann.message("the ferry is late").get_by_label(VIEWS)).to_be_visible(timeout=LIVE_MS)
    panel = open_chat_info(ann)
    expect(panel.get_by_text(re.compile(r"^2 subscribers$"))).to_be_visible(timeout=LIVE_MS)


def test_channel_admin_with_only_post_messages(people: People, server: Server) -> None:
    """The "Admin rights" dialog grants exactly what is ticked: Ben may post, but Chat info
    offers him no "Remove" (he lacks ban_users) and the API agrees on his rights."""
    ann, ben = people.sign_up(name("Ann")), people.sign_up(name("Ben"))
    cat = api_register(server, name("Cat"))
    title = name("Tide tables")
    channel = api_call(server, "channels.create", ann.token, title=title, broadcast=True)
    api_call(server, "channels.invite", ann.token, channel_id=channel["id"],
             user_ids=[ben.id, cat["user"]["id"]])
    # Cat, a full admin, so that Ben's panel lists someone he could remove if he might
    api_call(server, "channels.editAdmin", ann.token, channel_id=channel["id"],
             user_id=cat["user"]["id"], rights={"post_messages": True, "ban_users": True})

    ann.open_dialog(title)
    panel = open_chat_info(ann)
    member(panel, ben.display_name).get_by_role("button", name="Make admin").click()
    form = modal(ann, "Admin rights")
    expect(form.get_by_role("checkbox")).to_have_count(8)
    assert nameless_controls(ann.page) == [], "Admin rights"
    for right in ("Change info", "Post messages", "Edit messages", "Delete messages",
                  "Ban users", "Invite users", "Pin messages", "Add admins"):
        box = form.get_by_role("checkbox", name=right, exact=True)
        box.set_checked(right == "Post messages")
    form.get_by_role("button", name="Save").click()
    expect(form).to_be_hidden()
    expect(member(panel, ben.display_name).get_by_role("button", name="Remove admin")
           ).to_be_visible()

    ben.open_dialog(title)
    expect(composer(ben)).to_be_visible(timeout=LIVE_MS)
    ben.send("high tide at 6")
    ann.expect_message("high tide at 6")
    panel = open_chat_info(ben)
    expect(member(panel, cat["user"]["display_name"])).to_have_count(1)
    expect(member(panel, ann.display_name)).to_have_count(1)
    expect(panel.get_by_role("button", name="Remove", exact=True)).to_have_count(0)
    expect(panel.get_by_role("button", name="Make admin")).to_have_count(0)

    admins = api_call(server, "channels.getParticipants", ann.token, channel_id=channel["id"],
                      filter="admins")
    rights = next(m["admin_rights"] for m in admins if m["user_id"] == ben.id)
    assert {k for k, v in rights.items() if v} == {"post_messages"}, rights


# --- (c) an invite link -------------------------------------------------------------------------

def test_invite_link_opened_joins_the_group(people: People, server: Server) -> None:
    ann = people.sign_up(name("Ann"))
    ben = people.sign_up(name("Ben"))
    title = name("Choir")
    api_call(server, "chats.createGroup", ann.token, title=title, user_ids=[])
    ann.open_dialog(title)

    panel = open_chat_info(ann)
    panel.get_by_role("button", name="Invite link").click()
    field = ann.page.get_by_role("textbox", name="Invite link")
    expect(field).to_have_value(re.compile("^" + re.escape(server.url) + r"/\+[\w-]+$"))
    expect(field).not_to_be_editable()
    expect(ann.page.get_by_role("button", name="Copy")).to_be_visible()
    link = field.input_value()

    ben.page.goto(link)
    ben.page.evaluate("window.__e2e_page = true")  # opening the link is the page load
    expect(ben.page.get_by_text(title).first).to_be_visible()
    ben.page.get_by_role("button", name="Join").click()
    ben.expect_conversation(title)
    ben.send("hello choir")
    dismiss(ann, panel)
    ann.expect_message("hello choir")


def test_invite_link_opened_logged_out_logs_in_then_joins(people: People, browser: Browser,
                                                          server: Server) -> None:
    ann = people.sign_up(name("Ann"))
    title = name("Night shift")
    group = api_call(server, "chats.createGroup", ann.token, title=title, user_ids=[])
    invite = api_call(server, "chats.exportInvite", ann.token, chat_id=group["id"])
    account = api_register(server, name("Dee"))

    context = new_context(browser)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{server.url}/+{invite['hash']}")
        page.get_by_role("button", name="I have an account").or_(
            page.get_by_role("link", name="I have an account")).first.click()
        page.get_by_role("textbox", name="Username").fill(account["user"]["username"])
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_text(title).first).to_be_visible()
        page.get_by_role("button", name="Join").click()
        expect(page.get_by_role("heading", level=2, name=title)).to_be_visible()
    finally:
        context.close()
    assert not errors, errors
    members = api_call(server, "chats.getMembers", ann.token, chat_id=group["id"])
    assert int(account["user"]["id"]) in {m["user_id"] for m in members}


# --- (d) forward ---------------------------------------------------------------------------------

def test_forwarded_message_shows_who_wrote_it(people: People, server: Server) -> None:
    ann, ben, cat = (people.sign_up(name(who)) for who in ("Ann", "Ben", "Cat"))
    api_call(server, "messages.send", ben.token, user_id=cat.id, text="hi Cat",
             random_id=secrets.randbits(62))
    expect(ben.dialog(cat.display_name)).to_be_visible(timeout=LIVE_MS)

    ann.open_chat_by_search(ben.username, ben.display_name)
    ann.send("the meeting moved to five")
    ben.open_dialog(ann.display_name)
    ben.expect_message("the meeting moved to five")

    message_action(ben, "the meeting moved to five", "Forward")
    target = modal(ben, "Forward to")
    target.get_by_role("button", name=cat.display_name).click()
    expect(target).to_be_hidden()

    cat.open_dialog(ben.display_name)
    cat.expect_message("the meeting moved to five")
    expect(cat.message("the meeting moved to five")).to_contain_text(
        f"Forwarded from {ann.display_name}")


# --- (e) a bot's commands ----------------------------------------------------------------------

def test_bot_commands_menu_sends_the_command(people: People, server: Server) -> None:
    owner = api_register(server, name("Owner"))
    bot_name = name("Menu Bot")
    made = api_call(server, "bots.create", owner["token"],
                    username=f"menu{secrets.token_hex(3)}_bot", display_name=bot_name)
    token, bot = made["token"], made["bot"]
    bot_call(server, token, "setMyCommands", commands=[
        {"command": "start", "description": "Begin here"},
        {"command": "help", "description": "What I can do"}])
    user = people.sign_up(name("Tess"))

    user.open_chat_by_search(bot["username"], bot_name)
    user.page.get_by_role("button", name="Commands").click()
    menu = user.page.get_by_role("menu")
    expect(menu.get_by_role("menuitem")).to_have_count(2)
    expect(menu.get_by_role("menuitem", name="/help What I can do")).to_be_visible()
    menu.get_by_role("menuitem", name="/start Begin here").click()
    user.expect_message("/start")

    update, _ = poll_bot_update(server, token, "message", 0)
    assert update["message"]["text"] == "/start"
    assert update["message"]["from"]["id"] == user.id


# --- (f) pins ------------------------------------------------------------------------------------

def test_pinned_message_bar_for_both(people: People) -> None:
    ann, ben = people.sign_up(name("Ann")), people.sign_up(name("Ben"))
    ann.open_chat_by_search(ben.username, ben.display_name)
    ann.send("door code 4711")
    ann.send("see you there")
    ben.open_dialog(ann.display_name)
    ben.expect_message("see you there")

    ann.message("door code 4711").hover()
    for action in ("Reply", "React", "Edit", "Delete", "Forward", "Pin"):
        expect(ann.messages.get_by_role("button", name=action, exact=True)).to_have_count(1)
    message_action(ann, "door code 4711", "Pin")
    for person in (ann, ben):
        bar = person.page.get_by_label("Pinned message")
        expect(bar).to_be_visible(timeout=LIVE_MS)
        expect(bar).to_contain_text("door code 4711")
        expect(bar).not_to_contain_text("see you there")


# --- (g) comments under a channel post ----------------------------------------------------

def test_channel_post_comments_thread(people: People, server: Server) -> None:
    ann, ben = people.sign_up(name("Ann")), people.sign_up(name("Ben"))
    title = name("Town hall")
    channel = api_call(server, "channels.create", ann.token, title=title, broadcast=True,
                       username=channel_username())
    group = api_call(server, "channels.create", ann.token, title=name("Talk"), broadcast=False)
    api_call(server, "channels.setDiscussionGroup", ann.token, channel_id=channel["id"],
             group_id=group["id"])
    for chat in (channel, group):
        api_call(server, "channels.invite", ann.token, channel_id=chat["id"], user_ids=[ben.id])

    ann.open_dialog(title)
    ann.send("budget vote tonight")
    ben.open_dialog(title)
    ben.expect_message("budget vote tonight")

    comments = re.compile(r"^\d+ comments?$")
    ann.message("budget vote tonight").get_by_role("button", name=comments).click()
    expect(ann.messages).to_contain_text("budget vote tonight")  # the post it is about
    ben.message("budget vote tonight").get_by_role("button", name=comments).click()
    ben.send("I will be there")
    ann.expect_message("I will be there")
    ann.send("good, see you")
    ben.expect_message("good, see you")

    post_id = max(m["id"] for m in api_call(server, "messages.getHistory", ann.token,
                                           chat_id=channel["id"])["messages"])
    thread = api_call(server, "messages.getReplies", ann.token, chat_id=channel["id"],
                      message_id=post_id)["messages"]
    assert {m.get("text") for m in thread} >= {"I will be there", "good, see you"}, thread


# --- accessibility of the new dialogs ---------------------------------------------------------

def test_new_dialogs_have_named_controls(people: People, server: Server) -> None:
    ann, ben = people.sign_up(name("Ann")), people.sign_up(name("Ben"))
    page = ann.page

    page.get_by_role("button", name="New group").click()
    form = modal(ann, "New group")
    form.get_by_role("searchbox", name="Add people").fill(ben.username)
    expect(form.get_by_role("checkbox", name=ben.display_name)).to_be_visible()
    assert nameless_controls(page) == [], "New group"
    dismiss(ann, form)

    page.get_by_role("button", name="New channel").click()
    form = modal(ann, "New channel")
    expect(form.get_by_role("textbox", name="Channel name")).to_be_visible()
    assert nameless_controls(page) == [], "New channel"
    dismiss(ann, form)

    title = name("Checks")
    api_call(server, "chats.createGroup", ann.token, title=title, user_ids=[ben.id])
    ann.open_dialog(title)
    ann.send("pin and forward me")
    panel = open_chat_info(ann)
    expect(member(panel, ben.display_name).get_by_role("button", name="Make admin")
           ).to_be_visible()
    assert nameless_controls(page) == [], "Chat info"
    panel.get_by_role("button", name="Invite link").click()
    expect(page.get_by_role("textbox", name="Invite link")).to_be_visible()
    assert nameless_controls(page) == [], "Invite link"
    panel.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("searchbox", name="Add people")).to_be_visible()
    assert nameless_controls(page) == [], "Add member"
    dismiss(ann, panel)

    message_action(ann, "pin and forward me", "Pin")
    expect(page.get_by_label("Pinned message")).to_be_visible()
    message_action(ann, "pin and forward me", "Forward")
    target = modal(ann, "Forward to")
    expect(target.get_by_role("button", name=title)).to_be_visible()
    assert nameless_controls(page) == [], "Forward to"
    dismiss(ann, target)

    owner = api_register(server, name("Owner"))
    bot_name = name("Menu Bot")
    made = api_call(server, "bots.create", owner["token"],
                    username=f"menu{secrets.token_hex(3)}_bot", display_name=bot_name)
    bot_call(server, made["token"], "setMyCommands",
             commands=[{"command": "start", "description": "Begin here"}])
    ann.open_chat_by_search(made["bot"]["username"], bot_name)
    page.get_by_role("button", name="Commands").click()
    menu = page.get_by_role("menu")
    expect(menu.get_by_role("menuitem", name="/start Begin here")).to_be_visible()
    assert nameless_controls(page) == [], "Commands"
    dismiss(ann, menu)

    channel = api_call(server, "channels.create", ben.token, title=name("Open"), broadcast=True,
                       username=channel_username())
    ann.open_chat_by_search(channel["username"], channel["title"])
    expect(page.get_by_role("button", name="Join")).to_be_visible()
    assert nameless_controls(page) == [], "a channel not joined"
