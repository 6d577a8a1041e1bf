"""The meeting pack as a reader gets it: text as text in the PDF, and context kept apart.

A small demo is stored; its place names and one district's name are made hostile
(a markdown image, an HTML link, a spreadsheet formula). The PDF pack's text is
extracted (pypdf): each hostile name is there literally, and the PDF holds no link
annotation at all; the control writes the same text as a link with the same library
and shows the check finds it. The HTML pack escapes it.

police.uk context events (crime of all ages) are then stored beside the demo: the
pack shows them in their own section, titled and labelled with the source and "all
ages", perturbed for a steering group and exact for a lead, and the exploitation
figures are the same as before the context was stored.
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest
from fpdf import FPDF
from pypdf import PdfReader
from sqlalchemy import insert, text

from data.load import load_demo
from reports import pack
from reports.meeting import figures_for
from services.access import Viewer
from services.audience import Audience
from services.context import context_picture
from services.disclosure import disclose_counts
from store import queries
from store.db import connect, upgrade
from store.models import ContextEvent

TODAY = date(2026, 11, 22)
STAFFORD = "E07000197"
HOSTILE = (
    "![x](http://127.0.0.1:8699/x.png)",
    '<a href="http://127.0.0.1:8699/y">y</a>',
    '=HYPERLINK("http://127.0.0.1:8699/z","go")',
)
CRIMES = {"Burglary": 40, "Drugs": 3, "Shoplifting": 17, "Violence and sexual offences": 61}
INFO = pack.pack_context(
    filters="All",
    latest=date(2026, 10, 31),
    last_import=None,
    demo=True,
    approximate=True,
    audience="Steering group member",
    now=datetime(2026, 11, 2, 9, 30),
)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, area_cache):
    """A small demo whose place names and Stafford's name are hostile text."""
    engine = connect(f"sqlite:///{tmp_path_factory.mktemp('pack') / 'demo.db'}")
    upgrade(engine)
    load_demo(
        engine,
        today=TODAY,
        n_incidents=3_000,
        n_referrals=400,
        months=15,
        cache_dir=area_cache,
    )
    with engine.begin() as connection:
        for n, name in enumerate(HOSTILE):
            connection.execute(
                text("UPDATE places SET name = :name || ' ' || id WHERE id % 3 = :n"),
                {"name": name, "n": n},
            )
        connection.execute(
            text("UPDATE districts SET name = :name WHERE code = :code"),
            {"name": HOSTILE[2], "code": STAFFORD},
        )
    codes = tuple(queries.load_districts(engine)["code"])
    latest = pd.Period(queries.latest_event_date(engine), freq="M")
    yield engine, codes, str(latest - 2), str(latest)
    engine.dispose()


def _figures(engine, codes, first, last, *, suppressed=True):
    role = "viewer" if suppressed else "lead"
    return figures_for(
        engine, codes, first=first, last=last, today=TODAY,
        audience=Audience.for_role(role, codes), framework_months=2,
    )  # fmt: skip


def _flat(value: str) -> str:
    return "".join(value.split())


def link_targets(pdf: bytes) -> list[str]:
    """Return every link annotation's target in a PDF (URIs and other actions)."""
    found = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for ref in page.get("/Annots") or []:
            annotation = ref.get_object()
            if annotation.get("/Subtype") == "/Link":
                action = annotation.get("/A") or {}
                found.append(str(action.get("/URI", action.get("/S", "link"))))
    return found


def test_hostile_names_are_plain_text_in_the_pdf_and_never_links(hostile):
    engine, codes, first, last = hostile
    figures = _figures(engine, codes, first, last)
    deck = pack.slides(figures, queries.load_districts(engine))
    pdf = pack.pack_pdf(figures, INFO, deck)
    words = _flat("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))
    shown = [name for name in HOSTILE if _flat(name) in words]
    assert len(shown) == len(HOSTILE), f"only {shown} appear literally in the PDF"
    assert link_targets(pdf) == []
    assert b"/URI" not in pdf
    page = pack.pack_html(figures, INFO, deck)
    assert not re.search(r"<a[\s>]", page)  # no anchor: the tag is escaped, shown as text
    assert '&lt;a href="http://127.0.0.1:8699/y"&gt;y&lt;/a&gt;' in page
    assert "![x](http://127.0.0.1:8699/x.png)" in page  # escaped HTML: text, not an image
    assert not re.search(r"<img[^>]+127\.0\.0\.1", page)


def test_control_the_check_finds_a_link_in_a_pdf():
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="go", link="http://127.0.0.1:8699/z")
    targets = link_targets(bytes(pdf.output()))
    assert targets == ["http://127.0.0.1:8699/z"]


