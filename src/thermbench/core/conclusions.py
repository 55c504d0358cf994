"""Conclusions as data: every qualitative statement a report makes, computed from metrics, with the numbers behind it.

A report builds `Statement`s with `difference` (A vs B from an interval on A - B), `mcnemar` (A vs B from paired
yes/no outcomes) or `ranking` (the ordered pairs of several items whose intervals separate), prints them with
`sentence`, and lists them in its summary JSON (`as_records`). The `conclusions` stage gathers every report's
statements into `metrics/conclusions.json`.

A statement is *resolved here* when the metrics of this run settle it (converged runs, intervals that exclude 0). A
statement that rests on a trained model (`trained`) is stated only as far as other CPUs' kernels agree: `make
conclusions` (`thermbench.tools.gates.conclusions`) re-trains the default DAG under other CPU kernel settings and
records each statement's verdict there, beside the verdicts of the run it checked (`native`), in a committed
kernel-check file that names, per report, the params its statements rest on (those of every stage upstream of it) and
their values' fingerprint: the check holds for a report while those values are unchanged. `final` then keeps a verdict
only where every setting gave it, and of a ranking only the pairs every setting resolved (a pair resolved on some
settings only is listed as not resolved on its own). Without a kernel check made for its report's params, or while the
check lacks a setting it requires (the file's `required`: every setting of the tolerances file), such a statement is not
resolved. A statement whose sources involve no training (`trained=False`: ground truth, fixed rules, pretrained models
run as they are) is re-made by the check too, since a pretrained model's float kernels change with the setting: it is
deterministic once every setting has given it and its numbers came out identical under each (not in the check's
`untrained_moved`), and is then left as it is; one whose numbers moved is checked as a trained one; until the check
covers it, it is not resolved either. Such a statement (trained, or untrained and moved) also keeps a margin for a
change of CPU vendor, which the kernel settings of one CPU do not reach: each part of its verdict read against an
interval (a pair "A < B", or a level against its target) stands only where every interval of it that is known, the
one made here and each one the kernel check kept (`clearances`: of the run it was made beside, `native`, and of each
setting made since it keeps them), lies at least `VENDOR_MARGIN` of its half-widths from the line it is read against
(its `clearance`). So a machine whose own intervals separate more publishes no more than the check's intervals allow.
A setting may be made for
the untrained sources only (their stages re-run, the trained models kept): it then gives verdicts on those statements
alone, and each statement is judged by the settings that gave it a verdict. Verdict strings are what is compared
across machines, so they hold names and order, never numbers.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from thermbench.core.io import InputError, read_json
from thermbench.core.stats import ALPHA, mcnemar_exact

NOT_RESOLVED = "not resolved"
# The clearance a statement checked as trained keeps (in half-widths of its interval): the VENDOR_QUANTILE quantile of
# the clearance shifts measured between two CPU vendors over every pair with a clearance on both, rounded up to 0.01
# (conclusions/vendor_shift.json, `python -m thermbench.tools.gates.vendor_shift`; docs/conclusions.md, "Another
# vendor's CPU"). It covers that share of the shifts measured, not every shift: larger ones were measured.
VENDOR_QUANTILE = 0.9
VENDOR_MARGIN = 1.03
WITHIN_MARGIN = "not resolved (within the vendor margin)"
DIFFERS = "not resolved (differs across CPU kernels)"
UNCHECKED = "not resolved (not kernel-checked)"
MISSING = "(missing)"
_CLAUSE = re.compile(r"(.+?) ([<>]) (.+)")


@dataclass(frozen=True)
class Statement:
    """One qualitative claim. `verdict` is machine-comparable (names and order only); `text` the sentence a report
    prints; `numbers` what it rests on; `why` says what stops it from being resolved (empty when resolved);
    `trained`: whether it rests on a trained model (then the kernel check applies; else it is deterministic);
    `target`: the rule the synthetic data was calibrated to meet, when the statement tests one (then it is a
    calibration target, never counted as a finding); `clearance`: for each part of a resolved verdict read against
    an interval (a pair "A < B", lower first; or the verdict itself, a level against its target), how far that
    interval lies from the line it is read against, in its own half-widths (`clearance`)."""

    id: str
    claim: str
    verdict: str
    resolved: bool
    text: str
    numbers: dict = field(default_factory=dict)
    why: str = ""
    trained: bool = True
    target: str = ""
    clearance: dict = field(default_factory=dict)


def clearance(low: float, high: float, line: float = 0.0) -> float:
    """How far the interval [low, high], which excludes `line`, lies from it, in the interval's half-widths."""
    half = (high - low) / 2
    return round(min(abs(low - line), abs(high - line)) / half, 4) if half > 0 else math.inf


