"""The pure core, without a server or a database: rules, entities, permissions, flood limits,
errors. Everything here runs in microseconds."""

from __future__ import annotations

import itertools
import math
import string

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kurir.domain import entities, errors, markup, permissions, rules
from kurir.domain.entities import check_entities, utf16_len
from kurir.domain.permissions import Standing
from kurir.domain.ratelimit import RateLimiter
from kurir.domain.types import MessageEntity


def raises_api(error: type[errors.ApiError]):  # type: ignore[no-untyped-def]
    """pytest.raises for an API error that must be exactly this type (not merely a subclass)."""
    return pytest.raises(errors.ApiError, check=lambda e: type(e) is error)


# usernames -------------------------------------------------------------------------------

USERNAME_CHARS = set(string.ascii_letters + string.digits + "_")


def username_ok(name: str) -> bool:
    """Telegram's rule, written out independently of the regex under test."""
    return (
        5 <= len(name) <= 32
        and name[0] in string.ascii_letters
        and all(c in USERNAME_CHARS for c in name)
        and not name.endswith("_")
        and "__" not in name
    )


@pytest.mark.parametrize(
    "name", ["alice", "Alice_2", "a1234", "ab_cd", "A0000", "a" * 32, "a_b_c_d_e", "Z9_9z"]
)
def test_valid_usernames_are_returned_as_given(name: str) -> None:
    assert rules.check_username(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "", "abcd", "a" * 33, "1alice", "_alice", "alice_", "al__ice", "alice!", "ali ce",
        "alice-1", "alice.x", "alíce", "\u0430lice",  # Cyrillic a, U+0430
        "alice\n", "\nalice", "alice\x00", "\uff41lice",  # fullwidth a
        "a" * 31 + "_",
    ],
)
def test_invalid_usernames_are_refused(name: str) -> None:
    with raises_api(errors.USERNAME_INVALID):
        rules.check_username(name)


@given(st.text(alphabet=string.ascii_letters[:3] + "Z09_é-\n", max_size=40) | st.text(max_size=40))
def test_username_rule_matches_telegrams(name: str) -> None:
    if username_ok(name):
        assert rules.check_username(name) == name
    else:
        with raises_api(errors.USERNAME_INVALID):
            rules.check_username(name)


def test_username_key_is_case_insensitive() -> None:
    assert rules.username_key("Alice_B") == rules.username_key("aLICE_b") == "alice_b"


# display names, bios, titles --------------------------------------------------------------

@pytest.mark.parametrize(
    ("given_name", "stored"),
    [("Alice", "Alice"), ("  Alice Smith \n", "Alice Smith"), ("x" * 64, "x" * 64),
     ("Алиса 😀", "Алиса 😀"), (" " + "y" * 64 + " ", "y" * 64)],
)
def test_display_name_is_stripped(given_name: str, stored: str) -> None:
    assert rules.check_display_name(given_name) == stored


@pytest.mark.parametrize("name", ["", "   ", "\n\t", "x" * 65, "Ali\nce", "Ali\x00ce", "a\x1bb"])
def test_bad_display_names_are_refused(name: str) -> None:
    with raises_api(errors.DISPLAY_NAME_INVALID):
        rules.check_display_name(name)


def test_bio_limit() -> None:
    assert rules.check_bio("b" * 140) == "b" * 140
    assert rules.check_bio("") == ""
    with raises_api(errors.ABOUT_TOO_LONG):
        rules.check_bio("b" * 141)


def test_titles() -> None:
    assert rules.check_title("  Team chat ") == "Team chat"
    assert rules.check_title("t" * 128) == "t" * 128
    for empty in ("", "   ", "\n"):
        with raises_api(errors.CHAT_TITLE_EMPTY):
            rules.check_title(empty)
    for bad in ("t" * 129, "two\nlines", "bell\x07"):
        with raises_api(errors.BAD_REQUEST):
            rules.check_title(bad)


# passwords ---------------------------------------------------------------------------------