@pytest.fixture(scope="module")
def with_context(hostile):
    """The demo before and after police.uk context events are stored in Stafford."""
    engine, codes, first, last = hostile
    before = _figures(engine, codes, first, last)
    rng = np.random.default_rng(17)
    rows, n = [], 0
    for crime, many in CRIMES.items():
        for _ in range(many):
            n += 1
            rows.append(
                {
                    "source": "police.uk",
                    "source_ref": f"ctx{n:05d}",
                    "crime_type": crime,
                    "month": date.fromisoformat(f"{last}-01"),
                    "easting": 392_000.0 + 40 * (n % 50),
                    "northing": 323_000.0 + 40 * (n // 50),
                    "district_code": STAFFORD,
                    "record_key": int(rng.integers(0, 256)),
                    "created_by": "test",
                    "updated_by": "test",
                }
            )
    with engine.begin() as connection:
        connection.execute(insert(ContextEvent), rows)
    yield engine, codes, first, last, before
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM context_events"))


def _section(picture, figures, k=5):
    return pack.context_blocks(picture, period=figures.period, protected=figures.suppressed, k=k)


def test_context_is_its_own_section_perturbed_for_a_steering_group(with_context):
    engine, codes, first, last, before = with_context
    figures = _figures(engine, codes, first, last)
    # the exploitation figures do not move when context is stored
    assert [(f.key, f.value, f.previous) for f in figures.headline + figures.by_type] == [
        (f.key, f.value, f.previous) for f in before.headline + before.by_type
    ]
    month = date.fromisoformat(f"{last}-01")
    viewer = Viewer("viewer", "viewer", codes)
    picture = context_picture(engine, viewer, districts=codes, first=month, last=month)
    extra = {pack.CONTEXT_KEY: _section(picture, figures)}
    deck = pack.slides(figures, queries.load_districts(engine), extra=extra)
    assert deck[-1].key == pack.CONTEXT_KEY and "all ages" in deck[-1].title
    assert all(s.key != pack.CONTEXT_KEY for s in deck[:-1])  # nowhere among the measures

    page = pack.pack_html(figures, INFO, deck)
    section = page[page.index(pack.CONTEXT_TITLE) :]
    assert "Police-recorded crime, all ages (police.uk)" in section
    assert "Crime type (all ages, police.uk)" in section
    assert "perturbed" in section
    # perturbed as the cell key method says, from the stored keys; never 1 to 4
    with engine.connect() as connection:
        stored = pd.read_sql(text("SELECT crime_type, record_key FROM context_events"), connection)
    sums = stored.groupby("crime_type")["record_key"].agg(["size", "sum"])
    expected = disclose_counts(sums["size"].to_numpy(), sums["sum"].to_numpy())
    table = deck[-1].blocks[1][1].set_index("Crime type (all ages, police.uk)")["Crimes"]
    for crime, value in zip(sums.index, expected, strict=True):
        assert table[crime] == (value if isinstance(value, str) else f"{value:,}")
        assert table[crime] == "<5" or int(table[crime].replace(",", "")) >= 5
    assert "Drugs" in table.index and table["Drugs"] != "3"

    pdf = pack.pack_pdf(figures, INFO, deck)
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages]
    last_page = _flat(pages[-1])
    assert _flat(pack.CONTEXT_TITLE) in last_page
    assert _flat("Police-recorded crime, all ages (police.uk)") in last_page
    # and the exploitation slides say nothing of it
    assert not any("police.uk" in p for p in pages[1:-1])

    csv = pd.read_csv(io.BytesIO(pack.pack_csv(figures, None, extra)), dtype=str)
    rows = csv.loc[csv.iloc[:, 0] == "context"]
    drugs = rows.loc[rows.iloc[:, 1] == "Drugs: Crimes"]
    assert len(drugs) == 1 and drugs.iloc[0, 3] == table["Drugs"]


def test_a_lead_sees_exact_context_counts_in_the_pack(with_context):
    engine, codes, first, last, _ = with_context
    figures = _figures(engine, codes, first, last, suppressed=False)
    month = date.fromisoformat(f"{last}-01")
    lead = Viewer("lead", "lead", codes)
    picture = context_picture(engine, lead, districts=codes, first=month, last=month)
    blocks = _section(picture, figures)
    table = blocks[1][1].set_index("Crime type (all ages, police.uk)")["Crimes"]
    assert {c: table[c] for c in CRIMES} == {c: f"{n:,}" for c, n in CRIMES.items()}
    assert not any("perturbed" in line for line in blocks[0][1])
