"""Conclusions as data: every qualitative statement a report makes, computed from metrics, with the numbers behind it.

A report builds `Statement`s with `difference` (A vs B from an interval on A - B) or `ranking` (an order of several
items by their intervals), prints them with `sentence`, and lists them in its summary JSON (`as_records`). The
`conclusions` stage gathers every report's statements into `metrics/conclusions.json`.

A statement is *resolved here* when the metrics of this run settle it (converged runs, intervals that exclude 0).
`make conclusions` (`thermbench.tools.conclusions`) re-trains the default DAG under other CPU kernel settings and
records each statement's verdict there in a committed kernel-check file; `final` then calls a statement resolved
only where every kernel setting checked gave the same resolved verdict: otherwise "not resolved (differs across CPU
kernels)". Verdict strings are what is compared across machines, so they hold names and order, never numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from thermbench.core.io import InputError, read_json

NOT_RESOLVED = "not resolved"
DIFFERS = "not resolved (differs across CPU kernels)"


@dataclass(frozen=True)
class Statement:
    """One qualitative claim. `verdict` is machine-comparable (names and order only); `text` the sentence a report
    prints; `numbers` what it rests on; `why` says what stops it from being resolved (empty when resolved)."""

    id: str
    claim: str
    verdict: str
    resolved: bool
    text: str
    numbers: dict = field(default_factory=dict)
    why: str = ""


def difference(id: str, claim: str, a: str, b: str, mean: float, low: float | None, high: float | None,
               unit: str = "", *, blockers: list[str] | None = None, extra: dict | None = None) -> Statement:
    """A vs B from the mean of A - B and an interval on it: "A < B" when the interval lies below 0, "A > B" above,
    else not resolved. `blockers`: reasons the comparison cannot be resolved whatever the interval (for example
    runs that did not converge)."""
    numbers = {"mean": mean, "low": low, "high": high, **(extra or {})}
    span = "no interval" if low is None else f"[{low:+.4g}, {high:+.4g}]"
    measured = f"{a} − {b} = {mean:+.4g}{unit} {span}"
    if blockers:
        return Statement(id, claim, NOT_RESOLVED, False, f"{claim}: {NOT_RESOLVED} ({measured}; "
                         f"{'; '.join(blockers)})", numbers, "; ".join(blockers))
    if low is not None and high < 0:
        return Statement(id, claim, f"{a} < {b}", True, f"{claim}: {a} < {b} ({measured})", numbers)
    if low is not None and low > 0:
        return Statement(id, claim, f"{a} > {b}", True, f"{claim}: {a} > {b} ({measured})", numbers)
    why = "interval includes 0" if low is not None else "too few runs for an interval"
    return Statement(id, claim, NOT_RESOLVED, False, f"{claim}: {NOT_RESOLVED} ({measured}, {why})", numbers, why)


def separations(items: dict[str, tuple[float, float, float]]) -> dict[str, list[str]]:
    """For each item (name -> (mean, low, high), lower is better first), the items whose intervals lie wholly above
    its own: the pairs the intervals order. Overlapping pairs stay unordered, and nothing is chained through them (A
    may lie below C while both overlap B). Names in order of their means."""
    order = sorted(items, key=lambda n: (items[n][0], n))
    return {a: [b for b in order if items[b][1] > items[a][2]] for a in order}


def ranking(id: str, claim: str, items: dict[str, tuple[float, float, float]], *,
            blockers: list[str] | None = None) -> Statement:
    """A rank order (lower first) that orders only the pairs whose intervals separate: "A < B, C; B < C" says A's
    interval lies below B's and C's, and B's below C's; pairs not named overlap. Resolved when at least one pair
    separates and nothing blocks it. The verdict names the separated pairs in an order they alone fix (by how many
    items lie wholly below, then by name), so two overlapping items whose means swap on another CPU give one verdict."""
    below = separations(items)
    beaten = {n: sum(n in bs for bs in below.values()) for n in items}
    canonical = sorted(items, key=lambda n: (beaten[n], n))
    verdict = "; ".join(f"{a} < {', '.join(b for b in canonical if b in below[a])}" for a in canonical if below[a])
    numbers = {name: {"mean": m, "low": lo, "high": hi} for name, (m, lo, hi) in sorted(items.items())}
    if blockers:
        return Statement(id, claim, NOT_RESOLVED, False, f"{claim}: {NOT_RESOLVED} ({'; '.join(blockers)})", numbers,
                         "; ".join(blockers))
    if not verdict:
        why = "every interval overlaps"
        return Statement(id, claim, NOT_RESOLVED, False, f"{claim}: {NOT_RESOLVED} ({why})", numbers, why)
    means = ", ".join(below)
    return Statement(id, claim, verdict, True, f"{claim}: {verdict} (by mean: {means}; pairs not named overlap)",
                     numbers)


# ------------------------------------------------------------------------------------------------- the kernel check


def read_kernel_check(path: str | Path, profile: str) -> dict[str, dict[str, str]]:
    """The committed kernel-check file's verdicts, {setting: {statement id: verdict}}, when it was made for `profile`
    (another profile's runs say nothing about this one's statements); {} when it does not exist or is another's."""
    path = Path(path)
    if not path.is_file():
        return {}
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("verdicts"), dict):
        raise InputError(f"{path}: expected {{'profile': ..., 'verdicts': {{setting: {{statement: verdict}}}}}}")
    return data["verdicts"] if data.get("profile") == profile else {}


def final(statement: Statement, check: dict[str, dict[str, str]]) -> Statement:
    """The statement as a report may state it: resolved only if every kernel setting checked gave its verdict."""
    if not statement.resolved:
        return statement
    others = {setting: v[statement.id] for setting, v in sorted(check.items()) if statement.id in v}
    differ = {s: v for s, v in others.items() if v != statement.verdict}
    if not differ:
        return statement
    elsewhere = "; ".join(f"{s}: {v}" for s, v in differ.items())
    return replace(statement, verdict=NOT_RESOLVED, resolved=False,
                   text=f"{statement.claim}: {DIFFERS} (here {statement.verdict}; {elsewhere})",
                   why=f"differs across CPU kernels ({elsewhere})")


def sentence(statement: Statement) -> str:
    return statement.text[0].upper() + statement.text[1:] + "."


def as_records(statements: list[Statement], check: dict[str, dict[str, str]]) -> list[dict]:
    """Statements for a summary JSON: the verdict from this run alone (`verdict_here`) and the final one."""
    out = []
    for s in statements:
        f = final(s, check)
        out.append({"id": s.id, "claim": s.claim, "verdict_here": s.verdict, "resolved_here": s.resolved,
                    "verdict": f.verdict, "resolved": f.resolved, "text": f.text, "why": f.why,
                    "numbers": s.numbers, "kernels_checked": sorted(check)})
    return sorted(out, key=lambda r: r["id"])
