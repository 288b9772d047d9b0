"""Names and values shown to people, escaped for the medium they are shown in.

A config, a table's header, a pyperf file or a run.json written elsewhere can hold any text:
terminal escapes (``ESC[2J``, OSC titles and links), rich markup (``[link=…]``, ``[/]``),
markdown and HTML (``<script>``, ``|``, a newline that starts a heading), spreadsheet formulas
(``=cmd|…``). Every name lossbench shows passes through one of these, so it reads as the
characters it holds and does nothing else.
"""

from __future__ import annotations

import html as _html
import re

__all__ = [
    "csv_cell",
    "from_csv_cell",
    "guard",
    "html",
    "markdown",
    "markdown_code",
    "markup",
    "visible",
    "visible_lines",
]

# C0 and C1 controls, DEL, zero-width and bidirectional overrides, line and paragraph
# separators, the byte-order mark: each could hide, reorder or forge what is shown;
_INVISIBLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2028\u2029\u2060-\u2064\u2066-\u2069\ufeff"
    "\ud800-\udfff]"  # and lone surrogates, which no file or terminal can hold
)
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _shown(match: re.Match) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def elided(text: str, limit: int) -> str:
    """`text` in at most `limit` characters: its middle replaced by "…" beyond that (the start
    and the end of a long value are what tell it apart).

    >>> elided("x" * 10, 20), elided("abcdefghijklmnopqrstuvwxyz", 10)
    ('xxxxxxxxxx', 'abcdef…xyz')
    """
    if len(text) <= limit:
        return text
    tail = (limit - 1) // 3
    return f"{text[: limit - 1 - tail]}…{text[len(text) - tail :]}"


def visible(text: object) -> str:
    """`text` on one line with every control or invisible character written as its escape
    (``\\x1b``, ``\\n``, ``\\u202e``); printable text is unchanged."""
    return _INVISIBLE.sub(_shown, str(text))


def visible_lines(text: object) -> str:
    """As `visible`, keeping line breaks (for a message of several lines)."""
    return "\n".join(visible(line) for line in str(text).split("\n"))


_BRACKET = re.compile(r"(\\*)\[")
_TAG_AFTER = re.compile(r"[a-z#/@][^\[]*?\]")  # what rich's markup reads as a tag after `[`


def markup(text: object) -> str:
    """`text` for rich markup, shown exactly as its characters wherever it is put: visible
    (its line breaks kept: names never hold one, see `visible`), every `[` literal, the
    backslashes before it and at its end kept (rich reads both as escapes)."""
    shown = visible_lines(text)

    def literal(match: re.Match) -> str:
        before = len(match.group(1))
        # before a tag rich halves a run of backslashes (odd: the tag is text); elsewhere it
        # drops the one right before `[`
        tag = _TAG_AFTER.match(shown, match.end())
        return "\\" * (2 * before + 1 if tag else before + 1) + "["

    escaped = _BRACKET.sub(literal, shown)
    trailing = len(escaped) - len(escaped.rstrip("\\"))
    if trailing:  # paired, then an empty style, so that no tag after it is escaped
        escaped = escaped[: len(escaped) - trailing] + "\\" * (2 * trailing) + "[dim][/dim]"
    return escaped


# what can open emphasis, a link or image, a code span, a heading, a table column or
# strikethrough anywhere in a line; `(` `)` `!` only act after an (escaped) `[`
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]#|~$])")
_LINE_START = re.compile(r"^([-+=])")  # a list or setext underline at the start (`>` is &gt;)
_ORDERED = re.compile(r"^(\d+)([.)])")  # an ordered list


def markdown(text: object) -> str:
    """`text` for markdown prose or a table cell: on one line, HTML-escaped (GitHub renders
    raw HTML), and every character that could start markdown syntax backslash-escaped."""
    # entities first (they hold no markdown syntax), then the backslashes
    shown = _html.escape(visible(text), quote=False).replace('"', "&quot;")
    shown = _MARKDOWN_SPECIAL.sub(r"\\\1", shown)
    return _ORDERED.sub(r"\1\\\2", _LINE_START.sub(r"\\\1", shown))


def markdown_code(text: object) -> str:
    """`text` as a markdown code span, also inside a table cell: on one line, fenced by more
    backticks than it holds in a row, its `|` escaped (GFM splits cells on it even there)."""
    shown = visible(text).replace("|", "\\|")
    if not shown.strip(" "):
        return "` `"  # an empty span is no code span: one space is
    fence = "`" * (max((len(run) for run in re.findall("`+", shown)), default=0) + 1)
    pad = " " if shown.startswith("`") or shown.endswith("`") else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


def html(text: object) -> str:
    """`text` for HTML text or an attribute value: visible (line breaks kept: they cannot
    forge anything in HTML) and entity-escaped."""
    return _html.escape(visible_lines(text), quote=True)


# OWASP's CSV injection advice: a cell that a spreadsheet would read as a formula is prefixed
# with a quote. A leading quote is prefixed too, so that reading strips exactly one.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def csv_cell(value: object) -> object:
    """A string cell safe for a spreadsheet (``'=1+1``); numbers and other values unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _number(value):
        return "'" + value
    return value


def from_csv_cell(value: object) -> object:
    """The cell `csv_cell` was given."""
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(_FORMULA_START):
        return value[1:]
    return value


def _number(value: str) -> bool:
    """A number as text (``-1.5``, ``-inf``): a spreadsheet reads it as the number it is."""
    try:
        float(value)
    except ValueError:
        return False
    return value[:1] in "+-" and value.strip() == value


_SHOWN_IN_A_TERMINAL = re.compile(_INVISIBLE.pattern.replace("\x00-\x1f", "\x00-\x09\x0b-\x1f"))


def guard(console) -> None:
    """Make a rich console show as escapes any control character that reaches its output
    (line breaks excepted): the net under `markup`, which each name passes through first. Its
    own styles are segments' styles, not text, so they are untouched."""
    from rich.console import RenderHook
    from rich.segment import Segment

    class Visible:
        def __init__(self, inner) -> None:
            self.inner = inner

        def __rich_console__(self, console, options):
            for segment in console.render(self.inner, options):
                if segment.control or not _SHOWN_IN_A_TERMINAL.search(segment.text):
                    yield segment
                else:
                    shown = _SHOWN_IN_A_TERMINAL.sub(_shown, segment.text)
                    yield Segment(shown, segment.style)

    class Hook(RenderHook):
        def process_renderables(self, renderables):
            return [Visible(renderable) for renderable in renderables]

    console.push_render_hook(Hook())
