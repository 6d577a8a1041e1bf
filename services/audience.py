"""Who will read a figure, reduced to what disclosure needs: the ``Audience``.

An ``Audience`` is built once per signed-in person (``Audience.of(viewer, k)``) and handed
to every read (``services.reads``). Two people who may see the same things have equal
audiences, so a cache keyed on it is shared between them. Pages never decide disclosure
themselves: they pass the audience and show what comes back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine

from services.access import AccessDenied, Viewer

__all__ = ["MIN_CELL_SIZE", "Audience", "audience_of", "threshold"]

MIN_CELL_SIZE = 250
"""The smallest hot-spot cell (metres) drawn for an audience without point access: finer
cells would line up with the 100 m squares that imports snap to and pin single incidents."""


@dataclass(frozen=True)
class Audience:
    """What a reader may be sent.

    Attributes
    ----------
    districts
        The ONS codes of the districts in scope.
    points
        True when single incident points (and pseudonymous links) may be sent.
    k
        The disclosure threshold: counts of 1 to k-1 read ``"<k"`` when not ``exact``.
    exact
        True when counts are shown exact; otherwise each is perturbed by the cell key
        method (``services.disclosure``), links need k young people, flags k incidents.
    min_cell_size
        The smallest hot-spot cell in metres (0: any).

    Examples
    --------
    >>> officer = Audience.of(Viewer("o", "officer", ("E07000197",)), k=5)
    >>> officer.exact, officer.points, officer.min_cell_size
    (False, False, 250)
    >>> Audience.of(Viewer("l", "lead", ("E07000197",)), k=5) == Audience.of(
    ...     Viewer("a", "admin", ("E07000197",)), k=5)
    True
    """

    districts: tuple[str, ...]
    points: bool
    k: int
    exact: bool
    min_cell_size: int

    @classmethod
    def of(cls, viewer: Viewer, k: int) -> Audience:
        """Return the audience of a signed-in person under the deployment's threshold k."""
        sees = viewer.sees_points
        return cls(
            districts=tuple(viewer.districts),
            points=sees,
            k=int(k),
            exact=sees,
            min_cell_size=0 if sees else MIN_CELL_SIZE,
        )

    @classmethod
    def for_role(cls, role: str, districts: tuple[str, ...], k: int = 5) -> Audience:
        """Return the audience of anyone with ``role`` over ``districts``.

        For the benchmarks and tests (a page builds its audience with :meth:`of`).
        """
        return cls.of(Viewer("", role, tuple(districts)), k)

    @classmethod
    def before_disclosure(cls, districts: tuple[str, ...]) -> Audience:
        """Return the audience of figures computed once and disclosed per reader afterwards.

        Exact counts over ``districts``: only for shared work that a read of the service
        then discloses for each audience (e.g. the impact of actions), never for a page.
        """
        return cls(tuple(districts), points=False, k=2, exact=True, min_cell_size=0)

    @property
    def viewer(self) -> Viewer:
        """Return an anonymous viewer with the same districts and point access.

        For the services that check a ``Viewer``'s scope; it holds no person.
        """
        return Viewer("", "lead" if self.points else "viewer", self.districts)

    def scope(self, wanted: Iterable[str] = ()) -> tuple[str, ...]:
        """Return the districts to read: those wanted that are in scope, or the whole scope.

        Raises
        ------
        services.access.AccessDenied
            When a district outside the scope is asked for by name.

        Examples
        --------
        >>> Audience(("E07000197",), False, 5, False, 250).scope(["E07000192"])
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        services.access.AccessDenied: You do not have access to district E07000192. ...
        """
        return self.viewer.scope(wanted)

    def cell_size(self, wanted: int) -> int:
        """Return the hot-spot cell size to use for a wanted one (at least the minimum)."""
        return max(int(wanted), self.min_cell_size)

    def require_points(self, what: str) -> None:
        """Raise ``AccessDenied`` unless single points may be sent."""
        if not self.points:
            raise AccessDenied(f"Your role may not see {what}; it sees aggregates only.")


def threshold(engine: Engine) -> int:
    """Return the deployment's disclosure threshold k (``services.disclosure.disclosure_k``)."""
    from services.disclosure import disclosure_k

    return disclosure_k(engine)


def audience_of(engine: Engine, viewer: Viewer) -> Audience:
    """Return the audience of a signed-in person under the deployment's stored k."""
    return Audience.of(viewer, threshold(engine))
