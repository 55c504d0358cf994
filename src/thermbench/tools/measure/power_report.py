"""The power of the benchmark's T-FAKE comparisons, measured on the committed per-item outputs of the default run:

    python -m thermbench.tools.measure.power_report [--reps 200]   -> conclusions/power.json, docs/power.md

For each pair of trained methods the sources make a claim about (each KTL variant against the supervised student of
its size, DIKD against FD+LD, MCL against the supervised student of its size), from its seeds x test-items matrix of
per-image NME-IO differences (`core.pairs`, stage board_pairs' engine):

1. where the variance of the difference sits: seeds, test items, their interaction (`power.variance_split`);
2. the trade-off of the design: the minimum detectable effect (MDE) of the t test over seeds at 80% power for other
   numbers of seeds and test items (`power.mde_from_split`), beside what a seed costs the default DAG (the CPU time of
   the seeded stages in metrics/timing/stages_default.json over the seeds they ran, on the cores that measured it)
   and the 5% target (of the supervised student's NME);
3. what the verdict rule costs (`power.simulate_rule`, effects injected into a null world fitted to the matrix): the
   effective level, the power per effect and the MDE of (a) the t test alone, (b) the rule as published: under each
   of the kernel check's settings (independent re-trainings: a setting's kernels send training down another path,
   as a seed does) the t interval at the pair's Holm level clears 0 by the vendor margin and the test-image bootstrap
   agrees, and every setting gives the same sign; (c) the settings' runs pooled as replicates (`pairs.pool`): each
   seed's difference averaged over the settings, one t interval over those seed means clearing the vendor margin,
   the bootstrap agreeing.

Choices of the default profile's size are read from this file; it is made after `dvc repro` and committed beside it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import yaml

from thermbench.core import power
from thermbench.core.conclusions import VENDOR_MARGIN
from thermbench.core.io import read_json, write_json, write_text
from thermbench.core.pairs import paired
from thermbench.core.stage import run
from thermbench.tools.reports.board_pairs import landmark_entries

OUT = Path("conclusions/power.json")
PAGE = Path("docs/power.md")
TARGET = 0.05          # the MDE the default profile aims at, as a share of the supervised student's NME
SEEDS = (5, 8, 10, 15, 20, 30)
ITEMS = (100, 400, 1000)
SEEDED = ("supervised", "ktl", "mcl", "breath_track_student")  # the stages that run once per student seed
# the sources' reported effects (relative NME changes) for the claims these pairs test
PAPER = {"ktl-dikd_vs_supervised-s": "Ours-ms vs RTMPose-s, Table I: 0.0351 vs 0.0377 (−6.9%)",
         "ktl-dikd_vs_ktl-fdld": "DIKD vs FD+LD, Table III at l and x: −7.3%, −8.2%"}


def claimed_pairs(params: dict, groups: set[str]) -> list[tuple[str, str]]:
    """The pairs of trained groups the sources claim something about, present in `groups`."""
    rt, ktl = params["rtmpose"], params["train"]["ktl"]["runs"]
    pairs = [(f"ktl-{v}", f"supervised-{rt['ktl_arch']}") for v in ktl]
    pairs += [("ktl-dikd", f"ktl-{v}") for v in ktl if v != "dikd"]
    pairs += [(f"mcl-{v}", f"supervised-{rt['mcl_arch']}") for v in params["train"]["mcl"]["variants"]]
    return [p for p in pairs if p[0] in groups and p[1] in groups]


def seed_cost(timings: dict, n_seeds: int) -> dict:
    """CPU minutes of the seeded stages per seed, and the cores they were measured on."""
    stages = timings["stages"]
    cpu = sum(v["cpu_s"] for k, v in stages.items() if k.split("@")[0] in SEEDED)
    return {"cpu_min_per_seed": cpu / 60 / n_seeds, "cores": timings["machine"]["cores"]}


def either_block(blocks: int, level: float, margin: float):
    """The rule as published over `blocks` kernel settings stacked as row blocks: each block resolved with the
    margin and the bootstrap, all in one direction."""
    def rule(matrix: np.ndarray) -> int:
        verdicts = {power.paired_rule(b, level, True, margin) for b in np.array_split(matrix, blocks)}
        return verdicts.pop() if len(verdicts) == 1 else 0
    return rule


def pooled(blocks: int, level: float, margin: float):
    """The rule with the settings' runs pooled (`pairs.pool`): each seed's difference averaged over the `blocks`
    settings stacked as row blocks, then one t interval over those seed means clearing the margin, the bootstrap over
    items agreeing."""
    def rule(matrix: np.ndarray) -> int:
        return power.paired_rule(np.mean(np.array_split(matrix, blocks), axis=0), level, True, margin)
    return rule


def pair_power(diff: np.ndarray, level: float, reference: float, settings: int, reps: int, seed: int) -> dict:
    """Variance split, trade-off table and rule simulation of one pair's seeds x items differences."""
    split = power.variance_split(diff)
    s = split["n_seeds"]
    t_mde = power.mde_paired_t(float(np.sqrt(split["var_of_mean_over_seeds"])), s, level)
    grid = [0.0] + [float(t_mde * f) for f in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0)]
    rules = {"t alone": (lambda m: power.paired_rule(m, level, False), s),
             "as published": (either_block(settings, level, VENDOR_MARGIN), s * settings),
             "settings pooled": (pooled(settings, level, VENDOR_MARGIN), s * settings)}
    simulated = {}
    for name, (rule, rows) in rules.items():
        got = power.mde_of_rule(rule, diff, grid, reps, seed, seeds=rows)
        simulated[name] = {"runs": rows, "level": got["curve"][0.0], "mde": got["mde"],
                           "power": {f"{e:.6g}": v for e, v in got["curve"].items() if e > 0}}
    table = [{**power.mde_from_split(split, n, m, level), "share_of_reference": None} for n in SEEDS for m in ITEMS]
    for row in table:
        row["share_of_reference"] = None if row["mde_seeds"] is None else row["mde_seeds"] / reference
    return {"variance": split, "level": level, "mde_t": t_mde, "reference_nme": reference,
            "mde_share": t_mde / reference, "tradeoff": table, "rules": simulated}


