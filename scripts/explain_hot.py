"""EXPLAIN (ANALYZE, BUFFERS) of kurir's hot PostgreSQL queries on a seeded database.

    python scripts/explain_hot.py [--database-url URL] [--scale 1.0] [--keep | --reuse DB]

Makes a fresh database beside the one `--database-url` names (dropped at the end unless
`--keep`), brings it to kurir's schema by opening `PostgresDatabase`, seeds it with SQL
(100,000 users, 200,000 private chats, 2,000 groups, 1,000 channels and supergroups,
2.4 M messages and their update-log rows at scale 1), runs VACUUM ANALYZE, and prints:

1. the size of each table and its indexes, per row (docs/capacity.md quotes them);
2. the plans of the hot interactions, statement by statement. The SQL is not copied: the
   real services (Messaging, Sync, Accounts, Bots, Channels, Threads) run on an
   `ExplainTx`, which shows the plan of each statement it is given and then runs it, so
   what is explained is exactly what the storage modules send, with psycopg's parameter
   types. Each statement gets its custom plan (the first uses of a statement) and, through
   PREPARE/EXECUTE, its generic plan (what a prepared statement may settle on after five
   runs); the latter is printed only when its shape differs. All of it runs in one
   transaction, rolled back.
3. a libpq trace of sends and reads on the real engine (PostgresDatabase, one connection):
   transactions, statements and round trips per call;
4. pg_prepared_statements after a mixed workload on the real engine (prepare_threshold=3).

Progress goes to stderr, the report to stdout. Scale 1 took 2.5 to 4 minutes on the project's
2-core machine while others used it; `--scale 0.05` takes 7 to 20 s.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import itertools
import os
import random
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import psycopg
import psycopg.errors
from psycopg import pq, sql
from psycopg.adapt import PyFormat, Transformer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from kurir.bus.memory import MemoryBus
from kurir.live import Hub
from kurir.services.accounts import Accounts
from kurir.services.bots import Bots
from kurir.services.channels import Channels
from kurir.services.messaging import Messaging
from kurir.services.sync import Sync
from kurir.services.threads import Threads
from kurir.storage import peers
from kurir.storage import postgres as pg_engine
from kurir.storage.port import Conflict, Row
from kurir.storage.postgres import PostgresDatabase, _to_pyformat

T = TypeVar("T")
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
NOW = int(time.time()) // 3600 * 3600  # the seeded history ends about now (Unix seconds)
SPAN = 365 * 86400  # … and spans a year
BIG_CHANNELS = 5
POWER_USERS = 20  # users 1..20 are also in ~150 groups and ~100 channels each


def log(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


def out(*args: object) -> None:
    print(*args, flush=True)


def with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


# ---------------------------------------------------------------- seeding


@dataclass(frozen=True)
class Shape:
    """How much to seed; scale 1 is 100,000 users and 2.4 M messages."""

    users: int
    groups: int
    channels: int
    private_msgs: int
    group_msgs: int
    channel_msgs: int
    bots: int = 20
    bot_queue: int = 5_000  # queued Bot API updates per bot (bots that stopped polling)

    @classmethod
    def at(cls, scale: float) -> Shape:
        users = max(2_000, int(100_000 * scale))
        if users % 997 == 0 or users % 61 == 0 or users % 7919 == 0:
            users += 1  # the member formulas below need these strides prime to `users`
        return cls(users=users, groups=max(50, int(2_000 * scale)),
                   channels=max(20, int(1_000 * scale)),
                   private_msgs=int(1_600_000 * scale), group_msgs=int(300_000 * scale),
                   channel_msgs=int(500_000 * scale))

    @property
    def privates(self) -> int:
        return 2 * self.users  # each user starts two private chats

    @property
    def chats(self) -> int:
        return self.privates + self.groups + self.channels

    @property
    def big_size(self) -> int:
        return min(20_000, self.users // 5)

    def sql(self, text: str) -> str:
        """The seeding SQL with this shape's numbers filled in ({U}, {PC}, …)."""
        return text.format(
            U=self.users, PC=self.privates, G=self.groups, CH=self.channels,
            GB=self.privates + self.groups, NCH=self.chats, BIG=BIG_CHANNELS,
            BIGSIZE=self.big_size, NOW=NOW, T0=NOW - SPAN, SPAN=SPAN, B=self.bots,
            M=self.private_msgs + self.group_msgs + self.channel_msgs,
            PM=self.private_msgs, GM=self.group_msgs, CM=self.channel_msgs, Q=self.bot_queue,
            P=POWER_USERS,
        )


# Membership is arithmetic, so messages can pick an author without a join:
#   private chat k (0-based, id k+1): user k%U+1 and the user 1 or 7919 places further on;
#   group g (id PC+g+1): 3 + g%19 members, member j is user (g*53 + j*997) % U + 1;
#   channel c (id GB+c+1): the first five have BIGSIZE members, the others 20 + c*37%300,
#   member j is user (c*7919 + j*61) % U + 1; member 0 owns it. 3 in 5 are broadcast
#   channels (only the owner posts), the others supergroups; the even ones are public.
PRIVATE_LO = "((k) % {U} + 1)"
PRIVATE_HI = "((((k) % {U}) + CASE WHEN (k) < {U} THEN 1 ELSE 7919 END) % {U} + 1)"
GROUP_SIZE = "(3 + (g) % 19)"
GROUP_MEMBER = "(((g) * 53 + (j) * 997) % {U} + 1)"
CHANNEL_SIZE = "(CASE WHEN (c) < {BIG} THEN {BIGSIZE} ELSE 20 + (c) * 37 % 300 END)"
CHANNEL_MEMBER = "(((c) * 7919 + (j) * 61) % {U} + 1)"


def expr(template: str, **names: str) -> str:
    for k, v in names.items():
        template = template.replace(f"({k})", f"({v})")
    return template


AUTHOR = (
    "CASE WHEN e.chat_id <= {PC} THEN CASE WHEN e.coin < 0.5 THEN "
    + expr(PRIVATE_LO, k="e.chat_id - 1") + " ELSE " + expr(PRIVATE_HI, k="e.chat_id - 1")
    + " END WHEN e.chat_id <= {GB} THEN "
    + expr(GROUP_MEMBER, g="e.chat_id - {PC} - 1",
           j="floor(e.pick * " + expr(GROUP_SIZE, g="e.chat_id - {PC} - 1") + ")::bigint")
    + " WHEN (e.chat_id - {GB} - 1) % 5 < 3 THEN "
    + expr(CHANNEL_MEMBER, c="e.chat_id - {GB} - 1", j="0")
    + " ELSE " + expr(CHANNEL_MEMBER, c="e.chat_id - {GB} - 1",
                      j="floor(e.pick * " + expr(CHANNEL_SIZE, c="e.chat_id - {GB} - 1")
                      + ")::bigint")
    + " END"
)
FIRST = ["Adi", "Budi", "Citra", "Dewi", "Eka", "Fajar", "Gita", "Hadi", "Indah", "Joko",
         "Kartika", "Lestari", "Made", "Nur", "Oki", "Putri", "Rudi", "Sari", "Tono", "Wati",
         "Anna", "Ben", "Clara", "David", "Emma", "Felix", "Grace", "Hugo", "Ivy", "Jonas"]