def difference(id: str, claim: str, a: str, b: str, mean: float, low: float | None, high: float | None,
               unit: str = "", *, blockers: list[str] | None = None, extra: dict | None = None,
               trained: bool = True) -> Statement:
    """A vs B from the mean of A - B and an interval on it: "A < B" when the interval lies below 0, "A > B" above,
    else not resolved. `blockers`: reasons the comparison cannot be resolved whatever the interval (for example
    runs that did not converge)."""
    numbers = {"mean": mean, "low": low, "high": high, **(extra or {})}
    span = "no interval" if low is None else f"[{low:+.4g}, {high:+.4g}]"
    measured = f"{a} − {b} = {mean:+.4g}{unit} {span}"
    if blockers:
        return Statement(id, claim, NOT_RESOLVED, False, f"{claim}: {NOT_RESOLVED} ({measured}; "
                         f"{'; '.join(blockers)})", numbers, "; ".join(blockers), trained)
    if low is not None and high < 0:
        return Statement(id, claim, f"{a} < {b}", True, f"{claim}: {a} < {b} ({measured})", numbers, "", trained,
                         clearance={f"{a} < {b}": clearance(low, high)})
    if low is not None and low > 0:
        return Statement(id, claim, f"{a} > {b}", True, f"{claim}: {a} > {b} ({measured})", numbers, "", trained,
                         clearance={f"{b} < {a}": clearance(low, high)})
    why = "interval includes 0" if low is not None else "too few runs for an interval"
    return Statement(id, claim, NOT_RESOLVED, False, f"{claim}: {NOT_RESOLVED} ({measured}, {why})", numbers, why,
                     trained)


def mcnemar(id: str, claim: str, a: str, b: str, a_only: int, b_only: int, n: int, alpha: float = ALPHA, *,
            extra: dict | None = None, trained: bool = True) -> Statement:
    """A vs B from yes/no outcomes of both on the same `n` items (a GT point detected or not): the exact McNemar test
    (`stats.mcnemar_exact`) on the items only A got (`a_only`) and only B got (`b_only`). "A > B" (A got more) or
    "A < B" when its two-sided p is below `alpha`, else not resolved."""
    p = mcnemar_exact(a_only, b_only)
    numbers = {"n": n, "a_only": a_only, "b_only": b_only, "p_value": p, "alpha": alpha, **(extra or {})}
    measured = f"{a} only {a_only}, {b} only {b_only} of {n}; exact McNemar p = {p:.4g}"
    if p < alpha:  # never with a_only == b_only (p = 1)
        verdict = f"{a} > {b}" if a_only > b_only else f"{a} < {b}"
        return Statement(id, claim, verdict, True, f"{claim}: {verdict} ({measured})", numbers, "", trained)
    why = "no item only one of them got" if not a_only + b_only else f"p >= {alpha:g}"
    return Statement(id, claim, NOT_RESOLVED, False, f"{claim}: {NOT_RESOLVED} ({measured}, {why})", numbers, why,
                     trained)


def separations(items: dict[str, tuple[float, float, float]]) -> dict[str, list[str]]:
    """For each item (name -> (mean, low, high), lower is better first), the items whose intervals lie wholly above
    its own: the pairs the intervals order. Overlapping pairs stay unordered, and nothing is chained through them (A
    may lie below C while both overlap B). Names in order of their means."""
    order = sorted(items, key=lambda n: (items[n][0], n))
    return {a: [b for b in order if items[b][1] > items[a][2]] for a in order}


def pair_order(pairs: set[tuple[str, str]]) -> str:
    """The verdict naming ordered pairs (a, b: a lies below b): "A < B, C; B < C", each item placed by how many items
    lie wholly below it, then by name, so the text depends on the pairs alone."""
    names = {n for pair in pairs for n in pair}
    beaten = {n: sum(b == n for _, b in pairs) for n in names}
    canonical = sorted(names, key=lambda n: (beaten[n], n))
    return "; ".join(f"{a} < {', '.join(b for b in canonical if (a, b) in pairs)}" for a in canonical
                     if any(x == a for x, _ in pairs))


