"""Any name round-trips visibly through the terminal, markdown, HTML and CSV without acting:
the promise itself, over arbitrary text (hypothesis), checked by the media's own parsers
(rich, markdown-it with GitHub's tables, html.parser, pandas' CSV reader)."""

import csv
import html.parser
import io

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from rich.console import Console

from lossbench import text

# every character, and the ones that act on purpose
NAMES = st.text(
    st.one_of(
        st.characters(),
        st.sampled_from(list("\x1b\x07\n\r\t\x9b\u202e[]/\\`|<>&$#*_=+-@'\"~!()")),
    ),
    max_size=40,
)


def _rendered(markup: str) -> str:
    console = Console(file=io.StringIO(), width=10_000, color_system=None, emoji=False)
    text.guard(console)
    console.print(markup, highlight=False, soft_wrap=True)
    return console.file.getvalue()


@settings(max_examples=300, deadline=None)
@given(NAMES)
def test_a_name_in_rich_markup_shows_its_characters_and_nothing_else(name):
    shown = _rendered(f"[bold]{text.markup(name)}[/]")
    assert shown == text.visible_lines(name) + "\n"
    assert "\x1b" not in shown and "\x9b" not in shown and "\x07" not in shown


@settings(max_examples=200, deadline=None)
@given(NAMES)
def test_control_characters_reaching_a_guarded_console_are_shown_escaped(name):
    # the net under markup(): text printed as it is still cannot act
    from rich.text import Text

    console = Console(file=io.StringIO(), width=10_000, color_system=None)
    text.guard(console)
    console.print(Text(name), soft_wrap=True)
    assert not any(c in console.file.getvalue() for c in "\x1b\x9b\x07\r\x00")


class _Parts(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.data = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.data.append(data)


def _parsed(page: str) -> _Parts:
    parts = _Parts()
    parts.feed(page)
    parts.close()
    return parts


_GFM = MarkdownIt("commonmark").enable(["table", "strikethrough"])


@settings(max_examples=300, deadline=None)
@given(NAMES)
def test_a_name_in_markdown_prose_is_one_paragraph_of_its_characters(name):
    page = _GFM.render(f"- use {text.markdown(name)}: better\n")
    parts = _parsed(page)
    assert parts.tags == ["ul", "li"]  # no heading, link, image, emphasis, code or raw HTML
    assert "".join(parts.data).strip() == f"use {text.visible(name)}: better".strip()


@settings(max_examples=300, deadline=None)
@given(NAMES, NAMES)
def test_names_in_a_markdown_table_stay_in_their_cells(name, other):
    table = (
        "| benchmark | change |\n| --- | --- |\n"
        f"| {text.markdown_code(name)} | {text.markdown(other)} |\n"
    )
    parts = _parsed(_GFM.render(table))
    assert parts.tags[parts.tags.index("tbody") :] == ["tbody", "tr", "td", "code", "td"]


@settings(max_examples=300, deadline=None)
@given(NAMES)
def test_a_name_in_html_is_text(name):
    parts = _parsed(f"<p title='{text.html(name)}'>{text.html(name)}</p>")
    assert parts.tags == ["p"] and "".join(parts.data) == text.visible_lines(name)


FILE_NAMES = st.text(  # what UTF-8 can hold: no lone surrogates
    st.one_of(st.characters(blacklist_categories=["Cs"]), st.sampled_from(list("=+-@'\t\r\n\""))),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(FILE_NAMES, min_size=1, max_size=5))
def test_a_csv_cell_never_starts_a_formula_and_reads_back(names):
    from lossbench.results import files

    frame = pd.DataFrame({"loss": names, "value": range(len(names))})
    buffer = io.StringIO(newline="")
    safe = files._for_spreadsheets(frame)
    quoting = csv.QUOTE_ALL if files._holds_return(safe) else csv.QUOTE_MINIMAL
    safe.to_csv(buffer, index=False, quoting=quoting)
    rows = list(csv.reader(io.StringIO(buffer.getvalue(), newline="")))[1:]
    for cell, _ in rows:
        # OWASP: a cell a spreadsheet runs as a formula starts with one of these
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")) or _number(cell)
    read = pd.read_csv(io.StringIO(buffer.getvalue()), keep_default_na=False, dtype=str)
    assert list(files._from_spreadsheets(read)["loss"]) == names


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