LAST = ["Santoso", "Wijaya", "Kusuma", "Pratama", "Saputra", "Hidayat", "Nugroho", "Lubis",
        "Siregar", "Halim", "Tan", "Smith", "Garcia", "Müller", "Rossi", "Novak", "Silva"]
COMMON = [
    "yang", "di", "dan", "itu", "ini", "ya", "aku", "kamu", "ok", "the", "to", "I", "you", "a",
    "and", "is", "it", "of", "in", "that", "for", "on", "have", "be", "not", "we", "are", "this",
    "with", "so", "what", "do", "at", "my", "just", "get", "can", "will", "oke", "sip", "nanti",
    "besok", "tadi", "sudah", "belum", "mau", "bisa", "ada", "tidak", "juga", "lagi", "sama",
    "kita", "mereka",
]


def make_texts(n: int, rng: random.Random) -> list[str]:
    """Message texts: Zipf-like words (a few very common, a long tail), mostly short."""
    syll = ["ka", "ri", "mu", "to", "la", "sen", "dar", "pe", "no", "bi", "gu", "an", "te",
            "ro", "ma", "su", "lin", "ke", "ha", "di", "ya", "wan", "pro", "mi", "sta"]
    tail = sorted({"".join(rng.choice(syll) for _ in range(rng.randint(2, 4)))
                   for _ in range(30_000)})
    vocab = COMMON + tail
    cum = list(itertools.accumulate(1.0 / (i + 1) ** 1.05 for i in range(len(vocab))))
    texts = []
    for i in range(n):
        words = min(60, max(1, int(rng.expovariate(1 / 9))))
        parts = rng.choices(vocab, cum_weights=cum, k=words)
        if i % 40 == 0:
            parts.append(f"https://example.org/{rng.choice(tail)}/{i}")
        text = " ".join(parts)
        texts.append(text[0].upper() + text[1:])
    return texts


