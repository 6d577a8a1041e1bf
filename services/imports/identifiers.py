"""Finding direct identifiers in a file, by their header and by their values.

Nothing from a column that is not mapped to a field is ever stored, so every
such column is dropped whatever it holds. This module says *what* was dropped,
for the report ("Child name: names, by its header"; "Field 7: NHS numbers, by
its values"), and refuses a mapping that would store a direct identifier as
something else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from services.imports.columns import normalise_header
from services.imports.report import ImportFileError

__all__ = [
    "classify_by_header",
    "classify_by_values",
    "find_identifiers",
    "looks_personal",
    "personal_kinds_of",
]

#: Header words and what a column named with them holds.
_HEADER_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("NHS numbers", ("nhs", "chi_number", "nhs_no", "nhs_number")),
    ("dates of birth", ("dob", "date_of_birth", "birth", "born", "birthdate", "d_o_b")),
    (
        "addresses",
        (
            "address",
            "addr",
            "street",
            "house",
            "flat",
            "home",
            "residence",
            "residential",
            "home_postcode",
            "address_postcode",
            "child_postcode",
            "uprn",
        ),
    ),
    ("phone numbers", ("phone", "telephone", "tel", "mobile", "landline", "contact_number")),
    ("email addresses", ("email", "e_mail")),
    (
        "names",
        (
            "name",
            "names",
            "forename",
            "forenames",
            "first_name",
            "firstname",
            "given_name",
            "surname",
            "last_name",
            "lastname",
            "family_name",
            "full_name",
            "fullname",
            "known_as",
            "alias",
            "nickname",
            "middle_name",
            "initials",
        ),
    ),
    (
        "case numbers",
        (
            "case_number",
            "case_no",
            "case_ref",
            "case_reference",
            "case_id",
            "upn",
            "pupil_number",
            "ni_number",
            "national_insurance",
            "crn",
            "pnc",
            "pnc_id",
        ),
    ),
    (
        "free-text notes",
        (
            "notes",
            "note",
            "comment",
            "comments",
            "narrative",
            "description",
            "details",
            "detail",
            "summary",
            "free_text",
            "freetext",
            "circumstances",
            "text",
            "remarks",
            "observations",
            "context",
            "location",
        ),
    ),
)

#: Words that make a "name" column the name of a place, an area or an organisation.
_NOT_PEOPLE = frozenset({
        "lsoa", "msoa", "oa", "ward", "district", "lad", "la", "authority", "place", "site",
        "premises", "venue", "force", "area", "team", "region", "town", "organisation", "org",
        "agency", "beat", "sector", "neighbourhood", "street", "road", "school", "business",
        "shop",
})  # fmt: skip

_PHONE = re.compile(r"^(?:\+44\s?|0044\s?|0)(?:\d\s?){9,10}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)
_NHS = re.compile(r"^\d{3}\s?\d{3}\s?\d{4}$")
_POSTCODE = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}$", re.IGNORECASE)
_NAME = re.compile(r"^[A-Z][a-z'\-]+(?: [A-Z][a-z'\-]+){1,3}$")
_DATE = re.compile(r"^\d{1,4}[/\-.]\d{1,2}[/\-.]\d{1,4}")


def classify_by_header(column: object) -> str | None:
    """Return what a column holds if its header names a direct identifier, else None.

    Examples
    --------
    >>> classify_by_header("Child's first name")
    'names'
    >>> classify_by_header("NHS No.")
    'NHS numbers'
    >>> classify_by_header("Home postcode")
    'addresses'
    >>> classify_by_header("Crime type") is None
    True
    """
    normalised = normalise_header(column)
    words = set(normalised.split("_"))
    for what, names in _HEADER_WORDS:
        if what == "names" and words & _NOT_PEOPLE:
            continue
        for name in names:
            if ("_" in name and name in normalised) or name in words:
                return what
    return None


def _nhs_numbers(values: pd.Series) -> np.ndarray:
    """Return which values are NHS numbers (spaces allowed), by ``services.text_checks``' check.

    Examples
    --------
    >>> _nhs_numbers(pd.Series(["943 476 5919", "9434765918", "hello"])).tolist()
    [True, False, False]
    """
    from services.text_checks import nhs_number_valid

    digits = values.astype(str).str.replace(r"\s", "", regex=True)
    return digits.map(nhs_number_valid).to_numpy(bool)


def _varied(values: pd.Series) -> np.ndarray:
    """Return True (for every value) when most values differ, as people's names do."""
    varied = values.nunique() >= 0.3 * len(values)
    return np.full(len(values), varied, dtype=bool)


