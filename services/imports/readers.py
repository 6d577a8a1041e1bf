"""Reading import files in chunks of text: CSV, XLSX, GeoJSON and GeoPackage.

The format is recognised by the file's content, not its name. CSV encodings
(UTF-8, UTF-16 with a byte order mark, Windows-1252, Latin-1) are found by
trial decoding of the whole file while it is hashed, the delimiter by
``csv.Sniffer``, and the header line among the first lines (a title line above
it is skipped). Every chunk is a frame of strings, empty where a cell is blank,
with the spreadsheet row number of each record in ``_row``.

A plain CSV (UTF-8, no quotes, the header on the first line, every record as many
values as the header has names) is read by pyarrow's CSV reader, about four times
faster than pandas' (issue 21); anything else, by pandas, which puts up with more.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo.points import BNG
from services.imports.columns import KINDS, is_police_uk, recognise_columns
from services.imports.report import ImportFileError

__all__ = ["ROW", "Chunk", "SourceFile", "iter_chunks", "open_source"]

#: The column that carries each record's row number, as a spreadsheet shows it.
ROW = "_row"

_BLOCK = 8 * 1024 * 1024
_HEAD = 256 * 1024
_PLAIN_BLOCK = 4 * 1024 * 1024

Progress = Callable[[float], None]


@dataclass(frozen=True)
class SourceFile:
    """A file to import, as recognised: its format, encoding, delimiter and header."""

    path: Path
    name: str
    format: str
    size: int
    sha256: str
    columns: tuple[str, ...]
    encoding: str | None = None
    delimiter: str | None = None
    header_line: int = 0
    sheet: str | None = None
    #: UTF-8 without a quote, the header first and every record as wide as the header:
    #: read by pyarrow, as pandas would read it (see :func:`_is_plain`).
    plain: bool = False

    @property
    def described(self) -> str:
        """Return the format as a person would say it."""
        return {
            "csv": "CSV",
            "police.uk": "police.uk street-level crime CSV",
            "xlsx": "Excel workbook",
            "geojson": "GeoJSON",
            "gpkg": "GeoPackage",
        }[self.format]


@dataclass(frozen=True)
class Chunk:
    """Up to ``chunk_size`` records as strings, and rows the parser had to skip."""

    frame: pd.DataFrame
    skipped: pd.DataFrame


def _refuse_binary(name: str) -> ImportFileError:
    return ImportFileError(
        f"{name} does not look like a table: it holds binary data. Export it from the source "
        "system as CSV (or as an Excel .xlsx workbook) and import that."
    )


def _hash_and_decode(path: Path, head: bytes) -> tuple[str, str | None, bool]:
    """Return the file's SHA-256, its text encoding (None when it is not text), and quotes.

    One pass hashes the file and decodes it as UTF-8 (UTF-16 with its byte order mark);
    Windows-1252, three times slower to decode, is tried on a second pass only when UTF-8
    fails, and Latin-1, which decodes any bytes, is the last resort. The pass also notes
    whether the file holds a double quote anywhere.
    """
    digest = hashlib.sha256()
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        first, others = "utf-16", []
    else:
        first = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
        others = ["cp1252"]
    decoder = codecs.getincrementaldecoder(first)()
    fits, binary, quoted = True, False, False
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
            binary = binary or (first != "utf-16" and b"\x00" in block)
            quoted = quoted or b'"' in block
            fits = fits and _decodes(decoder, block)
    if binary:
        return digest.hexdigest(), None, quoted
    if fits and _decodes(decoder, b"", final=True):
        return digest.hexdigest(), first, quoted
    encoding = next((e for e in others if _reads_as(path, e)), "latin-1")
    return digest.hexdigest(), encoding, quoted


def _decodes(decoder: codecs.IncrementalDecoder, block: bytes, *, final: bool = False) -> bool:
    """Return whether ``block`` continues the text ``decoder`` has read so far."""
    try:
        decoder.decode(block, final=final)
    except UnicodeDecodeError:
        return False
    return True


def _reads_as(path: Path, encoding: str) -> bool:
    """Return whether the whole file is text in ``encoding`` (a pass of its own)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            if not _decodes(decoder, block):
                return False
    return _decodes(decoder, b"", final=True)