SEED_STEPS: list[tuple[str, str]] = [
    ("users", """
        INSERT INTO users (id, username, username_key, display_name, is_bot, owner_id, created,
                           last_seen)
        SELECT i, 'user' || i, 'user' || i,
               (SELECT f FROM seed_first WHERE n = i % (SELECT count(*) FROM seed_first))
               || ' ' || (SELECT l FROM seed_last WHERE n = i % (SELECT count(*) FROM seed_last)),
               0, NULL, {T0} + i, {NOW} - (i % 86400)
        FROM generate_series(1, {U}) i;
        INSERT INTO users (id, username, username_key, display_name, is_bot, owner_id, created)
        SELECT {U} + b, 'helper' || b || '_bot', 'helper' || b || '_bot', 'Helper ' || b, 1, 1,
               {T0}
        FROM generate_series(1, {B}) b;
        SELECT setval(pg_get_serial_sequence('users', 'id'), {U} + {B});
        INSERT INTO usernames (key, user_id) SELECT username_key, id FROM users;
        INSERT INTO sessions (user_id, token_hash, device, created, last_active, ip)
        SELECT id, sha256(convert_to('token-' || id, 'UTF8')), 'seed', {T0}, {NOW} - 86400,
               '127.0.0.1'
        FROM users ORDER BY id;
        INSERT INTO bots (user_id, owner_id, created, next_update_id)
        SELECT id, 1, {T0}, {Q} + 1 FROM users WHERE is_bot = 1;
    """),
    ("events", """
        -- which chat each message goes to, in time order: one message for every chat first
        -- (a chat starts with one), then skewed at random (chat i drawn with density ~1/sqrt(i))
        CREATE UNLOGGED TABLE seed_events (n bigint, chat_id bigint, coin float8, pick float8);
        INSERT INTO seed_events
        SELECT i, i, random(), random() FROM generate_series(1, {NCH}) i;
        INSERT INTO seed_events
        SELECT {NCH} + row_number() OVER (ORDER BY t), chat_id, random(), random() FROM (
            SELECT random() t, 1 + floor({PC} * random() ^ 2)::bigint chat_id
            FROM generate_series(1, {PM} - {PC})
            UNION ALL
            SELECT random(), {PC} + 1 + floor({G} * random() ^ 2)::bigint
            FROM generate_series(1, {GM} - {G})
            UNION ALL
            SELECT random(), {GB} + 1 + floor({CH} * random() ^ 2)::bigint
            FROM generate_series(1, {CM} - {CH})) x;
        CREATE UNLOGGED TABLE seed_tops AS
        SELECT chat_id, count(*) AS top, max(n) AS last_n FROM seed_events GROUP BY chat_id;
    """),
    ("chats", """
        INSERT INTO chats (id, type, title, creator_id, top_id, last_date, created, private_lo,
                           private_hi, pts, pts_date, username, member_count)
        SELECT t.chat_id,
               CASE WHEN t.chat_id <= {PC} THEN 'private' WHEN t.chat_id <= {GB} THEN 'group'
                    WHEN (t.chat_id - {GB} - 1) % 5 < 3 THEN 'channel' ELSE 'supergroup' END,
               CASE WHEN t.chat_id <= {PC} THEN '' WHEN t.chat_id <= {GB}
                    THEN 'Group ' || (t.chat_id - {PC}) ELSE 'Channel ' || (t.chat_id - {GB}) END,
               CASE WHEN t.chat_id <= {PC} THEN NULL
                    WHEN t.chat_id <= {GB} THEN """ + expr(GROUP_MEMBER, g="t.chat_id - {PC} - 1",
                                                          j="0") + """
                    ELSE """ + expr(CHANNEL_MEMBER, c="t.chat_id - {GB} - 1", j="0") + """ END,
               t.top, {T0} + t.last_n * {SPAN} / {M}, {T0} + t.chat_id * 10,
               CASE WHEN t.chat_id <= {PC} THEN least(""" + expr(PRIVATE_LO, k="t.chat_id - 1")
        + ", " + expr(PRIVATE_HI, k="t.chat_id - 1") + """) END,
               CASE WHEN t.chat_id <= {PC} THEN greatest(""" + expr(PRIVATE_LO, k="t.chat_id - 1")
        + ", " + expr(PRIVATE_HI, k="t.chat_id - 1") + """) END,
               CASE WHEN t.chat_id > {GB} THEN t.top ELSE 0 END,
               CASE WHEN t.chat_id > {GB} THEN {T0} + t.last_n * {SPAN} / {M} ELSE 0 END,
               CASE WHEN t.chat_id > {GB} AND (t.chat_id - {GB} - 1) % 2 = 0
                    THEN 'pub' || (t.chat_id - {GB}) END,
               CASE WHEN t.chat_id > {GB} THEN """ + expr(CHANNEL_SIZE, c="t.chat_id - {GB} - 1")
        + """ ELSE 0 END
        FROM seed_tops t ORDER BY t.chat_id;
        SELECT setval(pg_get_serial_sequence('chats', 'id'), {NCH});
        INSERT INTO usernames (key, chat_id) SELECT username, id FROM chats
        WHERE username IS NOT NULL;
    """),
    ("chat_members", """
        INSERT INTO chat_members (chat_id, user_id, role, status, joined, read_max_id)
        SELECT c.id, u, 'member', 'member', c.created,
               greatest(0, c.top_id - floor(random() * 3)::bigint)
        FROM chats c, LATERAL (VALUES (c.private_lo), (c.private_hi)) v(u)
        WHERE c.id <= {PC};
        INSERT INTO chat_members (chat_id, user_id, role, status, joined, read_max_id)
        SELECT c.id, """ + expr(GROUP_MEMBER, g="c.id - {PC} - 1", j="j") + """,
               CASE WHEN j = 0 THEN 'owner' ELSE 'member' END, 'member', c.created,
               greatest(0, c.top_id - floor(random() * 5)::bigint)
        FROM chats c, generate_series(0, """ + expr(GROUP_SIZE, g="c.id - {PC} - 1") + """ - 1) j
        WHERE c.id > {PC} AND c.id <= {GB};
        -- channel readers: most near the head, some far behind (read_max_id drawn ~ 1 - r^4)
        INSERT INTO chat_members (chat_id, user_id, role, status, joined, read_max_id,
                                  admin_rights)
        SELECT c.id, """ + expr(CHANNEL_MEMBER, c="c.id - {GB} - 1", j="j") + """,
               CASE WHEN j = 0 THEN 'owner' ELSE 'member' END, 'member', c.created,
               floor(c.top_id * (1 - random() ^ 4))::bigint,
               CASE WHEN j = 0 THEN 2147483647 ELSE 0 END
        FROM chats c, generate_series(0, """ + expr(CHANNEL_SIZE, c="c.id - {GB} - 1") + """ - 1) j
        WHERE c.id > {GB};
        -- a few heavy users ({P}) in many groups and channels, as people with hundreds of chats
        INSERT INTO chat_members (chat_id, user_id, role, status, joined, read_max_id)
        SELECT c.id, u, 'member', 'member', c.created,
               CASE WHEN c.id <= {GB} THEN greatest(0, c.top_id - floor(random() * 5)::bigint)
                    ELSE floor(c.top_id * (1 - random() ^ 4))::bigint END
        FROM chats c, generate_series(1, {P}) u
        WHERE (c.id > {PC} AND c.id <= {GB} AND (c.id + u) % 13 = 0)
           OR (c.id > {GB} AND (c.id + u) % 10 = 0)
        ON CONFLICT DO NOTHING;
        UPDATE chats c SET member_count = x.n FROM (
            SELECT chat_id, count(*) n FROM chat_members WHERE chat_id > {GB} GROUP BY chat_id) x
        WHERE c.id = x.chat_id AND c.member_count <> x.n;
        -- each bot administers two channels and reads their logs
        INSERT INTO chat_members (chat_id, user_id, role, status, joined, read_max_id,
                                  admin_rights)
        SELECT {GB} + 1 + (b * 2 + x) % {CH}, {U} + b, 'admin', 'member', {T0}, 0, 1
        FROM generate_series(1, {B}) b, generate_series(0, 1) x
        ON CONFLICT DO NOTHING;
        INSERT INTO bot_channels (bot_id, chat_id, pts)
        SELECT m.user_id, m.chat_id, c.pts FROM chat_members m JOIN chats c ON c.id = m.chat_id
        WHERE m.user_id > {U};
    """),
    ("messages", """
        -- 1 in 20 supergroup messages is in a thread (a comment or a forum topic), rooted at
        -- the last id that is a multiple of 100; 1 in 97 messages has a reaction
        INSERT INTO messages (gid, chat_id, id, from_id, date, text, views, thread_id, reactions)
        SELECT n, chat_id, id, author, {T0} + n * {SPAN} / {M}, text, views,
               CASE WHEN chat_id > {GB} AND (chat_id - {GB} - 1) % 5 >= 3 AND n % 20 = 0
                    AND id > 100 THEN id / 100 * 100 END,
               CASE WHEN n % 97 = 0 THEN '[{{"emoji":"👍","count":1}}]' END
        FROM (
            SELECT e.n, e.chat_id, row_number() OVER (PARTITION BY e.chat_id ORDER BY e.n) id,
                   """ + AUTHOR + """ AS author, t.text,
                   CASE WHEN e.chat_id > {GB} AND (e.chat_id - {GB} - 1) % 5 < 3
                        THEN floor(e.pick * 5000)::bigint END AS views
            FROM seed_events e
            JOIN seed_texts t ON t.n = (e.n * 7919) % (SELECT count(*) FROM seed_texts)) x
        ORDER BY n;
        SELECT setval(pg_get_serial_sequence('messages', 'gid'), {M});
    """),
]

