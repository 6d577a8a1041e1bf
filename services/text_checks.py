"""The one checker for personal details in free text: what it finds, where, and what kind.

Place assessments, place names and notes, review comments and imported text
describe places, never people. This module finds the spans of a text that hold
personal details, so that a form can refuse to submit while they remain and a
screen can highlight them:

- a name with an age (``Jordan Smith (15``, ``Amy, 14``, ``Leo aged 13``,
  ``15-year-old Kai``), with a school year (``Amy in Year 10``) or a school
  (``Leo, who attends Moor Lane Academy``), a name given by ``called`` or
  ``known as``, or a title and a name (``Mr Patel``);
- a date of birth in any common format (``DOB 03/04/2011``, ``born 3rd April
  2011``, ``d.o.b. 2011-04-03``);
- UK phone numbers (mobiles and landlines, ``+44`` or ``0``);
- e-mail addresses;
- NHS numbers (ten digits whose modulus-11 check digit is right);
- home addresses (``lives at 12 Oak Road``, ``Flat 3, ...``) and full postcodes
  of homes (a full postcode with a home word near it, or with no place word);
- social media handles (``@kayz_99``, ``Snapchat: kayz99``).

Ordinary place text passes: business names (``Jordan's Takeaway``), visit and
review dates, age ranges of groups (``13 to 15 year olds``), planning and
incident references. Detection is by patterns (no model, nothing downloaded);
the labelled corpus in ``tests/store/text_corpus.tsv`` measures it.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

__all__ = [
    "KINDS",
    "Finding",
    "check_lines",
    "find_personal",
    "highlight_html",
    "nhs_number_valid",
    "personal_data_warnings",
    "personal_kinds",
    "personal_problems",
    "register",
    "text_warnings",
]

#: The kinds of personal detail found, with what to do instead.
KINDS: dict[str, str] = {
    "name with an age": "describe the group and its age range, not a person",
    "name with a school year": "describe the group (e.g. 'Year 10 pupils'), not a person",
    "name with a school": "describe the group, not a person and their school",
    "name": "describe the place and groups, not a person",
    "date of birth": "dates of birth never belong here",
    "phone number": "record contacts elsewhere, not here",
    "e-mail address": "record contacts elsewhere, not here",
    "NHS number": "NHS numbers never belong here",
    "home address": "describe the place, not where someone lives",
    "home postcode": "a home's postcode never belongs here (a place's goes in the register)",
    "social media handle": "describe the platform used, not an account",
}

# --------------------------------------------------------------------------- names

#: Capitalised words that are not names: sentence starts, groups, places, times, numbers.
_NON_NAME_WORDS = """
A An The This That These Those There Their They Then Than Some Several Many Most Few All
Both Each Every Any No Not Only About Around Approximately Approx Roughly Nearly Over Under
Up Down At On In Into Onto Of Off Out By For From With Without Within After Before Between
Since Until During Near Behind Beside Opposite Outside Inside Across Along Past Via Per And
Or But So If When While Where Which Who Whom Whose Why How What As Also Again Still It Its
He She We You I Our Your His Her Him Them Us My Me Is Are Was Were Be Been Has Have Had Do
Does Did Will Would Can Could Should May Might Must Shall Please Note Notes Yes Ok Okay One
Two Three Four Five Six Seven Eight Nine Ten Eleven Twelve Thirteen Fourteen Fifteen Sixteen
Seventeen Eighteen Nineteen Twenty Thirty Forty Fifty Hundred First Second Third Fourth
Fifth Last Next Previous Other Another Same Each Half Number No Nos Monday Tuesday Wednesday
Thursday Friday Saturday Sunday Mon Tue Tues Wed Thu Thur Thurs Fri Sat Sun Weekend Weekends
Weekday Weekdays Today Tonight Yesterday Tomorrow January February March April May June July
August September October November December Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec
Spring Summer Autumn Winter Christmas Easter Halloween Term Half-term Holiday Holidays Week
Weeks Month Months Year Years Yr Yrs Day Days Night Nights Evening Evenings Morning Mornings
Afternoon Afternoons Hour Hours Minute Minutes Age Ages Aged Under Over Group Groups Young
Youth Youths People Person Persons Pupil Pupils Student Students Child Children Kids Boys
Girls Boy Girl Teenager Teenagers Teens Adult Adults Male Males Female Females Men Women Man
Woman Lads Residents Resident Neighbours Parents Families Family Staff Officer Officers
Police Pcso Pcsos Warden Wardens Security Manager Managers Owner Owners Driver Drivers
Members Member Team Teams Partners Partner Council Councillor Cllr Agency Agencies Service
Services Panel Mace Rfm Cse Cce Syv Asb Cctv Led Nhs Gp Ae Ward Wards District Districts
Park Parks Road Rd Street St Avenue Ave Lane Ln Close Drive Dr Way Crescent Grove Place
Court Gardens Terrace Walk View Rise Mews Square Hill Green Row Parade Precinct Estate
Centre Center Shop Shops Store Stores Takeaway Takeaways Cafe Café Pub Bar Club Hotel Motel
Inn Station Stations Bus Buses Route Routes Stop Stops Platform Platforms Train Trains Tram
Metro Subway Underpass Bridge Canal River Towpath Path Footpath Alley Alleyway Car Cars
Parking Unit Units Block Blocks Bay Bays Gate Gates Level Levels Floor Floors Phase Zone
Zones Junction Exit Entrance Pitch Pitches Stand Stands Room Rooms Area Areas Site Sites
Location Locations School Schools Academy College High Primary Secondary Library Leisure
Sports Playground Skatepark Field Fields Woods Wood Common Rec Recreation Ground Arcade
Cinema Market Mall Retail Supermarket Garage Petrol Chip Chippy Kebab Pizza Chicken Lighting
Light Lights Camera Cameras Fence Fencing Wall Walls Door Doors Window Windows Bench Benches
Bin Bins Shelter Shelters Hedge Hedges Trees Tree Bushes Graffiti Litter Visit Visited
Review Reviewed Meeting Meetings Incident Incidents Report Reports Reported Referral
Referrals Ref Reference Planning Application Licence License Licensing Case Action Actions
Goal Goals Finding Findings Evidence Source Risk Score Low Medium High Page Item Items
Section Appendix Table Figure Map Maps Photo Photos Ward Beat Sector Staffordshire Stafford
Stoke Trent Newcastle Cannock Lichfield Tamworth Burton Leek Stone Uttoxeter Rugeley
Biddulph Kidsgrove Hanley Longton Fenton Tunstall Burslem Norwich England Britain British Uk
English Local National County City Town Village North South East West Northern Southern
Eastern Western Central Upper Lower Old New Little Great Mr Mrs Ms Miss Mx Dr Master Sir
Lady Saint Snapchat Instagram Tiktok Facebook Whatsapp Telegram Twitter Youtube Discord Snap
Insta Online Social Media Phone Phones Mobile Email Internet Wifi App Apps Google Uber
Deliveroo Ticket Tickets Year-old Years-old Kind Sort Type Types Rear Front Side Top Bottom
Middle End Start Corner Edge Main
"""
_NOT_NAMES = frozenset(_NON_NAME_WORDS.split())

_WORD = r"[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?"
#: A name: one or two capitalised words (checked against :data:`_NOT_NAMES` afterwards).
_NAME = rf"(?P<name>{_WORD}(?:\s+{_WORD})?)(?!'s\b|’s\b)"
_AGE_NUMBER = (
    r"(?:[1-9]|[1-9]\d|(?i:ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|"
    r"eighteen|nineteen))"
)
_AFTER_AGE = r"(?=\s*(?:\)|,|;|\.|:|$|\s+(?:and|with|from|who|was|is|has|had|lives|attends|goes|"
_AFTER_AGE += r"in\s+year|yrs?|years?|y/?o)\b))"

_NAME_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "name with an age",
        re.compile(
            rf"\b{_NAME}\s*(?:\(\s*(?:aged?\s*)?|,\s*(?:aged?\s*)?|\s+aged?\s+"
            r"|\s+is\s+(?:only\s+|just\s+|now\s+|nearly\s+|about\s+)?)"
            rf"{_AGE_NUMBER}\b{_AFTER_AGE}"
        ),
    ),
    (
        "name with an age",
        re.compile(rf"\b{_NAME}\s*(?:\(\s*|,\s*|\s+)(?:aged?|age:)\s*{_AGE_NUMBER}\b"),
    ),
    (
        "name with an age",
        re.compile(rf"\b{_AGE_NUMBER}\s*-?\s*(?:years?|yrs?)[\s-]*old\s+{_NAME}\b"),
    ),
    (
        "name with an age",
        re.compile(rf"\b{_NAME},?\s+(?:a\s+)?{_AGE_NUMBER}\s*-?\s*(?:years?|yrs?)[\s-]*old\b"),
    ),
    (
        "name with an age",
        re.compile(rf"\b{_NAME}\s*\(?\s*{_AGE_NUMBER}\s*(?:yo|y/o|yrs|yr)\b"),
    ),
    (
        "name with a school year",
        re.compile(
            rf"\b{_NAME}\s*(?:\(\s*|,\s*|\s+(?:in|from|is\s+in|who\s+is\s+in|currently\s+in)\s+)"
            r"(?:an?\s+)?(?i:year|yr|y)\s*(?:[1-9]|1[0-3])\b",
        ),
    ),
    (
        "name with a school",
        re.compile(
            rf"\b{_NAME}\s*(?:\(\s*|,\s*|\s+)(?:who\s+)?(?:attends|goes\s+to|is\s+at|"
            r"(?:a\s+)?(?:pupil|student)\s+(?:at|of)|from|at)\s+"
            r"(?:[A-Z][\w'’.]*\s+){1,5}(?:School|Academy|College|High|Primary|Grammar|Sixth Form)\b"
        ),
    ),
    (
        "name",
        re.compile(
            rf"\b(?:[Cc]alled|[Nn]amed|[Kk]nown\s+as|[Gg]oes\s+by|[Nn]ame\s+is|[Nn]ame:)\s+"
            rf"['\"‘“]?{_NAME}"
        ),
    ),
    (
        "name",
        re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Master)\.?\s+(?P<name>" + _WORD + r")"),
    ),
)

# --------------------------------------------------------------------------- others

_DATE = (
    r"(?:\d{1,2}[/.\-]\d{1,2}[/.\-](?:\d{4}|\d{2})"
    r"|\d{4}-\d{1,2}-\d{1,2}"
    r"|\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?[A-Za-z]{3,9}\.?,?\s+\d{2,4}"
    r"|[A-Za-z]{3,9}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}"
    r"|(?:19|20)\d{2})"
)
_DOB = re.compile(
    rf"\b(?:d\.?\s?o\.?\s?b\.?|date\s+of\s+birth|birth\s*date|born(?:\s+on|\s+in)?|b\.)"
    rf"\s*[:\-]?\s*{_DATE}",
    re.IGNORECASE,
)
_DOB_WORD = re.compile(r"\b(?:d\.o\.b\.?|dob|date\s+of\s+birth)\b", re.IGNORECASE)
_PHONE = re.compile(
    r"(?<![\w/.\-])(?:\+\s?44\s?\(?0?\)?\s?|0044\s?|\(?0)"
    r"(?:7\d{3}\)?[\s\-]?\d{3}[\s\-]?\d{3}"
    r"|[1-3]\d{2,4}\)?[\s\-]?\d{3,4}[\s\-]?\d{3,4}"
    r"|[89]\d{2}[\s\-]?\d{3}[\s\-]?\d{3,4})(?![\w/\-])"
)
_EMAIL = re.compile(r"\b[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[a-z]{2,}\b", re.IGNORECASE)
_TEN_DIGITS = re.compile(r"(?<![\w/\-])(\d{3})[\s\-]?(\d{3})[\s\-]?(\d{4})(?![\w/\-])")
_NHS_WORD = re.compile(r"\bNHS\s*(?:no\.?|number|num|#)?\s*[:\-]?\s*(\d[\d\s]{8,12}\d)", re.I)
_HANDLE = re.compile(r"(?<![\w@.])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{1,28}[A-Za-z0-9_])?\b")
_PLATFORM_HANDLE = re.compile(
    r"\b(?:snapchat|snap|sc|instagram|insta|ig|tiktok|tik\s+tok|twitter|x\.com|facebook|fb|"
    r"telegram|whatsapp|discord|youtube|threads)\b\s*(?:name|handle|username|user|id|account|"
    r"acc)?\s*(?::|=|\bis\b|\bas\b|\bcalled\b|-)\s*['\"‘“]?@?[A-Za-z0-9_.]*[0-9_][A-Za-z0-9_.]*"
    r"|\b(?:snapchat|snap|instagram|insta|tiktok|twitter|facebook|telegram|discord)\b\s*"
    r"(?:name|handle|username|account)\s*(?::|=|\bis\b|\bas\b)?\s*['\"‘“]?@?[A-Za-z0-9_.]{3,}",
    re.IGNORECASE,
)
_POSTCODE = re.compile(r"\b[A-Z]{1,2}[0-9][A-Z0-9]?\s*[0-9][ABD-HJLNP-UW-Z]{2}\b", re.IGNORECASE)
_STREET = (
    r"(?:Road|Rd|Street|St|Avenue|Ave|Lane|Ln|Close|Cl|Drive|Dr|Way|Crescent|Cres|Grove|Gr|"
    r"Place|Pl|Court|Ct|Gardens|Gdns|Terrace|Walk|View|Rise|Mews|Square|Hill|Green|Row|Parade)"
)
_HOUSE = rf"\d{{1,4}}[A-Za-z]?,?\s+(?:[A-Z][\w'’]*\s+){{1,3}}{_STREET}\b"
_HOME_ADDRESS = re.compile(
    rf"\b(?:(?:lives?|living|lived|resides?|residing|staying|stays|stopping|moved)\b"
    rf"(?:[^.;\n]{{0,40}}?)\s(?:at|in|on|to)\s+(?:number\s+|no\.?\s*)?"
    rf"(?:{_HOUSE}|\d{{1,4}}[A-Za-z]?\b)"
    rf"|home\s+address\s*(?:is|:|-)?\s*\S+"
    rf"|(?:home|house|address)\s+(?:is\s+)?(?:at|on)\s+(?:{_HOUSE})"
    rf"|(?:his|her|their|the\s+family(?:'s|’s)?|mum(?:'s|’s)?|dad(?:'s|’s)?|nan(?:'s|’s)?|"
    rf"gran(?:'s|’s)?|grandparents(?:'|’)?|foster\s+carers(?:'|’)?)\s+(?:home|house|flat|address)"
    rf"\s*(?:at|on|in|is|:|,)?\s*(?:{_HOUSE}|\d{{1,4}}[A-Za-z]?\s+\w+)"
    rf"|\b(?:flat|apartment|apt)\s+\d{{1,4}}[A-Za-z]?,?\s+(?:\d{{1,4}}\s+)?(?:[A-Z][\w'’]*\s+)"
    rf"{{1,3}}(?:{_STREET}|House|Court|Tower|Lodge)\b)",
    re.IGNORECASE,
)
_HOME_WORDS = re.compile(
    r"\b(?:lives?|living|lived|resides?|residing|home|house|flat|address|staying|stays|"
    r"family|mum|dad|nan|gran|grandparents|foster|carer|carers|bedroom|sofa|sofa-surfing|"
    r"his|her|their|moved)\b",
    re.IGNORECASE,
)
_PLACE_WORDS = re.compile(
    r"\b(?:park|shop|shops|store|takeaway|cafe|café|pub|bar|club|hotel|station|stop|centre|"
    r"center|car\s+park|premises|site|school|academy|college|library|arcade|market|garage|"
    r"venue|leisure|playground|precinct|retail|business|restaurant|chip|kebab|pizza|chicken|"
    r"mcdonald'?s|kfc|subway|greggs|tesco|asda|aldi|lidl|co-?op|surgery|church|hall|"
    r"register|postcode\s+of|planning|licen[cs]e)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Finding:
    """One span of personal detail in a text.

    Attributes
    ----------
    kind
        One of :data:`KINDS`.
    start, end
        Where it is in the text (``text[start:end]``).
    text
        The span itself.
    """

    kind: str
    start: int
    end: int
    text: str


def nhs_number_valid(digits: str) -> bool:
    """Return True for ten digits whose modulus-11 check digit is right.

    The one NHS-number check: free text here, imported columns in
    ``services.imports.identifiers``.

    Examples
    --------
    >>> nhs_number_valid("9434765919"), nhs_number_valid("9434765918")
    (True, False)
    >>> nhs_number_valid("943476591"), nhs_number_valid("94347659x9")
    (False, False)
    """
    if len(digits) != 10 or not (digits.isascii() and digits.isdigit()):
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(digits[9])


def _real_name(name: str) -> bool:
    """Return True when a candidate name's first word is not a known non-name.

    Only the first word is checked: surnames are often ordinary words (Ward,
    Green, Hill), first names rarely are.
    """
    first = name.strip().split()[0]
    return first not in _NOT_NAMES and first.split("-")[0] not in _NOT_NAMES


def _sentence_of(text: str, start: int, end: int) -> str:
    left = max(text.rfind(".", 0, start), text.rfind("\n", 0, start), text.rfind(";", 0, start))
    rights = [i for i in (text.find(".", end), text.find("\n", end), text.find(";", end)) if i >= 0]
    return text[left + 1 : min(rights) if rights else len(text)]


def find_personal(text: str | None) -> list[Finding]:
    """Return the spans of a text that hold personal details, in order.

    Parameters
    ----------
    text
        Free text: a finding's evidence, a goal, an action, a comment, a place's
        name or notes, a value from an imported file.

    Returns
    -------
    list of Finding
        Non-overlapping spans, earliest first; empty when nothing looks personal.

    Examples
    --------
    >>> [f.kind for f in find_personal("Speak to Jordan Smith (15, DOB 03/04/2011)")]
    ['name with an age', 'date of birth']
    >>> find_personal("Groups of 13 to 15 year olds gather outside Jordan's Takeaway")
    []
    """
    if not text or not text.strip():
        return []
    found: list[Finding] = []

    def add(kind: str, start: int, end: int) -> None:
        found.append(Finding(kind, start, end, text[start:end]))

    for kind, pattern in _NAME_PATTERNS:
        for match in pattern.finditer(text):
            name = match.group("name")
            if kind == "name" and match.group(0).startswith(("Mr", "Mrs", "Ms", "Miss", "Mx")):
                if name in _NOT_NAMES:
                    continue
            elif not _real_name(name):
                # "Park Road (24" or "Visit (12": try the last word alone as the name
                last = name.split()[-1]
                if len(name.split()) == 1 or not _real_name(last):
                    continue
            add(kind, match.start(), match.end())
    for match in _DOB.finditer(text):
        add("date of birth", match.start(), match.end())
    for match in _DOB_WORD.finditer(text):
        add("date of birth", match.start(), match.end())
    for match in _EMAIL.finditer(text):
        add("e-mail address", match.start(), match.end())
    for match in _NHS_WORD.finditer(text):
        add("NHS number", match.start(), match.end())
    for match in _TEN_DIGITS.finditer(text):
        if nhs_number_valid("".join(match.groups())):
            add("NHS number", match.start(), match.end())
    for match in _PHONE.finditer(text):
        add("phone number", match.start(), match.end())
    for match in _HANDLE.finditer(text):
        add("social media handle", match.start(), match.end())
    for match in _PLATFORM_HANDLE.finditer(text):
        add("social media handle", match.start(), match.end())
    for match in _HOME_ADDRESS.finditer(text):
        add("home address", match.start(), match.end())
    for match in _POSTCODE.finditer(text):
        sentence = _sentence_of(text, match.start(), match.end())
        if _HOME_WORDS.search(sentence) or not _PLACE_WORDS.search(sentence):
            add("home postcode", match.start(), match.end())
    return _without_overlaps(found)


def _without_overlaps(found: list[Finding]) -> list[Finding]:
    """Keep the longest of overlapping spans (an e-mail holds no handle; a DOB holds no phone)."""
    ordered = sorted(found, key=lambda f: (f.start, -(f.end - f.start)))
    out: list[Finding] = []
    for finding in ordered:
        if out and finding.start < out[-1].end:
            if finding.kind != out[-1].kind and finding.end > out[-1].end:
                out.append(Finding(finding.kind, out[-1].end, finding.end,
                                   finding.text[out[-1].end - finding.start :]))  # fmt: skip
            continue
        out.append(finding)
    return [f for f in out if f.text.strip()]


def personal_kinds(text: str | None) -> list[str]:
    """Return the kinds of personal detail in a text, each once, in order of first sight.

    Examples
    --------
    >>> personal_kinds("Call 07700 900123 or e-mail amy.j@example.com")
    ['phone number', 'e-mail address']
    >>> personal_kinds("Visited 12/03/2024; planning ref 21/01234/FUL")
    []
    """
    kinds: list[str] = []
    for finding in find_personal(text):
        if finding.kind not in kinds:
            kinds.append(finding.kind)
    return kinds


def personal_data_warnings(text: str | None) -> list[str]:
    """Return one message per personal detail found, quoting it and saying what to do.

    Examples
    --------
    >>> personal_data_warnings("Shrubs overgrown by the rear wall.")
    []
    >>> personal_data_warnings("Call 07700 900123")
    ["It looks like a phone number ('07700 900123'): record contacts elsewhere, not here."]
    """
    out = []
    for finding in find_personal(text):
        quoted = " ".join(finding.text.split())
        out.append(f"It looks like a {finding.kind} ('{quoted}'): {KINDS[finding.kind]}.")
    return [m.replace("like a e-", "like an e-").replace("like a NHS", "like an NHS") for m in out]


def text_warnings(fields: Mapping[str, str | None]) -> dict[str, list[str]]:
    """Return the warnings for each named text field that has any.

    Examples
    --------
    >>> text_warnings({"goals": "Call 07700 900123", "evidence": "Bins full"})
    {'goals': ["It looks like a phone number ('07700 900123'): record contacts elsewhere, \
not here."]}
    """
    out = {}
    for name, text in fields.items():
        found = personal_data_warnings(text)
        if found:
            out[name] = found
    return out


def personal_problems(fields: Mapping[str, str | None]) -> dict[str, str]:
    """Return, per field holding personal details, one message refusing it (for submitting).

    Examples
    --------
    >>> personal_problems({"actions.0.description": "Speak to Amy (14) at the park"})
    {'actions.0.description': "This holds personal details (name with an age 'Amy (14'). \
Remove them: describe places and groups, never a person."}
    """
    out = {}
    for name, text in fields.items():
        found = find_personal(text)
        if found:
            parts = "; ".join(f"{f.kind} '{' '.join(f.text.split())}'" for f in found)
            out[name] = (
                f"This holds personal details ({parts}). Remove them: describe places and "
                "groups, never a person."
            )
    return out


def highlight_html(text: str | None) -> str:
    """Return the text as escaped HTML with each personal span in ``<mark>``.

    The text itself is escaped, so nothing typed can become markup or a link.

    Examples
    --------
    >>> highlight_html("Amy (14) <b>x</b>")
    '<mark title="name with an age">Amy (14</mark>) &lt;b&gt;x&lt;/b&gt;'
    """
    if not text:
        return ""
    out, at = [], 0
    for finding in find_personal(text):
        out.append(escape(text[at : finding.start]))
        out.append(f'<mark title="{escape(finding.kind)}">{escape(finding.text)}</mark>')
        at = finding.end
    out.append(escape(text[at:]))
    return "".join(out)


# --------------------------------------------------------------------------- command line


def check_lines(lines: Iterable[str]) -> Iterator[str]:
    r"""Yield ``ok`` or ``personal<TAB>kinds`` for each line (what ``check-text`` prints).

    Examples
    --------
    >>> list(check_lines(["Bins full by the gate", "Amy (14) at 12 Oak Road, call 07700 900123"]))
    ['ok', 'personal\tname with an age, phone number']
    """
    for line in lines:
        kinds = personal_kinds(line.rstrip("\r\n"))
        yield f"personal\t{', '.join(kinds)}" if kinds else "ok"


def _run_check_text(args: argparse.Namespace) -> int:
    path = args.file
    try:
        if path == "-":
            lines = sys.stdin.read().splitlines()
        else:
            lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        print(f"safer-spaces check-text: cannot read {path} ({error}).", file=sys.stderr)
        return 2
    personal = 0
    for result in check_lines(lines):
        personal += result != "ok"
        print(result)
    return 1 if personal else 0


def register(subparsers: Any) -> None:
    """Add ``check-text FILE`` to an argparse subparsers object (the handler returns the status)."""
    command = subparsers.add_parser(
        "check-text",
        help="Check text for personal details, one text per line (what the forms use).",
        description=(
            "Read one text per line and print one line per input line: 'ok', or 'personal', a "
            "tab and the kinds found (names with an age, school year or school; dates of "
            "birth; phone numbers; e-mail addresses; NHS numbers; home addresses and "
            "postcodes; social media handles). Exit status 0 when every line is ok, 1 when "
            "any holds personal details, 2 when the file cannot be read."
        ),
    )
    command.add_argument("file", help="a UTF-8 text file, one text per line ('-' for stdin)")
    command.set_defaults(handler=_run_check_text)
