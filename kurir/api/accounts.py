"""auth.*, account.* and users.* methods."""

from __future__ import annotations

from typing import Annotated

import msgspec

from kurir.api.context import Services
from kurir.api.registry import Method
from kurir.domain.types import AuthResult, Id, Session, User

Limit = Annotated[int, msgspec.Meta(ge=1, le=100)]
Short = Annotated[str, msgspec.Meta(max_length=256)]


class Register(msgspec.Struct, forbid_unknown_fields=False):
    username: Short
    password: Annotated[str, msgspec.Meta(max_length=1024)]
    display_name: Short
    device: Short = ""


class Login(msgspec.Struct):
    username: Short
    password: Annotated[str, msgspec.Meta(max_length=1024)]
    device: Short = ""


class Empty(msgspec.Struct):
    pass


class TerminateSession(msgspec.Struct):
    session_id: Id


class UpdateProfile(msgspec.Struct):
    display_name: Short | None = None
    bio: Short | None = None


class UpdateUsername(msgspec.Struct):
    username: Short


class ChangePassword(msgspec.Struct):
    old_password: Annotated[str, msgspec.Meta(max_length=1024)]
    new_password: Annotated[str, msgspec.Meta(max_length=1024)]


class GetUser(msgspec.Struct):
    user_id: Id | None = None
    username: Short | None = None


class SearchUsers(msgspec.Struct):
    query: Short
    limit: Limit = 20


def methods(s: Services) -> list[Method]:
    a = s.accounts
    return [
        Method("auth.register", Register, AuthResult,
               lambda r, p: a.register(p.username, p.password, p.display_name,
                                       p.device or r.user_agent, r.ip),
               "Create an account and log in its first session.", auth=False),
        Method("auth.login", Login, AuthResult,
               lambda r, p: a.login(p.username, p.password, p.device or r.user_agent, r.ip),
               "Log in: a new session with its own bearer token.", auth=False),
        Method("auth.logout", Empty, bool, lambda c, p: a.logout(c),
               "End the calling session."),
        Method("account.getSessions", Empty, list[Session], lambda c, p: a.sessions(c),
               "The caller's sessions (devices)."),
        Method("account.terminateSession", TerminateSession, bool,
               lambda c, p: a.terminate_session(c, p.session_id),
               "End one session: its token stops working and its WebSocket closes."),
        Method("account.updateProfile", UpdateProfile, User,
               lambda c, p: a.update_profile(c, p.display_name, p.bio),
               "Change display name and/or bio."),
        Method("account.updateUsername", UpdateUsername, User,
               lambda c, p: a.update_username(c, p.username),
               "Change the username; the old one is free for others at once."),
        Method("account.changePassword", ChangePassword, bool,
               lambda c, p: a.change_password(c, p.old_password, p.new_password),
               "Change the password; every other session ends."),
        Method("users.get", GetUser, User, lambda c, p: a.get_user(p.user_id, p.username),
               "A user by id or @username."),
        Method("users.search", SearchUsers, list[User],
               lambda c, p: a.search_users(p.query, p.limit),
               "Users whose username starts with, or display name contains, the query."),
    ]
