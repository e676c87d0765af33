"""Parse modes → text and entities, checked against what Telegram's parser answers."""

from __future__ import annotations

import html

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kurir.domain import errors
from kurir.domain.entities import check_entities, utf16_len
from kurir.domain.formatting import parse
from kurir.domain.types import MessageEntity


def E(type_: str, offset: int, length: int, **fields: object) -> MessageEntity:
    return MessageEntity(type=type_, offset=offset, length=length, **fields)  # type: ignore[arg-type]


def invalid(text: str, mode: str) -> str:
    with pytest.raises(errors.ENTITIES_INVALID) as caught:
        parse(text, mode)
    return caught.value.message


# --- HTML -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markup", "text", "entities"),
    [
        ("<b>a</b><strong>b</strong>", "ab", [E("bold", 0, 1), E("bold", 1, 1)]),
        ("<i>a</i><em>b</em>", "ab", [E("italic", 0, 1), E("italic", 1, 1)]),
        ("<u>a</u><ins>b</ins>", "ab", [E("underline", 0, 1), E("underline", 1, 1)]),
        ("<s>a</s><strike>b</strike><del>c</del>", "abc",
         [E("strikethrough", 0, 1), E("strikethrough", 1, 1), E("strikethrough", 2, 1)]),
        ('<tg-spoiler>a</tg-spoiler><span class="tg-spoiler">b</span>', "ab",
         [E("spoiler", 0, 1), E("spoiler", 1, 1)]),
        ("<code>x</code>", "x", [E("code", 0, 1)]),
        ('<code class="language-py">x</code>', "x", [E("code", 0, 1)]),
        ("<pre>x</pre>", "x", [E("pre", 0, 1)]),
        ('<pre><code class="language-python">x = 1</code></pre>', "x = 1",
         [E("pre", 0, 5, language="python")]),
        ("<pre><code>x</code></pre>", "x", [E("pre", 0, 1)]),
        ("<blockquote>q</blockquote>", "q", [E("blockquote", 0, 1)]),
        ("<blockquote expandable>q</blockquote>", "q", [E("expandable_blockquote", 0, 1)]),
        ('<a href="http://www.example.com/">x</a>', "x",
         [E("text_link", 0, 1, url="http://www.example.com/")]),
        ('<a href="tg://user?id=123">x</a>', "x", [E("text_mention", 0, 1, user_id=123)]),
        ('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>', "👍", []),
        ("<B>a</b><I >b</I >", "ab", [E("bold", 0, 1), E("italic", 1, 1)]),
        ("<b>a</>", "a", [E("bold", 0, 1)]),
        ("<b></b>x<i></i>", "x", []),
        ("a > b", "a > b", []),
    ],
)
def test_html_tags(markup: str, text: str, entities: list[MessageEntity]) -> None:
    assert parse(markup, "HTML") == (text, entities)


def test_html_nesting_is_sorted_outermost_first() -> None:
    text, entities = parse("<b>bold <i>both <u>all</u></i></b> <s>x</s>", "HTML")
    assert text == "bold both all x"
    assert entities == [
        E("bold", 0, 13), E("italic", 5, 8), E("underline", 10, 3), E("strikethrough", 14, 1)
    ]
    # same span: Telegram lists the outer types first (bold before italic)
    assert parse("<i><b>x</b></i>", "HTML")[1] == [E("bold", 0, 1), E("italic", 0, 1)]


@pytest.mark.parametrize(
    ("href", "url"),
    [
        ("http://www.example.com", "http://www.example.com/"),
        ("example.com/a b", "http://example.com/a%20b"),
        ("HTTPS://Example.COM:0443/x?y#z", "https://example.com:443/x?y#z"),
        ("tg://resolve?domain=kurir", "tg://resolve?domain=kurir"),
        ("tg://user?id=abc", "tg://user?id=abc"),  # not a user: an ordinary tg link
        ("javascript:alert(1)", None),
        ("ftp://example.com", None),
        ("http://localhost", None),
    ],
)
def test_html_links_are_normalized_or_dropped(href: str, url: str | None) -> None:
    expected = [E("text_link", 0, 1, url=url)] if url else []
    assert parse(f'<a href="{href}">x</a>', "HTML") == ("x", expected)


