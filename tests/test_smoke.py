"""The walking skeleton: a real server answers, both engines, the contract's envelopes."""

from __future__ import annotations

import httpx


async def test_register_send_and_sync(make_user, http: httpx.AsyncClient) -> None:
    alice = await make_user("Alice")
    bob = await make_user("Bob")
    msg = await alice("messages.send", user_id=bob.id, text="hello", random_id=7)
    assert (msg["id"], msg["from_id"], msg["text"]) == (1, alice.id, "hello")
    diff = await bob("updates.getDifference", pts=0)
    assert [u["pts"] for u in diff["updates"]] == [1]
    assert diff["updates"][0]["message"] == msg
    assert diff["state"] == {"pts": 1} and diff["more"] is False


async def test_openapi_lists_every_method(http: httpx.AsyncClient) -> None:
    doc = (await http.get("/api/v1/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    for name in ("auth.register", "messages.send", "updates.getDifference", "chats.createGroup"):
        assert f"/api/v1/{name}" in doc["paths"]
    assert doc["paths"]["/api/v1/messages.send"]["post"]["security"] == [{"bearer": []}]
    assert "security" not in doc["paths"]["/api/v1/auth.register"]["post"]


async def test_the_web_app_is_served_with_a_strict_policy(http: httpx.AsyncClient) -> None:
    """`/` (and an invite link's `/+hash`) is the app's shell, from this server alone."""
    for path in ("/", "/+abc123"):
        r = await http.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert "<html" in r.text
        policy = r.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
    shell = (await http.get("/")).text
    for src in ("/static/app.js", "/static/style.css"):
        assert src in shell
        assert (await http.get(src)).status_code == 200, src
    assert (await http.get("/static/no-such-file.js")).status_code == 404
    assert (await http.get("/static/../app.py")).status_code == 404