def _looks_like_text(text: str) -> bool:
    controls = sum(1 for ch in text[:20000] if ord(ch) < 32 and ch not in "\r\n\t")
    return controls <= max(2, len(text[:20000]) // 200)


def _header_index(rows: list[list[str]]) -> int:
    """Return the index of the header among the first rows (after any title lines)."""
    best, best_score = None, 0
    for index, row in enumerate(rows[:30]):
        cells = [c for c in row if c.strip()]
        if len(cells) < 2:
            continue
        score = max(len(recognise_columns(cells, kind)) for kind in KINDS)
        if score > best_score:
            best, best_score = index, score
        if score >= 3:
            break
    if best is not None and best_score >= 2:
        return best
    widths = [len([c for c in row if c.strip()]) for row in rows[:30]]
    if not widths or max(widths) == 0:
        return 0
    common = max(set(w for w in widths if w), key=widths.count)
    return next(i for i, w in enumerate(widths) if w == common)


def _delimiter(lines: list[str]) -> str:
    """Return the delimiter that splits most lines into the same number (> 1) of fields."""
    best, best_score = ",", (0, 0)
    for candidate in ",;\t|":
        widths = [len(r) for r in csv.reader(io.StringIO("\n".join(lines)), delimiter=candidate)]
        widths = [w for w in widths if w > 1]
        if not widths:
            continue
        common = max(set(widths), key=widths.count)
        score = (widths.count(common), common)
        if score > best_score:
            best, best_score = candidate, score
    return best


def _open_csv(path: Path, head: bytes, size: int) -> SourceFile:
    sha256, encoding, quoted = _hash_and_decode(path, head)
    if encoding is None:
        raise _refuse_binary(path.name)
    text = head.decode(encoding, errors="ignore")
    if not _looks_like_text(text):
        raise _refuse_binary(path.name)
    if not text.strip():
        raise ImportFileError(f"{path.name} holds only blank lines: there is nothing to import.")
    lines = text.splitlines()[:60]
    sample = "\n".join(lines)
    delimiter = _delimiter(lines)
    rows = list(csv.reader(io.StringIO(sample), delimiter=delimiter))
    # csv.reader gives a row per physical line (blank ones too), as pandas' skiprows counts
    header_line = _header_index(rows) if rows else 0
    columns = tuple(c.strip() for c in rows[header_line]) if rows else ()
    if len([c for c in columns if c]) < 2:
        raise ImportFileError(
            f"{path.name} does not look like a table: no line with two or more column headers "
            f"was found (the delimiter seems to be {delimiter!r})."
        )
    fmt = "police.uk" if is_police_uk(columns) else "csv"
    if encoding == "utf-8" and head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    named = _unique(columns)
    return SourceFile(
        path=path,
        name=path.name,
        format=fmt,
        size=size,
        sha256=sha256,
        columns=named,
        encoding=encoding,
        delimiter=delimiter,
        header_line=header_line,
        plain=not quoted
        and encoding in ("utf-8", "utf-8-sig")
        and header_line == 0
        and _is_plain(path, delimiter, named),
    )


def _plain_reader(handle: Any, delimiter: str, columns: tuple[str, ...], wanted: list[str]) -> Any:
    """Open pyarrow's streaming CSV reader on a plain file: every value a string, none null.

    Reading stops with an error at the first record that is not as wide as the header.
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    return pa_csv.open_csv(
        handle,
        read_options=pa_csv.ReadOptions(
            use_threads=False, column_names=list(columns), skip_rows=1, block_size=_PLAIN_BLOCK
        ),
        parse_options=pa_csv.ParseOptions(delimiter=delimiter, quote_char=False),
        convert_options=pa_csv.ConvertOptions(
            include_columns=wanted,
            column_types={name: pa.string() for name in wanted},
            strings_can_be_null=False,
        ),
    )


def _is_plain(path: Path, delimiter: str, columns: tuple[str, ...]) -> bool:
    """Return whether every record of a file without quotes is as wide as its header.

    pyarrow's reader then gives what pandas gives (:func:`_plain_chunks`). A record of
    another width, which pandas pads or sets aside with a warning, a line of spaces,
    which pandas skips, or anything pyarrow cannot read sends the file to pandas.
    One pass that splits every line but converts only the first column (about 0.2 s a
    million records).
    """
    import pyarrow as pa

    try:
        with path.open("rb") as handle:
            reader = _plain_reader(handle, delimiter, columns, [columns[0]])
            for _ in reader:
                pass
    except (pa.ArrowException, OSError):
        return False
    return True


def _unique(columns: tuple[str, ...]) -> tuple[str, ...]:
    """Return headers made unique ("Date", "Date (2)") and named where blank."""
    seen: dict[str, int] = {}
    out = []
    for position, column in enumerate(columns, start=1):
        name = column or f"Column {position}"
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return tuple(out)


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _open_xlsx(path: Path, size: int) -> SourceFile:
    import openpyxl

    sha256 = _sha256(path)
    try:
        with zipfile.ZipFile(path) as archive:
            if "xl/workbook.xml" not in archive.namelist():
                raise ImportFileError(
                    f"{path.name} is a ZIP archive but not an Excel workbook. Import the "
                    "CSV or XLSX file itself."
                )
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        if isinstance(error, ImportFileError):
            raise
        raise ImportFileError(
            f"{path.name} could not be opened as an Excel workbook ({error}). Open it in Excel "
            "and save it again as .xlsx, or export CSV."
        ) from error
    try:
        best: tuple[int, str, int, tuple[str, ...]] | None = None
        for sheet in workbook.worksheets:
            rows = [
                [_cell_text(v) for v in row]
                for _, row in zip(range(30), sheet.iter_rows(values_only=True), strict=False)
            ]
            if not any(any(c for c in r) for r in rows):
                continue
            index = _header_index(rows)
            columns = tuple(c.strip() for c in rows[index])
            score = max(len(recognise_columns(columns, kind)) for kind in KINDS)
            if best is None or score > best[0]:
                best = (score, sheet.title, index, columns)
    finally:
        workbook.close()
    if best is None:
        raise ImportFileError(f"The workbook {path.name} has no sheet with data in it.")
    _, title, index, columns = best
    while columns and not columns[-1]:
        columns = columns[:-1]
    return SourceFile(
        path=path,
        name=path.name,
        format="xlsx",
        size=size,
        sha256=sha256,
        columns=_unique(columns),
        header_line=index,
        sheet=title,
    )


def _open_geo(path: Path, size: int, fmt: str) -> SourceFile:
    import pyogrio

    sha256 = _sha256(path)
    try:
        info = pyogrio.read_info(path)
    except Exception as error:  # pyogrio raises its own DataSourceError and friends
        raise ImportFileError(
            f"{path.name} could not be read as {fmt.upper()} ({str(error).splitlines()[0]})."
        ) from error
    fields = [str(f) for f in info["fields"]]
    columns = [*fields, "geometry_easting", "geometry_northing"]
    if {"osm_id", "key", "value"} <= set(fields):
        columns.append("osm_tag")
    return SourceFile(
        path=path,
        name=path.name,
        format=fmt,
        size=size,
        sha256=sha256,
        columns=_unique(tuple(columns)),
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def open_source(path: Path | str, *, max_bytes: int | None = None) -> SourceFile:
    """Recognise a file's format, encoding, delimiter and header, and hash it.

    Parameters
    ----------
    path
        The file.
    max_bytes
        Refuse files larger than this (the page's upload limit); no limit when None.

    Raises
    ------
    ImportFileError
        For a missing, empty, too large, binary or unreadable file; the message
        says what is wrong and what to do.
    """
    path = Path(path)
    if not path.is_file():
        raise ImportFileError(f"There is no file at {path}.")
    size = path.stat().st_size
    if size == 0:
        raise ImportFileError(f"{path.name} is empty (0 bytes): there is nothing to import.")
    if max_bytes is not None and size > max_bytes:
        raise ImportFileError(
            f"{path.name} is {size / 2**20:,.0f} MB, more than the {max_bytes / 2**20:,.0f} MB "
            "this page accepts. Import it with the command line (safer-spaces import), which "
            "reads large files in chunks, or split it by month."
        )
    with path.open("rb") as handle:
        head = handle.read(_HEAD)
    if head.startswith(b"PK\x03\x04"):
        return _open_xlsx(path, size)
    if head.startswith(b"SQLite format 3\x00"):
        return _open_geo(path, size, "gpkg")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(
            f"{path.name} is an old Excel (.xls) workbook. Save it as .xlsx or CSV and import that."
        )
    stripped = head.lstrip(codecs.BOM_UTF8 + b" \r\n\t")
    if stripped.startswith(b"{") and re.search(rb'"type"\s*:\s*"Feature', head):
        return _open_geo(path, size, "geojson")
    return _open_csv(path, head, size)


class _Counting(io.RawIOBase):
    """A binary file that reports how far it has been read."""

    def __init__(self, path: Path, progress: Progress | None, size: int) -> None:
        self._handle = path.open("rb")
        self._progress = progress
        self._size = max(size, 1)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        count = self._handle.readinto(buffer)
        if self._progress is not None:
            self._progress(min(self._handle.tell() / self._size, 1.0))
        return count or 0

    def close(self) -> None:
        self._handle.close()
        super().close()


_BAD_LINE = re.compile(r"line (\d+): expected (\d+) fields, saw (\d+)")


def _plain_chunks(
    source: SourceFile, chunk_size: int, progress: Progress | None, columns: list[str] | None
) -> Iterator[Chunk]:
    """Yield a plain file's records as pandas' reader would (see :func:`_is_plain`).

    The same columns in the same order, the same strings (pandas' ``skipinitialspace``
    is the spaces trimmed from the start of each value, there being no quotes), the same
    row numbers and chunks of the same size; nothing is ever set aside.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    delimiter = source.delimiter or ","
    wanted = [c for c in source.columns if columns is None or c in columns]
    first_row = source.header_line + 2
    done = 0

    def frame(rows: Any) -> Chunk:
        nonlocal done
        trimmed = pa.table(
            [pc.utf8_ltrim(rows.column(name), characters=" ") for name in wanted], names=wanted
        )
        table = trimmed.to_pandas()
        table[ROW] = np.arange(done, done + len(table), dtype=np.int64) + first_row
        done += len(table)
        return Chunk(table, _EMPTY_SKIPPED)

    raw = _Counting(source.path, progress, source.size)
    try:
        with io.BufferedReader(raw) as handle:
            reader = _plain_reader(handle, delimiter, source.columns, wanted)
            held: list[Any] = []
            count = 0
            for batch in reader:
                held.append(batch)
                count += batch.num_rows
                while count >= chunk_size:
                    rows = pa.Table.from_batches(held)
                    yield frame(rows.slice(0, chunk_size))
                    held, count = rows.slice(chunk_size).to_batches(), count - chunk_size
            if count or not done:  # pandas gives a header without records one empty chunk
                yield frame(pa.Table.from_batches(held, schema=reader.schema))
    except pa.ArrowException as error:  # the file changed since it was opened
        raise ImportFileError(
            f"{source.name} could not be read as a table ({error}). Check that it was "
            "exported as CSV; nothing was imported."
        ) from error


def _csv_chunks(
    source: SourceFile, chunk_size: int, progress: Progress | None, columns: list[str] | None
) -> Iterator[Chunk]:
    if source.plain:
        yield from _plain_chunks(source, chunk_size, progress, columns)
        return
    raw = _Counting(source.path, progress, source.size)
    text = io.TextIOWrapper(io.BufferedReader(raw), encoding=source.encoding, newline="")
    first_row = source.header_line + 2
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            reader = pd.read_csv(
                text,
                sep=source.delimiter,
                skiprows=source.header_line,
                header=0,
                names=list(source.columns),
                usecols=columns,
                index_col=False,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                on_bad_lines="warn",
                chunksize=chunk_size,
                engine="c",
                skipinitialspace=True,
            )
            for frame in reader:
                skipped = _bad_lines(caught, len(source.columns))
                caught.clear()
                frame[ROW] = frame.index.to_numpy() + first_row
                yield Chunk(frame.reset_index(drop=True), skipped)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        detail = str(error).strip().splitlines()[-1] if str(error).strip() else repr(error)
        detail = detail.replace("Error tokenizing data. C error: ", "")
        raise ImportFileError(
            f"{source.name} could not be read as a table ({detail}). Check that quotes are "
            "closed and that it was exported as CSV; nothing was imported."
        ) from error
    finally:
        text.close()


def _bad_lines(caught: list[warnings.WarningMessage], width: int) -> pd.DataFrame:
    found = []
    for warning in caught:
        for line, _, saw in _BAD_LINE.findall(str(warning.message)):
            found.append(
                {
                    "row": int(line),
                    "status": "rejected",
                    "column": "",
                    "reason": f"has {saw} values where the header has {width} "
                    "(a stray delimiter or an unquoted comma?)",
                    "value": "",
                }
            )
    return pd.DataFrame(found, columns=["row", "status", "column", "reason", "value"])


_EMPTY_SKIPPED = pd.DataFrame(columns=["row", "status", "column", "reason", "value"])


def _xlsx_chunks(source: SourceFile, chunk_size: int, progress: Progress | None) -> Iterator[Chunk]:
    import openpyxl

    workbook = openpyxl.load_workbook(source.path, read_only=True, data_only=True)
    try:
        sheet = workbook[source.sheet]
        total = max(int(sheet.max_row or 1), 1)
        width = len(source.columns)
        block: list[list[str]] = []
        rows: list[int] = []
        start = source.header_line + 2
        for number, values in enumerate(
            sheet.iter_rows(min_row=start, values_only=True), start=start
        ):
            cells = [_cell_text(v) for v in values[:width]]
            if not any(cells):
                continue
            block.append(cells + [""] * (width - len(cells)))
            rows.append(number)
            if len(block) >= chunk_size:
                yield _xlsx_frame(block, rows, source.columns)
                if progress is not None:
                    progress(min(number / total, 1.0))
                block, rows = [], []
        if block:
            yield _xlsx_frame(block, rows, source.columns)
        if progress is not None:
            progress(1.0)
    finally:
        workbook.close()


def _xlsx_frame(block: list[list[str]], rows: list[int], columns: tuple[str, ...]) -> Chunk:
    frame = pd.DataFrame(block, columns=list(columns), dtype=str)
    frame[ROW] = np.asarray(rows, dtype=np.int64)
    return Chunk(frame, _EMPTY_SKIPPED)


def _geo_chunks(source: SourceFile, chunk_size: int, progress: Progress | None) -> Iterator[Chunk]:
    import pyogrio

    try:
        frame = pyogrio.read_dataframe(source.path)
    except Exception as error:  # pyogrio's own errors
        raise ImportFileError(
            f"{source.name} could not be read ({str(error).splitlines()[0]}); nothing was imported."
        ) from error
    if frame.crs is None:
        raise ImportFileError(
            f"{source.name} does not say which coordinate system it uses. Save it with one "
            "(GeoJSON is WGS84 by definition) and import it again."
        )
    geometry = frame.geometry.to_crs(BNG)
    points = geometry.where(geometry.geom_type == "Point", geometry.representative_point())
    missing = points.isna() | points.is_empty
    east = np.where(missing, np.nan, points.x.where(~missing))
    north = np.where(missing, np.nan, points.y.where(~missing))
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name)).astype(object)
    table = table.where(table.notna(), "").astype(str)
    table["geometry_easting"] = pd.Series(east).map(lambda v: "" if np.isnan(v) else f"{v:.1f}")
    table["geometry_northing"] = pd.Series(north).map(lambda v: "" if np.isnan(v) else f"{v:.1f}")
    if "osm_tag" in source.columns:
        table["osm_tag"] = table["key"] + "=" + table["value"]
    table.columns = list(source.columns)
    table[ROW] = np.arange(len(table), dtype=np.int64) + 1
    for start in range(0, max(len(table), 1), chunk_size):
        yield Chunk(table.iloc[start : start + chunk_size].reset_index(drop=True), _EMPTY_SKIPPED)
        if progress is not None:
            progress(min((start + chunk_size) / max(len(table), 1), 1.0))


def iter_chunks(
    source: SourceFile,
    *,
    chunk_size: int = 100_000,
    progress: Progress | None = None,
    columns: list[str] | None = None,
) -> Iterator[Chunk]:
    """Yield the file's records in chunks of strings, with their row numbers in ``_row``.

    Parameters
    ----------
    source
        From :func:`open_source`.
    chunk_size
        Records per chunk.
    progress
        Called with the share of the file read so far (0 to 1).
    columns
        Only these columns (and ``_row``); all by default. A CSV then parses only
        them (the import's first look at a file's categories, issue 21).

    Raises
    ------
    ImportFileError
        When the file stops being readable part-way (an unclosed quote, bytes
        that are not in its encoding).
    """
    if source.format in ("csv", "police.uk"):
        return _csv_chunks(source, chunk_size, progress, columns)
    chunks = (
        _xlsx_chunks(source, chunk_size, progress)
        if source.format == "xlsx"
        else _geo_chunks(source, chunk_size, progress)
    )
    if columns is None:
        return chunks
    return (Chunk(c.frame[[*columns, ROW]], c.skipped) for c in chunks)