def pairs_of(verdict: str) -> set[tuple[str, str]] | None:
    """The ordered pairs a verdict names ("A < B, C; D > E" -> (A, B), (A, C), (E, D)); empty for "not resolved";
    None for a verdict that is not an order of pairs (a level, a word)."""
    if verdict == NOT_RESOLVED:
        return set()
    pairs = set()
    for clause in verdict.split("; "):
        m = _CLAUSE.fullmatch(clause)
        if m is None:
            return None
        left, sign, right = m.groups()
        pairs |= {(left, b) if sign == "<" else (b, left) for b in right.split(", ")}
    return pairs


def ranking(id: str, claim: str, items: dict[str, tuple[float, float, float]], *,
            blockers: list[str] | None = None, involving: set[str] | None = None, trained: bool = True,
            note: str = "") -> Statement:
    """The ordered pairs (lower first) whose intervals separate: "A < B, C; B < C" says A's interval lies below B's
    and C's, and B's below C's; pairs not named overlap. `involving`: only the pairs with at least one of these items
    (the others belong to another statement). Resolved when at least one pair separates and nothing blocks it. The
    verdict names the pairs in an order they alone fix (`pair_order`), so two overlapping items whose means swap on
    another CPU give one verdict. `note` (e.g. how many sequences) ends the text."""
    numbers = {name: {"mean": m, "low": lo, "high": hi} for name, (m, lo, hi) in sorted(items.items())}
    tail = f"; {note}" if note else ""
    if blockers:  # before the intervals, which a blocked ranking may lack
        return Statement(id, claim, NOT_RESOLVED, False, f"{claim}: {NOT_RESOLVED} ({'; '.join(blockers)}{tail})",
                         numbers, "; ".join(blockers), trained)
    below = separations(items)
    pairs = {(a, b) for a, bs in below.items() for b in bs
             if involving is None or a in involving or b in involving}
    verdict = pair_order(pairs)
    if not verdict:
        why = "every interval overlaps"
        return Statement(id, claim, NOT_RESOLVED, False, f"{claim}: {NOT_RESOLVED} ({why}{tail})", numbers, why,
                         trained)
    means = ", ".join(below)
    # a pair's interval: that of b - a from the two items' own, [low_b - high_a, high_b - low_a]
    gaps = {f"{a} < {b}": clearance(items[b][1] - items[a][2], items[b][2] - items[a][1]) for a, b in sorted(pairs)}
    return Statement(id, claim, verdict, True, f"{claim}: {verdict} (by mean: {means}; pairs not named overlap{tail})",
                     numbers, "", trained, clearance=gaps)


# ------------------------------------------------------------------------------------------------- the kernel check


def params_fingerprint(params: dict, keys: list[str]) -> str:
    """The sha256 of the values of `params` (a params file's content) at the dotted `keys`, absent ones as None: what
    a kernel check of a report was made for (comments and layout do not count)."""
    def value(key: str):
        node = params
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node
    return hashlib.sha256(json.dumps({k: value(k) for k in keys}, sort_keys=True).encode()).hexdigest()


