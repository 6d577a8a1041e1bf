"""The words the data use, and how the screens say them.

Codes are what is stored; labels are what people read.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "ACTION_KINDS",
    "ACTION_STATUSES",
    "AGENCIES",
    "AGE_BANDS",
    "ASSESSMENT_STATUSES",
    "CHECKLIST",
    "DOMAINS",
    "EXPLOITATION_TYPES",
    "PLACE_CATEGORIES",
    "RELIABILITY",
    "REVIEW_MONTHS",
    "RISK_LEVELS",
    "SCORES",
    "ChecklistItem",
    "label",
]

EXPLOITATION_TYPES: dict[str, str] = {
    "cse": "Child sexual exploitation",
    "cce": "Child criminal exploitation",
    "county_lines": "County lines",
    "missing": "Missing episode",
    "serious_youth_violence": "Serious youth violence",
    "online_exploitation": "Online exploitation",
}

AGE_BANDS: dict[str, str] = {
    "10-12": "10 to 12",
    "13-15": "13 to 15",
    "16-17": "16 to 17",
    "18-24": "18 to 24 (transitional safeguarding)",
}

AGENCIES: dict[str, str] = {
    "police": "Police",
    "social_care": "Children's social care",
    "health": "Health",
    "education": "Education",
    "youth_service": "Youth service",
}

PLACE_CATEGORIES: dict[str, str] = {
    "park": "Park or open space",
    "fast_food": "Fast-food outlet",
    "shopping_centre": "Shopping centre",
    "transport_hub": "Transport hub",
    "hotel": "Hotel or B&B",
    "licensed_premises": "Licensed premises",
    "car_park": "Car park",
    "school_surroundings": "School surroundings",
    "derelict_building": "Derelict building",
    "leisure_venue": "Leisure venue",
}

ASSESSMENT_STATUSES: dict[str, str] = {
    "draft": "Draft",
    "submitted": "Submitted for review",
    "approved": "Approved",
    "returned": "Returned for changes",
    "superseded": "Superseded",
}


RISK_LEVELS: dict[str, str] = {"low": "Low", "medium": "Medium", "high": "High"}

#: Months to the next review of a place assessment, by its overall risk.
REVIEW_MONTHS: dict[str, int] = {"high": 3, "medium": 6, "low": 12}

ACTION_STATUSES: dict[str, str] = {"open": "Open", "done": "Done", "dropped": "Dropped"}

#: What kind of change an action makes, for pooling the impact of actions by kind.
#: An action stored without a kind counts as "other".
ACTION_KINDS: dict[str, str] = {"lighting": "Lighting", "cctv": "CCTV", "licensing_review": "Licensing review", "makesafe_training": "Operation Makesafe training", "patrols": "Patrols", "pspo": "Public Space Protection Order", "other": "Other"}  # noqa: E501

#: How far to trust the information behind a finding.
RELIABILITY: dict[str, str] = {
    "high": "High: seen or confirmed by more than one source",
    "medium": "Medium: one credible source",
    "low": "Low: hearsay or not yet checked",
}

#: A finding's score: 0 is no concern, 3 a serious concern.
SCORES: dict[int, str] = {
    0: "0 - no concern",
    1: "1 - some concern",
    2: "2 - significant concern",
    3: "3 - serious concern",
}

#: The three sides of the contextual safeguarding triangle.
DOMAINS: dict[str, str] = {
    "young_people": "Young people's strengths and needs",
    "guardianship": "Guardianship",
    "environment": "Physical environment, resources and policy",
}


class ChecklistItem(NamedTuple):
    """One item of the place-assessment checklist: its domain, label and help text."""

    domain: str
    label: str
    help: str


#: The place-assessment checklist, item code -> (domain, label, help text).
#: The codes are those of the demo's findings (``data.demo.CHECKLIST``).
CHECKLIST: dict[str, ChecklistItem] = {
    "exploitation_indicators": ChecklistItem(
        "young_people",
        "Known exploitation indicators",
        "Signs of exploitation at the place, such as those Operation Makesafe lists: at hotels, "
        "young people checking in with older adults, rooms paid in cash, many visitors to one "
        "room; at takeaways, young people given free food, phones or lifts, or hanging around "
        "after closing; with taxis, young people taken to hotels or addresses out of area, "
        "fares paid by adults, frequent pick-ups from the same place.",
    ),
    "peer_groups": ChecklistItem(
        "young_people",
        "Peer groups gathering",
        "Which groups of young people use the place, when, and whether they come from "
        "elsewhere. Describe the groups, never a child.",
    ),
    "youth_provision": ChecklistItem(
        "young_people",
        "Youth provision",
        "Youth clubs, sports, detached youth work or safe spaces nearby, and when they run.",
    ),
    "staff_presence": ChecklistItem(
        "guardianship",
        "Staff and wardens present",
        "Capable adults with a caring intention: staff, wardens, security, park keepers; "
        "whether they know how to spot and report exploitation.",
    ),
    "community_views": ChecklistItem(
        "guardianship",
        "Residents and businesses",
        "What residents, traders and young people say about the place and whether they report "
        "concerns.",
    ),
    "cctv": ChecklistItem(
        "guardianship",
        "CCTV coverage and working",
        "Whether cameras cover the places where young people gather, work, and are monitored.",
    ),
    "lighting": ChecklistItem(
        "environment",
        "Lighting",
        "Lighting on paths, entrances and gathering spots after dark; faults.",
    ),
    "sightlines": ChecklistItem(
        "environment",
        "Sightlines and hiding places",
        "Blind corners, overgrowth, enclosed spaces or buildings that hide activity.",
    ),
    "maintenance": ChecklistItem(
        "environment",
        "Maintenance and litter",
        "Graffiti, damage, drug litter, broken fencing, how quickly it is cleared.",
    ),
    "access_routes": ChecklistItem(
        "environment",
        "Access routes",
        "Cut-throughs and ways in and out that are unseen, unlit or unmanaged.",
    ),
    "transport": ChecklistItem(
        "environment",
        "Transport and taxis",
        "Bus stops, stations, taxi ranks and private hire pick-ups: who arrives and when "
        "(Operation Makesafe indicators for taxis apply).",
    ),
    "licensing": ChecklistItem(
        "environment",
        "Licensing and opening hours",
        "Licence conditions, late opening, conditions about under-18s, hotel and takeaway "
        "checks (Operation Makesafe).",
    ),
}


def label(vocabulary: dict[str, str], code: str | None) -> str:
    """Return the label for a code, or the code itself when it has none.

    Examples
    --------
    >>> label(EXPLOITATION_TYPES, "cce")
    'Child criminal exploitation'
    >>> label(EXPLOITATION_TYPES, "other")
    'other'
    """
    if code is None:
        return "Not recorded"
    return vocabulary.get(code, code)