# After the messages: independent steps, each list on a connection of its own, side by side.
SEED_PARALLEL: list[list[tuple[str, str]]] = [
    [
        ("update_bodies", """
        -- one body per message, as updates.encode_body writes a new_message update
        INSERT INTO update_bodies (id, body)
        SELECT gid, convert_to('{{"type":"new_message","message":{{"chat_id":' || chat_id
               || ',"id":' || id || ',"from_id":' || from_id || ',"date":' || date
               || ',"text":' || to_json(text)::text
               || coalesce(',"views":' || views, '') || '}}}}', 'UTF8')
        FROM messages ORDER BY gid;
        SELECT setval(pg_get_serial_sequence('update_bodies', 'id'), {M});
    """),
    ("channel_updates", """
        INSERT INTO channel_updates (chat_id, pts, body_id, date)
        SELECT chat_id, id, gid, date FROM messages WHERE chat_id > {GB} ORDER BY gid;
    """),
  ],
    [
        ("user_updates", """
        -- every member of a private chat or group gets the message in their log, in time order
        INSERT INTO user_updates (user_id, pts, body_id, date)
        SELECT user_id, pts, body_id, date FROM (
            SELECT cm.user_id, row_number() OVER (PARTITION BY cm.user_id ORDER BY m.gid) pts,
                   m.gid AS body_id, m.date
            FROM messages m JOIN chat_members cm ON cm.chat_id = m.chat_id
            WHERE m.chat_id <= {GB}) x
        ORDER BY body_id;
        INSERT INTO user_states (user_id, pts)
        SELECT u.id, coalesce(max(l.pts), 0) FROM users u
        LEFT JOIN user_updates l ON l.user_id = u.id GROUP BY u.id ORDER BY u.id;
    """),
  ],
    [
        ("message_random_ids", """
        -- every send stores its client's random_id beside the message, for ever
        INSERT INTO message_random_ids (user_id, random_id, chat_id, message_id)
        SELECT from_id, (random() * 9e18)::bigint, chat_id, id FROM messages ORDER BY gid;
    """),
    ("extras", """
        -- "delete for me" now and then, reactions on some messages, and the bots' queues
        INSERT INTO hidden_messages (user_id, chat_id, message_id)
        SELECT from_id, chat_id, id FROM messages WHERE gid % 499 = 0 AND chat_id <= {GB}
        ON CONFLICT DO NOTHING;
        INSERT INTO reactions (chat_id, message_id, user_id, emoji, date)
        SELECT chat_id, id, from_id, '👍', date FROM messages WHERE gid % 97 = 0
        ON CONFLICT DO NOTHING;
        INSERT INTO bot_updates (bot_id, update_id, body, date)
        SELECT {U} + b, i, '{{"update_id":' || i || ',"message":{{"message_id":' || i
               || ',"from":{{"id":' || (i % {U} + 1) || ',"is_bot":false,"first_name":"Adi"}},'
               || '"chat":{{"id":' || (i % {U} + 1) || ',"type":"private","first_name":"Adi"}},'
               || '"date":' || ({NOW} - 172800 + i * 172800 / {Q}) || ',"text":"/start"}}}}',
               {NOW} - 172800 + i * 172800 / {Q}
        FROM generate_series(1, {B}) b, generate_series(1, {Q}) i;
    """),
  ],
]
SEED_CLEANUP = "DROP TABLE seed_events, seed_tops, seed_texts, seed_first, seed_last"

# built after the bulk load (as CREATE INDEX would on a restored dump), not row by row
DEFERRED_INDEXES = ("messages_tsv",)


def loading(conn: psycopg.Connection[Any]) -> None:
    """Session settings for a bulk load."""
    conn.execute("SET synchronous_commit = off")
    conn.execute("SET work_mem = '256MB'")
    conn.execute("SET maintenance_work_mem = '512MB'")
    try:  # skip foreign-key triggers: the rows are consistent by construction
        conn.execute("SET session_replication_role = replica")
    except psycopg.errors.InsufficientPrivilege:
        log("  (not a superuser: foreign keys are checked row by row, slower)")


def run_steps(url: str, steps: list[tuple[str, str]], shape: Shape,
              timings: dict[str, float]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        loading(conn)
        for name, text in steps:
            t = time.perf_counter()
            if name.startswith("CREATE INDEX"):
                conn.execute(text.encode())
            else:
                conn.execute(shape.sql(text).encode())
            timings[name] = time.perf_counter() - t
            log(f"  {name}: {timings[name]:.1f} s")


def seed(url: str, shape: Shape) -> dict[str, float]:
    timings: dict[str, float] = {}
    rng = random.Random(7)
    t = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE UNLOGGED TABLE seed_texts (n int PRIMARY KEY, text text)")
        conn.execute("CREATE UNLOGGED TABLE seed_first (n int PRIMARY KEY, f text)")
        conn.execute("CREATE UNLOGGED TABLE seed_last (n int PRIMARY KEY, l text)")
        with conn.cursor() as cur:
            with cur.copy("COPY seed_texts (n, text) FROM STDIN") as copy:
                for i, text in enumerate(make_texts(20_000, rng)):
                    copy.write_row((i, text))
            cur.executemany("INSERT INTO seed_first VALUES (%s, %s)", list(enumerate(FIRST)))
            cur.executemany("INSERT INTO seed_last VALUES (%s, %s)", list(enumerate(LAST)))
        deferred = [(f"CREATE INDEX {n}", d) for n, d in conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname = ANY(%s)",
            (list(DEFERRED_INDEXES),))]
        for name in DEFERRED_INDEXES:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    timings["texts"] = time.perf_counter() - t
    run_steps(url, SEED_STEPS, shape, timings)
    t = time.perf_counter()
    lanes = [*SEED_PARALLEL, deferred]
    with ThreadPoolExecutor(len(lanes)) as pool:
        for f in [pool.submit(run_steps, url, lane, shape, timings) for lane in lanes]:
            f.result()
    timings["(side by side)"] = time.perf_counter() - t
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SEED_CLEANUP)
        t = time.perf_counter()
        conn.execute("VACUUM (ANALYZE)")
        timings["vacuum analyze"] = time.perf_counter() - t
    log(f"  VACUUM ANALYZE: {timings['vacuum analyze']:.1f} s")
    return timings


# ---------------------------------------------------------------- sizes

SIZES = """
SELECT c.relname, c.reltuples::bigint, pg_relation_size(c.oid),
       pg_indexes_size(c.oid), pg_total_relation_size(c.oid)
       - pg_relation_size(c.oid) - pg_indexes_size(c.oid), pg_total_relation_size(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY pg_total_relation_size(c.oid) DESC
"""
INDEX_SIZES = """
SELECT t.relname, i.relname, pg_relation_size(i.oid)
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = 'public' ORDER BY pg_relation_size(i.oid) DESC
"""


def report_sizes(conn: psycopg.Connection[Any]) -> None:
    out("\n## Table sizes (after VACUUM ANALYZE)\n")
    out(f"{'table':<20} {'rows':>11} {'heap MB':>9} {'index MB':>9} {'toast MB':>9}"
        f" {'total MB':>9} {'B/row':>6}")
    mb = 1 << 20
    for name, rows, heap, idx, toast, total in conn.execute(SIZES):
        if total < 64 * 1024 and rows < 100:
            continue
        per = f"{total / rows:6.0f}" if rows > 0 else "     -"
        out(f"{name:<20} {rows:>11,} {heap / mb:9.1f} {idx / mb:9.1f} {toast / mb:9.1f}"
            f" {total / mb:9.1f} {per}")
    out("\nindexes:")
    for table, index, size in conn.execute(INDEX_SIZES):
        if size >= mb:
            out(f"  {table:<20} {index:<34} {size / mb:8.1f} MB")
    row = conn.execute(
        "SELECT avg(octet_length(text)), avg(pg_column_size(m.*)),"
        " (SELECT avg(octet_length(body)) FROM update_bodies) FROM messages m").fetchone()
    assert row is not None
    out(f"\nmean text {row[0]:.0f} B; mean messages row (pg_column_size) {row[1]:.0f} B;"
        f" mean update body {row[2]:.0f} B")