def classify_by_values(values: pd.Series, *, share: float = 0.5) -> str | None:
    """Return what a column's values are, when most of them are a direct identifier.

    Parameters
    ----------
    values
        A sample of the column (strings).
    share
        The share of non-empty values that must look alike.

    Examples
    --------
    >>> classify_by_values(pd.Series(["07700 900123", "07700 900456"]))
    'phone numbers'
    >>> classify_by_values(pd.Series(["Amelia Hart", "Noah Briggs", ""]))
    'names'
    >>> classify_by_values(pd.Series(["Staffordshire Police"] * 5)) is None
    True
    >>> classify_by_values(pd.Series(["cce", "cse"])) is None
    True
    """
    text = values.astype(str).str.strip()
    text = text[text != ""]
    if text.empty:
        return None
    checks = (
        ("NHS numbers", _nhs_numbers),
        ("phone numbers", lambda s: s.str.fullmatch(_PHONE).to_numpy(bool)),
        ("email addresses", lambda s: s.str.fullmatch(_EMAIL).to_numpy(bool)),
        ("postcodes", lambda s: s.str.fullmatch(_POSTCODE).to_numpy(bool)),
        ("dates", lambda s: s.str.match(_DATE).to_numpy(bool)),
        ("names", lambda s: s.str.fullmatch(_NAME).to_numpy(bool) & _varied(s)),
        ("free-text notes", lambda s: (s.str.len() > 40) & (s.str.count(" ") >= 5)),
    )
    for what, check in checks:
        if np.mean(np.asarray(check(text), dtype=bool)) >= share:
            return what
    return None


def looks_personal(values: pd.Series) -> np.ndarray:
    """Return which values hold personal details, by the one checker (``services.text_checks``).

    Used on the few text fields that are stored as they are (a place's name,
    its responsible organisation).

    Examples
    --------
    >>> looks_personal(pd.Series(["The Crown", "Call 07700 900123", "x@y.org",
    ...                           "Jordan's Takeaway", "Amy (14) house"])).tolist()
    [False, True, True, False, True]
    """
    return personal_kinds_of(values).str.len().gt(0).to_numpy(bool)


def personal_kinds_of(values: pd.Series) -> pd.Series:
    """Return, per value, the kinds of personal detail it holds joined by ", " (empty if none).

    Each distinct value is checked once.
    """
    from services.text_checks import personal_kinds

    text = values.astype(str)
    kinds = {u: ", ".join(personal_kinds(u)) for u in pd.unique(text)}
    return text.map(kinds)


#: Direct identifiers that may only be used as these fields (keyed pseudonyms, an age band).
_DIRECT: dict[str, frozenset[str]] = {
    "names": frozenset({"source_ref", "child_id", "person_of_concern"}),
    "NHS numbers": frozenset({"source_ref", "child_id", "person_of_concern"}),
    "phone numbers": frozenset(),
    "email addresses": frozenset(),
    "addresses": frozenset(),
    "dates of birth": frozenset({"date_of_birth"}),
}


def _refused(holds: str, field: str) -> bool:
    """Return True when a column holding ``holds`` must not be read as ``field``."""
    if holds in _DIRECT:
        return field not in _DIRECT[holds]
    # case numbers, notes and dates: only pseudonymised or reduced to a fixed list of values
    return field in ("date_of_birth",) and holds != "dates"


def find_identifiers(
    sample: pd.DataFrame, used: Mapping[str, str], *, kind: str
) -> list[dict[str, str]]:
    """List the direct identifiers among a file's columns, and check the used ones.

    Parameters
    ----------
    sample
        The first rows of the file, as strings.
    used
        ``{column: field}`` for the columns that will be read.
    kind
        ``"incidents"``, ``"referrals"`` or ``"places"``.

    Returns
    -------
    list of dict
        One ``{"column", "holds", "found by", "handling"}`` per identifying column.

    Raises
    ------
    ImportFileError
        When a column named as a direct identifier is mapped to a field that
        would keep it (a name as the category, a home address as the location).
    """
    found: list[dict[str, str]] = []
    for column in sample.columns:
        field = used.get(column)
        holds = classify_by_header(column)
        how = "by its name"
        if kind == "places" and field in ("name", "postcode", "responsible_org"):
            holds = None
        if field == "date_of_birth":
            holds, how = "dates of birth", "by its name"
        if holds is None and field is None:
            holds = classify_by_values(sample[column].head(1000))
            how = "by its values"
        if holds is None:
            continue
        if field is not None and _refused(holds, field):
            raise ImportFileError(
                f"Column '{column}' holds {holds} (found {how}), so it cannot be imported as "
                f"'{field}'. Map it to 'ignore'."
            )
        if field == "date_of_birth":
            handling = "turned into an age band at the date, then dropped"
        elif field in ("source_ref", "child_id", "person_of_concern"):
            handling = "replaced by a keyed pseudonym"
        elif field is not None:
            handling = "only values from a fixed list are kept"
        else:
            handling = "dropped"
        found.append({"column": str(column), "holds": holds, "found by": how, "handling": handling})
    return found
