"""What an import tells the data officer: counts, rows set aside and why, identifiers dropped.

The report kept in the database (``ImportBatch.report``) holds counts, reasons
and row numbers only, never a value from the file, so that nothing identifying
reaches storage through it. The full list with values is given to the person
importing (the page's download, the CSV the command line writes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from store.vocabulary import context_label

__all__ = ["ISSUE_COLUMNS", "ImportFileError", "ImportReport", "report_path"]

#: Columns of the list of rows set aside.
ISSUE_COLUMNS: tuple[str, ...] = ("row", "status", "column", "reason", "value")

#: How many rows set aside the stored report lists (all of them are counted).
STORED_ROWS = 500


class ImportFileError(ValueError):
    """The file cannot be imported at all; nothing was changed. The message says why."""


@dataclass
class ImportReport:
    """The outcome of one import.

    Attributes
    ----------
    issues
        One row per row set aside: ``row`` (as a spreadsheet numbers it),
        ``status`` (``"rejected"``, ``"outside the area"``, ``"repeated in
        the file"`` or ``"already stored"``), ``column``,
        ``reason`` and ``value`` (the offending value, for the person importing
        only; empty for identifying columns).
    """

    kind: str
    source: str
    file_name: str
    file_format: str
    file_sha256: str
    batch_id: int | None = None
    stored: bool = False
    rows_total: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicate: int = 0
    outside_area: int = 0
    ignored: int = 0
    without_location: int = 0
    encoding: str | None = None
    delimiter: str | None = None
    columns_used: dict[str, str] = field(default_factory=dict)
    identifiers_dropped: list[dict[str, str]] = field(default_factory=list)
    columns_not_used: list[str] = field(default_factory=list)
    notes: dict[str, int] = field(default_factory=dict)
    message: str = ""
    exploitation_mapping: dict[str, str] = field(default_factory=dict)
    mapped_incidents: int = 0
    issues: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ISSUE_COLUMNS))

    def note(self, text: str, count: int) -> None:
        """Add ``count`` to a note such as "rows with latitude and longitude swapped"."""
        if count:
            self.notes[text] = self.notes.get(text, 0) + int(count)

    def add_issues(self, frame: pd.DataFrame) -> None:
        """Append rows set aside (a frame with :data:`ISSUE_COLUMNS`)."""
        if len(frame):
            frame = frame.loc[:, list(ISSUE_COLUMNS)]
            self.issues = frame if self.issues.empty else pd.concat([self.issues, frame])

    def reasons(self) -> pd.DataFrame:
        """Return how many rows were set aside for each status, column and reason."""
        if self.issues.empty:
            return pd.DataFrame(columns=["status", "column", "reason", "rows"])
        return (
            self.issues.groupby(["status", "column", "reason"], sort=False)
            .size()
            .rename("rows")
            .reset_index()
            .sort_values("rows", ascending=False, kind="stable")
            .reset_index(drop=True)
        )

    def summary(self) -> str:
        """Return one sentence on what happened, for the screen and the terminal."""
        if self.message:
            return self.message
        head = f"Imported {self.accepted:,} of {self.rows_total:,} rows from {self.file_name}" + (
            f" as batch {self.batch_id}" if self.stored else ""
        )
        parts = [
            f"{self.rejected:,} rejected",
            f"{self.outside_area:,} outside the area",
            f"{self.duplicate:,} already stored",
        ]
        if self.ignored:
            parts.append(f"{self.ignored:,} ignored (category set to be ignored)")
        if not self.stored:
            head = f"Nothing was stored from {self.file_name}"
        text = f"{head}: " + ", ".join(parts) + "."
        if self.kind == "context":
            text += f" Stored as context ({context_label(self.source)}), not as child exploitation."
        if self.exploitation_mapping:
            pairs = ", ".join(f"{k} -> {v}" for k, v in self.exploitation_mapping.items())
            text += (
                f" By the partnership's confirmed mapping ({pairs}), {self.mapped_incidents:,} "
                "rows were also stored as exploitation incidents."
            )
        return text

    def counts(self) -> dict[str, int]:
        """Return the counts as a dict (for tables and the stored report)."""
        return {
            "rows": self.rows_total,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "already stored": self.duplicate,
            "outside the area": self.outside_area,
            "ignored": self.ignored,
            "kept without a location": self.without_location,
        }

    def to_json(self) -> dict[str, Any]:
        """Return the report as stored with the batch: counts and reasons, never values."""
        issues = self.issues.head(STORED_ROWS)
        return {
            "file_sha256": self.file_sha256,
            "format": self.file_format,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "counts": self.counts(),
            "columns_used": self.columns_used,
            "identifiers_dropped": self.identifiers_dropped,
            "columns_not_used": self.columns_not_used,
            "notes": self.notes,
            "stored_as": context_label(self.source) if self.kind == "context" else self.kind,
            "exploitation_mapping": self.exploitation_mapping,
            "mapped_incidents": self.mapped_incidents,
            "reasons": self.reasons().to_dict("records"),
            "rows_listed": len(issues),
            "rows": [
                {"row": int(r.row), "status": r.status, "column": r.column, "reason": r.reason}
                for r in issues.itertuples()
            ],
        }


def report_path(input_file: Path, chosen: str | None) -> Path:
    """Return where the report of an import goes: ``--report``, else the working folder.

    Examples
    --------
    >>> import os
    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"SAFER_SPACES_HOME": "/srv/safer"}):
    ...     str(report_path(Path("/share/ro/2021-08.csv"), None)).startswith("/srv/safer/reports/")
    True
    >>> str(report_path(Path("/share/ro/2021-08.csv"), "/tmp/r.csv"))
    '/tmp/r.csv'
    """
    if chosen:
        return Path(chosen)
    from datetime import datetime

    from config.settings import home_dir

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return home_dir() / "reports" / f"{input_file.stem}.{stamp}.report.csv"
