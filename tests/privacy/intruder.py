"""A motivated intruder: collects what a non-lead is shown and tries to difference it.

The intruder knows the published perturbation table (``services/ptable.csv``), so each shown
count tells them an interval of true counts (:func:`services.disclosure.possible_counts`); with
the protection switched off (the control) a number is exact and ``"<k"`` means 0 to k-1.
They know that some shown counts are sums of others (a total and its parts, a period and
its months, a set of districts and its districts) and narrow every interval by those sums
until nothing changes. A true count is *recovered* when its interval shrinks to one value.

Counts of distinct people (the MACE links) do not add up over periods: a young person
seen in both halves of a period is counted once in the whole. For them the intruder knows
a *union*: the whole is at least its largest part and at most the sum of its parts, so a
part is at least the whole less the other parts (:meth:`Intruder.knows_union`).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from services.disclosure import possible_counts


@dataclass
class Intruder:
    """What the intruder has seen, the sums they know, and what the truth was (to score)."""

    k: int = 5
    protected: bool = True
    shown: dict[Hashable, int | str] = field(default_factory=dict)
    truth: dict[Hashable, int] = field(default_factory=dict)
    sums: list[tuple[Hashable, tuple[Hashable, ...]]] = field(default_factory=list)
    unions: list[tuple[Hashable, tuple[Hashable, ...]]] = field(default_factory=list)

    def see(self, cell: Hashable, shown: int | str, true: int) -> None:
        """Record a shown count of a cell (the same cell must always show the same)."""
        if isinstance(shown, str) and shown.replace(",", "").isdigit():
            shown = int(shown.replace(",", ""))
        if cell in self.shown and self.shown[cell] != shown:
            raise AssertionError(f"{cell} was shown as {self.shown[cell]} and as {shown}")
        self.shown[cell] = shown
        self.truth[cell] = int(true)

    def knows_sum(self, total: Hashable, parts: tuple[Hashable, ...]) -> None:
        """Record that ``total`` is the sum of ``parts`` (every one seen)."""
        if total in self.shown and all(p in self.shown for p in parts) and len(parts) > 1:
            self.sums.append((total, parts))

    def knows_union(self, total: Hashable, parts: tuple[Hashable, ...]) -> None:
        """Record that ``total`` counts the distinct members of ``parts`` together."""
        if total in self.shown and all(p in self.shown for p in parts) and len(parts) > 1:
            self.unions.append((total, parts))

    def _interval(self, shown: int | str) -> tuple[int, int]:
        if self.protected:
            values = possible_counts(shown, k=self.k)
            return values.start, values.stop - 1
        if shown == f"<{self.k}":
            return 0, self.k - 1
        return int(shown), int(shown)

    def attack(self, rounds: int = 50) -> dict[Hashable, tuple[int, int]]:
        """Narrow every seen cell's interval through the known sums; return the intervals."""
        bounds = {cell: self._interval(v) for cell, v in self.shown.items()}
        for _ in range(rounds):
            changed = False
            for total, parts in self.sums:
                lo_t, hi_t = bounds[total]
                lo_sum = sum(bounds[p][0] for p in parts)
                hi_sum = sum(bounds[p][1] for p in parts)
                new_t = (max(lo_t, lo_sum), min(hi_t, hi_sum))
                if new_t != bounds[total]:
                    bounds[total], changed = new_t, True
                for p in parts:
                    lo_p, hi_p = bounds[p]
                    others_lo = lo_sum - lo_p
                    others_hi = hi_sum - hi_p
                    new_p = (max(lo_p, new_t[0] - others_hi), min(hi_p, new_t[1] - others_lo))
                    if new_p != bounds[p]:
                        bounds[p], changed = new_p, True
            for total, parts in self.unions:
                lo_t, hi_t = bounds[total]
                new_t = (
                    max(lo_t, *(bounds[p][0] for p in parts)),
                    min(hi_t, sum(bounds[p][1] for p in parts)),
                )
                if new_t != bounds[total]:
                    bounds[total], changed = new_t, True
                hi_sum = sum(bounds[p][1] for p in parts)
                for p in parts:
                    lo_p, hi_p = bounds[p]
                    new_p = (max(lo_p, new_t[0] - (hi_sum - hi_p)), min(hi_p, new_t[1]))
                    if new_p != bounds[p]:
                        bounds[p], changed = new_p, True
            if not changed:
                break
        return bounds

    def score(self) -> dict[str, int]:
        """Return how many small and other counts were attacked and recovered exactly.

        ``tried_small``: cells with a true count from 1 to k-1 that take part in a known
        sum; ``recovered_small``: of those, the ones pinned to their true count.
        ``tried``/``recovered``: the same for every cell in a sum whose shown count is not
        simply its true count (hidden or perturbed).
        """
        bounds = self.attack()
        in_sums = {c for total, parts in self.sums + self.unions for c in (total, *parts)}
        out = dict.fromkeys(("tried_small", "recovered_small", "tried", "recovered"), 0)
        for cell in in_sums:
            true = self.truth[cell]
            pinned = bounds[cell] == (true, true)
            if bounds[cell][0] > true or bounds[cell][1] < true:
                raise AssertionError(f"the intruder's interval for {cell} misses the truth")
            if 0 < true < self.k:
                out["tried_small"] += 1
                out["recovered_small"] += int(pinned)
            if self.shown[cell] != true:
                out["tried"] += 1
                out["recovered"] += int(pinned)
        return out


def largest_perturbation(intruder: Intruder) -> int:
    """Return the largest difference between a shown number and its true count."""
    gaps = [
        abs(int(v) - intruder.truth[c]) for c, v in intruder.shown.items() if not isinstance(v, str)
    ]
    return max(gaps, default=0)