@pytest.mark.parametrize("password", ["correct horse", "abcdabcd", "p" * 1020 + "qrst"])
def test_good_passwords(password: str) -> None:
    assert rules.check_password(password) == password


@pytest.mark.parametrize(
    "password", ["", "abcdefg", "aaaaaaaa", "abcabcab", "ab" * 10, "abcd" * 256 + "e"]
)
def test_weak_passwords(password: str) -> None:
    with raises_api(errors.PASSWORD_TOO_WEAK):
        rules.check_password(password)


# message text ------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["", " ", "\n\t \r", "\u3000\u00a0\u2003", "   \n   "])
def test_blank_text_is_empty(text: str) -> None:
    with raises_api(errors.MESSAGE_EMPTY):
        rules.check_message_text(text)


@pytest.mark.parametrize("text", ["hi", ".", " hi ", "a" * 4096, "😀" * 4096, "line\nline"])
def test_text_within_limits_is_kept_as_given(text: str) -> None:
    assert rules.check_message_text(text) == text


@pytest.mark.parametrize("text", ["a" * 4097, "😀" * 4097, "x" * 100_000])
def test_text_over_4096_characters_is_too_long(text: str) -> None:
    with raises_api(errors.MESSAGE_TOO_LONG):
        rules.check_message_text(text)


@given(st.text(max_size=300))
def test_text_is_accepted_iff_something_remains(text: str) -> None:
    if text.strip():
        assert rules.check_message_text(text) == text
    else:
        with raises_api(errors.MESSAGE_EMPTY):
            rules.check_message_text(text)


# reactions ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "emoji",
    ["👍", "❤️", "❤", "🔥", "👍🏽", "🇺🇦", "👨‍👩‍👧‍👦", "🤷‍♀️", "😂"],
)
def test_emoji_reactions_are_accepted(emoji: str) -> None:
    assert rules.check_reaction(emoji) == emoji


@pytest.mark.parametrize(
    "emoji", ["", " ", "a", "1", "ok", "👍 ", " 👍", "👍\n👍", "x👍", "👍" * 17, "\u00a0"]
)
def test_blank_or_ascii_reactions_are_refused(emoji: str) -> None:
    with raises_api(errors.REACTION_INVALID):
        rules.check_reaction(emoji)


@pytest.mark.parametrize(
    "text", ["привет", "中文", "é", "٣", "<b>", "!", "--", "%s"],
)
def test_words_and_punctuation_are_not_reactions(text: str) -> None:
    """'A reaction is one emoji': letters of any script and ASCII punctuation are not."""
    with raises_api(errors.REACTION_INVALID):
        rules.check_reaction(text)


def test_escape_like_makes_wildcards_literal() -> None:
    assert rules.escape_like(r"50%_off\x") == r"50\%\_off\\x"


# entities: UTF-16 lengths and bounds ---------------------------------------------------------

def ent(type_: str, offset: int, length: int, **kw: object) -> MessageEntity:
    return MessageEntity(type=type_, offset=offset, length=length, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "units"),
    [("", 0), ("abc", 3), ("é", 1), ("€", 1), ("😀", 2), ("a😀b", 4), ("👍🏽", 4),
     ("\U0001d54f", 2)],
)
def test_utf16_len_examples(text: str, units: int) -> None:
    assert utf16_len(text) == units


@given(st.text())
def test_utf16_len_counts_astral_characters_twice(text: str) -> None:
    assert utf16_len(text) == sum(2 if ord(c) > 0xFFFF else 1 for c in text)
    assert utf16_len(text) == len(text.encode("utf-16-le")) // 2


def test_entity_offsets_are_utf16_units() -> None:
    text = "😀 hi"  # 4 code points, 5 UTF-16 units: "hi" is at offset 3
    assert len(text) == 4 and utf16_len(text) == 5
    assert check_entities(text, [ent("bold", 3, 2)]) == [ent("bold", 3, 2)]
    assert check_entities(text, [ent("bold", 0, 5)]) == [ent("bold", 0, 5)]
    with raises_api(errors.ENTITIES_INVALID):
        check_entities(text, [ent("bold", 4, 2)])
    with raises_api(errors.ENTITIES_INVALID):
        check_entities(text, [ent("bold", 0, 6)])


