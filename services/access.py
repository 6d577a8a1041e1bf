"""Who is looking: a viewer's role and districts, and what that lets them see and do.

Every service function that reads or writes data takes a ``Viewer`` and
enforces this, so that hiding a button is never the only protection.

| role | sees | may change |
| --- | --- | --- |
| lead | every district, incident points | approves or returns assessments |
| officer | their districts, aggregates only | assessments and actions in their districts |
| viewer | their districts (all by default), aggregates only | nothing |
| admin | everything, import reports, the audit log | imports, users, boundaries, settings |
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ROLES", "AccessDenied", "Viewer"]

ROLES: dict[str, str] = {
    "lead": "Safeguarding lead",
    "officer": "District or borough council officer",
    "viewer": "Steering group member",
    "admin": "Data officer or administrator",
}


class AccessDenied(PermissionError):  # noqa: N818 (reads better on screen than AccessDeniedError)
    """The viewer may not see or change this; the message says why, for the screen."""


@dataclass(frozen=True)
class Viewer:
    """A signed-in person as the data layer sees them.

    ``districts`` are the ONS codes in the viewer's scope; for leads and admins
    it is every district of the deployment.
    """

    username: str
    role: str
    districts: tuple[str, ...]
    organisation: str | None = None
    display_name: str | None = None

    def __post_init__(self) -> None:
        """Refuse a role that does not exist."""
        if self.role not in ROLES:
            raise AccessDenied(f"The role '{self.role}' is not one of {', '.join(ROLES)}.")

    def for_cache(self) -> Viewer:
        """Return the viewer reduced to what decides what they see: districts and point access.

        Two people who may see the same data get equal values, so a cache keyed on it is
        shared between them instead of holding one copy per person.

        Examples
        --------
        >>> a = Viewer("ann", "lead", ("E07000197",))
        >>> a.for_cache() == Viewer("bob", "admin", ("E07000197",)).for_cache()
        True
        >>> a.for_cache() == Viewer("cat", "officer", ("E07000197",)).for_cache()
        False
        """
        return Viewer("", "lead" if self.sees_points else "viewer", self.districts)

    @property
    def sees_points(self) -> bool:
        """Return True when the viewer may see single incident points and exact small counts."""
        return self.role in ("lead", "admin")

    @property
    def may_edit_assessments(self) -> bool:
        """Return True when the viewer may record assessments and actions."""
        return self.role in ("officer", "lead", "admin")

    @property
    def may_approve(self) -> bool:
        """Return True when the viewer may approve or return submitted assessments."""
        return self.role == "lead"

    @property
    def is_admin(self) -> bool:
        """Return True for data officers and administrators."""
        return self.role == "admin"

    def may_see(self, district_code: str | None) -> bool:
        """Return True when a district is in the viewer's scope."""
        return district_code in self.districts

    def scope(self, wanted: Iterable[str] = ()) -> tuple[str, ...]:
        """Return the districts to read: those wanted that are in scope, or the whole scope.

        Raises
        ------
        AccessDenied
            When districts outside the scope are asked for by name.

        Examples
        --------
        >>> officer = Viewer("o", "officer", ("E07000197",))
        >>> officer.scope()
        ('E07000197',)
        >>> officer.scope(["E07000192"])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        services.access.AccessDenied: You do not have access to district E07000192. ...
        """
        wanted = tuple(wanted)
        outside = [code for code in wanted if code not in self.districts]
        if outside:
            raise AccessDenied(
                f"You do not have access to district {', '.join(outside)}. "
                "Ask your administrator if you need it."
            )
        return wanted or self.districts

    def require(self, allowed: bool, what: str) -> None:
        """Raise ``AccessDenied`` saying what the viewer may not do, unless allowed."""
        if not allowed:
            raise AccessDenied(f"Your role ({ROLES[self.role]}) may not {what}.")
