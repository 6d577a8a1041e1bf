"""Differencing attacks on everything a non-lead is shown, through the real service layer.

A small demo is stored (SQLite, then PostgreSQL). Signed in as the demo officer (two
districts) and as a steering group viewer (all districts), the intruder reads the Meeting's
figures (headline totals and their previous and year-ago values, by type, the monthly
table) for every district set, every run of adjacent months and every all-but-one choice
of types, the Map's "Incidents in period" for the same choices, and the flag counts at
every place across adjacent periods. Every shown count joins a sum it belongs to; the
intruder narrows the intervals the published table allows (tests/privacy/intruder.py).

With the cell key method no true count from 1 to k-1 comes out exactly. The control runs
the same search with the perturbation switched off (small counts still shown as ``<5``,
the rule before): it recovers counts, so the search is able to find what it looks for.
"""

from __future__ import annotations

import itertools
from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import bindparam, delete, insert, select, update

from data.load import load_demo
from geo.grid import build_grid
from reports.meeting import meeting_figures, read_inputs
from services.access import Viewer
from services.audience import Audience
from services.disclosure import unprotected
from services.reads import MapSettings, flagged_places, period_totals
from store import queries
from store.db import connect, upgrade
from store.models import Incident, Referral
from store.sites import flag_sites, read_sites, sites_in
from store.vocabulary import EXPLOITATION_TYPES
from tests.conftest import _empty
from tests.privacy.intruder import Intruder

K = 5
TODAY = date(2026, 11, 22)
TYPES = tuple(EXPLOITATION_TYPES)
LABELS = {v: c for c, v in EXPLOITATION_TYPES.items()}
OFFICER_DISTRICTS = ("E07000192", "E07000197")  # Cannock Chase and Stafford, as the demo's