# ---------------------------------------------------------------- EXPLAIN, statement by statement

NODE = re.compile(r"^\s*(?:->\s*)?([A-Z][A-Za-z ]+?)(?: on | using |  \(|\s*$|\s*\()")


def shape_of(plan: list[str]) -> list[str]:
    """A plan's nodes and the relations and indexes they use, without costs or timings."""
    shape = []
    for line in plan:
        if "->" in line or line is plan[0]:
            core = re.sub(r"\s*\(cost=.*$", "", line).strip().lstrip("-> ").strip()
            shape.append(re.sub(r"\s+\(actual.*$", "", core))
    return shape


def summary(plan: list[str]) -> str:
    exe = next((ln.split(":", 1)[1].strip() for ln in plan if "Execution Time" in ln), "?")
    bufs = next((ln.strip() for ln in plan if "Buffers:" in ln), "Buffers: none")
    return f"{exe}; {bufs}"


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def to_dollar(text: str) -> str:
    """`?` placeholders to $1, $2, … outside quoted literals (for PREPARE)."""
    out_, n, quoted = [], 0, False
    for ch in text:
        if ch == "'":
            quoted = not quoted
        if ch == "?" and not quoted:
            n += 1
            out_.append(f"${n}")
        else:
            out_.append(ch)
    return "".join(out_)


@dataclass
class Explained:
    number: int
    shape: list[str]


@dataclass
class Interaction:
    title: str
    counts: Counter[str] = field(default_factory=Counter)
    sources: dict[str, str] = field(default_factory=dict)


