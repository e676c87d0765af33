"""Accounts, sessions (one per logged-in device) and profiles."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kurir.domain import errors, rules
from kurir.domain.ratelimit import RateLimiter
from kurir.domain.types import AuthResult, Session, User
from kurir.live import Hub
from kurir.storage import nodes
from kurir.storage import users as q
from kurir.storage.port import Conflict, Database, Tx

# A session's last_active is written at most this often: a write per request would make
# every read a write.
TOUCH_EVERY = 60
# Tokens found valid are remembered this long; terminating a session drops it at once
# from this process (and, through the bus, from the others'), so this only bounds staleness
# should a bus message be lost.
TOKEN_CACHE_SECONDS = 30
# A hash to verify against when the username is unknown, so that timing does not tell.
_DUMMY_PASSWORD = "kurir-no-such-user"


@dataclass(frozen=True, slots=True)
class Caller:
    user_id: int
    session_id: int
    is_bot: bool = False


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Accounts:
    def __init__(
        self, db: Database, hub: Hub, hasher: PasswordHasher, signups_per_minute: float,
        login_failures_per_ip: float = 50.0, token_cache_seconds: float = TOKEN_CACHE_SECONDS,
    ) -> None:
        self._db = db
        self._hub = hub
        self._hasher = hasher
        self._dummy_hash = hasher.hash(_DUMMY_PASSWORD)
        self._tokens: dict[bytes, tuple[Caller, float, int]] = {}
        self._token_cache_seconds = token_cache_seconds
        self._session_tokens: dict[int, bytes] = {}  # session id -> its cached token's hash
        hub.session_end_listeners.append(self._forget_session)  # ended on any process
        # A guesser at one account is slowed after 5 failures a minute; one address gets a
        # larger budget over all accounts, so an attack on one name from a shared address
        # (a NAT, a campus) does not lock everyone else there out.
        self._failures_per_name = RateLimiter(rate=5 / 60, burst=5)
        self._failures_per_ip = RateLimiter(
            rate=login_failures_per_ip / 60, burst=max(1.0, login_failures_per_ip)
        )
        self._registrations = RateLimiter(
            rate=signups_per_minute / 60, burst=max(1.0, signups_per_minute)
        )

    # registration and login ---------------------------------------------------------------
    async def register(
        self, username: str, password: str, display_name: str, device: str, ip: str
    ) -> AuthResult:
        rules.check_username(username)
        rules.check_password(password)
        name = rules.check_display_name(display_name)
        wait = self._registrations.take(ip, time.monotonic())
        if wait:
            raise errors.FLOOD_WAIT("too many sign-ups", retry_after=RateLimiter.retry_after(wait))
        key = rules.username_key(username)
        if await self._db.read(q.by_username, key) is not None:
            raise errors.USERNAME_OCCUPIED("that username is taken")
        hashed = await asyncio.to_thread(self._hasher.hash, password)
        token = secrets.token_urlsafe(32)
        now = int(time.time())

        def txn(tx: Tx) -> tuple[User, int]:
            if q.by_username(tx, key) is not None:
                raise errors.USERNAME_OCCUPIED("that username is taken")
            user = q.create(tx, username, key, name, hashed, now)
            sid = q.create_session(tx, user.id, token_hash(token), device, ip, now)
            return user, sid

        try:
            user, sid = await self._db.write(txn)
        except Conflict:
            raise errors.USERNAME_OCCUPIED("that username is taken") from None
        return AuthResult(user=user, token=token, session_id=sid)

    async def login(self, username: str, password: str, device: str, ip: str) -> AuthResult:
        key = rules.username_key(username)
        now_m = time.monotonic()
        # only failures spend from these buckets; a guesser is slowed, a user is not
        wait = max(self._failures_per_name.wait(key, now_m), self._failures_per_ip.wait(ip, now_m))
        if wait:
            raise errors.FLOOD_WAIT(
                "too many failed logins", retry_after=RateLimiter.retry_after(wait)
            )
        found = await self._db.read(q.password_hash, key)
        stored = found[1] if found and found[1] else self._dummy_hash
        try:
            ok: bool = await asyncio.to_thread(self._hasher.verify, stored, password)
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or found is None or not found[1]:
            self._failures_per_name.take(key, now_m)
            self._failures_per_ip.take(ip, now_m)
            raise errors.PASSWORD_INVALID("wrong username or password")
        user_id = found[0]
        token = secrets.token_urlsafe(32)
        now = int(time.time())

        def txn(tx: Tx) -> tuple[User | None, int]:
            sid = q.create_session(tx, user_id, token_hash(token), device, ip, now)
            return q.by_id(tx, user_id), sid

        user, sid = await self._db.write(txn)
        assert user is not None
        return AuthResult(user=user, token=token, session_id=sid)

    # tokens -------------------------------------------------------------------------------
    async def authenticate(self, token: str | None) -> Caller:
        """A person's session: the client API is theirs; bots speak the Bot API."""
        caller = await self.authenticate_any(token)
        if caller.is_bot:
            raise errors.AUTH_KEY_INVALID("a bot's token works only at /bot<token>/ (the Bot API)")
        return caller

    async def authenticate_bot(self, token: str) -> Caller:
        caller = await self.authenticate_any(token)
        if not caller.is_bot:
            raise errors.AUTH_KEY_INVALID("not a bot's token")
        return caller

    async def authenticate_any(self, token: str | None) -> Caller:
        if not token or len(token) > 512:
            raise errors.AUTH_KEY_INVALID("a valid bearer token is required")
        h = token_hash(token)
        now = time.monotonic()
        cached = self._tokens.get(h)
        if cached is not None and cached[1] > now:
            # the entry's expiry stays as the database read set it: a token in constant use
            # is still looked up again every token_cache_seconds, so an end of its session
            # that no bus message told this process of is seen within that time
            caller, expires, last_active = cached
        else:
            found = await self._db.read(q.session_by_token, h)
            if found is None:
                self._tokens.pop(h, None)
                raise errors.AUTH_KEY_INVALID("the token is invalid or its session has ended")
            sid, uid, last_active, is_bot = found
            caller = Caller(uid, sid, is_bot)
            if len(self._tokens) > 100_000:
                self._tokens.clear()
                self._session_tokens.clear()
            self._session_tokens[sid] = h
            expires = now + self._token_cache_seconds
        wall = int(time.time())
        if wall - last_active >= TOUCH_EVERY:
            last_active = wall
            await self._db.write(q.touch_session, caller.session_id, wall)
        self._tokens[h] = (caller, expires, last_active)
        return caller

    def _forget_session(self, session_id: int) -> None:
        h = self._session_tokens.pop(session_id, None)
        if h is not None:
            self._tokens.pop(h, None)

    async def logout(self, caller: Caller) -> bool:
        await self.terminate_session(caller, caller.session_id)
        return True

    async def sessions(self, caller: Caller) -> list[Session]:
        rows = await self._db.read(q.sessions_of, caller.user_id)
        return [
            Session(session_id=r[0], device=r[1], created=r[2], last_active=r[3],
                    current=r[0] == caller.session_id)
            for r in rows
        ]

    async def terminate_session(self, caller: Caller, session_id: int) -> bool:
        if not await self._db.write(q.delete_session, caller.user_id, session_id):
            raise errors.SESSION_ID_INVALID("no such session")
        self._forget_session(session_id)
        self._hub.session_ended(caller.user_id, session_id)
        return True

    def on_session_ended(self, session_id: int) -> None:
        """A session ended elsewhere (another process): drop its cached token."""
        self._forget_session(session_id)

    # profile ------------------------------------------------------------------------------
    async def update_profile(
        self, caller: Caller, display_name: str | None, bio: str | None
    ) -> User:
        name = rules.check_display_name(display_name) if display_name is not None else None
        about = rules.check_bio(bio) if bio is not None else None

        def txn(tx: Tx) -> User | None:
            if name is not None:
                tx.execute("UPDATE users SET display_name = ? WHERE id = ?", (name, caller.user_id))
            if about is not None:
                tx.execute("UPDATE users SET bio = ? WHERE id = ?", (about, caller.user_id))
            return q.by_id(tx, caller.user_id)

        user = await self._db.write(txn)
        assert user is not None
        return user

    async def update_username(self, caller: Caller, username: str) -> User:
        rules.check_username(username)
        key = rules.username_key(username)

        def txn(tx: Tx) -> User | None:
            holder = q.by_username(tx, key)
            if holder is not None and holder.id != caller.user_id:
                raise errors.USERNAME_OCCUPIED("that username is taken")
            if holder is not None and holder.username == username:
                raise errors.USERNAME_NOT_MODIFIED("that is already your username")
            tx.execute(
                "UPDATE users SET username = ?, username_key = ? WHERE id = ?",
                (username, key, caller.user_id),
            )
            q.claim_username(tx, caller.user_id, key)
            return q.by_id(tx, caller.user_id)

        try:
            user = await self._db.write(txn)
        except Conflict:
            raise errors.USERNAME_OCCUPIED("that username is taken") from None
        assert user is not None
        return user

    async def change_password(self, caller: Caller, old: str, new: str) -> bool:
        rules.check_password(new)

        def get_hash(tx: Tx) -> str | None:
            row = tx.one("SELECT password_hash FROM users WHERE id = ?", (caller.user_id,))
            return row[0] if row else None

        stored = await self._db.read(get_hash)
        try:
            await asyncio.to_thread(self._hasher.verify, stored or self._dummy_hash, old)
        except (VerificationError, InvalidHashError):
            raise errors.PASSWORD_INVALID("the current password is wrong") from None
        hashed = await asyncio.to_thread(self._hasher.hash, new)

        def txn(tx: Tx) -> list[int]:
            tx.execute("UPDATE users SET password_hash = ? WHERE id = ?", (hashed, caller.user_id))
            # as Telegram: other sessions end when the password changes
            others = [r[0] for r in q.sessions_of(tx, caller.user_id) if r[0] != caller.session_id]
            for sid in others:
                q.delete_session(tx, caller.user_id, sid)
            return others

        for sid in await self._db.write(txn):
            self._forget_session(sid)
            self._hub.session_ended(caller.user_id, sid)
        return True

    # users --------------------------------------------------------------------------------
    async def get_user(self, user_id: int | None, username: str | None) -> User:
        if user_id is None and username is None:
            raise errors.BAD_REQUEST("give user_id or username")

        def txn(tx: Tx) -> User | None:
            if user_id is not None:
                user = q.by_id(tx, user_id)
            else:
                user = q.by_username(tx, rules.username_key((username or "").lstrip("@")))
            return _with_presence(tx, [user])[0] if user is not None else None

        user = await self._db.read(txn)
        if user is None:
            raise errors.USER_NOT_FOUND("no such user")
        return user

    async def search_users(self, query: str, limit: int) -> list[User]:
        query = query.strip().lstrip("@").lower()
        if not query:
            raise errors.QUERY_TOO_SHORT("the query is empty")
        esc = rules.escape_like(query)
        return await self._db.read(
            lambda tx: _with_presence(tx, q.search(tx, esc + "%", "%" + esc + "%", limit)))

    # admin (the CLI) ----------------------------------------------------------------------
    async def admin_create_user(self, username: str, password: str, display_name: str) -> User:
        result = await self.register(username, password, display_name, "kurir admin", "local")
        await self.terminate_session(Caller(result.user.id, result.session_id), result.session_id)
        return result.user

    async def admin_list_users(self, after_id: int, limit: int) -> list[User]:
        return await self._db.read(q.list_all, after_id, limit)


def _with_presence(tx: Tx, found: list[User]) -> list[User]:
    """Mark who has a socket open on any server process."""
    online = nodes.online_among(tx, [u.id for u in found])
    for u in found:
        if u.id in online:
            u.online = True
    return found
