"""Telegram's parse modes (HTML, MarkdownV2, legacy Markdown) turned into text and entities.

Bots are written against what Telegram's own parser does, quirks included, so this follows it
rather than a general Markdown or HTML grammar: the same input gives the same text, the same
entities and the same error messages (with UTF-8 byte offsets into the input, as Telegram's
carry). Entity offsets and lengths are UTF-16 code units.

Departures: custom emoji (`<tg-emoji>`, `![…](tg://emoji?id=…)`) and dates (`<tg-time>`,
`![…](tg://time?unix=…)`) become plain text, as kurir's MessageEntity has no field for them
(an emoji id and a tg:// URL are still checked); `<pre><code>` without a language gives one pre
entity, as the message Telegram stores does. Nothing is stripped: trimming whitespace and
dropping "\\r" is what Telegram does later, when it stores a message, not while parsing.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from typing import NamedTuple

from kurir.domain import errors
from kurir.domain.types import MessageEntity

# Telegram orders entities that share a span by type: the outermost first.
_PRIORITY = {
    "blockquote": 0, "expandable_blockquote": 0, "pre": 10, "code": 20, "text_link": 49,
    "text_mention": 49, "bold": 90, "italic": 91, "underline": 92, "strikethrough": 93,
    "spoiler": 94,
}
_ALNUM = frozenset(string.ascii_letters + string.digits)
_SPACE = frozenset(" \t\r\n\v\0")  # TDLib's is_space; "\0" stands for the end of the text
_PAD = "\0\0\0"  # read past the end as TDLib reads its C string's terminator
_MAX_USER_ID = 2**53 - 1


def parse(text: str, mode: str) -> tuple[str, list[MessageEntity]]:
    """Return the plain text and its entities, sorted by (offset, -length).

    `mode` is the Bot API's parse_mode, case-insensitive; "" and "none" mean no parsing,
    as in the Bot API. Bad markup raises ENTITIES_INVALID with Telegram's message.
    """
    parsers: dict[str, Callable[[str], _Out]] = {
        "html": _parse_html, "markdownv2": _parse_markdown_v2, "markdown": _parse_markdown,
    }
    mode = mode.lower()
    if mode in ("", "none") or not text:
        return text, []
    if mode not in parsers:
        raise errors.BAD_REQUEST("Unsupported parse_mode")
    out = parsers[mode](text)
    entities = [e for e in out.entities if e.length > 0]
    entities.sort(key=lambda e: (e.offset, -e.length, _PRIORITY.get(e.type, 50)))
    return "".join(out.parts), entities


class _Out:
    """The plain text being built, its length in UTF-16 units, and the entities found."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.u16 = 0
        self.entities: list[MessageEntity] = []

    def add(self, ch: str) -> None:
        self.parts.append(ch)
        self.u16 += 2 if ch > "\uffff" else 1  # a lone surrogate from "&#xD800;" counts one

    def emit(
        self, type_: str, start: int, *, url: str | None = None, user_id: int | None = None,
        language: str | None = None,
    ) -> None:
        """Record an entity from `start` to here; an empty one is no entity at all."""
        if self.u16 > start:
            length = self.u16 - start
            self.entities.append(MessageEntity(
                type=type_, offset=start, length=length, url=url, user_id=user_id, language=language
            ))

    def link(self, start: int, url: str) -> None:
        """An inline link: a mention when it names a user, dropped when Telegram would drop it."""
        user_id = _user_id(url)
        if user_id is not None:
            self.emit("text_mention", start, user_id=user_id)
        elif (checked := _checked_link(url)) is not None:
            self.emit("text_link", start, url=checked)


def _invalid(message: str) -> errors.ApiError:
    return errors.ENTITIES_INVALID(f"Can't parse entities: {message}")


def _skip_space(s: str, i: int) -> int:
    while s[i] != "\0" and s[i] in _SPACE:
        i += 1
    return i


def _where(text: str, i: int) -> str:
    """Where character i is, for an error message: Telegram counts UTF-8 bytes."""
    return f"at byte offset {len(text[:i].encode('utf-8', 'surrogatepass'))}"


# --- links ------------------------------------------------------------------------------

_URL_CHAR = r"[A-Za-z0-9_.!$,~*'();&+=\-]|%[0-9A-Fa-f]{2}|[^\x00-\x7f]"  # RFC 3986, and UTF-8
_HOST = re.compile(rf"(?:{_URL_CHAR})+")
_USERINFO = re.compile(rf"(?:{_URL_CHAR}|:)*")