class ExplainTx:
    """A `Tx` that prints the plans of each statement it is given, then runs it."""

    dialect = "postgres"

    def __init__(self, conn: psycopg.Connection[Any], book: Explainer) -> None:
        self._conn = conn
        self._book = book

    def _run(self, sql_: str, params: Sequence[Any]) -> psycopg.Cursor[Any]:
        self._book.seen(sql_, params)
        try:
            if not params:
                return self._conn.execute(sql_.encode())
            return self._conn.execute(_to_pyformat(sql_), params)
        except psycopg.errors.UniqueViolation as e:
            raise Conflict(str(e)) from e

    def execute(self, sql_: str, params: Sequence[Any] = ()) -> int:
        return self._run(sql_, params).rowcount

    def executemany(self, sql_: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        for r in rows:
            self._book.seen(sql_, r)
        try:
            with self._conn.cursor() as cur:
                cur.executemany(_to_pyformat(sql_), rows)
        except psycopg.errors.UniqueViolation as e:
            raise Conflict(str(e)) from e

    def one(self, sql_: str, params: Sequence[Any] = ()) -> Row | None:
        return self._run(sql_, params).fetchone()

    def all(self, sql_: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._run(sql_, params).fetchall()


def source_of_caller() -> str:
    """The storage (or else service) function that issued the statement."""
    found = ""
    for frame in inspect.stack()[3:]:
        mod = frame.frame.f_globals.get("__name__", "")
        if mod.startswith("kurir.storage."):
            return f"{mod}.{frame.frame.f_code.co_qualname}"
        if mod.startswith("kurir.services.") and not found:
            found = f"{mod}.{frame.frame.f_code.co_qualname}"
    return found or "?"


PREFIX = "EXPLAIN (ANALYZE, BUFFERS) "


class Explainer:
    """Explains each distinct statement once per interaction; the plans go to stdout."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        self._done: dict[str, Explained] = {}
        self._types: dict[int, str] = {}
        self._current: Interaction | None = None
        self.interactions: list[Interaction] = []

    def begin(self, title: str) -> None:
        self._current = Interaction(title)
        self.interactions.append(self._current)
        out(f"\n### {title}\n")

    def end(self) -> None:
        cur = self._current
        assert cur is not None
        total = sum(cur.counts.values())
        out(f"\n({title_short(cur.title)}: {total} statements, {len(cur.counts)} distinct)")
        self._current = None

    def seen(self, text: str, params: Sequence[Any]) -> None:
        cur = self._current
        if cur is None:
            return
        first = text not in cur.counts
        cur.counts[text] += 1
        if first:
            cur.sources[text] = source_of_caller()
            self._explain(text, params, cur.sources[text])

    def _type_name(self, oid: int) -> str:
        if oid == 0:  # psycopg lets the server infer it (str, None)
            return "unknown"
        if oid not in self._types:
            row = self._conn.execute("SELECT format_type(%s, NULL)", (oid,)).fetchone()
            assert row is not None
            self._types[oid] = str(row[0])
        return self._types[oid]

    def _plan(self, query: bytes | str, params: Sequence[Any] | None = None) -> list[str]:
        self._conn.execute("SAVEPOINT explain")
        try:
            rows = self._conn.execute(query, params).fetchall()
        finally:
            self._conn.execute("ROLLBACK TO SAVEPOINT explain")
        return [str(r[0]) for r in rows]

    def _generic(self, text: str, params: Sequence[Any], custom: list[str]) -> None:
        t = Transformer.from_context(self._conn)
        t.dump_sequence(params, [PyFormat.AUTO] * len(params))
        types = ", ".join(self._type_name(o) for o in t.types)
        args = ", ".join(sql.Literal(p).as_string(self._conn) for p in params)
        self._conn.execute("SAVEPOINT generic")
        prepared = False
        try:
            self._conn.execute(f"PREPARE explain_me ({types}) AS {to_dollar(text)}".encode())
            prepared = True
            self._conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            generic = self._plan(f"{PREFIX}EXECUTE explain_me ({args})".encode())
        except psycopg.Error as e:
            out(f"  generic plan: could not be shown ({type(e).__name__}: {e})")
            return
        finally:
            self._conn.execute("ROLLBACK TO SAVEPOINT generic")
            if prepared:  # PREPARE is not undone by a rollback
                self._conn.execute("DEALLOCATE explain_me")
        if shape_of(generic) == shape_of(custom):
            out(f"  generic plan (PREPARE {types}): same shape; {summary(generic)}")
        else:
            out(f"  generic plan (PREPARE {types}) DIFFERS:")
            out("\n".join("    " + ln for ln in generic))

    def _explain(self, text: str, params: Sequence[Any], source: str) -> None:
        try:
            if params:
                custom = self._plan(_to_pyformat(PREFIX + text), params)
            else:
                custom = self._plan((PREFIX + text).encode())
        except psycopg.Error as e:  # e.g. a key conflict the real run will meet too
            out(f"[-] {source}: EXPLAIN failed: {type(e).__name__}: {e}")
            return
        before = self._done.get(text)
        number = before.number if before else len(self._done) + 1
        out(f"[{number}] {source}")
        if before is not None and before.shape == shape_of(custom):
            out(f"    plan as [{number}] above: {summary(custom)}")
            return
        out("    " + re.sub(r"\s+", " ", text))
        out("  custom plan:")
        out("\n".join("    " + ln for ln in custom))
        if params:
            self._generic(text, params, custom)
        if before is None:
            self._done[text] = Explained(number, shape_of(custom))


def title_short(title: str) -> str:
    return title.split(":")[0]


class ExplainDatabase:
    """The Database port on one connection, in one transaction rolled back at the end."""

    dialect = "postgres"

    def __init__(self, conn: psycopg.Connection[Any], book: Explainer) -> None:
        self._conn = conn
        self._tx = ExplainTx(conn, book)

    def _run(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        with self._conn.transaction():  # a savepoint: a failed interaction leaves nothing
            return fn(self._tx, *args)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        return self._run(fn, args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        return self._run(fn, args)

    async def write_aside(self, fn: Callable[..., T], *args: Any) -> T:
        return self._run(fn, args)

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass


@dataclass
class Subjects:
    """Who and what the scenarios act on, picked from the seeded data."""

    busy_private: tuple[int, int, int]  # chat id, its two users (the most messages)
    pair_by_user: tuple[int, int]  # a sender and the user they write to (by user id)
    group: tuple[int, int]  # chat id, a member
    channel: tuple[int, int, int]  # the biggest broadcast channel: id, owner, pts
    reader: tuple[int, int]  # a user in the most chats, and their pts
    typical: tuple[int, int]  # a user with a median number of chats, and their pts
    thread: tuple[int, int, int]  # a supergroup, its owner, the root of its longest thread
    bot: int
    common_word: str
    rare_word: str


def pick_subjects(conn: psycopg.Connection[Any], shape: Shape) -> Subjects:
    def one(q: str, params: Sequence[Any] = ()) -> Row:
        row = conn.execute(q, params).fetchone()
        assert row is not None, q
        return row

    busy = one("SELECT id, private_lo, private_hi FROM chats WHERE type = 'private'"
               " ORDER BY top_id DESC LIMIT 1")
    pair = one("SELECT private_hi, private_lo FROM chats WHERE type = 'private'"
               " AND id = %s", (shape.privates // 2,))
    group = one("SELECT c.id, m.user_id FROM chats c JOIN chat_members m ON m.chat_id = c.id"
                " WHERE c.type = 'group' ORDER BY c.top_id DESC, m.user_id LIMIT 1")
    channel = one("SELECT id, creator_id, pts FROM chats WHERE type = 'channel'"
                  " ORDER BY member_count DESC, top_id DESC LIMIT 1")
    counts = conn.execute("SELECT user_id, count(*) FROM chat_members WHERE user_id <= %s"
                          " GROUP BY user_id ORDER BY 2 DESC, 1", (shape.users,)).fetchall()
    reader, typical = counts[0][0], counts[len(counts) // 2][0]
    pts = dict(conn.execute("SELECT user_id, pts FROM user_states WHERE user_id = ANY(%s)",
                            ([reader, typical],)).fetchall())
    bot = one("SELECT user_id FROM bots ORDER BY user_id LIMIT 1")[0]
    thread = one("SELECT m.chat_id, c.creator_id, m.thread_id FROM messages m"
                 " JOIN chats c ON c.id = m.chat_id WHERE m.thread_id IS NOT NULL"
                 " GROUP BY 1, 2, 3 ORDER BY count(*) DESC, 1 LIMIT 1")
    words = conn.execute(
        "SELECT word, ndoc FROM ts_stat('SELECT tsv FROM messages WHERE gid % 50 = 0')"
        " ORDER BY ndoc DESC").fetchall()
    common = words[0][0]
    rare = [w for w, _ in words if len(w) >= 7][-1]  # a long word seldom used
    return Subjects(
        busy_private=(int(busy[0]), int(busy[1]), int(busy[2])),
        pair_by_user=(int(pair[0]), int(pair[1])), group=(int(group[0]), int(group[1])),
        channel=(int(channel[0]), int(channel[1]), int(channel[2])),
        reader=(int(reader), int(pts[reader])), typical=(int(typical), int(pts[typical])),
        thread=(int(thread[0]), int(thread[1]), int(thread[2])),
        bot=int(bot), common_word=str(common), rare_word=str(rare),
    )


@dataclass
class Services:
    messaging: Messaging
    sync: Sync
    accounts: Accounts
    bots: Bots
    channels: Channels
    threads: Threads


def services_on(db: Any) -> Services:
    from argon2 import PasswordHasher

    hub = Hub(MemoryBus())
    accounts = Accounts(db, hub, PasswordHasher(memory_cost=1024, time_cost=1), 1e9,
                        token_cache_seconds=0)
    return Services(Messaging(db, hub, 1e9, 1e9), Sync(db), accounts,
                    Bots(db, hub, accounts), Channels(db, hub), Threads(db, hub))


async def explain_all(conn: psycopg.Connection[Any], s: Subjects) -> Explainer:
    book = Explainer(conn)
    sv = services_on(ExplainDatabase(conn, book))
    chat, lo, _ = s.busy_private
    group, member = s.group
    channel, owner, channel_pts = s.channel
    reader, reader_pts = s.reader
    typical, typical_pts = s.typical
    rid = iter(range(10**12, 10**13))

    scenarios: list[tuple[str, Callable[[], Awaitable[object]]]] = [
        (f"token lookup: Accounts.authenticate_any (user {lo}'s token, cache cold)",
         lambda: sv.accounts.authenticate_any(f"token-{lo}")),
        (f"messages.send: private chat {chat} by chat_id (its history is the longest)",
         lambda: sv.messaging.send(lo, chat, None, "see you at the station", next(rid))),
        (f"messages.send: to user {s.pair_by_user[1]} by user_id (chat looked up once)",
         lambda: sv.messaging.send(s.pair_by_user[0], None, s.pair_by_user[1], "hi", next(rid))),
        (f"messages.send: group {group} ({member} writes)",
         lambda: sv.messaging.send(member, group, None, "hello all", next(rid))),
        (f"messages.send: channel post in {channel} (its owner {owner})",
         lambda: sv.messaging.send(owner, channel, None, "news of the day", next(rid))),
        (f"updates.getDifference: user {typical} (median chats), 50 behind, with date",
         lambda: sv.sync.difference(typical, max(0, typical_pts - 50), 100, NOW - 3600)),
        (f"updates.getDifference: user {reader} (most chats), 1,000 behind, with date",
         lambda: sv.sync.difference(reader, max(0, reader_pts - 1000), 100, NOW - 86400)),
        (f"updates.getChannelDifference: channel {channel}, 100 behind",
         lambda: sv.sync.channel_difference(owner, channel, channel_pts - 100, 100)),
        (f"updates.getChannelDifference: channel {channel}, too long (5,000 behind)",
         lambda: sv.sync.channel_difference(owner, channel, max(0, channel_pts - 5000), 100)),
        (f"messages.getHistory: private chat {chat}, newest page of 50",
         lambda: sv.messaging.history(lo, chat, 0, 0, 50)),
        (f"messages.getHistory: private chat {chat}, a page from the middle",
         lambda: sv.messaging.history(lo, chat, 0, 0, 50)),
        (f"messages.getDialogs: user {reader} (most chats), first page of 50",
         lambda: sv.messaging.dialogs(reader, 0, 50)),
        (f"messages.getDialogs: user {typical} (median chats), first page of 50",
         lambda: sv.messaging.dialogs(typical, 0, 50)),
        (f"messages.getReplies: thread {s.thread[2]} in supergroup {s.thread[0]}",
         lambda: sv.threads.replies(s.thread[1], s.thread[0], s.thread[2], 0, 50)),
        (f"channels_of at socket open: user {reader} (most chats)",
         lambda: sv.sync.channels_of(reader)),
        (f"presence at socket open: peers.private_peers of user {reader}",
         lambda: ExplainDatabase(conn, book).read(peers.private_peers, reader)),
        (f"messages.search: user {reader}, rare word {s.rare_word!r}",
         lambda: sv.messaging.search(reader, s.rare_word, None, 50)),
        (f"messages.search: user {reader}, common word {s.common_word!r}",
         lambda: sv.messaging.search(reader, s.common_word, None, 50)),
        (f"messages.search: in channel {channel}, word {s.common_word!r}",
         lambda: sv.messaging.search(owner, s.common_word, channel, 50)),
        ("contacts.search: Accounts.search_users('sari')",
         lambda: sv.accounts.search_users("sari", 20)),
        ("channels.search: Channels.search('pub12')",
         lambda: sv.channels.search("pub12", 20)),
        (f"bot getUpdates: Bots.get_updates(bot {s.bot}, offset 4,901, limit 100)",
         lambda: sv.bots.get_updates(s.bot, 4_901, 100, 0, None)),
        ("bot queue sweep: Bots.sweep (a day)", lambda: sv.bots.sweep(86_400)),
    ]
    # the middle page: an offset half way down the busy chat
    top = conn.execute("SELECT top_id FROM chats WHERE id = %s", (chat,)).fetchone()
    assert top is not None
    middle = int(top[0]) // 2
    scenarios[10] = (scenarios[10][0], lambda: sv.messaging.history(lo, chat, middle, 0, 50))
    out("\n## Hot queries: EXPLAIN (ANALYZE, BUFFERS), statement by statement\n")
    out("Each statement: the service function that sent it, the SQL, the custom plan, and the"
        " generic plan of a PREPAREd statement with psycopg's parameter types when its shape"
        " differs. A statement already shown is summarized as [n].")
    with conn.transaction(force_rollback=True):
        for title, run in scenarios:
            book.begin(title)
            t = time.perf_counter()
            try:
                await run()
            except Exception as e:  # a scenario's failure is reported, the others still run
                out(f"  !! {type(e).__name__}: {e}")
            book.end()
            log(f"  explained {title_short(title)} in {time.perf_counter() - t:.1f} s")
    return book


# ---------------------------------------------------------------- the real engine: round trips


class RecordingTx(pg_engine.PostgresTx):
    """PostgresTx that counts the statements it runs (the text as the storage module wrote
    it), so the prepared-statement check can name the hot ones."""

    counts: Counter[str] = Counter()

    def _cursor(self, sql_: str, params: Sequence[Any]) -> psycopg.Cursor[Any]:
        RecordingTx.counts[sql_] += 1
        return super()._cursor(sql_, params)

    def executemany(self, sql_: str, rows: Iterable[Sequence[Any]]) -> None:
        RecordingTx.counts[sql_] += 1
        super().executemany(sql_, rows)


def trace_counts(path: str) -> Counter[str]:
    """What the client sent, from libpq's trace: message kinds, and simple queries by verb."""
    counts: Counter[str] = Counter()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or parts[0] != "F":
                continue
            kind = parts[2]
            counts[kind] += 1
            if kind == "Query" and len(parts) > 3:
                counts["Query " + parts[3].strip().strip('"').split()[0].upper()] += 1
            if kind == "Parse" and len(parts) > 3 and not parts[3].strip().startswith('""'):
                counts["Parse named"] += 1
    return counts


async def trace_interactions(url: str, s: Subjects, calls: int) -> None:
    """libpq's trace of interactions on PostgresDatabase (one connection), once their
    statements are prepared: transactions, statements and round trips each."""
    out("\n## Transactions and round trips on the real engine (libpq trace)\n")
    db = PostgresDatabase(url, pool_size=1)
    await db.open()
    sv = services_on(db)
    chat, lo, _ = s.busy_private
    group, member = s.group
    channel, owner, channel_pts = s.channel
    typical, _ = s.typical
    rid = random.Random(5)

    def send(sender: int, target: int) -> Callable[[], Awaitable[object]]:
        return lambda: sv.messaging.send(sender, target, None, "traced", rid.getrandbits(62))

    async def difference() -> object:
        state = await sv.sync.state(typical)
        return await sv.sync.difference(typical, max(0, state.pts - 20), 100, NOW - 3600)

    cases: list[tuple[str, Callable[[], Awaitable[object]]]] = [
        ("messages.send, private chat", send(lo, chat)),
        ("messages.send, group", send(member, group)),
        ("messages.send, channel post", send(owner, channel)),
        ("updates.getState + getDifference", difference),
        ("messages.getHistory", lambda: sv.messaging.history(lo, chat, 0, 0, 50)),
        ("updates.getChannelDifference", lambda: sv.sync.channel_difference(
            owner, channel, channel_pts - 20, 100)),
        ("messages.getDialogs, 50, most chats", lambda: sv.messaging.dialogs(s.reader[0], 0, 50)),
        ("messages.getDialogs, 50, median user", lambda: sv.messaging.dialogs(typical, 0, 50)),
    ]
    fd, path = tempfile.mkstemp(prefix="kurir-trace-", suffix=".txt")
    out(f"{'interaction':<36} {'ms':>6} {'BEGIN':>5} {'COMMIT':>6} {'stmts':>5}"
        f" {'prepares':>8} {'round trips':>11}")
    try:
        for label, run in cases:
            for _ in range(5):  # past prepare_threshold: the statements are prepared now
                await run()
            with db._pool.connection() as conn:  # the pool's one connection
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, os.SEEK_SET)
                conn.pgconn.trace(fd)
                conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
            t = time.perf_counter()
            for _ in range(calls):
                await run()
            took = time.perf_counter() - t
            with db._pool.connection() as conn:
                conn.pgconn.untrace()
            c = trace_counts(path)
            simple = sorted(k[6:] for k in c if k.startswith("Query "))
            out(f"{label:<36} {1000 * took / calls:6.2f} {c['Query BEGIN'] / calls:5g}"
                f" {c['Query COMMIT'] / calls:6g} {c['Execute'] / calls:5g}"
                f" {c['Parse named'] / calls:8g} {(c['Sync'] + c['Query']) / calls:11g}"
                f"   (simple queries: {', '.join(simple)})")
    finally:
        os.close(fd)
        os.unlink(path)
        await db.close()
    out(f"({calls} calls each, after 5 to warm up; ms is wall time a call on this noisy machine,"
        " one connection; rows made here stay in this throwaway database)")


async def prepared_check(url: str, s: Subjects, rounds: int) -> None:
    """Run a mixed workload on one pooled connection, then read pg_prepared_statements
    there: which hot statements psycopg prepared, and in how many type variants."""
    out("\n## Prepared statements after a mixed workload (one connection, real engine)\n")
    RecordingTx.counts.clear()
    original = pg_engine.PostgresTx
    pg_engine.PostgresTx = RecordingTx  # type: ignore[misc]
    db = PostgresDatabase(url, pool_size=1)
    try:
        await db.open()
        sv = services_on(db)
        chat, lo, hi = s.busy_private
        group, member = s.group
        channel, owner, channel_pts = s.channel
        users = [lo, hi, member, owner, s.reader[0], s.typical[0], 7, 300]
        rng = random.Random(3)
        for i in range(rounds):
            u = users[i % len(users)]
            await sv.messaging.send(lo, chat, None, f"round {i}", rng.getrandbits(62))
            await sv.messaging.send(member, group, None, f"round {i}", rng.getrandbits(62))
            await sv.messaging.send(owner, channel, None, f"round {i}", rng.getrandbits(62))
            pts = await sv.sync.state(u)
            await sv.sync.difference(u, max(0, pts.pts - rng.choice([1, 20, 300])), 100,
                                     NOW - 3600)
            await sv.sync.channels_of(u)
            await sv.sync.channel_difference(owner, channel, channel_pts - rng.choice([1, 50]),
                                             100)
            await sv.messaging.history(lo, chat, rng.choice([0, 0, 200, 40_000]), 0, 50)
            await sv.messaging.dialogs(u, 0, 20)
            await sv.accounts.authenticate_any(f"token-{u}")
        rows = await db.read(lambda tx: tx.all(
            "SELECT statement, parameter_types::text[], generic_plans, custom_plans"
            " FROM pg_prepared_statements WHERE name LIKE '\\_pg3\\_%'"))
    finally:
        pg_engine.PostgresTx = original  # type: ignore[misc]
        await db.close()
    by_text: dict[str, list[tuple[list[str], int, int]]] = {}
    for text, types, generic, custom in rows:
        by_text.setdefault(text, []).append((list(types), int(generic), int(custom)))
    ran = RecordingTx.counts
    out(f"{sum(ran.values())} statements run ({len(ran)} distinct texts);"
        f" {len(rows)} prepared statements on the connection (psycopg keeps at most 100)")
    out(f"\n{'runs':>5} {'variants':>8} {'generic':>7} {'custom':>6}  statement")
    unprepared = []
    matched: set[str] = set()
    for text, n in ran.most_common():
        server = to_dollar(text) if "?" in text else text
        matched.add(server)
        found = by_text.get(server)
        if not found:
            unprepared.append((n, text))
            continue
        variants = "; ".join(",".join(t) or "-" for t, _, _ in found)
        out(f"{n:5} {len(found):8} {sum(g for _, g, _ in found):7}"
            f" {sum(c for _, _, c in found):6}  {one_line(text)[:90]}")
        if len(found) > 1:
            out(f"{'':29}types: {variants[:150]}")
    out("\nrun but not prepared now:")
    for n, text in unprepared:
        out(f"{n:5}  {one_line(text)[:110]}")
    out("\nprepared besides (sent by the engine itself, not by a storage module):")
    for text, found in by_text.items():
        if text not in matched:
            out(f"  generic {sum(g for _, g, _ in found)}, custom {sum(c for _, _, c in found)}:"
                f" {one_line(text)[:100]}")


# ---------------------------------------------------------------- main


async def main_async(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    shape = Shape.at(args.scale)
    admin_url = args.database_url
    name = args.reuse or f"kurir_explain_{os.getpid()}_{int(time.time())}"
    url = with_db(admin_url, name)
    if not args.reuse:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        log(f"created database {name}")
    try:
        db = PostgresDatabase(url, pool_size=1)
        await db.open()  # applies kurir's migrations
        await db.close()
        timings, seeded = {}, 0.0
        if not args.reuse:
            log(f"seeding at scale {args.scale}: {shape}")
            t = time.perf_counter()
            timings = seed(url, shape)
            seeded = time.perf_counter() - t
        with psycopg.connect(url, autocommit=True) as conn:
            if args.reuse:
                conn.execute("ANALYZE")
            row = conn.execute("SELECT number, name FROM schema_migrations ORDER BY number"
                               " DESC LIMIT 1").fetchone()
            version = conn.info.parameter_status("server_version")
            out(f"# kurir hot queries on PostgreSQL {version} (database {name},"
                f" migrations up to {row[0] if row else '?'})")
            out(f"\nseed scale {args.scale}: {shape}")
            if timings:
                out("seeding took " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items())
                    + f" s; {seeded:.0f} s in all")
            report_sizes(conn)
        with psycopg.connect(url) as conn:
            subjects = pick_subjects(conn, shape)
            conn.rollback()
            out(f"\nsubjects: {subjects}")
            await explain_all(conn, subjects)
        if not args.no_engine:
            await trace_interactions(url, subjects, args.calls)
            await prepared_check(url, subjects, args.rounds)
    finally:
        if not args.keep and not args.reuse:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                              .format(sql.Identifier(name)))
            log(f"dropped database {name}")
        else:
            log(f"kept database {name}: {url}")
    out(f"\nwhole run: {time.perf_counter() - started:.0f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--database-url", default=DEFAULT_URL,
                   help="a database on the server to use; a fresh one is made beside it")
    p.add_argument("--scale", type=float, default=1.0, help="1.0: 100k users, 2.4 M messages")
    p.add_argument("--keep", action="store_true", help="keep the seeded database")
    p.add_argument("--reuse", metavar="DB", help="explain on a database kept before (no seed)")
    p.add_argument("--calls", type=int, default=50, help="traced calls per interaction")
    p.add_argument("--rounds", type=int, default=30, help="rounds of the prepared check")
    p.add_argument("--no-engine", action="store_true", help="skip the trace and prepared check")
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