@pytest.fixture(
    scope="module",
    # The search is arithmetic on what the service layer returns: on PostgreSQL it runs in CI
    # (slow), beside the local loop's other PostgreSQL tests of the same reads.
    params=["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.slow])],
)
def demo(request, tmp_path_factory):
    if request.param == "sqlite":
        engine = connect(f"sqlite:///{tmp_path_factory.mktemp('privacy') / 'demo.db'}")
        upgrade(engine)
    else:
        engine = request.getfixturevalue("pg_engine")
        _empty(engine)
    load_demo(
        engine,
        today=TODAY,
        n_incidents=4_000,
        n_referrals=600,
        months=15,
        cache_dir=request.getfixturevalue("area_cache"),
    )
    _fixed_keys(engine)
    codes = tuple(queries.load_districts(engine)["code"])
    yield engine, codes
    if request.param == "sqlite":
        engine.dispose()


KEY_SEED = 15


def _fixed_keys(engine) -> None:
    """Give every record a key from a fixed draw, so that the search is the same every run.

    Imports draw keys from the operating system (``secrets``); the guarantee tested here
    is about what the published table lets an intruder do with the numbers shown, for
    one draw of keys. ``benchmarks/bench_intruder.py`` repeats the search over fresh draws.
    """
    rng = np.random.default_rng(KEY_SEED)
    with engine.begin() as connection:
        for model in (Incident, Referral):
            ids = connection.scalars(select(model.id).order_by(model.id)).all()
            keys = rng.integers(0, 256, size=len(ids))
            connection.execute(
                update(model)
                .where(model.id == bindparam("row_id"))
                .values(record_key=bindparam("new_key")),
                [{"row_id": i, "new_key": int(k)} for i, k in zip(ids, keys, strict=True)],
            )


def _types(chosen: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(chosen or TYPES))


def _months(last: str, n: int) -> list[str]:
    end = pd.Period(last, freq="M")
    return [str(end - i) for i in range(n - 1, -1, -1)]


def collect(
    engine, viewer: Viewer, district_sets, *, intruder: Intruder, by_type: tuple = ()
) -> None:
    """Read the Meeting, the Map's totals and the flags as ``viewer``; feed the intruder.

    Every run of adjacent months in the last quarter, for each district set; the
    all-but-one type choices for the quarter in the district sets ``by_type``.
    """
    latest = pd.Period(queries.latest_event_date(engine), freq="M")
    months = _months(str(latest), 3)
    runs = [(months[i], months[j]) for i in range(3) for j in range(i, 3)]
    outlines = queries.load_districts(engine)
    names = dict(zip(outlines["code"], outlines["name"], strict=True))
    for districts in district_sets:
        scope = viewer.scope(districts)  # refuses a district outside the viewer's scope
        grid = build_grid(outlines.loc[outlines["code"].isin(scope)], cell_size=2000)
        inputs = read_inputs(
            engine, scope, grid=grid, district_names=names, audience=Audience.of(viewer, K)
        )
        exact = {kind: read_sites(engine, scope, kind=kind) for kind in ("incidents", "referrals")}
        # the true counts by kind, month and type, summed once (a few hundred rows, read
        # thousands of times: plain arrays)
        sums = {}
        for kind, sites in exact.items():
            by = sites.groupby(["month", "category"], observed=True)["n"].sum().reset_index()
            sums[kind] = tuple(by[c].to_numpy(dtype=str if c != "n" else int) for c in by)

        def true(
            kind: str, types: tuple[str, ...], first: str, last: str, sums: dict = sums
        ) -> int:
            month, category, n = sums[kind]
            keep = (month >= first) & (month <= last)
            if types:
                keep &= np.isin(category, types)
            return int(n[keep].sum())

        key = tuple(sorted(scope))
        choices = [()] + [tuple(t for t in TYPES if t != left) for left in TYPES]
        for (first, last), types in itertools.product(runs, choices):
            if types and ((first, last) != (months[0], months[-1]) or districts not in by_type):
                continue  # all-but-one type: the quarter only (enough to difference)
            figures = meeting_figures(
                inputs,
                first=first,
                last=last,
                types=types,
                today=TODAY,
                audience=Audience.of(viewer, K),
                framework_months=2,
            )
            length = len(pd.period_range(first, last, freq="M"))
            before = (
                str(pd.Period(first, freq="M") - length),
                str(pd.Period(first, freq="M") - 1),
            )
            year = (str(pd.Period(first, freq="M") - 12), str(pd.Period(last, freq="M") - 12))
            for figure in figures.headline[:2]:
                kind = figure.key
                for (a, b), value in (
                    ((first, last), figure.value),
                    (before, figure.previous),
                    (year, figure.year_ago),
                ):
                    if value != "n/a":
                        cell = (kind, key, _types(types), a, b)
                        intruder.see(cell, value, true(kind, types, a, b))
            for figure in figures.by_type:
                kind, code = figure.key.split(":")
                for (a, b), value in (
                    ((first, last), figure.value),
                    (before, figure.previous),
                    (year, figure.year_ago),
                ):
                    if value != "n/a":
                        intruder.see((kind, key, (code,), a, b), value, true(kind, (code,), a, b))
            for row in figures.monthly.to_dict("records"):
                m = row["month"]
                for column, value in row.items():
                    if column == "month":
                        continue
                    if column in ("incidents", "referrals"):
                        kind, chosen = column, _types(types)
                    else:
                        kind, chosen = "incidents", (LABELS[column],)
                    intruder.see((kind, key, chosen, m, m), value, true(kind, chosen, m, m))
            for row in figures.framework.to_dict("records"):
                m = row["month"]
                for kind in ("incidents", "referrals"):
                    cell = (kind, key, _types(types), m, m)
                    intruder.see(cell, row[kind], true(kind, types, m, m))
            # The Map's "Incidents in period" for the same choice: the same records.
            chosen_sites = sites_in(exact["incidents"], types=types, first=first, last=last)
            shown = period_totals(chosen_sites, audience=Audience.of(viewer, K))["total"]
            intruder.see(
                ("incidents", key, _types(types), first, last),
                shown,
                true("incidents", types, first, last),
            )
        # Flag counts at each place, across adjacent periods (the Map's flagged places).
        settings = MapSettings(min_incidents=K)
        places = inputs.places
        for first, last in runs:
            shown = flagged_places(
                places,
                exact["incidents"],
                grid,
                first=first,
                last=last,
                settings=settings,
                audience=Audience.of(viewer, K),
            )
            truth = flag_sites(
                places,
                exact["incidents"],
                grid,
                first=first,
                last=last,
                radius=float(settings.radius),
                min_incidents=K,
            ).set_index("id")["incidents"]
            for place, value in zip(shown["id"], shown["incidents"], strict=True):
                intruder.see(("flag", place, first, last), value, int(truth[place]))


def add_sums(intruder: Intruder) -> None:
    """Every sum the intruder knows among the cells seen: periods, districts and types."""
    cells = list(intruder.shown)
    by_rest: dict[tuple, list] = {}
    for cell in cells:
        by_rest.setdefault((cell[0],), []).append(cell)
    seen = set(cells)
    for cell in cells:
        if cell[0] == "flag":
            _, place, first, last = cell
            for split in _months_between(first, last)[:-1]:
                after = str(pd.Period(split, freq="M") + 1)
                intruder.knows_sum(
                    cell, (("flag", place, first, split), ("flag", place, after, last))
                )
            continue
        kind, districts, types, first, last = cell
        for split in _months_between(first, last)[:-1]:  # adjacent periods
            after = str(pd.Period(split, freq="M") + 1)
            intruder.knows_sum(
                cell,
                ((kind, districts, types, first, split), (kind, districts, types, after, last)),
            )
        for n in range(1, len(districts)):  # a district set and its parts
            for part in itertools.combinations(districts, n):
                rest = tuple(d for d in districts if d not in part)
                a, b = (kind, part, types, first, last), (kind, rest, types, first, last)
                if a in seen and b in seen:
                    intruder.knows_sum(cell, (a, b))
        if len(types) > 1:  # all-but-one type, and types one by one
            singles = tuple((kind, districts, (t,), first, last) for t in types)
            intruder.knows_sum(cell, singles)
            for t in types:
                rest = tuple(x for x in types if x != t)
                intruder.knows_sum(
                    cell, ((kind, districts, rest, first, last), singles[types.index(t)])
                )


def _months_between(first: str, last: str) -> list[str]:
    return [str(p) for p in pd.period_range(first, last, freq="M")]


def plan(codes: tuple[str, ...]) -> dict[str, tuple]:
    """Return, per role, the viewer, their district sets and the sets read type by type."""
    officer = Viewer("officer", "officer", OFFICER_DISTRICTS)
    steering = Viewer("viewer", "viewer", codes)
    x, y, z = [c for c in sorted(codes) if c not in OFFICER_DISTRICTS][:3]
    return {
        "officer": (
            officer,
            [(d,) for d in OFFICER_DISTRICTS] + [OFFICER_DISTRICTS],
            tuple((d,) for d in OFFICER_DISTRICTS),
        ),
        "viewer": (steering, [(x,), (y,), (z,), (x, y), (y, z)], ((x,),)),  # overlapping
    }


def run(engine, codes, *, protected: bool, roles=("officer", "viewer")) -> dict[str, dict]:
    """Return the intruder's score as the officer and as the viewer."""
    scores = {}
    for name in roles:
        viewer, sets, by_type = plan(codes)[name]
        intruder = Intruder(k=K, protected=protected)
        collect(engine, viewer, sets, intruder=intruder, by_type=by_type)
        add_sums(intruder)
        scores[name] = intruder.score()
    return scores


@pytest.fixture(scope="module")
def protected_scores(demo):
    return run(*demo, protected=True)


@pytest.fixture(scope="module")
def control_scores(demo):
    with unprotected():
        return run(*demo, protected=False, roles=("officer",))


@pytest.mark.parametrize("role", ["officer", "viewer"])
def test_no_small_count_can_be_worked_out(protected_scores, role):
    score = protected_scores[role]
    print(role, score)
    assert score["tried_small"] > 20  # the search did attack small counts
    assert score["recovered_small"] == 0
    assert score["recovered"] == 0


def test_control_the_same_search_finds_small_counts_without_perturbation(control_scores):
    score = control_scores["officer"]
    role = "officer"
    print(role, "control", score)
    assert score["recovered_small"] > 0


def test_the_demo_has_only_known_types(demo):
    engine, codes = demo
    categories = set(read_sites(engine, codes)["category"])
    assert categories <= set(TYPES)  # so "all types" is the sum of the types one by one


def test_leads_see_exact_counts(demo):
    engine, codes = demo
    latest = pd.Period(queries.latest_event_date(engine), freq="M")
    outlines = queries.load_districts(engine)
    names = dict(zip(outlines["code"], outlines["name"], strict=True))
    grid = build_grid(outlines, cell_size=2000)
    inputs = read_inputs(
        engine, codes, grid=grid, district_names=names, audience=Audience.for_role("lead", codes)
    )
    figures = meeting_figures(
        inputs,
        first=str(latest - 2),
        last=str(latest),
        today=TODAY,
        audience=Audience.for_role("lead", codes, K),
        framework_months=0,
    )
    window = queries.EventFilter(start=(latest - 2).start_time.date(), end=latest.end_time.date())
    stored = len(queries.load_events(engine, window, columns=("id",)))
    assert figures.headline[0].value == f"{stored:,}"
    by_type = {f.key: f.value for f in figures.by_type}
    for code in TYPES:
        n = len(
            queries.load_events(
                engine,
                queries.EventFilter(start=window.start, end=window.end, categories=(code,)),
                columns=("id",),
            )
        )
        assert by_type[f"incidents:{code}"] == f"{n:,}"
    lead = Viewer("lead", "lead", codes)
    sites = sites_in(read_sites(engine, codes), first=str(latest - 2), last=str(latest))
    assert period_totals(sites, audience=Audience.of(lead, K))["total"] == stored


def test_the_same_records_show_the_same_count_every_time(demo):
    engine, codes = demo
    viewer = Viewer("viewer", "viewer", codes)
    latest = pd.Period(queries.latest_event_date(engine), freq="M")
    outlines = queries.load_districts(engine)
    names = dict(zip(outlines["code"], outlines["name"], strict=True))
    grid = build_grid(outlines, cell_size=2000)
    shown = []
    for _ in range(2):  # read again from the database: the same records, the same noise
        inputs = read_inputs(
            engine, codes, grid=grid, district_names=names, audience=Audience.of(viewer, K)
        )
        this = meeting_figures(
            inputs,
            first=str(latest - 2),
            last=str(latest),
            today=TODAY,
            audience=Audience.of(viewer, K),
            framework_months=0,
        )
        shown.append([(f.value, f.previous, f.year_ago) for f in this.headline + this.by_type])
        # the quarter before, asked for itself, shows what "previous" showed
        earlier = meeting_figures(
            inputs,
            first=str(latest - 5),
            last=str(latest - 3),
            today=TODAY,
            audience=Audience.of(viewer, K),
            framework_months=0,
        )
        assert earlier.headline[0].value == this.headline[0].previous
        sites = sites_in(read_sites(engine, codes), first=str(latest - 2), last=str(latest))
        map_total = period_totals(sites, audience=Audience.of(viewer, K))["total"]
        assert f"{map_total:,}" == this.headline[0].value  # the Map agrees with the Meeting
    assert shown[0] == shown[1]
    # and the noise is there: some shown count differs from the lead's
    lead = meeting_figures(
        inputs,
        first=str(latest - 2),
        last=str(latest),
        today=TODAY,
        audience=Audience.for_role("lead", codes, K),
        framework_months=0,
    )
    exact = [(f.value, f.previous, f.year_ago) for f in lead.headline[:2] + lead.by_type]
    perturbed = [(f.value, f.previous, f.year_ago) for f in this.headline[:2] + this.by_type]
    assert exact != perturbed


def test_shown_counts_are_never_small_and_move_at_most_d(demo):
    engine, codes = demo
    viewer = Viewer("viewer", "viewer", codes)
    sites = read_sites(engine, codes)
    cells = sites.groupby(["month", "category"])[["n", "key"]].sum().reset_index()
    from services.disclosure import D_MAX, disclose_counts

    shown = disclose_counts(cells["n"].to_numpy(), cells["key"].to_numpy(), k=K)
    for true, value in zip(cells["n"], shown, strict=True):
        if isinstance(value, str):
            assert value == "<5" and 0 < true < K
        else:
            assert not 0 < value < K
            assert abs(value - true) <= D_MAX
    assert viewer.sees_points is False
    assert np.mean([isinstance(v, str) for v in shown]) < 0.5


# Context counts (police.uk, all ages) and the MACE links ----------------------------------

CRIME_TYPES = ("Anti-social behaviour", "Burglary", "Drugs", "Shoplifting", "Vehicle crime")
CRIME_RATES = (0.7, 2.0, 4.0, 9.0, 25.0)  # events a month in each district: many small counts


@pytest.fixture(scope="module")
def context_demo(demo):
    """The demo with police.uk context events in every district for its last quarter."""
    from store.models import ContextEvent

    engine, codes = demo
    latest = pd.Period(queries.latest_event_date(engine), freq="M")
    rng = np.random.default_rng(KEY_SEED + 2)
    rows = []
    for district in codes:
        for month in _months(str(latest), 3):
            for crime, rate in zip(CRIME_TYPES, CRIME_RATES, strict=True):
                for i in range(int(rng.poisson(rate))):
                    rows.append(
                        {
                            "source": "police.uk",
                            "source_ref": f"ctx-{district}-{month}-{crime}-{i}",
                            "crime_type": crime,
                            "month": date.fromisoformat(f"{month}-01"),
                            "easting": None,
                            "northing": None,
                            "district_code": district,
                            "record_key": int(rng.integers(0, 256)),
                        }
                    )
    with engine.begin() as connection:
        connection.execute(insert(ContextEvent), rows)
    yield engine, codes
    with engine.begin() as connection:
        connection.execute(delete(ContextEvent))


def collect_context(engine, viewer, district_sets, *, intruder, by_type=()) -> None:
    """Read the context counts (by crime type and in total) for every choice; feed the intruder.

    Every run of adjacent months in the last quarter for each district set, and the
    all-but-one crime type choices for the quarter in the district sets ``by_type``. A crime
    type missing from a table is seen as 0 (the intruder knows it has no event).
    """
    from services.context import context_picture
    from store.models import ContextEvent

    latest = pd.Period(queries.latest_event_date(engine), freq="M")
    months = _months(str(latest), 3)
    runs = [(months[i], months[j]) for i in range(3) for j in range(i, 3)]
    with engine.connect() as connection:
        stored = pd.DataFrame(
            connection.execute(
                select(ContextEvent.district_code, ContextEvent.month, ContextEvent.crime_type)
            ).all(),
            columns=["district", "month", "crime_type"],
        )
    stored["month"] = pd.to_datetime(stored["month"]).dt.strftime("%Y-%m")

    def true(scope, types, first, last) -> int:
        chosen = stored["district"].isin(scope) & stored["crime_type"].isin(types)
        chosen &= (stored["month"] >= first) & (stored["month"] <= last)
        return int(chosen.sum())

    for districts in district_sets:
        scope = viewer.scope(districts)
        key = tuple(sorted(scope))
        choices = [()] + [tuple(t for t in CRIME_TYPES if t != left) for left in CRIME_TYPES]
        for (first, last), types in itertools.product(runs, choices):
            if types and ((first, last) != (months[0], months[-1]) or districts not in by_type):
                continue
            chosen = tuple(sorted(types or CRIME_TYPES))
            picture = context_picture(
                engine,
                viewer,
                districts=scope,
                first=date.fromisoformat(f"{first}-01"),
                last=date.fromisoformat(f"{last}-01"),
                types=types,
                k=K,
            )
            shown = dict(zip(picture.by_type["crime_type"], picture.by_type["events"], strict=True))
            assert shown["All types"] == picture.total  # one cell, one shown count
            for crime in chosen:
                cell = ("context", key, (crime,), first, last)
                intruder.see(cell, shown.get(crime, 0), true(scope, (crime,), first, last))
            cell = ("context", key, chosen, first, last)
            intruder.see(cell, shown["All types"], true(scope, chosen, first, last))


def collect_links(engine, viewer, codes, *, intruder) -> None:
    """Read the MACE links for every run of adjacent months; feed the intruder.

    A link that the viewer saw in one period and not in another is seen as ``"<k"`` there
    (its young people were under k). The whole of a period is the union of its halves.
    """
    from services.links import links_for

    latest = pd.Period(queries.latest_event_date(engine), freq="M")
    months = _months(str(latest), 4)
    runs = [(months[i], months[j]) for i in range(4) for j in range(i, 4)]
    lead = Viewer("lead", "lead", codes)
    views, truth = {}, {}
    for first, last in runs:
        view = links_for(engine, viewer, since=first, until=last, k=K)
        exact = links_for(engine, lead, since=first, until=last, k=K)
        truth[first, last] = {
            (a, b): (int(y), int(p))
            for a, b, y, p in exact.links[
                ["place_a", "place_b", "young_people", "persons_of_concern"]
            ].itertuples(index=False)
        }
        views[first, last] = view.links
    pairs = {
        (a, b)
        for links in views.values()
        for a, b in zip(links["place_a"], links["place_b"], strict=True)
    }
    for (first, last), links in views.items():
        seen = {
            (a, b): (y, p)
            for a, b, y, p in links[
                ["place_a", "place_b", "young_people", "persons_of_concern"]
            ].itertuples(index=False)
        }
        for pair in pairs:
            young, concern = truth[first, last].get(pair, (0, 0))
            if pair in seen:
                intruder.see(("link", *pair, first, last), seen[pair][0], young)
                intruder.see(("concern", *pair, first, last), seen[pair][1], concern)
            else:
                intruder.see(("link", *pair, first, last), f"<{K}", young)
    for cell in list(intruder.shown):
        kind, a, b, first, last = cell
        for split in _months_between(first, last)[:-1]:
            after = str(pd.Period(split, freq="M") + 1)
            intruder.knows_union(cell, ((kind, a, b, first, split), (kind, a, b, after, last)))


def run_context_and_links(engine, codes, *, protected: bool) -> dict[str, dict]:
    """Return the intruder's score on context counts and on links, as officer and viewer."""
    scores = {}
    for name in ("officer", "viewer"):
        viewer, sets, by_type = plan(codes)[name]
        intruder = Intruder(k=K, protected=protected)
        collect_context(engine, viewer, sets, intruder=intruder, by_type=by_type)
        add_sums(intruder)
        scores[f"{name} context"] = intruder.score()
        intruder = Intruder(k=K, protected=protected)
        collect_links(engine, viewer, codes, intruder=intruder)
        scores[f"{name} links"] = intruder.score()
    return scores


@pytest.fixture(scope="module")
def context_scores(context_demo):
    return run_context_and_links(*context_demo, protected=True)


@pytest.fixture(scope="module")
def context_control_scores(context_demo):
    with unprotected():
        return run_context_and_links(*context_demo, protected=False)


@pytest.mark.parametrize("role", ["officer", "viewer"])
@pytest.mark.parametrize("what", ["context", "links"])
def test_no_small_context_or_link_count_can_be_worked_out(context_scores, role, what):
    score = context_scores[f"{role} {what}"]
    print(role, what, score)
    assert score["tried"] > 0  # the search did attack perturbed counts
    assert score["recovered_small"] == 0
    assert score["recovered"] == 0


def test_control_the_same_search_finds_context_counts_without_perturbation(
    context_control_scores,
):
    print("control", context_control_scores)
    for role in ("officer", "viewer"):
        assert context_control_scores[f"{role} context"]["recovered_small"] > 0


def test_control_the_union_search_pins_a_small_count_of_people_when_exact():
    """The links' search can find a count: exact halves of a period give the small half away.

    9 young people over two months, 5 of them in the first, the second not shown (under k):
    at least 9 - 5 = 4 in the second, and under 5, so exactly 4. Perturbed, the same
    search does not pin it.
    """
    from services.disclosure import disclose

    exact = Intruder(k=K, protected=False)
    exact.see("whole", 9, 9)
    exact.see("first", 5, 5)
    exact.see("second", f"<{K}", 4)
    exact.knows_union("whole", ("first", "second"))
    assert exact.score()["recovered_small"] == 1
    pinned = 0
    for key in range(0, 256, 7):  # over many cell keys of the two shown counts
        noisy = Intruder(k=K, protected=True)
        noisy.see("whole", disclose(9, key, k=K), 9)
        noisy.see("first", disclose(5, 3 * key + 1, k=K), 5)
        noisy.see("second", f"<{K}", 4)
        noisy.knows_union("whole", ("first", "second"))
        pinned += noisy.score()["recovered_small"]
    assert pinned == 0