def _tg_query(url: str, host: str) -> dict[str, str] | None:
    """The parameters of a tg://<host>?… link (any case, "//" optional), or None."""
    m = re.match(rf"tg:(?://)?{host}/?\?([^#]*)", url, re.IGNORECASE | re.DOTALL)
    if m is None:
        return None
    params: dict[str, str] = {}
    for pair in m.group(1).split("&"):
        key, _, value = pair.partition("=")
        params.setdefault(key.lower(), value)
    return params


def _positive(value: str | None, limit: int) -> int | None:
    if value is None or not re.fullmatch(r"[0-9]{1,19}", value) or not 0 < int(value) <= limit:
        return None
    return int(value)


def _user_id(url: str) -> int | None:
    params = _tg_query(url, "user")
    return None if params is None else _positive(params.get("id"), _MAX_USER_ID)


def _checked_link(url: str) -> str | None:
    """The link as Telegram stores it (scheme added, "/" path), or None if it is not one."""
    is_tg = url[:3].lower() == "tg:"
    rest = url[3:].removeprefix("//") if is_tg else url
    scheme = "http"
    if m := re.match(r"([^:/?#@\[\]]*)://", rest):
        scheme = m.group(1).lower()
        if is_tg or scheme not in ("http", "https"):
            return None
        rest = rest[m.end() :]
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    tail = rest[len(authority) :].rstrip(" \t\r\n\v\0") or "/"
    tail = ("" if tail.startswith("/") else "/") + re.sub(
        r"[\x00-\x20]", lambda c: f"%{ord(c.group()):02X}", tail
    )
    userinfo, _, host = authority.rpartition("@")
    host, colon, port = host.rpartition(":") if ":" in host else (host, "", "")
    if colon:
        number = _positive(port.lstrip("0") or "0", 65535)
        if number is None:
            return None
        port = str(number)
    host = host.lower()
    if host == "." or not _HOST.fullmatch(host) or not _USERINFO.fullmatch(userinfo):
        return None
    if is_tg:
        if userinfo or colon or not re.fullmatch(r"[a-z0-9_-]+", host):
            return None
        return f"tg://{host}{tail[1:] if tail.startswith('/?') else tail}"
    if "." not in host:
        return None
    return f"{scheme}://{userinfo}{'@' if userinfo else ''}{host}{colon}{port}{tail}"


def _custom_emoji_id(value: str | None) -> bool:
    """Telegram accepts any non-zero 64-bit integer as a custom emoji id."""
    return value is not None and bool(re.fullmatch(r"-?[0-9]{1,19}", value)) and (
        int(value) != 0 and -(2**63) <= int(value) < 2**63
    )


class _Open(NamedTuple):
    """An entity whose end is not reached yet."""

    kind: str  # an HTML tag name, or TDLib's type name (used in its error messages)
    argument: str  # href, language, "1" for an expandable blockquote…
    start: int  # UTF-16 offset in the output
    at: int  # index of its markup in the input, for error messages
    mark: int  # index in the output's parts, to read the entity's text


# --- HTML --------------------------------------------------------------------------------

_HTML_TYPES = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "tg-spoiler": "spoiler", "span": "spoiler", "a": "text_link", "code": "code", "pre": "pre",
    "blockquote": "blockquote", "tg-emoji": "", "tg-time": "",
}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _html_entity(s: str, i: int) -> tuple[str, int]:
    """Decode the reference at s[i] == "&" into (character, next index), or ("", i).

    Telegram knows four named references and numeric ones, and the ";" is optional.
    """
    j = i + 1
    if s[j] != "#":
        while s[j] in string.ascii_letters:
            j += 1
        ch = _NAMED.get(s[i + 1 : j], "")
    else:
        j += 1
        base, digits = (16, string.hexdigits) if s[j] == "x" else (10, string.digits)
        j += base == 16
        first = j
        while s[j] in digits:
            j += 1
        code = int(s[first:j], base) if j > first else 0
        ch = chr(code) if 0 < code < 0x10FFFF and j - i < 10 else ""
    if not ch:
        return "", i
    return ch, j + (s[j] == ";")


def _parse_html(text: str) -> _Out:
    s, n, out = text + _PAD, len(text), _Out()
    stack: list[_Open] = []
    surrogate = False
    i = 0
    while i < n:
        c = s[i]
        if c == "&":
            ch, j = _html_entity(s, i)
            if ch:
                surrogate |= "\ud800" <= ch <= "\udfff"
                out.add(ch)
                i = j
                continue
        if c != "<":
            out.add(c)
            i += 1
        elif s[i + 1] != "/":
            i = _html_open(s, i, out, stack)
        else:
            i = _html_close(s, i, out, stack)
    if stack:
        raise _invalid(f'Can\'t find end tag corresponding to start tag "{stack[-1].kind}"')
    if surrogate:
        raise _invalid(
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units"
        )
    for entity in out.entities:
        if entity.type == "code":
            entity.language = None  # kept only for an enclosing <pre>
    return out


