"""Web app benchmark: time to interactive and live message latency in headless Chromium.

    python bench/web.py [--quick] [--engine sqlite|postgres]

Starts its own kurir on loopback and drives the web app in Debian's Chromium
(/usr/bin/chromium, headless), measuring:

 (a) sign-up form, cold: a fresh browser profile (empty cache) opens `/`, N times; from the
     navigation start to the sign-up form usable (its "Username" field and "Sign up" button
     present and enabled), read in the page as `performance.now()`.
 (b) chats, warm: a logged-in person (one browser profile, so cached files and stored
     session) opens `/` again in a new tab, N times; from navigation start to the "Chats"
     list rendered with their dialog in it.
 (c) live message: with the conversation open, another user sends M messages over the HTTP
     API one after another; from just before the request to the message's article being in
     the page (a MutationObserver timestamps it in the page, on the same clock).
 (d) the JavaScript the page loaded (every /static/*.js, lazily imported ones too) in bytes,
     raw and gzip -9.

N is 5 with --quick and 20 otherwise; M is 20 and 100. Progress goes to stderr; the figures
are ONE JSON object on the last line of stdout. Every wait has a deadline; the server is
stopped by its PID, also on error or interrupt.
"""

from __future__ import annotations

import argparse
import gzip
import os
import secrets
import sys
import time
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (
    KurirServer,
    emit,
    install_cleanup,
    log,
    machine_info,
    random_id,
    summary_ms,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PASSWORD = "bench password web"
WAIT_MS = 20_000

# in the page: the moment a condition first holds, in ms since navigation start
SIGNUP_USABLE = """() => {
  const user = [...document.querySelectorAll('input')].find(i => i.labels && [...i.labels]
    .some(l => l.textContent.trim() === 'Username') || i.getAttribute('aria-label') === 'Username');
  const button = [...document.querySelectorAll('button')]
    .find(b => b.textContent.trim() === 'Sign up' || b.getAttribute('aria-label') === 'Sign up');
  return user && button && !user.disabled && !button.disabled ? performance.now() : false;
}"""
CHATS_RENDERED = """() => {
  const list = document.querySelector('[aria-label="Chats"]');
  return list && list.querySelector('button, a') ? performance.now() : false;
}"""
WATCH_ARTICLES = """() => {
  window.__shown = {};
  const log = document.querySelector('[role="log"][aria-label="Messages"]');
  new MutationObserver(() => {
    const t = performance.timeOrigin + performance.now();
    for (const a of log.querySelectorAll('[role="article"]')) {
      const m = /bench-[0-9a-f]+-[0-9]+/.exec(a.textContent);
      if (m && !(m[0] in window.__shown)) window.__shown[m[0]] = t;
    }
  }).observe(log, {childList: true, subtree: true, characterData: true});
}"""


# one keep-alive connection for every call: a new client per request would add its own
# set-up (an SSL context, a TCP connection) to the latency measured
_http = httpx.Client(timeout=30)


def api(server: KurirServer, method: str, token: str | None = None, **params: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = _http.post(f"{server.url}/api/v1/{method}", json=params, headers=headers).json()
    if not body.get("ok"):
        raise RuntimeError(f"{method}: {body}")
    return body["result"]


def register(server: KurirServer, name: str) -> dict[str, Any]:
    result: dict[str, Any] = api(server, "auth.register", username=name, password=PASSWORD,
                                 display_name=name.replace("_", " ").title())
    return result


def new_context(browser: Browser) -> BrowserContext:
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    context.set_default_timeout(WAIT_MS)
    return context


def signup_form_cold(browser: Browser, server: KurirServer, n: int) -> list[float]:
    out = []
    for _ in range(n):
        context = new_context(browser)
        try:
            page = context.new_page()
            page.goto(server.url + "/", wait_until="commit")
            handle = page.wait_for_function(SIGNUP_USABLE, polling="raf", timeout=WAIT_MS)
            out.append(float(handle.json_value()) / 1000)
        finally:
            context.close()
    return out


def log_in(context: BrowserContext, server: KurirServer, username: str) -> Page:
    page = context.new_page()
    page.goto(server.url + "/")
    page.get_by_role("button", name="I have an account").or_(
        page.get_by_role("link", name="I have an account")).first.click()
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("list", name="Chats").wait_for()
    return page


def chats_warm(context: BrowserContext, server: KurirServer, n: int) -> list[float]:
    out = []
    for _ in range(n):
        page = context.new_page()
        try:
            page.goto(server.url + "/", wait_until="commit")
            handle = page.wait_for_function(CHATS_RENDERED, polling="raf", timeout=WAIT_MS)
            out.append(float(handle.json_value()) / 1000)
        finally:
            page.close()
    return out


def message_latency(page: Page, server: KurirServer, sender: dict[str, Any],
                    peer_id: int, m: int) -> list[float]:
    page.evaluate(WATCH_ARTICLES)
    tag = secrets.token_hex(3)
    out = []
    for i in range(m):
        key = f"bench-{tag}-{i}"
        sent_at = time.time() * 1000
        api(server, "messages.send", sender["token"], user_id=peer_id,
            text=f"{key} hello", random_id=random_id())
        shown_at = page.wait_for_function(f"() => window.__shown[{key!r}] || false",
                                          polling="raf", timeout=WAIT_MS).json_value()
        out.append((float(shown_at) - sent_at) / 1000)
    return out


def js_bytes(page: Page, origin: str) -> dict[str, Any]:
    urls: list[str] = page.evaluate(
        "() => performance.getEntriesByType('resource').map(e => e.name)"
        "    .concat([...document.scripts].map(s => s.src))")
    scripts = sorted({u for u in urls if u.startswith(origin + "/static/")
                      and u.split("?")[0].endswith(".js")})
    raw = gz = 0
    for url in scripts:
        body = _http.get(url).raise_for_status().content
        raw += len(body)
        gz += len(gzip.compress(body, compresslevel=9))
    return {"files": len(scripts), "raw_bytes": raw, "gzip_bytes": gz}


def run(server: KurirServer, browser: Browser, n: int, m: int) -> dict[str, Any]:
    log(f"(a) sign-up form, cold profile, {n} times ...")
    cold = signup_form_cold(browser, server, n)
    tag = secrets.token_hex(3)
    reader = register(server, f"reader_{tag}")
    writer = register(server, f"writer_{tag}")
    api(server, "messages.send", writer["token"], user_id=reader["user"]["id"],
        text="hello, reader", random_id=random_id())
    context = new_context(browser)
    try:
        log_in(context, server, reader["user"]["username"]).close()
        log(f"(b) chats list, logged in, warm, {n} times ...")
        warm = chats_warm(context, server, n)
        page = context.new_page()
        page.goto(server.url + "/")
        page.get_by_role("list", name="Chats").get_by_role(
            "button", name=writer["user"]["display_name"]).or_(
            page.get_by_role("list", name="Chats").get_by_role(
                "link", name=writer["user"]["display_name"])).first.click()
        page.get_by_role("log", name="Messages").wait_for()
        page.get_by_role("status", name="Connection").filter(has_text="Online").wait_for()
        log(f"(c) {m} messages from another user over the API ...")
        live = message_latency(page, server, writer, int(reader["user"]["id"]), m)
        weight = js_bytes(page, server.url)
    finally:
        context.close()
    return {
        "signup_form_cold_ms": summary_ms(cold),
        "chats_warm_ms": summary_ms(warm),
        "message_shown_ms": summary_ms(live),
        "js": weight,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 page loads, 20 messages")
    parser.add_argument("--engine", default="sqlite", choices=["sqlite", "postgres"])
    args = parser.parse_args(argv)
    install_cleanup()
    n, m = (5, 20) if args.quick else (20, 100)
    result: dict[str, Any] = {
        "benchmark": "web",
        "machine": machine_info(),
        "params": {"quick": args.quick, "engine": args.engine, "page_loads": n,
                   "messages": m, "browser": CHROMIUM, "headless": True},
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if not os.path.exists(CHROMIUM):
        log(f"{CHROMIUM} is missing (apt-get install chromium)")
        result["error"] = "chromium missing"
        emit(result)
        return 1
    server = KurirServer(args.engine)
    status = 0
    try:
        server.start()
        log(f"server pid {server.pid} on {server.url}")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=CHROMIUM_ARGS)
            result["params"]["browser_version"] = browser.version
            try:
                result[args.engine] = run(server, browser, n, m)
            finally:
                browser.close()
        log(f"figures: {result[args.engine]}")
    except Exception as e:
        status = 1
        log(f"FAILED: {type(e).__name__}: {e}")
        result["error"] = f"{type(e).__name__}: {e}"
        if server.proc is not None:
            result["server_log_tail"] = server.log_tail()
    finally:
        server.stop()
        _http.close()
    emit(result)
    return status


if __name__ == "__main__":
    sys.exit(main())
