"""Every report's statements in one file and one table (stage `conclusions`), labelled with the data they rest on.

The kernel check that fills each statement's `kernels_checked` is `thermbench.tools.gates.conclusions`
(`make conclusions`).
"""

from __future__ import annotations

from pathlib import Path

from thermbench.core.conclusions import VENDOR_MARGIN, VENDOR_QUANTILE, settings_compared
from thermbench.core.io import InputError, read_json, write_json, write_text
from thermbench.core.plots import data_label


def gather(statement_files: list[Path], out_json: Path, out_md: Path, sources: dict[str, str],
           checks: dict[str, dict[str, dict[str, str]]] | None = None) -> None:
    """Stage conclusions: every report's statements (their `{"statements": [...]}` files) in one JSON and a table;
    `sources` (params `data.source`) labels both. Resolved statements are counted apart: deterministic ones (no trained
    model) and kernel-checked ones; a calibration target (a statement with a `target`) is listed and counted apart,
    never as a finding. `checks` ({report: `read_kernel_check`'s verdicts}): a statement not resolved
    gets `outcomes`, the verdict each kernel setting gave it, named in the table beside the reason."""
    records = []
    for path in statement_files:
        data = read_json(path)
        if not isinstance(data, dict) or not isinstance(data.get("statements"), list):
            raise InputError(f"{path}: expected {{'statements': [...]}}")
        check = (checks or {}).get(path.stem, {})
        records += [{**r, "report": path.stem,
                     **({} if r["resolved"] else {"outcomes": {s: v[r["id"]] for s, v in sorted(check.items())
                                                               if r["id"] in v}})}
                    for r in data["statements"]]
    ids = [r["id"] for r in records]
    if len(ids) != len(set(ids)):
        raise InputError(f"statement ids repeat across {', '.join(map(str, statement_files))}")
    records.sort(key=lambda r: r["id"])
    kernels = sorted({k for r in records for k in r.get("kernels_checked", [])})
    findings = [r for r in records if "target" not in r]
    counts = {"resolved_deterministic": sum(r["resolved"] and r["deterministic"] for r in findings),
              "resolved_kernel_checked": sum(r["resolved"] and not r["deterministic"] for r in findings),
              "not_resolved": sum(not r["resolved"] for r in findings),
              "calibration_targets": len(records) - len(findings)}
    write_json(out_json, {"data": dict(sorted(sources.items())), "statements": records, "kernels_checked": kernels,
                          "resolved": counts["resolved_deterministic"] + counts["resolved_kernel_checked"], **counts})
    write_text(out_md, markdown(records, kernels, counts, data_label(sources)))


def markdown(records: list[dict], kernels: list[str], counts: dict[str, int], label: str) -> str:
    gave = {k: {r["id"]: r["verdict"] for r in records if k in r.get("kernels_checked", [])} for k in kernels}
    checked = settings_compared(gave, {r["id"]: r["trained"] for r in records}) if kernels else \
        "none, this run only (`make conclusions` not run yet)"
    lines = [f"# Conclusions ({label})", "",
             f"Every qualitative statement of the reports, computed from the metrics (`metrics/conclusions.json`). A "
             f"statement is resolved only on converged runs, over enough seeds, sequences and test images. One that "
             f"rests on a trained model is stated only as far as every CPU kernel setting checked agrees (of a "
             f"ranking, the pairs every setting resolved), and each part of it read against an interval only where "
             f"that interval lies at least the vendor margin ({VENDOR_MARGIN:g} half-widths: the "
             f"{VENDOR_QUANTILE:g} quantile of the clearance shifts measured on one other vendor's CPU, "
             f"conclusions/vendor_shift.json) from its line in every run whose interval is known (this run's, and "
             f"each the kernel check keeps); one that involves no training is re-run by the check "
             f"too, and is deterministic (not counted as kernel-checked) once its numbers came out identical under "
             f"every setting; one whose numbers moved is checked as a trained one. Until the check covers every "
             f"setting, neither kind is resolved. Kernel settings compared: {checked}.", "",
             f"Resolved and kernel-checked: {counts['resolved_kernel_checked']}; resolved, deterministic: "
             f"{counts['resolved_deterministic']}; not resolved: {counts['not_resolved']}.", "",
             "| Report | Statement | Verdict | Resolved | Kind | Why not |", "|---|---|---|---|---|---|"]
    lines += [_row(r) for r in records if "target" not in r]
    targets = [r for r in records if "target" in r]
    if targets:
        lines += ["", f"## Calibration targets ({counts['calibration_targets']}, not findings)", "",
                  "Statements on a rule the synthetic data was calibrated to meet: that one holds says the calibration "
                  "carried over to the protocol's own frames, not something found. They are not counted above.", "",
                  "| Report | Statement | Verdict | Resolved | Kind | Calibrated to | Why not |",
                  "|---|---|---|---|---|---|---|"]
        lines += [_row(r, r["target"]) for r in targets]
    return "\n".join(lines) + "\n"


def _row(r: dict, *extra: str) -> str:
    kind = "deterministic" if r["deterministic"] else "trained" if r["trained"] else "untrained"
    outcomes = "; ".join(f"{s}: {v}" for s, v in r.get("outcomes", {}).items())
    why = "; ".join(part for part in (r["why"], f"each setting: {outcomes}" if outcomes else "") if part)
    return " | ".join([f"| {r['report']}", r["claim"], r["verdict"], "yes" if r["resolved"] else "no", kind, *extra,
                       f"{why or '–'} |"])