def test_html_link_without_href_links_its_text() -> None:
    assert parse("<a>example.com</a>", "HTML")[1] == [E("text_link", 0, 11, url="http://example.com/")]


def test_html_character_references() -> None:
    markup = "&lt;b&gt; &amp; &quot; &#65;&#x42; &#128512;&lt &nbsp; &#0; &LT;"
    text, entities = parse(markup, "HTML")
    assert text == '<b> & " AB 😀< &nbsp; &#0; &LT;'
    assert entities == []
    assert parse('<a href="http://x.y/?a=1&amp;b=2">x</a>', "HTML")[1][0].url == "http://x.y/?a=1&b=2"


@pytest.mark.parametrize(
    ("markup", "message"),
    [
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("<br/>", 'Unsupported start tag "br/" at byte offset 0'),
        ("é<foo>", 'Unsupported start tag "foo" at byte offset 2'),  # bytes, not characters
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ('<a href="x', "Unclosed start tag at byte offset 0"),
        ("<a href", 'Unclosed start tag "a" at byte offset 0'),
        ('<a href="x"/>', 'Empty attribute name in the tag "a" at byte offset 0'),
        ("<a href=x!y>", "Unexpected end of name token at byte offset 8"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ('<tg-emoji emoji-id="abc">x</tg-emoji>', "Invalid custom emoji identifier specified"),
        ("&#xD83D;", "Text contains invalid Unicode characters after decoding HTML entities, "
                     "check for unmatched surrogate code units"),
    ],
)
def test_html_errors(markup: str, message: str) -> None:
    assert invalid(markup, "HTML") == f"Can't parse entities: {message}"


# --- MarkdownV2 -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markup", "text", "entities"),
    [
        (r"*bold \*text*", "bold *text", [E("bold", 0, 10)]),
        (r"_italic \*text_", "italic *text", [E("italic", 0, 12)]),
        ("__underline__", "underline", [E("underline", 0, 9)]),
        ("~strike~", "strike", [E("strikethrough", 0, 6)]),
        ("||spoiler||", "spoiler", [E("spoiler", 0, 7)]),
        ("[inline URL](http://www.example.com/)", "inline URL",
         [E("text_link", 0, 10, url="http://www.example.com/")]),
        ("[user](tg://user?id=123456789)", "user", [E("text_mention", 0, 4, user_id=123456789)]),
        (r"[x](http://x.com/a\)b\\c)", "x", [E("text_link", 0, 1, url="http://x.com/a)b\\c")]),
        (r"[example\.com]", "example.com", [E("text_link", 0, 11, url="http://example.com/")]),
        ("[x](not a link)", "x", []),
        ("![👍](tg://emoji?id=5368324170671202286)", "👍", []),
        ("`inline *code*`", "inline *code*", [E("code", 0, 13)]),
        (r"`a\`b\\c`", "a`b\\c", [E("code", 0, 5)]),
        ("```\npre *block*\n```", "pre *block*\n", [E("pre", 0, 12)]),
        ("```python\nprint(1)\n```", "print(1)\n", [E("pre", 0, 9, language="python")]),
        ("```x```", "x", [E("pre", 0, 1)]),
        (">quote\n>more\nafter", "quote\nmore\nafter", [E("blockquote", 0, 11)]),
        (">quote", "quote", [E("blockquote", 0, 5)]),
        ("**>hidden\n>more||\nafter", "hidden\nmore\nafter", [E("expandable_blockquote", 0, 12)]),
        ("**>hidden||", "hidden", [E("expandable_blockquote", 0, 6)]),
        ("a\n>*b*", "a\nb", [E("blockquote", 2, 1), E("bold", 2, 1)]),
        ("**x", "x", []),
        ("\\é\\", "\\é\\", []),  # "\" escapes only ASCII; a lone one stays
    ],
)
def test_markdown_v2(markup: str, text: str, entities: list[MessageEntity]) -> None:
    assert parse(markup, "MarkdownV2") == (text, entities)