def code_fingerprint(root: Path, paths: list[str]) -> str | None:
    """The sha256 of the contents of the code at `paths` (relative to `root`; a folder: every file in it but Python's
    caches), path by path: the code a kernel check of a report was made on. None where a path is missing."""
    digest = hashlib.sha256()
    for rel in sorted(paths):
        path = root / rel
        if not path.exists():
            return None
        files = [path] if path.is_file() else sorted(f for f in path.rglob("*")
                                                     if f.is_file() and "__pycache__" not in f.parts)
        for f in files:
            digest.update(f.relative_to(root).as_posix().encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
    return digest.hexdigest()


class KernelCheck(dict):
    """{setting: {statement id: verdict}} as `read_kernel_check` reads it, with `clearances`, {setting: {statement id:
    {part: clearance}}}: each part's clearance in the runs whose intervals the check kept (none in a check made before
    it kept them), and `replicates`, {setting: {statement id: per-seed differences}}: what each setting's re-training
    gave a pair compared over seeds (none in a check made before it kept them)."""

    def __init__(self, verdicts: dict | None = None, clearances: dict | None = None,
                 replicates: dict | None = None):
        super().__init__(verdicts or {})
        self.clearances = clearances or {}
        self.replicates = replicates or {}

    def replicates_of(self, statement_id: str) -> dict[str, list[float]] | None:
        """{setting: the statement's per-seed differences there} over every setting this run is checked against
        (all but `native`, the run the check was made beside: this repository's own, which the statement is made
        from); None unless every such setting kept them."""
        settings = {s for s in self if s != "native"}
        found = self.kernel_runs_of(statement_id) or {}
        return found if settings and set(found) == settings else None

    def kernel_runs_of(self, statement_id: str) -> dict[str, list[float]] | None:
        """{setting: the statement's per-seed differences there} over the settings that made them so far (the
        variance split's kernel share, `core.power.kernel_share`); None where none did."""
        found = {s: v[statement_id] for s, v in sorted(self.replicates.items())
                 if s != "native" and s in self and statement_id in v}
        return found or None


def read_kernel_check(path: str | Path, params_path: str | Path, report: str) -> KernelCheck:
    """The committed kernel-check file's verdicts on `report`'s statements, {setting: {statement id: verdict}}, when
    the values of the params they rest on (the file's `params[report]`) are those of `params_path` (another
    profile's or another setting's runs say nothing about these statements) and the code they rest on (its
    `params[report].code`: the code deps of every stage upstream of the report, read beside `params_path`) is the
    code it was made on; {} when the file does not exist, does not cover the report, or was made for other values
    or code. A setting the file requires (`required`) but has not made yet is there with no verdict: it confirms
    nothing. The clearances the file keeps (`clearances`) come with it (`KernelCheck`)."""
    path = Path(path)
    if not path.is_file():
        return KernelCheck()
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("verdicts"), dict) \
            or not isinstance(data.get("params"), dict):
        raise InputError(f"{path}: expected {{'params': {{report: {{'keys': [...], 'sha256': ...}}}}, "
                         "'verdicts': {setting: {statement: verdict}}}")
    made_for = data["params"].get(report)
    params = yaml.safe_load(Path(params_path).read_text())
    if not made_for or made_for.get("sha256") != params_fingerprint(params, made_for.get("keys", [])):
        return KernelCheck()
    code = made_for.get("code")
    if not isinstance(code, dict) or code.get("sha256") is None \
            or code["sha256"] != code_fingerprint(Path(params_path).parent, code.get("files", [])):
        return KernelCheck()
    def mine(by_id: dict) -> dict:
        return {k: v for k, v in by_id.items() if k.split(".")[0] == report}

    check = {setting: mine(verdicts) for setting, verdicts in data["verdicts"].items()}
    clearances = {setting: mine(by_id) for setting, by_id in data.get("clearances", {}).items()}
    replicates = {setting: mine(by_id) for setting, by_id in data.get("replicates", {}).items()}
    return KernelCheck({**{setting: {} for setting in data.get("required", [])}, **check}, clearances, replicates)


def read_moved(path: str | Path, params_path: str | Path, report: str) -> frozenset[str]:
    """The ids of `report`'s statements on untrained sources whose numbers the committed kernel check found to differ
    between kernel settings (its `untrained_moved`), under the same condition as `read_kernel_check`: such a
    statement is not deterministic after all, and the check applies to it as to a trained one."""
    path = Path(path)
    if not read_kernel_check(path, params_path, report):
        return frozenset()
    return frozenset(i for i in read_json(path).get("untrained_moved", []) if i.split(".")[0] == report)


def settings_compared(check: dict, trained: dict[str, bool] | None = None) -> str:
    """The kernel settings a check compared, named once each (`native` is this machine's own run, the one the
    reports are made from), then those it requires but has no verdicts from. `trained` (statement id -> whether it
    rests on a trained model): where the settings that gave verdicts differ between the two kinds of statement (a
    setting made for the untrained sources only, `make conclusions SCOPE=untrained`), each kind is named apart."""
    order = sorted(check, key=lambda s: (s != "native", s))

    def named(ids: set[str] | None) -> str:
        gave = [s for s in order if check[s] and (ids is None or ids & set(check[s]))]
        names = [f"{s} (this machine's own run)" if s == "native" else s for s in gave]
        missing = [s for s in order if s not in gave]
        return (", ".join(names) or "none") + (f" (not made yet: {', '.join(missing)})" if missing else "")

    kinds = {kind: {i for i, t in (trained or {}).items() if t == is_trained}
             for kind, is_trained in (("trained models", True), ("untrained sources", False))}
    parts = {kind: named(ids) for kind, ids in kinds.items() if ids}
    if len(set(parts.values())) < 2:
        return named(None)
    return "; ".join(f"for the statements on {kind}: {text}" for kind, text in parts.items())


