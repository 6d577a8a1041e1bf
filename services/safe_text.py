"""Text from data or typing shown as text, and exports that carry no spreadsheet formula.

Place names, organisations, file and column names, assessment text: anything imported
or typed may hold markdown (``![x](http://host/x.png)`` makes a browser fetch that
address), HTML (``<img src=...>``) or a spreadsheet formula (``=HYPERLINK(...)``). Pages
and exports pass every such value through one of these before it is drawn or written:

- :func:`md_text` for Streamlit elements that render markdown (``st.markdown``,
  ``st.caption``, ``st.info``/``warning``/``error``/``success``, ``st.subheader``,
  ``st.metric`` labels, ``st.table`` cells, widget labels);
- :func:`html_text` for HTML: folium tooltips and popups, the HTML meeting pack, the
  printable assessment;
- :func:`neutral_frame`, :func:`csv_text` and :func:`csv_bytes` for every CSV (and any
  XLSX) a person downloads: a text cell that starts with ``=``, ``+``, ``-``, ``@``, a
  tab or a carriage return gets a leading single quote (the OWASP advice for CSV
  injection), so a spreadsheet shows it as text instead of running it.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pandas as pd

__all__ = [
    "FORMULA_PREFIXES",
    "csv_bytes",
    "csv_text",
    "html_text",
    "md_frame",
    "md_text",
    "neutral_cell",
    "neutral_frame",
    "plain_text",
]

#: First characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# Every ASCII punctuation character can be backslash-escaped in CommonMark; escaping all of
# them leaves no link, image, emphasis, heading, list, table, HTML tag or LaTeX ($) to find.
# Two things are found in the text after its escapes are undone, so they are broken with an
# invisible word joiner (U+2060) instead: bare addresses that GitHub-flavoured markdown
# turns into links (http://..., www...., a@b.c) and Streamlit's own directives (:red[...],
# :material/icon:, emoji short codes), which all need a colon or an @ followed directly by
# a letter or a slash.
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$&\"'=^%/,;?@])")
_JOINER = "\u2060"
_WWW = re.compile(r"(www)(?=\.)", re.IGNORECASE)
# Text made only of digits, signs, spaces, points, commas, per cents and brackets (a
# number, or a change such as "+261 (+10%)") names no function or cell: it cannot run.
_NUMBER = re.compile(r"[+-]?[\d\s.,%()+-]*\d[\d\s.,%()+-]*")


def md_text(value: object) -> str:
    r"""Return a value as markdown that shows exactly its text: no link, image or format.

    Parameters
    ----------
    value
        Anything; None and missing values give an empty string.

    Returns
    -------
    str
        Markdown whose rendering reads as the value's text.

    Examples
    --------
    >>> print(md_text("![x](http://127.0.0.1:8699/x.png)").replace("\u2060", "|"))
    \!\[x\]\(http:|\/\/127\.0\.0\.1:|8699\/x\.png\)
    >>> print(md_text("Park Lane (north)"))
    Park Lane \(north\)
    >>> md_text(None)
    ''
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    text = _WWW.sub(r"\1" + _JOINER, str(value))
    text = text.replace(":", ":" + _JOINER).replace("@", _JOINER + "@")
    text = _MARKDOWN_SPECIALS.sub(r"\\\1", text)
    # Line breaks stay, but no line may start a block (indented code needs 4 spaces).
    return "\n\n".join(line.strip() for line in text.splitlines())


def plain_text(markdown: str) -> str:
    r"""Return the text that :func:`md_text` markdown reads as (for checks on drawn pages).

    Examples
    --------
    >>> plain_text(md_text("Imported 2 rows from august.csv: 1 rejected"))
    'Imported 2 rows from august.csv: 1 rejected'
    """
    return re.sub(r"\\(.)", r"\1", markdown).replace(_JOINER, "")


def md_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of a table whose text cells and headers are :func:`md_text`.

    For ``st.table``, which renders markdown in its cells; numbers stay numbers.
    """
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or isinstance(out[column].dtype, pd.StringDtype):
            out[column] = out[column].map(lambda v: md_text(v) if isinstance(v, str) else v)
    out.columns = [md_text(c) if isinstance(c, str) else c for c in out.columns]
    return out


def html_text(value: object) -> str:
    """Return a value escaped for HTML text or an attribute (quotes included).

    Examples
    --------
    >>> html_text('<img src="http://127.0.0.1:8699/x.png">')
    '&lt;img src=&quot;http://127.0.0.1:8699/x.png&quot;&gt;'
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return html.escape(str(value), quote=True)


def neutral_cell(value: Any) -> Any:
    r"""Return a cell that a spreadsheet cannot run: formula-like text gets a leading quote.

    Numbers, and text made only of digits, signs and number punctuation (``-12``,
    ``+261 (+10%)``), stay as they are: they name no function or cell.

    Examples
    --------
    >>> print(neutral_cell('=HYPERLINK("http://x","y")'))
    '=HYPERLINK("http://x","y")
    >>> neutral_cell("@SUM(A1)"), neutral_cell("\tcmd"), neutral_cell("-15"), neutral_cell(-3)
    ("'@SUM(A1)", "'\tcmd", '-15', -3)
    >>> neutral_cell("+261 (+10%)"), neutral_cell("-2+3"), neutral_cell("+A1")
    ('+261 (+10%)', '-2+3', "'+A1")
    """
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_PREFIXES)
        and not _NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def neutral_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of a table with every text cell and header passed through neutral_cell."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or isinstance(out[column].dtype, pd.StringDtype):
            out[column] = out[column].map(neutral_cell)
    out.columns = [neutral_cell(c) if isinstance(c, str) else c for c in out.columns]
    return out


def csv_text(frame: pd.DataFrame, **options: Any) -> str:
    """Return a table as CSV text with formulas neutralised (``to_csv`` options pass on).

    Lines end in CRLF (RFC 4180), so a field holding a carriage return or a line feed is
    quoted and cannot start a row of its own.
    """
    options.setdefault("index", False)
    options.setdefault("lineterminator", "\r\n")
    return str(neutral_frame(frame).to_csv(**options))


def csv_bytes(frame: pd.DataFrame, *, excel: bool = True, **options: Any) -> bytes:
    """Return a table as CSV bytes, UTF-8 with a byte order mark for Excel when ``excel``."""
    return csv_text(frame, **options).encode("utf-8-sig" if excel else "utf-8")