def test_markdown_v2_nesting_from_the_spec() -> None:
    markup = (
        "*bold _italic bold ~italic bold strikethrough ||italic bold strikethrough spoiler||~ "
        "__underline italic bold___ bold*"
    )
    text, entities = parse(markup, "MarkdownV2")
    assert text == (
        "bold italic bold italic bold strikethrough italic bold strikethrough spoiler "
        "underline italic bold bold"
    )
    assert entities == [
        E("bold", 0, 103), E("italic", 5, 93), E("strikethrough", 17, 59),
        E("spoiler", 43, 33), E("underline", 77, 21),
    ]


def test_markdown_v2_underline_wins_the_ambiguity() -> None:
    # "__" always opens or closes an underline; "\r" (kept, Telegram drops it later) splits it
    assert invalid("___italic underline___", "MarkdownV2") == (
        "Can't parse entities: Can't find end of Italic entity at byte offset 21"
    )
    assert parse("___italic underline_\r__", "MarkdownV2") == (
        "italic underline\r", [E("underline", 0, 17), E("italic", 0, 16)]
    )


@pytest.mark.parametrize(
    ("markup", "message"),
    [
        ("a.b", "Character '.' is reserved and must be escaped with the preceding '\\'"),
        ("1+1=2", "Character '+' is reserved and must be escaped with the preceding '\\'"),
        ("a > b", "Character '>' is reserved and must be escaped with the preceding '\\'"),
        ("]", "Character ']' is reserved and must be escaped with the preceding '\\'"),
        ("|x", "Character '|' is reserved and must be escaped with the preceding '\\'"),
        ("😀 *b", "Can't find end of Bold entity at byte offset 5"),
        ("_x", "Can't find end of Italic entity at byte offset 0"),
        ("`x", "Can't find end of Code entity at byte offset 0"),
        ("```py\nx", "Can't find end of PreCode entity at byte offset 0"),
        ("[x", "Can't find end of TextUrl entity at byte offset 0"),
        ("[x](http://a.b", "Can't find end of a URL at byte offset 4"),
        (">*a\nb*", "Can't find end of Bold entity at byte offset 1"),
        ("![x]", "The entity must contain a tg://emoji or tg://time URL"),
        ("![x](http://a.b)", "Invalid tg://emoji or tg://time URL specified"),
    ],
)
def test_markdown_v2_errors(markup: str, message: str) -> None:
    assert invalid(markup, "MarkdownV2") == f"Can't parse entities: {message}"


# --- Markdown (legacy) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markup", "text", "entities"),
    [
        ("*bold* _italic_", "bold italic", [E("bold", 0, 4), E("italic", 5, 6)]),
        ("`code`", "code", [E("code", 0, 4)]),
        ("```\npre```", "pre", [E("pre", 0, 3)]),
        ("```python\nx```", "x", [E("pre", 0, 1, language="python")]),
        ("[x](http://a.b/c)", "x", [E("text_link", 0, 1, url="http://a.b/c")]),
        ("[x](tg://user?id=7)", "x", [E("text_mention", 0, 1, user_id=7)]),
        ("*_no nesting_*", "_no nesting_", [E("bold", 0, 12)]),
        (r"\*a\_ \[b\` \.", "*a_ [b` \\.", []),
        ("2.5 + (1)! = #x", "2.5 + (1)! = #x", []),
        ("**x", "x", [])
    ],
)
def test_markdown_legacy(markup: str, text: str, entities: list[MessageEntity]) -> None:
    assert parse(markup, "Markdown") == (text, entities)