def _checked(statement_id: str, check: dict[str, dict[str, str]]) -> bool:
    """Whether every setting of `check`, and at least one, gave the statement a verdict."""
    return bool(check) and all(statement_id in v for v in check.values())


def final(statement: Statement, check: dict[str, dict[str, str]], moved: frozenset[str] = frozenset()) -> Statement:
    """The statement as a report may state it. One not resolved here as it is. Any other: not resolved without a
    kernel check that gave it a verdict under every setting. Then an untrained one whose numbers the check did not
    find to move (`moved`) as it is (deterministic); a trained one, or an untrained one that moved: a ranking keeps
    the pairs every setting checked resolved too, and its text says it is that intersection, names each pair left out
    with the settings that did not separate it, and keeps the evidence of the statement as made here; any other
    verdict stands only if every setting gave it. Of what stands, a part whose `clearance` is under `VENDOR_MARGIN`
    is dropped too, named with its clearance. A statement made from every setting's runs pooled as replicates
    (`numbers.pooled`, `core.pairs.pool`) already holds the settings in its interval: it stands where that interval
    clears its line by the vendor margin in half-widths of this run's own interval (`numbers.run_half`), the unit the
    margin was measured in (a vendor's shift moves one run's interval; the pooled one is wider by the settings'
    shift it already holds)."""
    if not statement.resolved:
        return statement
    if statement.numbers.get("pooled") and check and sorted(statement.numbers["pooled"]) == sorted(
            s for s in check if s != "native"):
        # made from every setting's runs pooled as replicates: the settings are in its interval, not vetoes of it
        c = pooled_clearance(statement)
        if c >= VENDOR_MARGIN:
            return statement
        why = f"within the vendor margin ({c:.2f} half-widths < {VENDOR_MARGIN})"
        return replace(statement, verdict=NOT_RESOLVED, resolved=False, why=why,
                       text=f"{statement.claim}: {WITHIN_MARGIN} (here {statement.verdict}; "
                            f"{statement.text.removeprefix(statement.claim + ': ')})")
    if not check:
        why = ("not kernel-checked (conclusions/kernel_check.json holds no check made for these params and this "
               "code: `make conclusions` makes one)")
        return replace(statement, verdict=NOT_RESOLVED, resolved=False,
                       text=f"{statement.claim}: {UNCHECKED} (here {statement.verdict})", why=why)
    unchecked = sorted(setting for setting, v in check.items() if statement.id not in v)
    if unchecked:  # a setting not made yet, or made before this statement existed, says nothing of it
        return replace(statement, verdict=NOT_RESOLVED, resolved=False,
                       text=f"{statement.claim}: {UNCHECKED} (here {statement.verdict})",
                       why=f"not kernel-checked (no verdict under {', '.join(unchecked)})")
    if not statement.trained and statement.id not in moved:
        return statement
    there = {setting: v[statement.id] for setting, v in sorted(check.items())}
    here = pairs_of(statement.verdict)
    elsewhere = {s: pairs_of(v) for s, v in there.items()}
    made_here = statement.text.removeprefix(f"{statement.claim}: ")
    if here is not None and all(p is not None for p in elsewhere.values()):
        kept = set.intersection(here, *elsewhere.values())
        narrow = {(a, b): c for a, b in sorted(kept) if (c := least_clearance(statement, f"{a} < {b}", check))
                  < VENDOR_MARGIN}
        held = kept - set(narrow)
        if held == here:
            return statement
        parts = ([f"{DIFFERS} where named: " + "; ".join(
                     f"{a} < {b} ({', '.join(s for s, p in elsewhere.items() if (a, b) not in p)})"
                     for a, b in sorted(here - kept))] if here - kept else []) + \
                ([f"{WITHIN_MARGIN} where named: " + "; ".join(
                    f"{a} < {b} ({c:.2f} half-widths < {VENDOR_MARGIN})" for (a, b), c in narrow.items())]
                 if narrow else [])
        if held:
            verdict = pair_order(held)
            by = f", each clearing the vendor margin in {_intervals_kept(statement, check)}" if narrow else ""
            return replace(statement, verdict=verdict,
                           text=f"{statement.claim}: {verdict} (an intersection: the pairs every CPU kernel setting "
                                f"checked separates{by}; {'; '.join(parts)}; as made here: {made_here})")
        if narrow:
            # each part names itself "not resolved (...)": the text does not say it twice
            return replace(statement, verdict=NOT_RESOLVED, resolved=False,
                           text=f"{statement.claim}: {'; '.join(parts)}; as made here: {made_here}",
                           why="; ".join(parts))
    elif all(v == statement.verdict for v in there.values()):
        c = least_clearance(statement, statement.verdict, check)
        if c >= VENDOR_MARGIN:
            return statement
        why = f"within the vendor margin ({c:.2f} half-widths < {VENDOR_MARGIN})"
        return replace(statement, verdict=NOT_RESOLVED, resolved=False,
                       text=f"{statement.claim}: {WITHIN_MARGIN} (here {statement.verdict}; {made_here})", why=why)
    differ = "; ".join(f"{s}: {v}" for s, v in there.items() if v != statement.verdict)
    return replace(statement, verdict=NOT_RESOLVED, resolved=False,
                   text=f"{statement.claim}: {DIFFERS} (here {statement.verdict}; {differ})",
                   why=f"differs across CPU kernels ({differ})")


