"""Realistic fake extracts full of identifiers (all invented), for the privacy tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from data.demo import DEFAULT_AREA
from geo.postcodes import load_postcode_directory

FIRST = ["Amelia", "Oliver", "Isla", "Jack", "Freya", "Harry", "Poppy", "Alfie", "Evie", "Theo"]
LAST = ["Whitcombe", "Ashdown", "Pennington", "Hargreaves", "Blackwood", "Fairbairn", "Oakes"]
STREETS = ["Lichfield Road", "Wolverhampton Road", "Station Street", "Mill Lane", "Park Avenue"]


def nhs_number(rng: np.random.Generator) -> str:
    """Return a valid-looking NHS number (modulus 11) in the 999 test range."""
    while True:
        digits = [9, 9, 9, *rng.integers(0, 10, 6).tolist()]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            text = "".join(map(str, [*digits, check]))
            return f"{text[:3]} {text[3:6]} {text[6:]}"


@dataclass
class Extract:
    """A fake extract and every identifying value in it."""

    frame: pd.DataFrame
    identifiers: dict[str, list[str]] = field(default_factory=dict)
    raw_coordinates: list[str] = field(default_factory=list)


def social_care_extract(rows: int = 60, *, seed: int = 3) -> Extract:
    """A children's social care referral extract with child identifiers in it."""
    rng = np.random.default_rng(seed)
    directory = load_postcode_directory(DEFAULT_AREA)
    picks = directory.sample(rows, random_state=seed).reset_index(drop=True)
    homes = directory.sample(rows, random_state=seed + 1).reset_index(drop=True)
    children = rng.integers(0, rows // 3, rows)  # children referred more than once
    dates = pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.integers(0, 300, rows), unit="D")
    ages = rng.integers(11, 18, rows)
    dob = dates - pd.to_timedelta(ages * 365 + rng.integers(1, 300, rows), unit="D")
    names = [f"{FIRST[c % len(FIRST)]} {LAST[(c * 3) % len(LAST)]}-{c}" for c in children]
    nhs = {c: nhs_number(rng) for c in set(children.tolist())}
    frame = pd.DataFrame(
        {
            "Child ID": [f"LCS{100000 + c}" for c in children],
            "Referral Ref": [f"REF-{2024}-{i:05d}" for i in range(rows)],
            "Child Name": names,
            "DOB": dob.strftime("%d/%m/%Y"),
            "NHS No": [nhs[c] for c in children],
            "Home Address": [
                f"{rng.integers(2, 300)} {STREETS[i % len(STREETS)]}" for i in range(rows)
            ],
            "Home Postcode": homes["postcode"].str.replace(r"\s+", " ", regex=True).to_numpy(),
            "Carer phone": [f"07700 9{rng.integers(10000, 99999)}" for _ in range(rows)],
            "Referral Date": dates.strftime("%d/%m/%Y"),
            "Concern": rng.choice(["CCE", "CSE", "Missing from home", "County lines"], rows),
            "Route": rng.choice(["RFM", "MACE", "Early help"], rows),
            "RFM Risk": rng.choice(["Low", "Medium", "High"], rows),
            "Outcome": rng.choice(["NFA", "Strategy meeting", "Mum very worried about him"], rows),
            "Location postcode": picks["postcode"].to_numpy(),
            "Social worker notes": [
                f"{names[i]} was seen near the bus station with older males" for i in range(rows)
            ],
        }
    )
    identifiers = {
        "names": sorted(set(names)),
        "child ids": sorted(set(frame["Child ID"])),
        "references": sorted(set(frame["Referral Ref"])),
        "dates of birth": sorted(set(frame["DOB"])) + sorted(set(dob.strftime("%Y-%m-%d"))),
        "NHS numbers": sorted(set(frame["NHS No"])) + [n.replace(" ", "") for n in nhs.values()],
        "addresses": sorted(set(frame["Home Address"])),
        "home postcodes": sorted(set(frame["Home Postcode"])),
        "phone numbers": sorted(set(frame["Carer phone"])),
        "notes": ["Mum very worried", "older males", "bus station"],
    }
    raw = [f"{e:.1f}" for e in np.r_[picks["easting"].to_numpy(), homes["easting"].to_numpy()]] + [
        f"{n:.1f}" for n in np.r_[picks["northing"].to_numpy(), homes["northing"].to_numpy()]
    ]
    return Extract(frame, identifiers, raw)


def police_extract(rows: int = 60, *, seed: int = 4) -> Extract:
    """A police incident export with victims' details and exact coordinates."""
    rng = np.random.default_rng(seed)
    directory = load_postcode_directory(DEFAULT_AREA)
    at = directory.sample(rows, random_state=seed).reset_index(drop=True)
    east = at["easting"].to_numpy() + rng.uniform(-40, 40, rows).round(1)
    north = at["northing"].to_numpy() + rng.uniform(-40, 40, rows).round(1)
    names = [f"{FIRST[i % len(FIRST)]} {LAST[(i * 5) % len(LAST)]}{i}" for i in range(rows)]
    frame = pd.DataFrame(
        {
            "Occurrence Number": [f"40/{123000 + i}/24" for i in range(rows)],
            "Date": (
                pd.Timestamp("2024-05-01") + pd.to_timedelta(rng.integers(0, 200, rows), unit="D")
            ).strftime("%Y-%m-%d"),
            "Exploitation Type": rng.choice(["cce", "cse", "county_lines"], rows),
            "Easting": east,
            "Northing": north,
            "Victim forename": [n.split()[0] for n in names],
            "Victim surname": [n.split()[1] for n in names],
            "Victim DOB": (
                pd.Timestamp("2009-01-01") + pd.to_timedelta(rng.integers(0, 1500, rows), unit="D")
            ).strftime("%d/%m/%Y"),
            "Contact": [f"0117 496 {rng.integers(1000, 9999)}" for _ in range(rows)],
            "Field 7": [nhs_number(rng) for _ in range(rows)],
        }
    )
    identifiers = {
        "surnames": sorted(set(frame["Victim surname"])),
        "references": sorted(set(frame["Occurrence Number"])),
        "dates of birth": sorted(set(frame["Victim DOB"])),
        "phone numbers": sorted(set(frame["Contact"])),
        "NHS numbers": sorted(set(frame["Field 7"])),
    }
    raw = [f"{v:.1f}" for v in np.r_[east, north]] + [repr(float(v)) for v in np.r_[east, north]]
    return Extract(frame, identifiers, raw)


def write_extract(extract: Extract, path: Path) -> Path:
    if path.suffix == ".xlsx":
        extract.frame.to_excel(path, index=False, sheet_name="Referrals")
    else:
        extract.frame.to_csv(path, index=False)
    return path