@pytest.mark.parametrize(("offset", "length"), [(0, 6), (5, 1), (6, 1), (3, 4), (100, 1)])
def test_entities_outside_the_text_are_refused(offset: int, length: int) -> None:
    with raises_api(errors.ENTITIES_INVALID):
        check_entities("hello", [ent("italic", offset, length)])


def test_no_entities() -> None:
    assert check_entities("hello", None) == []
    assert check_entities("hello", []) == []


@pytest.mark.parametrize(
    "raw",
    [{"type": "bold", "offset": -1, "length": 2}, {"type": "bold", "offset": 0, "length": 0},
     {"type": "bold", "offset": 0, "length": -3}, {"type": "bold", "length": 1}],
)
def test_entity_type_refuses_negative_offsets_and_empty_lengths(raw: dict[str, object]) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(raw, MessageEntity)


# entities: nesting -------------------------------------------------------------------------

TEXT20 = "abcdefghijklmnopqrst"


@pytest.mark.parametrize(
    "spans",
    [
        [(0, 10), (2, 5)],                  # nested
        [(0, 5), (0, 5)],                   # the same span twice (bold + italic)
        [(0, 5), (5, 5)],                   # adjacent
        [(0, 10), (1, 8), (2, 3), (6, 2)],  # deeper, with siblings
        [(2, 5), (0, 10)],                  # nested, given outer last
        [(0, 20), (0, 1), (19, 1)],         # children at both edges
    ],
)
def test_nested_entities_are_accepted(spans: list[tuple[int, int]]) -> None:
    given_ = [ent("bold", o, n) for o, n in spans]
    out = check_entities(TEXT20, given_)
    assert sorted(out, key=lambda e: (e.offset, e.length)) == sorted(
        given_, key=lambda e: (e.offset, e.length)
    )
    # returned outermost first at each offset, in offset order
    assert out == sorted(given_, key=lambda e: (e.offset, -e.length))


@pytest.mark.parametrize(
    "spans",
    [
        [(0, 5), (3, 5)],               # partial overlap
        [(3, 5), (0, 5)],               # the same, given the other way round
        [(0, 10), (1, 4), (3, 4)],      # siblings overlapping inside a parent
        [(0, 5), (2, 5)],               # child running past its parent
        [(0, 10), (2, 3), (4, 8)],      # overlaps the parent's end and a sibling
        [(0, 4), (4, 4), (2, 4)],       # straddles two adjacent entities
    ],
)
def test_partially_overlapping_entities_are_refused(spans: list[tuple[int, int]]) -> None:
    for order in itertools.permutations(spans):
        with raises_api(errors.ENTITIES_INVALID):
            check_entities(TEXT20, [ent("italic", o, n) for o, n in order])


def laminar(spans: list[tuple[int, int]]) -> bool:
    """Every two spans are disjoint or one holds the other."""
    for (a, la), (b, lb) in itertools.combinations(spans, 2):
        a_end, b_end = a + la, b + lb
        disjoint = a_end <= b or b_end <= a
        nested = (a <= b and b_end <= a_end) or (b <= a and a_end <= b_end)
        if not (disjoint or nested):
            return False
    return True


@st.composite
def spans_in(draw: st.DrawFn, total: int) -> list[tuple[int, int]]:
    n = draw(st.integers(0, 8))
    out = []
    for _ in range(n):
        offset = draw(st.integers(0, total - 1))
        out.append((offset, draw(st.integers(1, total - offset))))
    return out


@given(st.text(min_size=1, max_size=30), st.data())
def test_entities_are_accepted_iff_inside_and_laminar(text: str, data: st.DataObject) -> None:
    total = utf16_len(text)
    spans = data.draw(spans_in(total))
    given_ = [ent("code", o, n) for o, n in spans]
    if laminar(spans):
        out = check_entities(text, given_)
        assert sorted(out, key=lambda e: (e.offset, e.length)) == sorted(
            given_, key=lambda e: (e.offset, e.length)
        )
    else:
        with raises_api(errors.ENTITIES_INVALID):
            check_entities(text, given_)


