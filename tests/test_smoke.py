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