def measure(root: Path, reps: int, seed: int = 0) -> dict:
    params = yaml.safe_load((root / "params.yaml").read_text())
    runs = [m for p in sorted((root / "metrics" / "mlcmkd").rglob("*.json")) for m in [read_json(p)]
            if "nme" in m.get("tfake", {})]
    entries = landmark_entries(runs, {}, [root / "plots" / "curves" / "mlcmkd"], "tfake")
    seeded = {k for k, e in entries.items() if e.seeded}
    statements = {s["id"]: s for s in read_json(root / "metrics" / "conclusions" / "boards.json")["statements"]}
    # a claim of the paper is tested in its own table's family (metrics/conclusions/mlcmkd.json): its level there
    tables = read_json(root / "metrics" / "conclusions" / "mlcmkd.json")["statements"]
    claims = {s["numbers"]["board"]: s for s in tables if "board" in s["numbers"]}
    check = read_json(root / "conclusions" / "kernel_check.json")
    settings = len(check["required"])
    n_seeds = len(params["train"]["seeds"])
    cost = seed_cost(read_json(root / "metrics" / "timing" / "stages_default.json"), n_seeds)
    out = {"target_share": TARGET, "settings": settings, "vendor_margin": VENDOR_MARGIN, "reps": reps,
           "seed_cost": cost, "dag_seconds": read_json(root / "metrics" / "timing" / "make.json")["default"]["seconds"],
           "n_seeds": n_seeds, "pairs": {}}
    for a, b in claimed_pairs(params, seeded):
        first, second = sorted((a, b))
        board = f"boards.landmarks68_tfake.{first}_vs_{second}"
        statement = claims.get(board, statements[board])
        diff = paired(entries[a], entries[b], lambda v: v, binary=False)["diff"]
        reference = float(np.mean([e.mean() for e in entries[b].runs.values()]))
        print(f"power_report: {a} vs {b}", file=sys.stderr)
        out["pairs"][f"{a}_vs_{b}"] = {**pair_power(diff, statement["numbers"]["level"], reference, settings, reps,
                                                    seed), "paper": PAPER.get(f"{a}_vs_{b}", ""),
                                    "statement": statement["id"]}
    return out


