"""Warnings for free text that looks like it is about a person rather than a place.

Place assessments describe places. Free text must not name a child or anyone
else, give an age with it, a date of birth, a phone number or a home's postcode.
These checks are heuristics: they warn, they do not block, and they will miss
things. A person still reads the text.

(The importer's identifier checks, ``store/imports/identifiers.py``, are
written separately; the two can be merged later.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["PATTERNS", "personal_data_warnings", "text_warnings"]

_NAME = r"[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?"

#: What each pattern looks for, and the pattern (case-sensitive unless flagged).
PATTERNS: dict[str, re.Pattern[str]] = {
    "a person's title and name": re.compile(
        rf"\b(?:Mr|Mrs|Ms|Miss|Mx|Master|Dr)\.?\s+{_NAME}(?:\s+{_NAME})?"
    ),
    "a name": re.compile(
        rf"\b(?:[Cc]alled|[Nn]amed|[Kk]nown as)\s+{_NAME}\s+{_NAME}"
        rf"|\b(?:boy|girl|child|lad|son|daughter|brother|sister|young person|"
        rf"teenager|man|woman)\s+(?:called|named|known as)\s+{_NAME}"
    ),
    "an age": re.compile(
        r"\baged\s+\d{1,2}\b(?!\s*(?:to|-|and|or)\s*\d)"
        r"|(?<![\d\s]-)(?<!to )\b\d{1,2}\s*(?:yo|y/o|yrs?\s+old|years?\s+old|year-old)\b",
        re.IGNORECASE,
    ),
    "a date of birth": re.compile(
        r"\b(?:d\.?o\.?b\.?|date of birth|born(?:\s+on)?)\b[\s:]*"
        r"(?:\d{1,2}[/.\-\s]\d{1,2}[/.\-\s]\d{2,4}|\d{1,2}(?:st|nd|rd|th)?\s+[A-Za-z]{3,9}\s+\d{4})?",
        re.IGNORECASE,
    ),
    "a phone number": re.compile(r"(?<![\w])(?:\+44\s?|0)(?:\d[\s\-]?){9,10}(?!\d)"),
    "a full postcode": re.compile(
        r"\b[A-Z]{1,2}[0-9][A-Z0-9]?\s*[0-9][A-Z]{2}\b",
        re.IGNORECASE,
    ),
}

_ADVICE = {
    "a person's title and name": "describe the place and groups, not a person",
    "a name": "describe the place and groups, not a person",
    "an age": "use the age range of the group (e.g. 'young people aged 13 to 15')",
    "a date of birth": "dates of birth never belong in an assessment",
    "a phone number": "record contacts elsewhere, not in the assessment",
    "a full postcode": "if it is a home's postcode remove it; a place's postcode belongs in "
    "the register",
}


def personal_data_warnings(text: str | None) -> list[str]:
    """Return a warning for each part of the text that looks like personal data.

    Parameters
    ----------
    text
        Free text from the form (evidence, goals, partners, an action...).

    Returns
    -------
    list of str
        One message per kind of match, quoting what was found, empty when
        nothing looks personal.

    Examples
    --------
    >>> personal_data_warnings("Lighting poor; a girl called Amy Jones (aged 14) seen here")
    ["It looks like a name ('girl called Amy'): describe the place and groups, not a person.", \
"It looks like an age ('aged 14'): use the age range of the group (e.g. 'young people aged \
13 to 15')."]
    >>> personal_data_warnings("Shrubs overgrown by the rear wall.")
    []
    """
    if not text:
        return []
    warnings = []
    for what, pattern in PATTERNS.items():
        found = pattern.search(text)
        if found is None or not found.group(0).strip():
            continue
        if what == "a name" and any(w.startswith("It looks like a person's") for w in warnings):
            continue
        quoted = " ".join(found.group(0).split())
        warnings.append(f"It looks like {what} ('{quoted}'): {_ADVICE[what]}.")
    return warnings


def text_warnings(fields: Mapping[str, str | None]) -> dict[str, list[str]]:
    """Return the warnings for each named text field that has any.

    Parameters
    ----------
    fields
        Field name -> its text.

    Returns
    -------
    dict
        Field name -> warnings, only for fields with at least one.

    Examples
    --------
    >>> text_warnings({"goals": "Call 07700 900123", "evidence": "Bins full"})
    {'goals': ["It looks like a phone number ('07700 900123'): record contacts elsewhere, \
not in the assessment."]}
    """
    out = {}
    for name, text in fields.items():
        found = personal_data_warnings(text)
        if found:
            out[name] = found
    return out