@st.composite
def nested_tree(draw: st.DrawFn, start: int, end: int, depth: int = 0) -> list[tuple[int, int]]:
    """Entities built the way a parser makes them: split a span, recurse into the pieces."""
    if end - start < 1 or depth > 4:
        return []
    cuts = sorted(draw(st.sets(st.integers(start, end), max_size=4)) | {start, end})
    out: list[tuple[int, int]] = []
    for a, b in itertools.pairwise(cuts):
        if b > a and draw(st.booleans()):
            out.append((a, b - a))
            out.extend(draw(nested_tree(a, b, depth + 1)))
    return out


@given(st.text(min_size=1, max_size=40), st.data())
def test_any_well_nested_entities_inside_the_text_are_accepted(
    text: str, data: st.DataObject
) -> None:
    spans = data.draw(nested_tree(0, utf16_len(text)))[: entities.MAX_ENTITIES]
    shuffled = data.draw(st.permutations(spans))
    assert len(check_entities(text, [ent("bold", o, n) for o, n in shuffled])) == len(spans)


# entities: types and fields ----------------------------------------------------------------

@pytest.mark.parametrize(
    "url", ["https://example.com", "http://x.org/a?b=c", "tg://user?id=1", "mailto:a@b.c",
            "kurir://chat/5", "https://" + "a" * 2040],
)
def test_text_link_urls_accepted(url: str) -> None:
    assert len(url) <= 2048
    check_entities("click here", [ent("text_link", 0, 5, url=url)])


@pytest.mark.parametrize(
    "url", [None, "", "javascript:alert(1)", "ftp://x.org", "example.com", "data:text/html,x",
            "https://" + "a" * 2041, " https://x.org"],
)
def test_text_link_urls_refused(url: str | None) -> None:
    with raises_api(errors.ENTITIES_INVALID):
        check_entities("click here", [ent("text_link", 0, 5, url=url)])


def test_only_text_link_has_a_url() -> None:
    with raises_api(errors.ENTITIES_INVALID):
        check_entities("click here", [ent("bold", 0, 5, url="https://x.org")])


def test_text_mention_needs_a_user() -> None:
    assert check_entities("hi bob", [ent("text_mention", 3, 3, user_id=7)])
    for user_id in (None, 0):
        with raises_api(errors.ENTITIES_INVALID):
            check_entities("hi bob", [ent("text_mention", 3, 3, user_id=user_id)])


def test_only_pre_has_a_language() -> None:
    assert check_entities("print(1)", [ent("pre", 0, 8, language="python")])
    assert check_entities("print(1)", [ent("pre", 0, 8, language="x" * 32)])
    with raises_api(errors.ENTITIES_INVALID):
        check_entities("print(1)", [ent("code", 0, 8, language="python")])
    with raises_api(errors.ENTITIES_INVALID):
        check_entities("print(1)", [ent("pre", 0, 8, language="x" * 33)])


@pytest.mark.parametrize("type_", sorted(entities.SIMPLE_TYPES))
def test_every_simple_type_is_accepted(type_: str) -> None:
    assert check_entities("hello", [ent(type_, 0, 5)]) == [ent(type_, 0, 5)]


@pytest.mark.parametrize("type_", ["", "Bold", "blink", "script", "text_link "])
def test_unknown_entity_types_are_refused(type_: str) -> None:
    with raises_api(errors.ENTITIES_INVALID):
        check_entities("hello", [ent(type_, 0, 5)])


def test_at_most_100_entities() -> None:
    text = "x" * 200
    hundred = [ent("bold", i, 1) for i in range(entities.MAX_ENTITIES)]
    assert len(check_entities(text, hundred)) == 100
    with raises_api(errors.ENTITIES_INVALID):
        check_entities(text, [*hundred, ent("bold", 150, 1)])


