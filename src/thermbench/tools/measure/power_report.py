"""The power of the benchmark's T-FAKE comparisons, measured on the committed per-item outputs of the default run:

    python -m thermbench.tools.measure.power_report [--reps 200]   -> conclusions/power.json, docs/power.md

For each pair of trained methods the sources make a claim about (each KTL variant against the supervised student of
its size, DIKD against FD+LD, MCL against the supervised student of its size), from its seeds x test-items matrix of
per-image NME-IO differences (`core.pairs`, stage board_pairs' engine):

1. where the variance of the difference sits: seeds, test items, their interaction (`power.variance_split`);
2. the kernel settings' share (`power.kernel_share`): the same seeds re-trained under each kernel setting made so
   far for this code (conclusions/kernel_check.json), split into a shift every seed of a setting shares (the
   once-trained teacher and pretrain, which a setting re-trains and the seeds share) and each seed's own move;
3. the trade-off of the design: the minimum detectable effect (MDE) at 80% power of the published test (this run
   and every setting's re-training as settings x seeds, `stats.crossed_mean`) for other numbers of seeds and test
   items (`power.mde_crossed`), as run today and with a teacher and a pretrain per seed (the settings' shared shift
   then moves into each seed's own variance), beside what each costs the default DAG (the CPU time of the stages in
   metrics/timing/stages_default.json, on the cores that measured it) and the 5% target (of the supervised
   student's NME); without a setting made for this code, the t test over seeds of this run alone;
4. what the verdict rule costs (`power.simulate_rule`, effects injected into a null world fitted to the matrix, with
   the measured setting shift): the effective level, the power per effect and the MDE of (a) the t test over this
   run's seeds alone, (b) each setting alone: under every kernel setting the t interval at the pair's Holm level
   clears 0 by the vendor margin and the test-image bootstrap agrees, all in one direction; (c) the rule as
   published: the settings' runs pooled (`pairs.pool`), one `stats.crossed_mean` interval clearing the vendor
   margin, the bootstrap agreeing.

Choices of the default profile's size are read from this file; it is made after `dvc repro` and committed beside it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import yaml

from thermbench.core import power
from thermbench.core.conclusions import VENDOR_MARGIN, read_kernel_check
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
ONCE = ("teacher", "pretrain")  # trained once and shared by every seed's students
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
    """CPU minutes of the seeded stages per seed, of the once-trained stages (a teacher and a pretrain), and the
    cores they were measured on."""
    stages = timings["stages"]
    cpu = sum(v["cpu_s"] for k, v in stages.items() if k.split("@")[0] in SEEDED)
    once = sum(v["cpu_s"] for k, v in stages.items() if k.split("@")[0] in ONCE)
    return {"cpu_min_per_seed": cpu / 60 / n_seeds, "cpu_min_once": once / 60, "cores": timings["machine"]["cores"]}


def either_block(blocks: int, level: float, margin: float):
    """Each setting alone, over `blocks` kernel settings stacked as row blocks: each block resolved with the margin
    and the bootstrap, all in one direction."""
    def rule(matrix: np.ndarray) -> int:
        verdicts = {power.paired_rule(b, level, True, margin) for b in np.array_split(matrix, blocks)}
        return verdicts.pop() if len(verdicts) == 1 else 0
    return rule


def pooled(blocks: int, level: float, margin: float):
    """The rule as published, the settings' runs pooled (`pairs.pool`): the `blocks` settings stacked as row blocks
    tested as settings x seeds (`stats.crossed_mean`), clearing the margin, the bootstrap over items agreeing."""
    def rule(matrix: np.ndarray) -> int:
        return power.paired_rule(matrix, level, True, margin, settings=blocks)
    return rule


def design_mde(split: dict, kernel: dict, settings: int, n_seeds: int, n_items: int, level: float,
               per_seed_once: bool) -> float:
    """MDE of the published test for `settings` x `n_seeds` runs on `n_items` test items, from the items' split of
    this run (`variance_split`) and the settings' (`kernel_share`): a setting's residual holds the seed x item
    interaction over this run's items, which more items shrink. `per_seed_once`: a teacher and a pretrain per seed,
    so the shift a setting's seeds share becomes each seed's own."""
    items_part = split["residual"] / split["n_items"]
    residual = max(kernel["residual"] - items_part, 0.0) + split["residual"] / n_items
    shift = kernel["setting"]
    if per_seed_once:
        residual, shift = residual + shift, 0.0
    return power.mde_crossed(kernel["seed"], shift, residual, settings, n_seeds, level)


def pair_power(diff: np.ndarray, level: float, reference: float, settings: int, reps: int, seed: int,
               kernel: dict | None = None) -> dict:
    """Variance split, trade-off table and rule simulation of one pair's seeds x items differences; `kernel`: its
    kernel share (`power.kernel_share` over two or more seeds), None before a setting is made."""
    split = power.variance_split(diff)
    s = split["n_seeds"]
    t_mde = power.mde_paired_t(float(np.sqrt(split["var_of_mean_over_seeds"])), s, level)
    shift = kernel["setting"] if kernel else 0.0
    grid = [0.0] + [float(max(t_mde, np.sqrt(shift)) * f) for f in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0)]
    rules = {"t alone (this run)": (lambda m: power.paired_rule(m, level, False), s, 1),
             "each setting alone": (either_block(settings, level, VENDOR_MARGIN), s * settings, settings),
             "settings pooled (as published)": (pooled(settings, level, VENDOR_MARGIN), s * settings, settings)}
    simulated = {}
    for name, (rule, rows, blocks) in rules.items():
        got = power.mde_of_rule(rule, diff, grid, reps, seed, seeds=rows, settings=blocks, setting=shift)
        simulated[name] = {"runs": rows, "level": got["curve"][0.0], "mde": got["mde"],
                           "power": {f"{e:.6g}": v for e, v in got["curve"].items() if e > 0}}
    if kernel:
        table = [{"n_seeds": n, "n_items": m,
                  "mde_published": design_mde(split, kernel, settings, n, m, level, False),
                  "mde_once_per_seed": design_mde(split, kernel, settings, n, m, level, True)}
                 for n in SEEDS for m in ITEMS]
    else:
        table = [{"n_seeds": n, "n_items": m, "mde_seeds": power.mde_from_split(split, n, m, level)["mde_seeds"]}
                 for n in SEEDS for m in ITEMS]
    return {"variance": split, "kernel": kernel, "level": level, "mde_t": t_mde, "reference_nme": reference,
            "mde_share": t_mde / reference, "tradeoff": table, "rules": simulated}


def measure(root: Path, reps: int, seed: int = 0) -> dict:
    params = yaml.safe_load((root / "params.yaml").read_text())
    runs = [m for p in sorted((root / "metrics" / "mlcmkd").rglob("*.json")) for m in [read_json(p)]
            if "nme" in m.get("tfake", {})]
    entries = landmark_entries(runs, {}, [root / "plots" / "curves" / "mlcmkd"],
                               root / "data" / "predictions" / "table1_submissions", "tfake")
    seeded = {k for k, e in entries.items() if e.seeded}
    statements = {s["id"]: s for s in read_json(root / "metrics" / "conclusions" / "boards.json")["statements"]}
    # a claim of the paper is tested in its own table's family (metrics/conclusions/mlcmkd.json): its level there
    tables = read_json(root / "metrics" / "conclusions" / "mlcmkd.json")["statements"]
    claims = {s["numbers"]["board"]: s for s in tables if "board" in s["numbers"]}
    path = root / "conclusions" / "kernel_check.json"
    settings = len(read_json(path)["required"])
    n_seeds = len(params["train"]["seeds"])
    cost = seed_cost(read_json(root / "metrics" / "timing" / "stages_default.json"), n_seeds)
    out = {"target_share": TARGET, "settings": settings, "vendor_margin": VENDOR_MARGIN, "reps": reps,
           "seed_cost": cost, "dag_seconds": read_json(root / "metrics" / "timing" / "make.json")["default"]["seconds"],
           "n_seeds": n_seeds, "pairs": {}}
    checks = {}  # report -> its kernel check, read once: reading it fingerprints the report's code
    for a, b in claimed_pairs(params, seeded):
        first, second = sorted((a, b))
        board = f"boards.landmarks68_tfake.{first}_vs_{second}"
        statement = claims.get(board, statements[board])
        diff = paired(entries[a], entries[b], lambda v: v, binary=False)["diff"]
        reference = float(np.mean([e.mean() for e in entries[b].runs.values()]))
        report = statement["id"].split(".")[0]
        if report not in checks:
            checks[report] = read_kernel_check(path, root / "params.yaml", report)
        check = checks[report]
        runs = check.kernel_runs_of(statement["id"]) if check else None
        here = diff.mean(axis=1)
        # the statement's per-seed differences (and the settings' of it) may run b - a
        ps = np.asarray(statement["numbers"]["per_seed"])
        sign = 1.0 if np.abs(ps - here).sum() <= np.abs(ps + here).sum() else -1.0
        kernel = power.kernel_share(here, {k: sign * np.asarray(v) for k, v in runs.items()}) if runs else None
        print(f"power_report: {a} vs {b}", file=sys.stderr)
        out["pairs"][f"{a}_vs_{b}"] = {**pair_power(diff, statement["numbers"]["level"], reference, settings, reps,
                                                    seed, kernel), "paper": PAPER.get(f"{a}_vs_{b}", ""),
                                    "statement": statement["id"]}
    return out


def _f(v, digits: int = 4) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def _share(v, reference: float) -> str:
    return "—" if v is None else f"{v:.4f} ({100 * v / reference:.1f}%)"


def page(result: dict) -> str:
    """docs/power.md from conclusions/power.json."""
    cost = result["seed_cost"]
    per_seed_wall = cost["cpu_min_per_seed"] / cost["cores"]
    once_wall = cost["cpu_min_once"] / cost["cores"]
    settings = result["settings"]
    lines = ["# Power: what the T-FAKE comparisons can see\n",
             "Made by `python -m thermbench.tools.measure.power_report` from the committed per-item outputs of the "
             "default run and the kernel check's re-trainings of the same seeds (conclusions/power.json). NME-IO "
             "differences A − B over the T-FAKE test images; the minimum detectable effect (MDE) is at each pair's "
             "Holm level (in its paper table's family, metrics/conclusions/mlcmkd.json, where the tables compare it) "
             "and 80% power. A statement is published from this run and every kernel setting's re-training of its "
             f"seeds ({settings} runs of each seed), tested as settings × seeds with both random (a setting's shift "
             "averages out over the settings only, a seed's over the seeds only; Satterthwaite's degrees of "
             "freedom).\n",
             "## Where the variance sits, and what the run could see\n",
             "Variances of the difference: over this run's seeds × test items, and over the settings made so far × "
             "seeds (the seeds' item means; \"shift\" is what a setting moves every seed by, \"seed × setting\" each "
             "seed's own move).\n",
             "| pair | seeds × items | seed | item | seed × item | settings made | shift | seed × setting | "
             f"MDE: t over this run's seeds | MDE: published, {settings} settings | target | what the source reports |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, p in result["pairs"].items():
        v, k, ref = p["variance"], p["kernel"], p["reference_nme"]
        now = next(r for r in p["tradeoff"] if r["n_seeds"] == v["n_seeds"] and r["n_items"] == v["n_items"])
        made = f"{k['n_settings']} ({', '.join(['here', *k['settings']])})" if k else "none"
        kcells = f"{k['setting']:.2e} | {k['residual']:.2e}" if k else "— | —"
        lines.append(f"| {name} | {v['n_seeds']} × {v['n_items']} | {v['seed']:.2e} | {v['item']:.2e} | "
                     f"{v['residual']:.2e} | {made} | {kcells} | {_share(p['mde_t'], ref)} | "
                     f"{_share(now.get('mde_published'), ref)} | {100 * result['target_share']:.0f}% | "
                     f"{p['paper'] or '—'} |")
    lines += ["", "The t test over this run's seeds cannot see the shift: every seed shares it. Estimated from the "
              "settings made so far, a shift rests on that many runs less one degree of freedom: a rough estimate "
              "until every setting is made.\n",
              "## The trade-off: seeds, test items and a teacher per seed\n",
              f"A seed costs the default DAG {cost['cpu_min_per_seed']:.1f} CPU minutes (its seeded stages over "
              f"{result['n_seeds']} seeds, metrics/timing/stages_default.json), about {per_seed_wall:.1f} minutes on "
              f"{cost['cores']} cores; a teacher and a pretrain {cost['cpu_min_once']:.1f} CPU minutes, about "
              f"{once_wall:.1f} minutes. The default `make repro` took {result['dag_seconds'] / 60:.0f} minutes at "
              f"{result['n_seeds']} seeds. \"today\": one teacher and one pretrain shared by every seed; \"teacher per "
              "seed\": each seed's students start from their own (a setting's shift then becomes each seed's own "
              "move, assuming it is the re-training of those models). Test items are rendered and scored, not "
              "trained: their cost is not counted here.\n"]
    for name, p in result["pairs"].items():
        ref = p["reference_nme"]
        if p["kernel"] is None:
            lines += [f"**{name}** (no kernel setting made for this code: the t test over this run's seeds, MDE as a "
                      f"share of the reference NME {ref:.4f})\n",
                      "| seeds | " + " | ".join(f"{m} items" for m in ITEMS) + " | DAG minutes added |",
                      "|---|" + "---|" * (len(ITEMS) + 1)]
            for n in SEEDS:
                cells = [next(r for r in p["tradeoff"] if r["n_seeds"] == n and r["n_items"] == m) for m in ITEMS]
                added = max(0, n - result["n_seeds"]) * per_seed_wall
                lines.append(f"| {n} | " + " | ".join(_share(c["mde_seeds"], ref) for c in cells) + f" | {added:.0f} |")
        else:
            lines += [f"**{name}** (MDE of the published test over {settings} settings, as a share of the reference "
                      f"NME {ref:.4f}: today / teacher per seed; DAG minutes added past {result['n_seeds']} seeds "
                      "today)\n",
                      "| seeds | " + " | ".join(f"{m} items" for m in ITEMS) + " | minutes added: today | "
                      "minutes added: teacher per seed |", "|---|" + "---|" * (len(ITEMS) + 2)]
            for n in SEEDS:
                cells = [next(r for r in p["tradeoff"] if r["n_seeds"] == n and r["n_items"] == m) for m in ITEMS]
                added = max(0, n - result["n_seeds"]) * per_seed_wall
                lines.append(f"| {n} | " + " | ".join(
                    f"{100 * c['mde_published'] / ref:.1f}% / {100 * c['mde_once_per_seed'] / ref:.1f}%"
                    for c in cells) + f" | {added:.0f} | {added + (n - 1) * once_wall:.0f} |")
        lines.append("")
    lines += ["## What the verdict rule costs\n",
              f"Simulated ({result['reps']} replicates a pair, effects injected into a null world fitted to its "
              "matrix, with each setting's shift drawn at the measured variance, `power.simulate_rule`): the t test "
              f"over this run's seeds alone; each of the {settings} kernel settings alone, clearing 0 by "
              f"{result['vendor_margin']} half-widths with the test-image bootstrap agreeing, the same sign under all; "
              "and the rule as published, the settings' runs pooled as settings × seeds, one interval clearing the "
              "same margin, the bootstrap agreeing. A level above 0.05 is a rule that resolves differences that are "
              "not there.\n",
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