def _html_open(s: str, begin: int, out: _Out, stack: list[_Open]) -> int:
    """Read the start tag at s[begin] onto the stack; return the index after its ">"."""
    i = begin + 1
    while s[i] not in _SPACE and s[i] != ">":
        i += 1
    if s[i] == "\0":
        raise _invalid(f"Unclosed start tag {_where(s, begin)}")
    tag = s[begin + 1 : i].lower()
    if tag not in _HTML_TYPES:
        raise _invalid(f'Unsupported start tag "{tag}" {_where(s, begin)}')
    argument = ""
    while s[i] != ">":
        i = _skip_space(s, i)
        if s[i] == ">":
            break
        first = i
        while s[i] not in _SPACE and s[i] not in "=>/\"'":
            i += 1
        name = s[first:i]
        if not name:
            raise _invalid(f'Empty attribute name in the tag "{tag}" {_where(s, begin)}')
        i = _skip_space(s, i)
        if s[i] != "=":
            if s[i] == "\0":
                raise _invalid(f'Unclosed start tag "{tag}" {_where(s, begin)}')
            if tag == "blockquote" and name == "expandable":
                argument = "1"
            continue
        i += 1
        i = _skip_space(s, i)
        if s[i] == "\0":
            raise _invalid(f'Unclosed start tag "{tag}" {_where(s, begin)}')
        if s[i] not in "\"'":  # a name token: letters, digits, "." and "-", any case
            first = i
            while s[i] in _ALNUM or s[i] in ".-":
                i += 1
            value = s[first:i].lower()
            if s[i] not in _SPACE and s[i] != ">":
                raise _invalid(f"Unexpected end of name token {_where(s, first)}")
        else:
            quote, chars = s[i], []
            i += 1
            while s[i] != quote and s[i] != "\0":
                ch, j = _html_entity(s, i) if s[i] == "&" else ("", i)
                chars.append(ch or s[i])
                i = j if ch else i + 1
            i += s[i] == quote
            value = "".join(chars)
        if s[i] == "\0":
            raise _invalid(f"Unclosed start tag {_where(s, begin)}")
        if (tag, name) in (("a", "href"), ("tg-emoji", "emoji-id")):
            argument = value
        elif (tag, name) == ("code", "class") and value.startswith("language-"):
            argument = value.removeprefix("language-")
        elif (tag, name) == ("span", "class") and value.startswith("tg-"):
            argument = value.removeprefix("tg-")
        elif (tag, name) == ("blockquote", "expandable"):
            argument = "1"
    if tag == "span" and argument != "spoiler":
        raise _invalid(f'Tag "span" must have class "tg-spoiler" {_where(s, begin)}')
    stack.append(_Open(tag, argument, out.u16, begin, len(out.parts)))
    return i + 1


def _html_close(s: str, begin: int, out: _Out, stack: list[_Open]) -> int:
    """Close the innermost tag with the end tag at s[begin]; return the index after its ">"."""
    if not stack:
        raise _invalid(f"Unexpected end tag {_where(s, begin)}")
    i = begin + 2
    while s[i] not in _SPACE and s[i] != ">":
        i += 1
    name = s[begin + 2 : i].lower()
    i = _skip_space(s, i)
    if s[i] != ">":
        raise _invalid(f"Unclosed end tag {_where(s, begin)}")
    tag, argument, start, _, mark = stack[-1]
    if name and name != tag:
        raise _invalid(
            f'Unmatched end tag {_where(s, begin)}, expected "</{tag}>", '
            f'found "</{name}>"'
        )
    stack.pop()
    last = out.entities[-1] if out.entities else None
    if out.u16 == start:
        pass  # an empty entity is no entity
    elif tag == "a":
        out.link(start, argument or "".join(out.parts[mark:]))
    elif tag == "tg-emoji":
        if not _custom_emoji_id(argument):
            raise _invalid("Invalid custom emoji identifier specified")
    elif (
        tag in ("pre", "code") and last is not None and {tag, last.type} == {"pre", "code"}
        and (last.offset, last.length) == (start, out.u16 - start)
    ):  # <pre><code class="language-…">: one pre entity, with the code's language
        last.type, last.language = "pre", (last.language if tag == "pre" else argument) or None
    elif tag == "code":
        out.emit("code", start, language=argument or None)
    elif tag == "blockquote":
        out.emit("expandable_blockquote" if argument else "blockquote", start)
    elif _HTML_TYPES[tag]:
        out.emit(_HTML_TYPES[tag], start)
    return i + 1


