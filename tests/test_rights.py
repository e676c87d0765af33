"""Pure tests of channel rights and restrictions (kurir/domain/rights.py, rules 1-7)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kurir.domain import errors
from kurir.domain.rights import (
    ADMIN_NAMES,
    BANNED_NAMES,
    AdminRights,
    BannedRights,
    Member,
    admin_from_names,
    admin_names,
    banned_from_names,
    banned_names,
    check_grant,
    check_post,
    check_restrict,
    is_banned,
    require_may,
    require_right,
    slow_mode_wait,
)

NOW = 1_000_000


def member(role: str = "member", status: str = "member", admin: int = 0, banned: int = 0,
           until: int = 0, broadcast: bool = False, promoted_by: int | None = None) -> Member:
    return Member(broadcast, role, status, admin, banned, until, promoted_by)


OWNER = member("owner", admin=int(AdminRights.all()))


def test_owner_holds_every_right_and_plain_members_none() -> None:  # rule 1
    assert OWNER.rights() == AdminRights.all()
    assert member().rights() == AdminRights(0)
    poster = member("admin", admin=int(AdminRights.POST_MESSAGES))
    assert poster.rights() == AdminRights.POST_MESSAGES
    assert member("admin", status="left", admin=int(AdminRights.all())).rights() == 0


@given(st.integers(0, int(AdminRights.all())), st.integers(0, int(AdminRights.all())))
def test_an_admin_grants_only_rights_it_holds(held: int, wanted: int) -> None:  # rule 2
    actor = member("admin", admin=held | int(AdminRights.ADD_ADMINS))
    target = member()
    grant = AdminRights(wanted)
    if grant & ~actor.rights():
        with pytest.raises(errors.RIGHT_FORBIDDEN):
            check_grant(actor, 1, target, 2, grant)
    else:
        check_grant(actor, 1, target, 2, grant)


def test_grant_rules() -> None:  # rule 2
    no_add = member("admin", admin=int(AdminRights.POST_MESSAGES))
    with pytest.raises(errors.CHAT_ADMIN_REQUIRED):
        check_grant(no_add, 1, member(), 2, AdminRights.POST_MESSAGES)
    adder = member("admin", admin=int(AdminRights.ADD_ADMINS | AdminRights.POST_MESSAGES))
    others_admin = member("admin", admin=int(AdminRights.POST_MESSAGES), promoted_by=9)
    with pytest.raises(errors.RIGHT_FORBIDDEN):
        check_grant(adder, 1, others_admin, 2, AdminRights.POST_MESSAGES)
    mine = member("admin", admin=int(AdminRights.POST_MESSAGES), promoted_by=1)
    check_grant(adder, 1, mine, 2, AdminRights(0))  # its promoter may demote it
    check_grant(OWNER, 1, others_admin, 2, AdminRights(0))  # the owner may change anyone
    with pytest.raises(errors.RIGHT_FORBIDDEN):
        check_grant(OWNER, 1, OWNER, 1, AdminRights(0))
    with pytest.raises(errors.RIGHT_FORBIDDEN):
        check_grant(adder, 1, OWNER, 3, AdminRights(0))
    with pytest.raises(errors.USER_NOT_PARTICIPANT):
        check_grant(OWNER, 1, None, 2, AdminRights.POST_MESSAGES)


def test_restrictions_last_until_their_date_and_add_the_defaults() -> None:  # rule 3
    muted = member(banned=int(BannedRights.SEND_MESSAGES), until=NOW + 10)
    assert muted.restrictions(0, NOW) == BannedRights.SEND_MESSAGES
    assert muted.restrictions(0, NOW + 10) == BannedRights(0)
    forever = member(banned=int(BannedRights.SEND_MEDIA))
    assert forever.restrictions(int(BannedRights.PIN_MESSAGES), NOW + 10**6) == (
        BannedRights.SEND_MEDIA | BannedRights.PIN_MESSAGES)


def test_a_ban_runs_until_its_date() -> None:  # rule 4
    banned = member(status="kicked", banned=int(BannedRights.VIEW_MESSAGES), until=NOW + 5)
    assert is_banned(banned, NOW) and not is_banned(banned, NOW + 5)
    assert is_banned(member(status="kicked", banned=int(BannedRights.VIEW_MESSAGES)), NOW * 9)
    assert not is_banned(member(status="left"), NOW) and not is_banned(None, NOW)


def test_admins_are_never_restricted() -> None:  # rule 5
    admin = member("admin", admin=int(AdminRights.PIN_MESSAGES),
                   banned=int(BannedRights.SEND_MESSAGES))
    assert admin.restrictions(0xFFFF, NOW) == 0
    check_post(admin, 0xFFFF, NOW, media=True)


def test_who_posts_in_a_broadcast_channel() -> None:  # rule 6
    sub = member(broadcast=True)
    with pytest.raises(errors.CHAT_WRITE_FORBIDDEN):
        check_post(sub, 0, NOW, media=False)
    editor = member("admin", broadcast=True, admin=int(AdminRights.EDIT_MESSAGES))
    with pytest.raises(errors.CHAT_WRITE_FORBIDDEN):
        check_post(editor, 0, NOW, media=False)
    check_post(member("admin", broadcast=True, admin=int(AdminRights.POST_MESSAGES)), 0, NOW,
               media=False)
    with pytest.raises(errors.CHAT_WRITE_FORBIDDEN):
        check_post(None, 0, NOW, media=False)
    with pytest.raises(errors.CHAT_WRITE_FORBIDDEN):
        check_post(member(status="left"), 0, NOW, media=False)


def test_supergroup_posting_and_media_restrictions() -> None:
    check_post(member(), 0, NOW, media=True)
    with pytest.raises(errors.CHAT_WRITE_FORBIDDEN):
        check_post(member(), int(BannedRights.SEND_MEDIA), NOW, media=True)
    check_post(member(), int(BannedRights.SEND_MEDIA), NOW, media=False)


def test_slow_mode() -> None:  # rule 7
    assert slow_mode_wait(member(), 30, NOW - 10, NOW) == 20
    assert slow_mode_wait(member(), 30, NOW - 30, NOW) == 0
    assert slow_mode_wait(member(), 0, NOW, NOW) == 0
    assert slow_mode_wait(member("admin", admin=int(AdminRights.BAN_USERS)), 30, NOW, NOW) == 0


def test_require_may_and_right() -> None:
    with pytest.raises(errors.CHAT_NOT_FOUND):
        require_right(None, AdminRights.BAN_USERS)
    with pytest.raises(errors.CHAT_FORBIDDEN):
        require_right(member(status="left"), AdminRights.BAN_USERS)
    with pytest.raises(errors.CHAT_ADMIN_REQUIRED):
        require_right(member(), AdminRights.BAN_USERS)
    require_may(member(), 0, NOW, AdminRights.INVITE_USERS, BannedRights.INVITE_USERS)
    with pytest.raises(errors.CHAT_ADMIN_REQUIRED):
        require_may(member(), int(BannedRights.INVITE_USERS), NOW, AdminRights.INVITE_USERS,
                    BannedRights.INVITE_USERS)
    # an admin without the right may what every member may, under the chat's defaults
    poster = member("admin", admin=int(AdminRights.POST_MESSAGES))
    require_may(poster, 0, NOW, AdminRights.INVITE_USERS, BannedRights.INVITE_USERS)
    with pytest.raises(errors.CHAT_ADMIN_REQUIRED):
        require_may(poster, int(BannedRights.INVITE_USERS), NOW, AdminRights.INVITE_USERS,
                    BannedRights.INVITE_USERS)
    with pytest.raises(errors.CHAT_ADMIN_REQUIRED):  # a channel's subscribers never may
        require_may(member(broadcast=True), 0, NOW, AdminRights.INVITE_USERS,
                    BannedRights.INVITE_USERS)


def test_restrict_rules() -> None:
    banner = member("admin", admin=int(AdminRights.BAN_USERS))
    check_restrict(banner, 1, member(), 2)
    with pytest.raises(errors.USER_ADMIN_INVALID):
        check_restrict(banner, 1, OWNER, 2)
    with pytest.raises(errors.USER_ADMIN_INVALID):
        check_restrict(banner, 1, member(), 1)
    with pytest.raises(errors.USER_ADMIN_INVALID):
        check_restrict(banner, 1, member("admin", admin=1, promoted_by=7), 2)
    check_restrict(banner, 1, member("admin", admin=1, promoted_by=1), 2)
    with pytest.raises(errors.CHAT_ADMIN_REQUIRED):
        check_restrict(member(), 1, member(), 2)


@given(st.dictionaries(st.sampled_from(sorted(ADMIN_NAMES)), st.booleans()))
def test_admin_names_round_trip(flags: dict[str, bool]) -> None:
    rights = admin_from_names(flags)
    names = admin_names(int(rights))
    assert set(names) == set(ADMIN_NAMES)
    assert {k for k, v in names.items() if v} == {k for k, v in flags.items() if v}


@given(st.dictionaries(st.sampled_from(sorted(BANNED_NAMES)), st.booleans()))
def test_banned_names_round_trip(flags: dict[str, bool]) -> None:
    banned = banned_from_names(flags)
    assert {k for k, v in banned_names(int(banned)).items() if v} == {
        k for k, v in flags.items() if v}


def test_unknown_flag_names_are_bad_requests() -> None:
    with pytest.raises(errors.BAD_REQUEST):
        admin_from_names({"fly": True})
    with pytest.raises(errors.BAD_REQUEST):
        banned_from_names({"post_messages": True})