# permissions: a table over chat type x role x status ---------------------------------------

OK = None
NF, FORB, WFORB = errors.CHAT_NOT_FOUND, errors.CHAT_FORBIDDEN, errors.CHAT_WRITE_FORBIDDEN
PEER, ADMIN, OWNER = errors.PEER_INVALID, errors.CHAT_ADMIN_REQUIRED, errors.CHAT_OWNER_REQUIRED

CHECKS = [permissions.require_visible, permissions.require_member, permissions.require_writer,
          permissions.require_admin, permissions.require_owner]

# (chat_type, role, status): outcome of visible, member, writer, admin, owner
TABLE: dict[tuple[str, str, str], tuple[type[errors.ApiError] | None, ...]] = {
    # rules 3-5: active members of a group
    ("group", "owner", "member"): (OK, OK, OK, OK, OK),
    ("group", "admin", "member"): (OK, OK, OK, OK, OWNER),
    ("group", "member", "member"): (OK, OK, OK, ADMIN, ADMIN),
    # rule 7's world: a private chat has no admins
    ("private", "owner", "member"): (OK, OK, OK, PEER, PEER),
    ("private", "admin", "member"): (OK, OK, OK, PEER, PEER),
    ("private", "member", "member"): (OK, OK, OK, PEER, PEER),
}
# rule 2: former members (left or removed) still see the chat, but may not read or write
for _chat, _role, _status in itertools.product(
    ("group", "private"), ("owner", "admin", "member"), ("left", "kicked")
):
    TABLE[(_chat, _role, _status)] = (OK, FORB, WFORB, FORB, FORB)


@pytest.mark.parametrize(("key", "outcomes"), TABLE.items(), ids=lambda v: str(v))
def test_permission_table(key: tuple[str, str, str], outcomes: tuple[object, ...]) -> None:
    assert len(TABLE) == 18
    standing = Standing(*key)
    for check, outcome in zip(CHECKS, outcomes, strict=True):
        if outcome is OK:
            assert check(standing) is standing, check.__name__
        else:
            with raises_api(outcome):  # type: ignore[arg-type]
                check(standing)


@pytest.mark.parametrize("check", CHECKS)
def test_no_standing_means_the_chat_does_not_exist(check) -> None:  # type: ignore[no-untyped-def]
    """Rule 1: ids reveal nothing to non-members."""
    with raises_api(errors.CHAT_NOT_FOUND):
        check(None)


@pytest.mark.parametrize(
    ("chat", "role", "status"),
    list(itertools.product(("group", "private"), ("owner", "admin", "member"),
                           ("member", "left", "kicked"))),
)
def test_delete_for_everyone(chat: str, role: str, status: str) -> None:
    """Rules 3, 4 and 7: own messages; anyone's as admin; anyone's in a private chat."""
    s = Standing(chat, role, status)
    own = permissions.may_delete_for_everyone(s, author_id=1, actor_id=1)
    other = permissions.may_delete_for_everyone(s, author_id=2, actor_id=1)
    active = status == "member"
    assert own is active
    assert other is (active and (chat == "private" or role in ("owner", "admin")))
    assert Standing(chat, role, status).active is active
    assert s.is_admin is (active and role in ("owner", "admin"))


def member(role: str, status: str = "member") -> Standing:
    return Standing("group", role, status)


