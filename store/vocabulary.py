"""The words the data use, and how the screens say them.

Codes are what is stored; labels are what people read.
"""

from __future__ import annotations

__all__ = [
    "AGENCIES",
    "AGE_BANDS",
    "ASSESSMENT_STATUSES",
    "EXPLOITATION_TYPES",
    "PLACE_CATEGORIES",
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