def _f(v, digits: int = 4) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def page(result: dict) -> str:
    """docs/power.md from conclusions/power.json."""
    cost = result["seed_cost"]
    per_seed_wall = cost["cpu_min_per_seed"] / cost["cores"]
    lines = ["# Power: what the T-FAKE comparisons can see\n",
             "Made by `python -m thermbench.tools.measure.power_report` from the committed per-item outputs of the "
             "default run (conclusions/power.json). NME-IO differences A − B over the T-FAKE test images; the minimum "
             "detectable effect (MDE) is at each pair's Holm level (in its paper table's family, "
             "metrics/conclusions/mlcmkd.json, where the tables compare it) and 80% power.\n",
             "## Where the variance sits, and what the run could see\n",
             "| pair | seeds × items | seed | item | seed × item | MDE (t over seeds) | MDE / reference NME | target | "
             "what the source reports |", "|---|---|---|---|---|---|---|---|---|"]
    for name, p in result["pairs"].items():
        v = p["variance"]
        lines.append(f"| {name} | {v['n_seeds']} × {v['n_items']} | {v['seed']:.2e} | {v['item']:.2e} | "
                     f"{v['residual']:.2e} | {_f(p['mde_t'])} | {100 * p['mde_share']:.1f}% | "
                     f"{100 * result['target_share']:.0f}% | {p['paper'] or '—'} |")
    lines += ["", "The kernel settings' share is not in this table: the kernel check keeps each setting's verdicts, "
              "not its per-seed differences, so it cannot be split out of the seeds' until a check records them.\n",
              "## The trade-off: seeds and test items\n",
              f"A seed costs the default DAG {cost['cpu_min_per_seed']:.1f} CPU minutes (its seeded stages over "
              f"{result['n_seeds']} seeds, metrics/timing/stages_default.json), about {per_seed_wall:.1f} minutes on "
              f"{cost['cores']} cores; the default `make repro` took {result['dag_seconds'] / 60:.0f} minutes at "
              f"{result['n_seeds']} seeds. Test items are rendered and scored, not trained: their cost is not counted "
              "here.\n"]
    for name, p in result["pairs"].items():
        lines += [f"**{name}** (MDE of the t over seeds, as a share of the reference NME {p['reference_nme']:.4f}; "
                  f"DAG minutes added by the seeds past {result['n_seeds']})\n",
                  "| seeds | " + " | ".join(f"{m} items" for m in ITEMS) + " | DAG minutes added |",
                  "|---|" + "---|" * (len(ITEMS) + 1)]
        for n in SEEDS:
            cells = [next(r for r in p["tradeoff"] if r["n_seeds"] == n and r["n_items"] == m) for m in ITEMS]
            added = max(0, n - result["n_seeds"]) * per_seed_wall
            lines.append(f"| {n} | " + " | ".join(f"{_f(c['mde_seeds'])} ({100 * c['share_of_reference']:.1f}%)"
                                                  for c in cells) + f" | {added:.0f} |")
        lines.append("")
    lines += ["## What the verdict rule costs\n",
              f"Simulated ({result['reps']} replicates a pair, effects injected into a null world fitted to its "
              f"matrix, `power.simulate_rule`): the t test alone; the rule as published, under each of the "
              f"{result['settings']} kernel settings the check requires (each a re-training, simulated as fresh "
              f"seeds), clearing 0 by {result['vendor_margin']} half-widths with the test-image bootstrap agreeing, "
              "the same sign under all; and the settings' runs pooled (each seed's difference averaged over the "
              "settings, one t interval over those seed means clearing the same margin, the bootstrap agreeing).\n",
              "| pair | rule | runs | effective level | MDE (80% power) |", "|---|---|---|---|---|"]
    for name, p in result["pairs"].items():
        for rule, r in p["rules"].items():
            lines.append(f"| {name} | {rule} | {r['runs']} | {r['level']:.3f} | {_f(r['mde'])} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=200, help="simulated replicates per pair and rule")
    parser.add_argument("--root", type=Path, default=Path("."), help="the repository (its committed outputs)")
    args = parser.parse_args(argv)
    result = measure(args.root, args.reps)
    write_json(args.root / OUT, result, 6)
    write_text(args.root / PAGE, page(result))
    print(f"{OUT}, {PAGE}: {len(result['pairs'])} pairs", file=sys.stderr)


if __name__ == "__main__":
    run(main)