def pooled_clearance(statement: Statement) -> float:
    """A pooled statement's least clearance (`Statement.clearance`, in its pooled interval's half-widths) in
    half-widths of this run's own interval (`numbers.run_half`); in its own where that is not known."""
    c = min(statement.clearance.values(), default=math.inf)
    n = statement.numbers
    run_half, low, high = n.get("run_half"), n.get("low"), n.get("high")
    if not run_half or low is None or high is None or math.isinf(c):
        return c
    return round(c * (high - low) / 2 / run_half, 4)


def least_clearance(statement: Statement, part: str, check: dict) -> float:
    """The least clearance of `part` of the statement's verdict over the intervals known: the one made here and each
    the kernel check kept (`KernelCheck.clearances`; a run that did not resolve the part keeps none of it, and the
    intersection of the verdicts has dropped it already). inf: a part read against no interval."""
    kept = getattr(check, "clearances", {})
    return min([statement.clearance.get(part, math.inf)]
               + [by_id[statement.id][part] for by_id in kept.values() if part in by_id.get(statement.id, {})])


def _intervals_kept(statement: Statement, check: dict) -> str:
    """Which intervals the vendor margin was applied to: this run's, and those of the settings the check kept."""
    kept = sorted(s for s, by_id in getattr(check, "clearances", {}).items() if statement.id in by_id)
    return "this run's interval" + (f" and those the kernel check kept ({', '.join(kept)})" if kept else
                                    " (the kernel check kept none)")


def sentence(statement: Statement) -> str:
    return statement.text[0].upper() + statement.text[1:] + "."


def as_records(statements: list[Statement], check: dict[str, dict[str, str]],
               moved: frozenset[str] = frozenset()) -> list[dict]:
    """Statements for a summary JSON: the verdict from this run alone (`verdict_here`) and the final one; whether it
    rests on a trained model; whether it is deterministic (no trained model, a verdict under every setting of the
    kernel check and numbers it did not find to move) and the kernel settings that gave it a verdict."""
    out = []
    for s in statements:
        f = final(s, check, moved)
        deterministic = not s.trained and s.id not in moved and _checked(s.id, check)
        out.append({"id": s.id, "claim": s.claim, "verdict_here": s.verdict, "resolved_here": s.resolved,
                    "verdict": f.verdict, "resolved": f.resolved, "text": f.text, "why": f.why,
                    "numbers": s.numbers, "trained": s.trained, "deterministic": deterministic,
                    "kernels_checked": sorted(k for k, v in check.items() if s.id in v),
                    **({"target": s.target} if s.target else {}),
                    **({"clearance": s.clearance} if s.clearance else {})})
    return sorted(out, key=lambda r: r["id"])