@pytest.mark.parametrize(
    ("actor", "target", "outcome"),
    [
        # rule 4: owner and admins remove plain members
        (member("owner"), member("member"), OK),
        (member("admin"), member("member"), OK),
        # rule 5: the owner removes admins; nobody removes the owner
        (member("owner"), member("admin"), OK),
        (member("admin"), member("owner"), ADMIN),
        (member("member"), member("owner"), ADMIN),
        # rule 6: an admin may not remove another admin
        (member("admin"), member("admin"), ADMIN),
        # plain members remove nobody
        (member("member"), member("member"), ADMIN),
        (member("member"), member("admin"), ADMIN),
        # a former admin has no powers left
        (member("admin", "left"), member("member"), ADMIN),
        (member("owner", "kicked"), member("member"), ADMIN),
        # only present members can be removed
        (member("owner"), member("member", "left"), errors.USER_NOT_PARTICIPANT),
        (member("owner"), member("member", "kicked"), errors.USER_NOT_PARTICIPANT),
        (member("owner"), None, errors.USER_NOT_PARTICIPANT),
    ],
)
def test_check_remove(actor: Standing, target: Standing | None, outcome: object) -> None:
    if outcome is OK:
        permissions.check_remove(actor, target, actor_id=1, target_id=2)
    else:
        with raises_api(outcome):  # type: ignore[arg-type]
            permissions.check_remove(actor, target, actor_id=1, target_id=2)


def test_removing_oneself_needs_no_rights_but_the_owner_cannot_go() -> None:
    for role in ("member", "admin"):
        permissions.check_remove(member(role), member(role), actor_id=5, target_id=5)
    with raises_api(errors.CHAT_ADMIN_REQUIRED):
        permissions.check_remove(member("owner"), member("owner"), actor_id=5, target_id=5)


# flood limits --------------------------------------------------------------------------------