@pytest.mark.parametrize("markup", ["abc *d", "abc _d", "abc `d", "abc [d", "abc ```d`"])
def test_markdown_legacy_unclosed(markup: str) -> None:
    assert invalid(markup, "Markdown") == (
        "Can't parse entities: Can't find end of the entity starting at byte offset 4"
    )


# --- modes, offsets, properties ----------------------------------------------------------


def test_utf16_offsets_count_surrogate_pairs() -> None:
    assert parse("😀 *b*", "MarkdownV2") == ("😀 b", [E("bold", 3, 1)])
    assert parse("😀<b>😀é</b>", "HTML") == ("😀😀é", [E("bold", 2, 3)])
    assert parse("😀 _😀_", "Markdown") == ("😀 😀", [E("italic", 3, 2)])


def test_modes() -> None:
    assert parse("<b>x</b>", "html") == parse("<b>x</b>", "HTML")
    assert parse("*x*", "markdownv2") == ("x", [E("bold", 0, 1)])
    assert parse(" <b>x</b>\n", "HTML")[0] == " x\n"  # nothing is stripped
    assert parse("*x*", "") == ("*x*", [])  # as the Bot API: no parse mode
    with pytest.raises(errors.BAD_REQUEST) as caught:
        parse("x", "Markdown3")
    assert caught.value.message == "Unsupported parse_mode"


def md2_escape(text: str) -> str:
    return "".join("\\" + c if c in "_*[]()~`>#+-=|{}.!\\" else c for c in text)


def md_escape(text: str) -> str:
    return "".join("\\" + c if c in "_*`[" else c for c in text)


@given(st.text())
def test_escaped_text_parses_back_to_itself(text: str) -> None:
    assert parse(html.escape(text, quote=False), "HTML") == (text, [])
    assert parse(md2_escape(text), "MarkdownV2") == (text, [])
    assert parse(md_escape(text), "Markdown") == (text, [])


@given(st.text(), st.text(min_size=1))
def test_offsets_are_utf16_lengths(before: str, inside: str) -> None:
    bold = [E("bold", utf16_len(before), utf16_len(inside))]
    expected = (before + inside, bold)
    assert parse(f"{html.escape(before)}<b>{html.escape(inside)}</b>", "HTML") == expected
    assert parse(f"{md2_escape(before)}*{md2_escape(inside)}*", "MarkdownV2") == expected


HTML_PIECES = [
    "<b>", "</b>", "<i>", "</i>", "<u>", "</u>", '<a href="http://a.bc">', "</a>", "<pre>",
    "</pre>", '<code class="language-py">', "</code>", "<blockquote expandable>",
    "</blockquote>", "&lt;", "&#128512;", "&", "<", ">", "x", "😀", " ", "\n", "</>",
]
MD_PIECES = [
    "*", "_", "__", "~", "||", "`", "```", "```py\n", "[", "]", "(http://a.bc)", "(", ")",
    "\\", "\n", ">", "**>", "!", "x", "😀", " ", "\r", ".",
]


@pytest.mark.parametrize(
    ("mode", "pieces"), [("HTML", HTML_PIECES), ("MarkdownV2", MD_PIECES), ("Markdown", MD_PIECES)]
)
@given(data=st.data())
def test_any_input_gives_valid_entities_or_entities_invalid(
    mode: str, pieces: list[str], data: st.DataObject
) -> None:
    markup = "".join(data.draw(st.lists(st.sampled_from(pieces), max_size=30)))
    try:
        text, entities = parse(markup, mode)
    except errors.ENTITIES_INVALID as e:
        assert e.message.startswith("Can't parse entities: ")
        return
    assert entities == check_entities(text, entities)  # inside the text, nested, sorted
    assert all(e.length > 0 for e in entities)