# --- Markdown ------------------------------------------------------------------------------


def _pre_header(s: str, n: int, i: int) -> tuple[str, int]:
    """After an opening ```: (language, index of the code). One leading line break is skipped."""
    end = i
    while s[end] not in _SPACE and s[end] != "`":
        end += 1
    language = ""
    if end != i and end < n and s[end] != "`":
        language, i = s[i:end], end
    if s[i] in "\r\n":
        i += 2 if s[i + 1] in "\r\n" and s[i + 1] != s[i] else 1
    return language, i


def _parse_markdown(text: str) -> _Out:
    """Legacy Markdown: *bold* _italic_ `code` ```pre``` [text](url); no nesting, no escapes
    inside an entity, and "\\" escapes only _ * ` [ outside one."""
    s, n, out = text + _PAD, len(text), _Out()
    i = 0
    while i < n:
        c = s[i]
        if c == "\\" and s[i + 1] in "_*`[":
            out.add(s[i + 1])
            i += 2
            continue
        if c not in "_*`[":
            out.add(c)
            i += 1
            continue
        begin, end_char, language = i, "]" if c == "[" else c, ""
        is_pre = s[i : i + 3] == "```"
        if is_pre:
            language, i = _pre_header(s, n, i + 3)
        else:
            i += 1
        start, mark = out.u16, len(out.parts)
        while i < n and (s[i] != end_char or (is_pre and s[i + 1 : i + 3] != "``")):
            out.add(s[i])
            i += 1
        if i == n:
            raise _invalid(f"Can't find end of the entity starting {_where(s, begin)}")
        if c == "[":
            if out.u16 > start:  # the (url) part is read only after a non-empty text
                url = "".join(out.parts[mark:])
                if s[i + 1] == "(":
                    close = s.find(")", i + 2, n)
                    close = n if close < 0 else close
                    url, i = s[i + 2 : close], close
                out.link(start, url)
        elif c == "`":
            out.emit("pre" if is_pre else "code", start, language=language or None)
        else:
            out.emit("bold" if c == "*" else "italic", start)
        i += 3 if is_pre else 1
    return out


_V2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!\n")  # "\n" only to end or go on with a blockquote
_RESERVED_MESSAGE = "Character '{}' is reserved and must be escaped with the preceding '\\'"
_V2_CODE = ("Code", "Pre", "PreCode")
_V2_TYPES = {
    "Bold": "bold", "Italic": "italic", "Underline": "underline", "Strikethrough": "strikethrough",
    "Spoiler": "spoiler", "Code": "code", "Pre": "pre", "PreCode": "pre",
    "BlockQuote": "blockquote", "ExpandableBlockQuote": "expandable_blockquote",
}


def _parse_markdown_v2(text: str) -> _Out:
    return _MarkdownV2(text).run()