def test_burst_then_refused_with_the_time_to_wait() -> None:
    rl = RateLimiter(rate=2.0, burst=3)
    assert [rl.take("k", 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert rl.take("k", 100.0) == pytest.approx(0.5)
    assert rl.take("k", 100.0) == pytest.approx(0.5)  # a refusal spends nothing


def test_refill_is_proportional_to_elapsed_time_and_capped_at_burst() -> None:
    rl = RateLimiter(rate=1.0, burst=3)
    for _ in range(3):
        assert rl.take("k", 0.0) == 0.0
    assert rl.take("k", 0.25) == pytest.approx(0.75)
    assert rl.take("k", 1.0) == 0.0
    assert rl.take("k", 1.0) > 0
    # a long idle time refills to `burst`, not beyond
    assert [rl.take("k", 1000.0) for _ in range(4)][3] == pytest.approx(1.0)


def test_wait_spends_nothing() -> None:
    rl = RateLimiter(rate=1.0, burst=2)
    for _ in range(10):
        assert rl.wait("k", 0.0) == 0.0
    assert rl.take("k", 0.0) == 0.0
    assert rl.take("k", 0.0) == 0.0
    for _ in range(10):
        assert rl.wait("k", 0.0) == pytest.approx(1.0)
    assert rl.wait("k", 0.5) == pytest.approx(0.5)
    assert rl.wait("k", 1.0) == 0.0
    assert rl.take("k", 1.0) == 0.0  # the token that wait saw was still there


def test_keys_are_independent_and_costs_add_up() -> None:
    rl = RateLimiter(rate=1.0, burst=5)
    assert rl.take("a", 0.0, cost=5) == 0.0
    assert rl.take("a", 0.0) == pytest.approx(1.0)
    assert rl.take("b", 0.0, cost=3) == 0.0
    assert rl.take("b", 0.0, cost=3) == pytest.approx(1.0)
    assert rl.wait(("ip", "127.0.0.1"), 0.0, cost=5) == 0.0


def test_bounded_memory_only_ever_forgives() -> None:
    rl = RateLimiter(rate=1.0, burst=1, max_keys=10)
    for key in range(100):
        assert rl.take(key, 0.0) == 0.0  # a new key is never refused
        assert len(rl._buckets) <= 10


@pytest.mark.parametrize(("rate", "burst", "cost"), [(1.0, 2, 3), (30.0, 20, 100)])
def test_an_action_larger_than_the_burst_gets_an_honest_answer(
    rate: float, burst: int, cost: int
) -> None:
    """`wait` is "the seconds until `cost` tokens are there": after that long, it is allowed
    (messages.forward spends one token per message, up to 100, whatever the burst is)."""
    rl = RateLimiter(rate=rate, burst=burst)
    now = 0.0
    for _ in range(3):
        waited = rl.take("k", now, cost)
        if waited == 0.0:
            return
        now += waited
    pytest.fail(f"still refused after waiting as told, until t={now}")


@pytest.mark.parametrize(
    ("wait", "seconds"), [(0.001, 1), (0.5, 1), (1.0, 1), (1.0001, 2), (2.5, 3), (59.2, 60)]
)
def test_retry_after_rounds_up_to_whole_seconds(wait: float, seconds: int) -> None:
    assert RateLimiter.retry_after(wait) == seconds


@settings(max_examples=200)
@given(
    rate=st.floats(0.1, 100),
    burst=st.integers(1, 20),
    steps=st.lists(
        st.tuples(st.floats(0, 2), st.integers(1, 3)), min_size=1, max_size=60
    ),
)
def test_never_more_than_burst_plus_rate_times_elapsed(
    rate: float, burst: int, steps: list[tuple[float, int]]
) -> None:
    rl = RateLimiter(rate=rate, burst=burst)
    now = start = 1000.0
    spent = 0
    for dt, want in steps:
        now += dt
        cost = min(want, burst)
        predicted = rl.wait("k", now, cost)
        waited = rl.take("k", now, cost)
        assert waited == predicted  # wait tells exactly what take will do
        if waited == 0.0:
            spent += cost
        else:
            assert waited > 0
            # the wait is honest: once it has passed, the action is allowed
            assert rl.wait("k", now + waited * (1 + 1e-9) + 1e-9, cost) == 0.0
        assert spent <= burst + rate * (now - start) + 1e-6


# errors ------------------------------------------------------------------------------------

ALL_ERRORS = sorted(
    (v for v in vars(errors).values()
     if isinstance(v, type) and issubclass(v, errors.ApiError) and v is not errors.ApiError),
    key=lambda e: e.__name__,
)

CONTRACT = {
    "BAD_REQUEST": 400, "USERNAME_INVALID": 400, "USERNAME_OCCUPIED": 400,
    "PASSWORD_TOO_WEAK": 400, "MESSAGE_EMPTY": 400, "MESSAGE_TOO_LONG": 400,
    "PEER_INVALID": 400, "MESSAGE_ID_INVALID": 400,
    "AUTH_KEY_INVALID": 401, "PASSWORD_INVALID": 401,
    "CHAT_WRITE_FORBIDDEN": 403, "CHAT_ADMIN_REQUIRED": 403, "MESSAGE_AUTHOR_REQUIRED": 403,
    "METHOD_INVALID": 404, "CHAT_NOT_FOUND": 404,
    "PAYLOAD_TOO_LARGE": 413,
    "FLOOD_WAIT": 429,
}


@pytest.mark.parametrize(("name", "code"), CONTRACT.items())
def test_contract_errors_have_their_status(name: str, code: int) -> None:
    error = getattr(errors, name)
    assert error.type == name and error.code == code


@pytest.mark.parametrize("error", ALL_ERRORS, ids=lambda e: e.__name__)
def test_every_error_is_a_named_api_error(error: type[errors.ApiError]) -> None:
    assert error.type == error.__name__
    assert error.code in (400, 401, 403, 404, 409, 413, 429, 500)
    assert error.__module__ == "kurir.domain.errors"
    e = error()
    assert isinstance(e, errors.ApiError) and isinstance(e, Exception)
    d = e.to_dict()
    assert d == {"code": error.code, "type": error.type, "message": e.message}
    assert e.message and e.message.lower() == error.type.replace("_", " ").lower()
    assert e.retry_after is None
    custom = error("something specific")
    assert custom.message == "something specific" == str(custom)
    assert custom.to_dict()["message"] == "something specific"


def test_error_types_are_distinct() -> None:
    assert len({e.type for e in ALL_ERRORS}) == len(ALL_ERRORS) >= len(CONTRACT)
    with pytest.raises(errors.USERNAME_OCCUPIED):
        try:
            raise errors.USERNAME_OCCUPIED()
        except errors.USERNAME_INVALID:  # a sibling type must not catch it
            pytest.fail("USERNAME_INVALID caught USERNAME_OCCUPIED")


def test_flood_wait_carries_retry_after() -> None:
    e = errors.FLOOD_WAIT("sending too fast", retry_after=7)
    assert e.to_dict() == {
        "code": 429, "type": "FLOOD_WAIT", "message": "sending too fast", "retry_after": 7,
    }
    wait = RateLimiter(rate=0.5, burst=1)
    wait.take("k", 0.0)
    seconds = RateLimiter.retry_after(wait.take("k", 0.1))
    assert seconds == math.ceil((1 - 0.05) / 0.5) == 2
    assert errors.FLOOD_WAIT(retry_after=seconds).to_dict()["retry_after"] == 2


# entities the server marks in plain text (what bots see commands by) -----------------------
@pytest.mark.parametrize(("text", "found"), [
    ("/start", [("bot_command", 0, 6)]),
    ("/cmd@my_bot now", [("bot_command", 0, 11)]),
    ("hi @alice and #news", [("mention", 3, 6), ("hashtag", 14, 5)]),
    ("see https://example.org/a/b. ok", [("url", 4, 23)]),
    ("mail bob.x@example.com", [("email", 5, 17)]),
    ("😀 /go", [("bot_command", 3, 3)]),  # UTF-16: the emoji counts twice
    ("1/2 and a/b, #123, @ab, plain", []),  # no command, tag of digits, short mention
])
def test_detect_marks_what_telegram_marks(text: str, found: list[tuple[str, int, int]]) -> None:
    got = entities.detect(text)
    assert [(e.type, e.offset, e.length) for e in got] == found
    assert check_entities(text, got) == got  # always a valid set


@given(st.text(max_size=200))
def test_detected_entities_are_always_valid(text: str) -> None:
    got = entities.detect(text)
    assert check_entities(text, got) == sorted(got, key=lambda e: (e.offset, -e.length))


# reply markup ----------------------------------------------------------------------------
def test_reply_markup_kinds() -> None:
    inline = {"inline_keyboard": [[{"text": "A", "callback_data": "a"},
                                   {"text": "Site", "url": "https://example.org"}], []]}
    assert markup.check_reply_markup(inline) == {
        "inline_keyboard": [[{"text": "A", "callback_data": "a"},
                             {"text": "Site", "url": "https://example.org"}]]}
    keyboard = {"keyboard": [["Yes", {"text": "No"}]], "resize_keyboard": True}
    assert markup.check_reply_markup(keyboard) == {
        "keyboard": [[{"text": "Yes"}, {"text": "No"}]], "resize_keyboard": True}
    assert markup.check_reply_markup({"remove_keyboard": True}) == {"remove_keyboard": True}
    assert markup.check_reply_markup({"force_reply": True, "input_field_placeholder": "?"}) == {
        "force_reply": True, "input_field_placeholder": "?"}
    assert markup.check_reply_markup(None) is None
    assert markup.callback_button(inline, "a") == {"text": "A", "callback_data": "a"}
    assert markup.callback_button(inline, "b") is None


@pytest.mark.parametrize("bad", [
    "text", [], {"nothing": 1}, {"inline_keyboard": [{"text": "x"}]},
    {"inline_keyboard": [[{"text": "x"}]]},  # no action
    {"inline_keyboard": [[{"text": "x", "callback_data": "a", "url": "https://e.org"}]]},
    {"inline_keyboard": [[{"text": "x", "callback_data": "d" * 65}]]},  # over 64 bytes
    {"inline_keyboard": [[{"text": "x", "url": "javascript:alert(1)"}]]},
    {"inline_keyboard": [[{"text": "", "callback_data": "a"}]]},
    {"keyboard": [[{"text": "x"}] * 101]},
    {"remove_keyboard": False},
])
def test_bad_reply_markup_is_refused(bad: object) -> None:
    with pytest.raises(errors.ApiError) as e:
        markup.check_reply_markup(bad)
    assert e.value.code == 400
