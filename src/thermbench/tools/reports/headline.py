"""The headline numbers, one flat file per reproduction (stage report_headline -> metrics/headline/<reproduction>.json):
the cells the README's results block shows, as numbers, under keys that read as names (`tfake.nme.ktl_dikd.mean`), so
`dvc metrics show` and `dvc metrics diff` list a few hundred numbers a reader compares between experiments. They are
read from the committed metrics, not computed again, except the mean and sd over seeds the README shows (sample sd,
ddof 1); a method without a number (weights not available) has no key.

    nose         per zero-shot model: full-frame detection and PCK@10, GT-box detection, median error and PCK@10 (frame
                 px); the TinyHead's GT-box cells as mean and sd over its seeds
    mlcmkd       Table I: T-FAKE NME-IO and CHARLOTTE Full NME-diag per method (mean, and sd over seeds), its converged
                 runs; the mean-shape baseline
    breath       ridge MAE per scene and source over the windows where it has a rate (mean, and sd over seeds), and
                 those windows
    speed        per int8 student: its NME change from fp32 (its speed-up is a timing: metrics/timing/speed_deploy.json,
                 never a DVC metric)
    conclusions  statements resolved and not resolved, in all and per report
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from thermbench.core.io import read_json, write_json
from thermbench.mlcmkd.report_tables import UNTRAINED, group_runs, table_i_order, tfake_nme

PCK = "10px"
SCENES = ("near", "near_sway", "far")


def _key(name: str) -> str:
    return name.replace("-", "_").replace(" ", "_")


def _seeds(prefix: str, values: list[float]) -> dict[str, float]:
    """`prefix.mean` of the values, and `prefix.sd` (ddof 1) where there are several."""
    v = np.asarray(values, np.float64)
    return {f"{prefix}.mean": float(v.mean()), **({f"{prefix}.sd": float(v.std(ddof=1))} if v.size > 1 else {})}


def nose(zeroshot: dict[str, dict], head: dict) -> dict:
    """`zeroshot`: {model: metrics/zeroshot/<model>.json}; `head`: metrics/head/thermeval.json."""
    out = {}
    for model, m in sorted(zeroshot.items()):
        if m["status"] != "ok":
            continue
        full, k = m["full_frame"], _key(model)
        out |= {f"{k}.full_frame.found": full["detection_rate"], f"{k}.full_frame.pck10": full["pck"][PCK]}
        box = m["crop"].get("frame_px") if isinstance(m["crop"], dict) else None
        if box is not None:  # a model not run on the GT boxes has no such cells
            out |= {f"{k}.gt_box.found": box["detection_rate"], f"{k}.gt_box.median_px": box["median_px"],
                    f"{k}.gt_box.pck10": box["pck"][PCK]}
    over = head["over_seeds"]["frame_px"]
    out |= {"tinyhead.gt_box.found": head["frame_px"]["detection_rate"],
            "tinyhead.gt_box.median_px.mean": over["median_px"]["mean"],
            "tinyhead.gt_box.median_px.sd": over["median_px"]["sd"],
            "tinyhead.gt_box.pck10.mean": over["pck"][PCK]["mean"], "tinyhead.gt_box.pck10.sd": over["pck"][PCK]["sd"],
            "tinyhead.seeds": len(head["seeds"]),
            "tinyhead.seeds_converged": sum(bool(s["converged"]) for s in head["seeds"].values())}
    return out


def mlcmkd(runs: dict[str, dict], summary: dict) -> dict:
    """`runs`: {run: metrics/mlcmkd/**/<run>.json}; `summary`: metrics/mlcmkd_summary.json."""
    groups = group_runs(runs)
    out = {}
    for name in table_i_order(groups):
        g = groups[name]
        if next(iter(g.runs.values())).get("status", "ok") != "ok":
            continue
        k = _key(name)
        out |= _seeds(f"tfake.nme.{k}", list(g.values(tfake_nme)))
        out |= _seeds(f"charlotte.nme.{k}", list(g.values(lambda r: r["charlotte"]["full"]["nme"])))
        if g.kind not in UNTRAINED:
            out |= {f"converged.{k}": len(g.runs) - len(g.unconverged()), f"runs.{k}": len(g.runs)}
    return out | {"tfake.nme.mean_shape": summary["mean_shape_test_nme"]}


def breath(scores: dict) -> dict:
    """`scores`: metrics/conclusions/breath.json's scores, the leaderboard's: each source's MAE per seed over the
    windows where it has a rate (`seed_mae`), so the two print one number (the noise series of the true nostrils is
    the report's, not in them)."""
    out = {}
    for scene in SCENES:
        for source, score in sorted(scores.get(scene, {}).items()):
            if score.get("seed_mae") is None:  # no window with a rate in this scene
                continue
            out |= _seeds(f"{scene}.{_key(source)}.mae", score["seed_mae"])
            out[f"{scene}.{_key(source)}.windows"] = score["windows"]
    return out


def speed(deploy: dict) -> dict:
    """`deploy`: metrics/speed/deploy.json."""
    out = {}
    for student, s in sorted(deploy.get("int8_students", {}).items()):  # none in a profile without int8 students
        k = _key(student)
        out |= {f"int8.{k}.tfake_nme_change": s["tfake_nme_rise"],
                f"int8.{k}.charlotte_nme_change": s["charlotte_nme_rise"]}
    return out


def conclusions(gathered: dict) -> dict:
    """`gathered`: metrics/conclusions.json."""
    out = {key: gathered[key] for key in ("resolved", "not_resolved", "resolved_deterministic",
                                         "resolved_kernel_checked")}
    for s in gathered["statements"]:
        key = f"{s['report']}.{'resolved' if s['resolved'] else 'not_resolved'}"
        out[key] = out.get(key, 0) + 1
    return out


def headline(metrics: Path) -> dict[str, dict]:
    """{reproduction: its flat headline numbers, with the `data` label (synthetic | real) of what they rest on}, read
    from `metrics` (metrics/)."""
    zeroshot = {p.stem: read_json(p) for p in sorted((metrics / "zeroshot").glob("*.json"))}
    runs = {p.stem: read_json(p) for p in sorted((metrics / "mlcmkd").rglob("*.json"))}
    head, summary = read_json(metrics / "head" / "thermeval.json"), read_json(metrics / "mlcmkd_summary.json")
    rates, deploy = read_json(metrics / "breath" / "rates.json"), read_json(metrics / "speed" / "deploy.json")
    gathered = read_json(metrics / "conclusions.json")
    return {"nose": {**nose(zeroshot, head), "data": head["data"]},
            "mlcmkd": {**mlcmkd(runs, summary), "data": summary["data"]},
            "breath": {**breath(read_json(metrics / "conclusions" / "breath.json")["scores"]), "data": rates["data"]},
            "speed": {**speed(deploy), "data": deploy["data"]},
            "conclusions": {**conclusions(gathered), "data": gathered["data"]}}


def write(metrics: Path, out: Path) -> None:
    """Stage report_headline: `out`/<reproduction>.json from `metrics`."""
    for name, numbers in headline(metrics).items():
        write_json(out / f"{name}.json", dict(sorted(numbers.items())))


def main(argv: list[str] | None = None) -> None:
    from thermbench.tools import library_help

    library_help.main(__doc__, "stage report_headline runs it (stages/headline.py)", argv)


if __name__ == "__main__":
    from thermbench.core.stage import run

    run(main)