class _MarkdownV2:
    """MarkdownV2: nested entities on a stack; a blockquote runs over ">"-prefixed lines."""

    def __init__(self, text: str) -> None:
        self.s, self.n, self.out = text + _PAD, len(text), _Out()
        self.stack: list[_Open] = []
        self.in_quote = False  # blockquotes do not nest
        self.line_start = True  # a ">" here begins a blockquote or continues one

    def run(self) -> _Out:
        s, out, stack = self.s, self.out, self.stack
        i = 0
        while i < self.n:
            c = s[i]
            if c == "\\" and "\x01" <= s[i + 1] <= "\x7e":
                out.add(s[i + 1])
                if s[i + 1] != "\r":
                    self.line_start = s[i + 1] == "\n"
                i += 2
            elif c not in ("`" if stack and stack[-1].kind in _V2_CODE else _V2_RESERVED):
                out.add(c)
                if c != "\r":
                    self.line_start = False
                i += 1
            elif stack and self._ends(i):
                i = self._close(i)
            else:
                i = self._open(i)
        if self.in_quote:  # the text ends the blockquote, a final "||" makes it expandable
            kind = "BlockQuote"
            if stack[-1].kind == "Spoiler" and stack[-1].at == self.n - 2:
                stack.pop()
                kind = "ExpandableBlockQuote"
            if stack[-1].kind == "BlockQuote":
                out.emit(_V2_TYPES[kind], stack.pop().start)
        if stack:
            raise self._unclosed(stack[-1])
        return out

    def _unclosed(self, entry: _Open) -> errors.ApiError:
        return _invalid(f"Can't find end of {entry.kind} entity {_where(self.s, entry.at)}")

    def _ends(self, i: int) -> bool:
        """Whether the markup at s[i] closes the innermost entity."""
        c, after, kind = self.s[i], self.s[i + 1], self.stack[-1].kind
        if self.in_quote and c == "\n" and after != ">":
            return True
        match kind:
            case "Bold":
                return c == "*"
            case "Italic":
                return c == "_" and after != "_"
            case "Underline":
                return c == "_" and after == "_"
            case "Strikethrough":
                return c == "~"
            case "Spoiler":
                return c == "|" and after == "|"
            case "Code":
                return c == "`"
            case "Pre" | "PreCode":
                return self.s[i : i + 3] == "```"
            case "TextUrl" | "CustomEmoji":
                return c == "]"
        return False

    def _open(self, i: int) -> int:
        """Begin the entity whose markup is at s[i]; return the index after the markup."""
        s, at, c, after = self.s, i, self.s[i], self.s[i + 1]
        argument = ""
        if c == "_":
            kind, i = ("Underline", i + 2) if after == "_" else ("Italic", i + 1)
        elif c in "*~[":
            kind, i = {"*": "Bold", "~": "Strikethrough", "[": "TextUrl"}[c], i + 1
        elif c == "|" and after == "|":
            kind, i = "Spoiler", i + 2
        elif c == "!" and after == "[":
            kind, i = "CustomEmoji", i + 2
        elif c == "`" and s[i : i + 3] == "```":
            argument, i = _pre_header(s, self.n, i + 3)
            kind = "PreCode" if argument else "Pre"
        elif c == "`":
            kind, i = "Code", i + 1
        elif c == "\n":
            self.out.add(c)
            self.line_start = True
            return i + 1
        elif c == ">" and self.line_start:
            if self.in_quote:
                return i + 1  # the next line of the same blockquote
            kind, i = "BlockQuote", i + 1
            self.in_quote = True
        else:
            raise _invalid(_RESERVED_MESSAGE.format(c))
        self.stack.append(_Open(kind, argument, self.out.u16, at, len(self.out.parts)))
        return i

    def _close(self, i: int) -> int:
        """End the innermost entity at s[i]; return the index after its markup."""
        s, out, stack = self.s, self.out, self.stack
        top = stack[-1]
        kind = top.kind
        if s[i] == "\n" and kind != "BlockQuote":
            # a line break ends the blockquote: only a "||" just before it may be open
            just_opened = top.at == i - 2 or (top.at == i - 3 and out.parts[-1:] == ["\r"])
            if kind != "Spoiler" or not just_opened:
                raise self._unclosed(top)
            stack.pop()
            top = stack[-1]
            if top.kind != "BlockQuote":
                raise self._unclosed(top)
            kind = "ExpandableBlockQuote"
        url = None
        if kind in ("Underline", "Spoiler"):
            i += 1
        elif kind in ("Pre", "PreCode"):
            i += 2
        elif kind == "TextUrl":
            url = "".join(out.parts[top.mark :])
            if s[i + 1] == "(":
                url, i = self._url(i + 2)
        elif kind == "CustomEmoji":
            if s[i + 1] != "(":
                raise _invalid("The entity must contain a tg://emoji or tg://time URL")
            link, i = self._url(i + 2)
            emoji, time = _tg_query(link, "emoji"), _tg_query(link, "time")
            if not (emoji and _custom_emoji_id(emoji.get("id"))) and not (
                time and _positive(time.get("unix"), 2**31 - 1)
            ):
                raise _invalid("Invalid tg://emoji or tg://time URL specified")
        elif kind in ("BlockQuote", "ExpandableBlockQuote"):
            self.in_quote = False
            out.add(s[i])  # the line break belongs to the quote
            self.line_start = True
        stack.pop()
        if url is not None:
            out.link(top.start, url)
        elif kind != "CustomEmoji":  # kurir keeps a custom emoji as its plain text
            out.emit(_V2_TYPES[kind], top.start, language=top.argument or None)
        return i + 1

    def _url(self, i: int) -> tuple[str, int]:
        """Read the (…) of a link from s[i], where ")" and "\\" are escaped; return it and
        the index of its ")"."""
        s, first, chars = self.s, i, []
        while i < self.n and s[i] != ")":
            if s[i] == "\\" and "\x01" <= s[i + 1] <= "\x7e":
                i += 1
            chars.append(s[i])
            i += 1
        if s[i] != ")":
            raise _invalid(f"Can't find end of a URL {_where(s, first)}")
        return "".join(chars), i
