"""The numbers the README and docs/ quote outside the results block, each rendered from the file that holds it:
`BLOCKS[page][name](metrics)` is the text between `<!-- make readme: name -->` and `<!-- /make readme -->` on that
page (`make readme` writes it, a test checks it). `metrics` is the metrics/ folder; its parent is the repository."""

from __future__ import annotations

import functools
import math
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable

from thermbench.core.conclusions import VENDOR_MARGIN, VENDOR_QUANTILE
from thermbench.core.io import InputError, read_json
from thermbench.core.stage import load_params, section
from thermbench.core.stats import ALPHA
from thermbench.speed import families
from thermbench.tools.gates import regression
from thermbench.tools.pipeline.exp_table import DEPS_DROP
from thermbench.tools.pipeline.stage_deps import PARAMS_CHECK
from thermbench.tools.pipeline.timings import KINDS, TIMINGS, WORKERS
from thermbench.zeroshot.blog_report import ANCHORS, _detection, _pct

KTL = "mlcmkd/ktl/dikd/ktl-dikd-seed0.json"  # the student the ONNX worked example exports
GATE_MOVED = ("mlcmkd/ktl/dikd/ktl-dikd-seed0.json:training.grad_norm.cv_percent",
              "mlcmkd/ktl/dikd/ktl-dikd-seed0.json:training.grad_norm.std")  # the gate sample's two moved metrics
GATE_SHIFT = 1.1  # ... each moved by 10%
BREATH_SCENES = ("near", "near_sway", "far")


def read_input(path: Path, hint: str = "run `make repro` first") -> dict:
    """A JSON file the pages are rendered from; missing: one line saying so, and how to get it (`hint`)."""
    if not path.is_file():
        raise InputError(f"{path}: not found ({hint})")
    return read_json(path)


# ------------------------------------------------------------------------------------------------------- README.md
def head_params(metrics: Path) -> str:
    return f"{read_input(metrics / 'head' / 'thermeval.json')['trainable_params']:,}"


def _duration(seconds: float) -> str:
    minutes, s = divmod(round(seconds), 60)
    return f"{minutes} min {s:02d} s" if minutes else f"{s} s"


def timings(metrics: Path) -> str:
    """The wall time and disk of each measured command, with the machine and commit it was measured on; a command
    not measured says so."""
    path = metrics.parent / TIMINGS
    measured = read_json(path) if path.is_file() else {}
    what = {"smoke": "`make repro` on the smoke profile", "default": "`make repro` on the default profile",
            "test": "`make test`"}
    rows = ["| command | wall time | disk | venv | measured on |", "| --- | --- | --- | --- | --- |"]
    for kind in KINDS:
        e = measured.get(kind)
        if e is None:
            rows.append(f"| {what[kind]} | not measured on this code |  |  |  |")
            continue
        m = e["machine"]
        venv = "" if e.get("venv_bytes") is None else f"{e['venv_bytes'] / 1e9:.1f} GB"
        load = "" if e.get("load_average") is None else f", load average {e['load_average']:g} during the run"
        clone = " (a fresh clone, its `dvc.lock` kept)" if "fresh clone" in e.get("command", "") else ""
        rows.append(f"| {what[kind]}{clone} | {_duration(e['seconds'])} | {e['disk_bytes'] / 1e9:.2f} GB | {venv} | "
                    f"{m['cpu']}, {m['cores']} cores, {m['memory_gb']:g} GB RAM{load}; commit {e['commit']}, "
                    f"{e['date']} |")
    return "\n\n" + "\n".join(rows) + "\n\n"


def workers_model(metrics: Path) -> str:
    """What more cores give a training stage: its wall time at each count of workers measured here, whether its
    outputs came out identical, and the model fitted to them (`timings.workers_model`) at more workers."""
    path = metrics.parent / WORKERS
    if not path.is_file():
        return "\n\nNot measured yet: `python -m thermbench.tools.pipeline.timings workers`.\n\n"
    w = read_json(path)
    m, model = w["machine"], w["model"]
    measured = "; ".join(f"{e['workers']} worker{'s' if e['workers'] > 1 else ''}: {_duration(e['wall_s'])} "
                         f"(CPU {_duration(e['cpu_s'])})" for e in w["measured"])
    more = ", ".join(f"{k} workers {_duration(v)}" for k, v in model["predicted"].items()
                     if int(k) > max(e["workers"] for e in w["measured"]))
    same = "identical at every count" if w["outputs_identical"] else "NOT identical (a number depends on the workers)"
    return (f"\n\n`{w['stage']}` ({w['runs']} runs, one thread each), re-run by "
            f"`python -m thermbench.tools.pipeline.timings workers` on {m['cpu']}, {m['cores']} cores "
            f"(commit {w['commit']}, {w['date']}): {measured}; its "
            f"outputs {same}. Model: wall = {model['fixed_s']:g} s + {model['per_round_s']:g} s x ceil(runs / "
            f"workers), fitted to those two counts, which assumes runs of equal length on a core each. A machine with "
            f"more cores would take, by that model (predicted, not measured): {more or 'no less'}; beyond "
            f"{w['runs']} workers no run waits.\n\n")


STAGE_ROWS = 12  # the longest stages shown one a row; the rest summed in one


def stage_timings(metrics: Path) -> str:
    """Where `make repro`'s time goes, stage by stage, from each stage timings file under metrics/timing/ (stages.json:
    this repository's own `make repro`; stages_<profile>.json: a fresh copy's, `python -m
    thermbench.tools.pipeline.timings measure <profile>`): the longest stages' wall and CPU seconds, their share of the
    total and the load beside them, with the machine and commits they were measured on."""
    files = sorted((metrics / "timing").glob("stages*.json"))
    if not files:
        return "\n\nNot measured yet: `make repro` writes metrics/timing/stages.json.\n\n"
    parts = []
    for path in files:
        held = read_json(path)
        stages, m = held["stages"], held["machine"]
        wall, cpu = sum(e["wall_s"] for e in stages.values()), sum(e["cpu_s"] for e in stages.values())
        commits = sorted({e["commit"] or "no commit" for e in stages.values()})
        dates = sorted({e["date"] for e in stages.values()})
        what = "this repository's `make repro`" if path.stem == "stages" else (
            f"`make repro` on the {path.stem.removeprefix('stages_')} profile, a "
            f"{held.get('how', 'fresh copy, no dvc.lock, DVC cache or remote: every stage runs')}")
        paired = sum("beside" in e for e in stages.values())
        overlap = (f" {paired} of them ran beside another stage (`beside`), so their wall times add up to more than "
                   "the run's." if paired else "")
        parts.append(f"**{path.relative_to(metrics.parent)}**, {what}: {len(stages)} stages, {_duration(wall)} of "
                     f"stage wall time and {_duration(cpu)} of CPU on {m['cpu']}, {m['cores']} cores; commit(s) "
                     f"{', '.join(commits)}, {' to '.join(dict.fromkeys((dates[0], dates[-1])))}.{overlap}\n")
        rows = ["| stage | wall | share | CPU | CPU / wall | mean load |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
        ordered = sorted(stages.items(), key=lambda item: (-item[1]["wall_s"], item[0]))
        rest = ordered[STAGE_ROWS:]
        shown = [(name, e["wall_s"], e["cpu_s"], f"{e['load_1m']:.1f}") for name, e in ordered[:STAGE_ROWS]]
        if rest:
            shown.append((f"the other {len(rest)} stages", sum(e["wall_s"] for _, e in rest),
                          sum(e["cpu_s"] for _, e in rest), ""))
        rows += [f"| {name} | {_duration(w)} | {w / max(wall, 1e-9):.0%} | {_duration(c)} | "
                 f"{c / w if w else 0:.2f} | {load} |" for name, w, c, load in shown]
        parts.append("\n".join(rows) + "\n")
    return "\n\n" + "\n".join(parts) + "\n"


# --------------------------------------------------------------------------------------------- docs/own-model.md
def ktl_tfake(metrics: Path) -> str:
    t = read_input(metrics / KTL)["tfake"]
    return f"NME-IO {t['nme']:.6f} over {t['n']} crops"


def ktl_charlotte(metrics: Path) -> str:
    c = read_input(metrics / KTL)["charlotte"]["full"]
    return f"NME-diag {c['nme']:.6f} over {c['n']}"


def dlib_found(metrics: Path) -> str:
    m = read_input(metrics / "zeroshot" / "dlib68.json")
    box = m["crop"]["frame_px"]
    return (f"{m['full_frame']['n_predictions']} noses predicted in the full frames; {box['detection_rate']:.2%} of "
            f"the {box['n_gt']} GT Person boxes")


def ktl_speed(metrics: Path) -> str:
    c = read_input(metrics / "speed.json")["checkpoints"]["ktl-dikd-seed0"]
    return f"{c['gmacs']:.6f} GMACs and {c['params']:,} parameters"


def mediapipe_rates(metrics: Path) -> str:
    rates = read_input(metrics / "breath" / "rates.json")["sources"]["mediapipe"]
    return ", ".join(f"{scene} {rates[scene]['ridge']['mae_bpm']:.2f}" for scene in BREATH_SCENES)


# ------------------------------------------------------------------------------------------------ docs/results.md
def datasets_sample(metrics: Path) -> str:
    """What `dvc metrics show --md metrics/datasets` lists for two datasets (a few columns; DVC rounds to 5 digits)."""
    keys = (("mean_px", "nose_x"), ("mean_px", "nose_y"), ("samples", "test"), ("samples", "train"),
            ("samples", "val"))
    rows = ["| Path | " + " | ".join(".".join(k) for k in keys) + " |", "|" + "---|" * (len(keys) + 1)]
    for name in ("tfake", "thermeval"):
        m = read_input(metrics / "datasets" / f"{name}.json")
        cells = [f"{m[a][b]:.5f}".rstrip("0").rstrip(".") if b in m.get(a, {}) and isinstance(m[a][b], float)
                 else str(m[a][b]) if b in m.get(a, {}) else "-" for a, b in keys]
        rows.append(f"| metrics/datasets/{name}.json | " + " | ".join(cells) + " |")
    return "\n\n```\n" + "\n".join(rows) + "\n```\n\n"


EXP_RECORD = Path("metrics/timing/exp_workflow.json")  # what tests/test_exp_workflow.py's commands printed


CSV_META = ("Experiment", "rev", "typ", "Created", "parent", "State", "Executor")  # `dvc exp show --csv`'s own columns


def exp_workflow(metrics: Path) -> str:
    """The experiment workflow's real output, recorded by tests/test_exp_workflow.py (THERMBENCH_EXP_RECORD=1): one
    smoke experiment of one param, with `make exp-show` (tools/pipeline/exp_table.py), DVC's own `dvc exp show
    --only-changed` (the dependencies' hash columns it adds, and its table without them, `--drop`), `dvc metrics diff`
    and the charts of `dvc plots diff` between it and the committed run it started from. A record made before `make
    exp-show` had its own renderer holds only that command's output, under the name it then had."""
    path = metrics.parent / EXP_RECORD
    if not path.is_file():
        return ("\n\nNot recorded on this code: `THERMBENCH_WARM_SMOKE=<a smoke project after dvc repro>\n"
                "THERMBENCH_EXP_RECORD=1 python -m pytest tests/test_exp_workflow.py` records it.\n\n")
    r = read_json(path)
    rows = len([row for row in r["metrics_diff"].splitlines()[2:] if row.strip()])  # below the header and rule
    charts = ", ".join(f"`{p}`" for p in r["plots"])
    command = r.get("exp_show_command", 'make exp-show ARGS="--md"')
    dvc = ""
    if "dvc_only_changed" in r:
        columns, deps = r["dvc_only_changed"]["columns"], r["dvc_only_changed"]["deps"]
        values = [c for c in columns if c not in CSV_META]
        timing = [d for d in deps if d.startswith("metrics/timing/")]
        dvc = (f"DVC's own `dvc exp show --only-changed` has {len(values)} columns of values there: the "
               f"{len(values) - len(deps)} params and headline metrics that differ and {len(deps)} dependencies' "
               "hashes, named by their paths" + (f" ({len(timing)} of them timings)" if timing else "") + ": "
               + ", ".join(f"`{d}`" for d in deps) + f". `dvc exp show --only-changed --drop '{DEPS_DROP}' --md` "
               f"leaves the hashes out, in DVC's order (the metrics, then the params):\n\n```\n"
               f"{r['dvc_drop'].strip()}\n```\n\n")
    return (f"\n\nOn the smoke profile, `dvc exp run -S {r['param']}={r['value']} --name {r['name']}` on top of the "
            f"committed run ({r['param']} {r['base_value']}; commit {r['commit']}, {r['date']}). "
            f"`{command}`:\n\n```\n{r['exp_show'].strip()}\n```\n\n{dvc}"
            f"`dvc metrics diff {r['base']} {r['name']} --md` ({rows} rows):\n\n```\n{r['metrics_diff'].strip()}\n"
            f"```\n\n`dvc plots diff {r['base']} {r['name']}` draws {len(r['plots'])} charts, each with both "
            f"revisions: {charts}.\n\n")


# --------------------------------------------------------------------------------------------------- docs/ci.md
def lock_kb(metrics: Path) -> str:
    return f"{(metrics.parent / 'dvc.lock').stat().st_size / 1000:.0f} kB"


def gate_sample(metrics: Path) -> str:
    """The gate's own report on the committed baseline's centres with `GATE_MOVED` each moved by 10%."""
    root = metrics.parent
    baseline = regression.read_baseline(root / regression.BASELINE)
    tol = regression.load_tolerances(root / regression.TOLERANCES)
    current = {name: entry.centre for name, entry in baseline.entries.items()}
    for name in GATE_MOVED:
        if name not in current:
            raise InputError(f"{regression.BASELINE}: no metric {name} for the gate's sample in docs/ci.md")
        current[name] = round(current[name] * GATE_SHIFT, 6)
    report = regression.format_report(regression.compare(baseline, current, tol), baseline.info)
    return "\n\n```\n" + report + "```\n\n"


def baseline_calibration(metrics: Path) -> str:
    """Where and how the committed baseline was calibrated, from its own `calibration` record."""
    info = regression.read_baseline(metrics.parent / regression.BASELINE).info
    missing = [key for key in ("machine", "runs", "environment") if key not in info]
    if missing:
        raise InputError(f"{regression.BASELINE}: its calibration record lacks {', '.join(missing)}")
    return f"{info['machine']}; {info['runs']}; environment {info['environment']}"


def wide_bands(metrics: Path) -> str:
    root = metrics.parent
    baseline = regression.read_baseline(root / regression.BASELINE)
    return str(len(regression.wide_bands(baseline, regression.load_tolerances(root / regression.TOLERANCES))))


# --------------------------------------------------------------------------------------------------- docs/gpu.md
GPU = "gpu/nvidia-h100-80gb-hbm3"  # the GPU check docs/gpu.md reports
SETTINGS = {"fp32": "fp32 (strict)", "tf32": "tf32", "bf16": "bf16", "bf16+compile": "bf16 + compile"}


def _rate(images_per_s: float) -> str:
    """Images/s to the unit, halves up (606.5 -> 607)."""
    return f"{math.floor(images_per_s + 0.5):,}"


def _peak(run: dict) -> float:
    """A GPU run's peak memory, GB: reserved (what gpu-check records now, a CUDA graph's pool included), or allocated
    in a file made before it recorded that."""
    return run["peak_reserved_gb"] if "peak_reserved_gb" in run else run["peak_memory_gb"]


def gpu_table(metrics: Path) -> str:
    """Images/s end to end and of the step alone at batch 64 and 256, and peak memory, per precision setting."""
    g = read_input(metrics / f"{GPU}.json")
    rows = ["| setting | batch 64 | batch 256 | step alone, batch 64 | step alone, batch 256 | peak GPU memory "
            "(64 / 256) |", "|---|---|---|---|---|---|"]
    for key, label in SETTINGS.items():
        e2e, step = g["end_to_end"][key], g["step_ceiling_images_per_s"][key]
        big = e2e.get("256")
        memory = f"{_peak(e2e['64']):.1f} / {_peak(big):.1f} GB" if big else f"{_peak(e2e['64']):.1f} GB at 64"
        e2e_256 = _rate(big["images_per_s"]) if big else "not measured (budget)"
        step_256 = _rate(step["256"]) if "256" in step else "not measured"
        rows.append(f"| {label} | {_rate(e2e['64']['images_per_s'])} | {e2e_256} | {_rate(step['64'])} | {step_256} | "
                    f"{memory} |")
    return "\n" + "\n".join(rows) + "\n"


def gpu_loader(metrics: Path) -> str:
    w = read_input(metrics / f"{GPU}.json")["loader_images_per_s_per_worker"]
    return (f"{_rate(w['augment_on_device'])} images/s with the warps on the device, "
            f"{_rate(w['warps_in_workers'])} with them in the worker")


def gpu_sapiens2(metrics: Path) -> str:
    s = read_input(metrics / f"{GPU}.json")["sapiens2_0_4b"]
    return (f"{s['bf16']['images_per_s']:.1f} images/s under bf16 autocast (peak {_peak(s['bf16']):.1f} GB), "
            f"{s['fp32']['images_per_s']:.1f} in fp32 ({_peak(s['fp32']):.1f} GB)")


def gpu_precision(metrics: Path) -> str:
    """Best validation NME per seed and setting, with the setting's images/s at batch 64."""
    p = read_input(metrics / f"{GPU}_precision.json")
    e2e = read_input(metrics / f"{GPU}.json")["end_to_end"]
    seeds = p["nme_protocol"]["seeds"]
    rows = ["| setting | " + " | ".join(f"seed {s}" for s in seeds) + " | mean | images/s at batch 64 |",
            "|---" * (len(seeds) + 3) + "|"]
    for key in SETTINGS:
        r = p["precision_nme"][key]
        rows.append(f"| {_name(key)} | " + " | ".join(f"{v:.3f}" for v in r["nmes"])
                    + f" | {r['mean']:.3f} | {_rate(e2e[key]['64']['images_per_s'])} |")
    return "\n" + "\n".join(rows) + "\n"


def gpu_fp32_range(metrics: Path) -> str:
    low, high = read_input(metrics / f"{GPU}_precision.json")["paper_choice"]["fp32_nme_range"]
    return f"{low:.3f} to {high:.3f}"


def _name(key: str) -> str:
    """A setting's name in prose and in the precision table (fp32 without "(strict)")."""
    return SETTINGS[key].replace(" (strict)", "")


NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def _words(n: int) -> str:
    return NUMBER_WORDS[n] if n < len(NUMBER_WORDS) else str(n)


def _join(items: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return " and ".join(filter(None, (", ".join(items[:-1]), items[-1]))) if items else ""


def _small(value: float) -> str:
    """A small difference, 3 significant digits, its exponent unpadded (1.062e-05 -> 1.06e-5)."""
    mantissa, _, exponent = f"{value:.3g}".partition("e")
    return f"{mantissa}e{int(exponent)}" if exponent else mantissa


def _left_out(p: dict) -> dict[str, list[float]]:
    """The settings of the precision table whose mean NME lies outside fp32's seed range (`paper_choice` leaves them
    out), each with its seeds' NMEs outside that range (at least one, as the mean lies between its seeds')."""
    low, high = p["paper_choice"]["fp32_nme_range"]
    return {key: [v for v in r["nmes"] if not low <= v <= high] for key in SETTINGS
            if (r := p["precision_nme"].get(key)) is not None and not low <= r["mean"] <= high}


def _on_seeds(nmes: list[float]) -> str:
    return f"{_words(len(nmes))} seed{'s' if len(nmes) > 1 else ''}"


def gpu_choice(metrics: Path) -> str:
    """Which settings the paper choice's rule admits (mean NME within fp32's seed range) and which it leaves out,
    with a left-out setting's images/s at batch 64 against the chosen one's and its seeds outside the range."""
    p = read_input(metrics / f"{GPU}_precision.json")
    e2e = read_input(metrics / f"{GPU}.json")["end_to_end"]
    out = _left_out(p)
    within = [_name(key) for key in SETTINGS if key in p["precision_nme"] and key not in out]
    parts = [f"{_join(within)} {'do' if len(within) > 1 else 'does'}"] if within else []
    for key, nmes in out.items():
        run = e2e.get(key, {}).get("64")
        change = None if run is None else run["images_per_s"] / p["paper_choice"]["images_per_s"] - 1
        speed = "" if change is None else f", {100 * abs(change):.0f}% {'faster' if change > 0 else 'slower'},"
        parts.append(f"{_name(key)}{speed} does not ({_on_seeds(nmes)} at {_join([f'{v:.3f}' for v in nmes])})")
    return "; ".join(parts)


def gpu_nme_limits(metrics: Path) -> str:
    """How far apart fp32's own seeds lie (its seed range's width) and on how many seeds each left-out setting
    falls outside that range."""
    p = read_input(metrics / f"{GPU}_precision.json")
    low, high = p["paper_choice"]["fp32_nme_range"]
    out = "".join(f"; {_name(key)} is left out on {_on_seeds(nmes)}" for key, nmes in _left_out(p).items())
    return f"fp32's own seeds span {high - low:.3f}, so it tells apart only large effects{out}"


def gpu_workers(metrics: Path) -> str:
    """The loader workers the fastest measured setting needs (`workers_needed`: its images/s at batch 64 over one
    worker's)."""
    n = max(read_input(metrics / f"{GPU}.json")["workers_needed"].values())
    return f"{_words(n)} worker{'s' if n > 1 else ''} would feed every measured rate"


def _identity(d: dict, where: str = "") -> str:
    """Two same-seed runs with the deterministic flag off (`default`) and on (`deterministic`)."""
    off, on = d["default"], d["deterministic"]
    if off["bit_identical"] and on["bit_identical"]:
        return "both came out identical"
    first = "are bit-identical" if off["bit_identical"] else f"differ by up to {_small(off['max_diff'])}{where}"
    second = "are bit-identical" if on["bit_identical"] else f"differ by up to {_small(on['max_diff'])}"
    return f"{first} with the flag off and {second} with it on"


def gpu_determinism(metrics: Path) -> str:
    """Same-seed runs in fp32 and bf16, with deterministic mode off and on (`determinism`)."""
    d = read_input(metrics / f"{GPU}.json")["determinism"]
    fp32 = _identity(d["fp32"], " in the student's weights")
    return f"{fp32}; in bf16 {_identity(d['bf16'])}"


def gpu_determinism_cost(metrics: Path) -> str:
    """Deterministic mode's change of the images/s end to end at batch 64 per setting (`deterministic_cost`, without
    it -> with it); a change measured once (no `beyond_spread`: no repeats) cannot be told from the run-to-run noise;
    the compiled setting, where not measured, named with the reason (`skipped`)."""
    g = read_input(metrics / f"{GPU}.json")
    cost = {key: g["deterministic_cost"][key] for key in SETTINGS if key in g["deterministic_cost"]}
    text = _join([f"{100 * c['change']:+.1f}% in {_name(key)} ({_rate(c['without'])} to {_rate(c['images_per_s'])})"
                  for key, c in cost.items()])
    resolved = [_name(key) for key, c in cost.items() if c.get("beyond_spread")]
    if not any("beyond_spread" in c for c in cost.values()):
        text += (f": {'both' if len(cost) == 2 else 'each'} within the run-to-run noise of runs this short, so no cost "
                 "could be resolved")
    else:
        text += f": beyond the repeats' range in {_join(resolved) or 'none'}"
    if "bf16+compile" not in cost:
        why = " (budget)" if any("bf16+compile" in s and "determin" in s for s in g.get("skipped", [])) else ""
        text += f". With compilation it was not measured{why}"
    return text


def gpu_cpu_forward(metrics: Path) -> str:
    return _small(read_input(metrics / f"{GPU}.json")["cpu_vs_gpu_forward_max_diff"])


def gpu_compile_time(metrics: Path) -> str:
    """Compilation's time: the compiled bf16 setting's warm-up run (compilation and its first steps) less the eager
    bf16 one's, end to end at batch 64 (`runs.seconds[0]`), in whole minutes."""
    e2e = read_input(metrics / f"{GPU}.json")["end_to_end"]
    seconds = e2e["bf16+compile"]["64"]["runs"]["seconds"][0] - e2e["bf16"]["64"]["runs"]["seconds"][0]
    minutes = round(seconds / 60)
    return f"about {minutes} minute{'s' if minutes != 1 else ''}"


GPU_TARGET = {"64": 2000, "256": 3000}  # KTL-l end to end, images/s per batch: the project's goal, not a measurement
SAME_RATE = 0.05  # end to end within 5% of the step alone's images/s: the same rate, within one run's noise


def gpu_time(metrics: Path) -> str:
    """Where the time goes, against `GPU_TARGET`: the best end-to-end images/s per batch; at batch 64 the chosen
    setting and the fastest end to end against their step alone (the same within `SAME_RATE`: the loader does not
    limit them); the step alone at batch 64 and 256 in the tensor-core settings (strict fp32 runs without them), and
    bf16 against tf32 at batch 64."""
    g = read_input(metrics / f"{GPU}.json")
    e2e, step = g["end_to_end"], g["step_ceiling_images_per_s"]
    chosen = read_input(metrics / f"{GPU}_precision.json")["paper_choice"]["setting"]
    best = {b: max((key for key in SETTINGS if (e2e.get(key) or {}).get(b)), key=lambda k: e2e[k][b]["images_per_s"])
            for b in GPU_TARGET}
    met = all(e2e[best[b]][b]["images_per_s"] >= GPU_TARGET[b] for b in GPU_TARGET)
    target = ", ".join(f"{rate:,}{' images/s' if i == 0 else ''} at batch {b}"
                       for i, (b, rate) in enumerate(GPU_TARGET.items()))
    bests = _join([f"{_rate(e2e[best[b]][b]['images_per_s'])} at batch {b} ({_name(best[b])})" for b in GPU_TARGET])
    shown = [key for key in SETTINGS if key in (chosen, best["64"])]
    same = all(abs(e2e[k]["64"]["images_per_s"] / step[k]["64"] - 1) <= SAME_RATE for k in shown)
    pairs = "; ".join(f"{_name(k)} {_rate(e2e[k]['64']['images_per_s'])} against {_rate(step[k]['64'])}" for k in shown)
    grown = [k for k in SETTINGS if k != "fp32" and {"64", "256"} <= set(step.get(k, {}))]
    grows = all(step[k]["256"] > step[k]["64"] for k in grown)
    steps = ", ".join(f"{_name(k)} {_rate(step[k]['64'])} to {_rate(step[k]['256'])}" for k in grown)
    slower = step["bf16"]["64"] < step["tf32"]["64"]
    sentences = [
        f"The target (KTL-l end to end at {target}) is {'met' if met else 'not met'}: the best measured is {bests}.",
        f"At batch 64 the end-to-end rate {'equals' if same else 'differs from'} the step alone ({pairs})"
        + (", so the loader is not what limits it." if same else "."),
        (f"The step's rate grows with the batch ({steps}): at batch 64 the step is bound by what each kernel costs "
         "regardless of its size, not by arithmetic, and bf16 is "
         + ("slower than tf32 there (autocast adds cast kernels)." if slower else "not slower than tf32 there.")
         if grows else f"The step's rate does not grow with the batch in every setting ({steps})."),
        f"CUDA graphs remove {'exactly such' if grows else 'the'} per-kernel costs (\"The training step on a GPU\" "
        "above); these figures are of the eager step before it lost its host waits, and `make gpu-check` has not run "
        "on a GPU since."]
    return "\n" + textwrap.fill(" ".join(sentences), width=116, break_on_hyphens=False) + "\n"


GRID_STAGES = {"teacher": "teacher", "pretrain": "pretrain", "supervised": "supervised", "ktl": "KTL", "mcl": "MCL"}


def grid_hours(metrics: Path) -> str:
    """The paper grid's H100-hours per stage (metrics/scale.json, `make scale`): runs, at the epoch cap, expected."""
    grid = read_input(metrics / "scale.json")["paper_grid"]
    rows = ["| stage | runs | H100-hours at the cap | expected |", "|---|---|---|---|"]
    for key, label in GRID_STAGES.items():
        mine = [r for r in grid["rows"] if r["stage"] == key]
        rows.append(f"| {label} | {sum(r['runs'] for r in mine)} | {sum(r['gpu_hours_at_cap'] for r in mine):.1f} | "
                    f"{sum(r['gpu_hours_expected'] for r in mine):.1f} |")
    rows.append(f"| **total** | {sum(r['runs'] for r in grid['rows'])} | **{grid['gpu_hours_at_cap']:.1f}** | "
                f"**{grid['gpu_hours_expected']:.1f}** |")
    return "\n" + "\n".join(rows) + "\n"


def grid_rate(metrics: Path) -> str:
    """The FLOP rate the paper grid is costed at (metrics/scale.json `gpu`, from `make gpu-check`'s images/s)."""
    gpu = read_input(metrics / "scale.json")["gpu"]
    tflops = gpu["gpu_images_per_s"] * gpu["train_step_gflops"] / 1000
    return (f"The chosen setting's {gpu['gpu_images_per_s']:.1f} images/s times the KTL-l step's "
            f"{gpu['train_step_gflops']:.1f} GFLOPs per image is {tflops:.1f} TFLOPS, {100 * gpu['utilisation']:.1f}% "
            f"of the GPU's {gpu['dense_tflops']:.1f} dense bf16 TFLOPS")


def grid_total(metrics: Path) -> str:
    """The paper grid's GPU-hours at the measured rate, beside what `speed.grid.utilisation`, the share of the peak
    assumed for a GPU without a measurement, would give (hours scale inversely with the rate)."""
    scale = read_input(metrics / "scale.json")
    grid, measured = scale["paper_grid"], scale["gpu"]["utilisation"]
    assumed = section(load_params(metrics.parent / "params.yaml"), "speed.grid.utilisation")
    runs = sum(r["runs"] for r in grid["rows"])
    return (f"{runs} runs: about {grid['gpu_hours_at_cap']:.0f} H100-hours at the cap, "
            f"{grid['gpu_hours_expected']:.0f} expected** ({grid['assumed']['expected_fraction']:g} of the cap), "
            f"against the {grid['gpu_hours_at_cap'] * measured / assumed:.1f} and "
            f"{grid['gpu_hours_expected'] * measured / assumed:.1f} an assumed {100 * assumed:.0f}% of the peak would "
            "give")


def scale_resources(metrics: Path) -> str:
    """What the last `make scale` needed: the KTL-l steps' peak RSS at any size, the largest size's scratch disk."""
    scale = read_input(metrics / "scale.json")
    sizes = scale["sizes"]
    largest = sizes[max(sizes, key=int)]["disk_mb"]
    ram = max(size["train"]["peak_rss_mb"] for size in sizes.values())
    return (f"{ram / 1024:.1f} GiB of RAM, and the largest size {sum(largest.values()) / 1024:.1f} GiB of scratch disk "
            f"(measured on {scale['machine']['cpu']})")


# --------------------------------------------------------------------------------------------- docs/synthetic.md
ANCHOR_NAMES = ("part 1", "A", "B", "the GT box")  # short names of the blog report's ANCHORS, in their order


def synth_anchors(metrics: Path) -> str:
    """The default DAG's detection rate on each blog protocol's own frames, with its count and its ratio to the blog's
    real rate (the report's table "against the blog's real ThermEval-D")."""
    measured = {p: read_input(metrics / "zeroshot_blog" / f"{p}.json") for p in ("part1", "part3")}
    cells = []
    for short, (_, real, _, protocol, row) in zip(ANCHOR_NAMES, ANCHORS, strict=True):
        m, value = measured[protocol], _detection(measured[protocol], row)
        cells.append(f"{short} {_pct(value)} ({round(value * m['n_gt'])} of {m['n_gt']}; {value / real:.2f}x)")
    return ", ".join(cells[:-1]) + " and " + cells[-1]


# ---------------------------------------------------------------------------------------------------- docs/dag.md
@functools.cache
def _dvc_dag(root: Path, target: str | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "dvc", "dag", "--md", "--collapse-foreach-matrix",
                           *([target] if target else [])], cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        raise InputError(f"{root}: `dvc dag` failed: {done.stderr.strip().splitlines()[-1:]}")
    return without_node(done.stdout, PARAMS_CHECK)


def without_node(mermaid: str, stage: str) -> str:
    """DVC's Mermaid drawing less one stage's node and its edges: check_params precedes every stage, and an arrow
    from it to each would hide the pipeline's shape (docs/dag.md says so)."""
    lines = mermaid.splitlines()
    node = next((line.split("[")[0].strip() for line in lines if line.strip().endswith(f'["{stage}"]')), None)
    if node is None:
        return mermaid
    ends = {node}
    kept = [line for line in lines
            if line.split("[")[0].strip() != node and not ends & {e.strip() for e in line.split("-->")}]
    return "\n".join(kept) + ("\n" if mermaid.endswith("\n") else "")


def dag(metrics: Path) -> str:
    """DVC's Mermaid drawing of the pipeline, a foreach stage one node (`dvc dag --md --collapse-foreach-matrix`)."""
    return "\n" + _dvc_dag(metrics.parent.resolve()).strip() + "\n"


DAG_AREAS = {"dag_zeroshot": "report_zeroshot", "dag_head": "report_head", "dag_mlcmkd": "report_mlcmkd",
             "dag_speed": "speed", "dag_breath": "report_breath"}  # block -> the area's last stage


def _dag_of(target: str) -> Callable[[Path], str]:
    def render(metrics: Path) -> str:
        """`target` and every stage it rests on, a foreach stage one node (`dvc dag --md --collapse-foreach-matrix
        <target>`)."""
        return "\n" + _dvc_dag(metrics.parent.resolve(), target).strip() + "\n"
    return render


def step_ops(metrics: Path) -> str:
    """Kernels, dtype casts and host waits of one KTL step per precision and form (`mlcmkd.step_audit`)."""
    d = read_input(metrics / "step_ops.json")
    forms = {"plain": "plain step", "lean": "`lean_step`", "lean_graph": "`lean_step`, CUDA-graph form"}
    rows = [f"Counted on the {d['counted_on']}: {d['task']}.", "",
            "| precision | step | kernels | of them dtype casts | ops that make the host wait |",
            "|---|---|---|---|---|"]
    for precision in ("fp32", "bf16"):
        for form, label in forms.items():
            r = d["steps"][precision][form]
            rows.append(f"| {precision} | {label} | {r['kernels']:,} | {r['casts']:,} | {len(r['host_waits'])} |")
    cut = {p: 1 - d["steps"][p]["lean"]["kernels"] / d["steps"][p]["plain"]["kernels"] for p in ("fp32", "bf16")}
    rows += ["", f"The lean step launches {cut['bf16']:.0%} fewer kernels than the plain one in bf16 and "
                 f"{cut['fp32']:.0%} fewer in fp32."]
    return "\n" + "\n".join(rows) + "\n"


def breath_sway(metrics: Path) -> str:
    """Each breath source's ridge MAE in the near scene and with the head swaying (`near_sway`), over the windows
    where it has a rate (metrics/conclusions/breath.json `scores`)."""
    scores = read_input(metrics / "conclusions" / "breath.json")["scores"]
    near, sway = scores["near"], scores["near_sway"]
    rows = ["| source | near: MAE (windows) | near_sway: MAE (windows) |", "|---|---|---|"]

    def cell(s: dict) -> str:
        return f"{s['mean']:.2f} ({s['windows']}/{s['of_windows']})" if s["mean"] is not None else "—"
    for name in sorted(set(near) & set(sway), key=lambda n: (near[n]["mean"] is None, near[n]["mean"] or 0.0, n)):
        rows.append(f"| {name} | {cell(near[name])} | {cell(sway[name])} |")
    return "\n" + "\n".join(rows) + "\n"


# ----------------------------------------------------------------------------------------------- docs/conclusions.md
VENDOR_SHIFT = "conclusions/vendor_shift.json"  # the measured change of CPU vendor (tools/gates/vendor_shift.py)
# the same measurement between other CPUs, made since: they check the margin taken from VENDOR_SHIFT, not set it
VENDOR_CHECKS = ("conclusions/vendor_shift_amx.json", "conclusions/vendor_shift_amx_vnni.json",
                 "conclusions/vendor_shift_amx_vnni_8d3368e.json")


def _measurement(path: Path) -> dict:
    return read_input(path, "a measurement committed with the repository: `git checkout` it")


def _beyond(shift: dict, margin: float) -> tuple[list[dict], str]:
    """The measured shifts larger than `margin`, largest first, and their names (clearance here, then there)."""
    larger = sorted((p for p in shift["pairs"] if p["shift"] > margin), key=lambda p: -p["shift"])
    return larger, "; ".join(f"{p['statement']} {p['part']}: {p['here']:.2f} there {p['there']:.2f}" for p in larger)


def _moved(shift: dict) -> str:
    """How far the clearances moved between the measurement's two CPUs, in half-widths."""
    stats = shift["shift"]
    return (f"the clearance moved between the {shift['here']['cpu']} and the {shift['there']['cpu']} by a median of "
            f"{stats['median']:.2f} half-widths, {stats['at_quantile']:.2f} at the {stats['quantile']:g} quantile and "
            f"at most {stats['max']:.2f}")


def _same_verdicts(shift: dict) -> str:
    verdicts = shift["verdicts"]
    return (f"The two runs published the same verdict on {verdicts['statements'] - len(verdicts['differ'])} of "
            f"{verdicts['statements']} statements"
            + (f" (not on {', '.join(verdicts['differ'])})" if verdicts["differ"] else "") + ".")


def vendor_margin(metrics: Path) -> str:
    """The clearance shifts measured between two CPU vendors (conclusions/vendor_shift.json), the margin they give (the
    file's `margin`: its quantile rounded up) and, beside it, `VENDOR_MARGIN`, the margin the reports apply now, with
    the share of the measured shifts each covers; then each measurement of `VENDOR_CHECKS` against that margin."""
    shift = _measurement(metrics.parent / VENDOR_SHIFT)
    stats = shift["shift"]
    in_force = sum(p["shift"] <= VENDOR_MARGIN for p in shift["pairs"])
    larger, named = _beyond(shift, shift["margin"])
    applied = ("the reports apply it" if shift["margin"] == VENDOR_MARGIN else
               f"the reports still apply `VENDOR_MARGIN` = {VENDOR_MARGIN:g}, which covers {in_force} of the "
               f"{stats['n']}: the measured margin takes effect when the report stages are re-made with the kernel "
               "check, as it moves published verdicts")
    return (f"\nMeasured: {shift['how']}. Over the {stats['n']} parts of verdicts with a clearance in both runs, "
            f"{_moved(shift)}. That quantile rounded up, {shift['margin']:g} half-widths, covers "
            f"{shift['covered']} of the {stats['n']} shifts measured, not the {len(larger)} larger ones "
            f"({named or 'none'}; clearance here, then there); {applied}. {_same_verdicts(shift)}"
            + "".join(_margin_checked(_measurement(metrics.parent / path)) for path in VENDOR_CHECKS) + "\n")


def _margin_checked(shift: dict) -> str:
    """One more measurement of the shifts (tools/gates/vendor_shift.py, other CPUs): how many of them `VENDOR_MARGIN`
    covers, as a share to set beside the quantile it was taken at."""
    stats = shift["shift"]
    larger, named = _beyond(shift, VENDOR_MARGIN)
    covered = stats["n"] - len(larger)
    return (f"\n\nMeasured again: {shift['how']}. Over {stats['n']} parts {_moved(shift)}; the "
            f"margin the reports apply, {VENDOR_MARGIN:g}, covers {covered} of the {stats['n']} "
            f"({100 * covered / stats['n']:.0f} %, where it was taken at the {VENDOR_QUANTILE:g} quantile), not "
            f"the {len(larger)} larger ones ({named or 'none'}). {_same_verdicts(shift)}")


# statement -> (what its source reports, the reported change as a share of the reference, the power report's pair)
SOURCE_EFFECTS = {
    "mlcmkd.tfake.dikd_vs_supervised": ("Table I: Ours-ms 0.0351 vs RTMPose-s 0.0377", -0.069,
                                        "ktl-dikd_vs_supervised-s"),
    "mlcmkd.tfake.fdld_vs_supervised": ("Table III/I: FD+LD below the supervised student (no own row)", None,
                                        "ktl-fdld_vs_supervised-s"),
    "mlcmkd.tfake.dikd_vs_fdld": ("Table III: DIKD vs FD+LD, m 0.0325 vs 0.0327, l 0.0316 vs 0.0341, x 0.0301 vs "
                                  "0.0328", -0.073, "ktl-dikd_vs_ktl-fdld"),
    "mlcmkd.tfake.fdld_ri_vs_fdld": ("Table IV: Baseline + RI 0.0432 vs Baseline 0.0542", -0.203, None),
    "mlcmkd.tfake.fdld_fi_vs_fdld": ("Table IV: Baseline + FI 0.0392 vs Baseline 0.0542", -0.277, None),
    "mlcmkd.tfake.mcl-dikd_vs_supervised_t": ("Table I: Ours-t below RTMPose-t (MCL)", None,
                                              "mcl-dikd_vs_supervised-t"),
}


def _share(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:+.1f}%"


def _spreads(numbers: dict, ref: float | None) -> str:
    """The sd of a seed's difference between seeds, and that of its move when the kernel settings made so far re-train
    the same seed (`variance.kernel`: the settings' shift and each seed's own move), as shares of `ref`."""
    kernel = (numbers.get("variance") or {}).get("kernel")
    if ref is None or numbers.get("sd_seeds") is None:
        return "–"
    moved = (f"{_share(math.sqrt(kernel['setting'] + kernel['residual']) / ref).lstrip('+')} "
             f"({', '.join(kernel['settings'])})" if kernel and "residual" in kernel else "no setting made yet")
    return f"{_share(numbers['sd_seeds'] / ref).lstrip('+')} / {moved}"


def _published_mde(pair: dict) -> float | None:
    """The power report's MDE of the published test (this run and every kernel setting pooled, with the settings'
    shift measured so far) at this run's seeds and items; None before a setting is made."""
    v = pair.get("variance") or {}
    return next((r["mde_published"] for r in pair.get("tradeoff", []) if "mde_published" in r
                 and r["n_seeds"] == v.get("n_seeds") and r["n_items"] == v.get("n_items")), None)


def source_effects(metrics: Path) -> str:
    """Each statement on a claim of the paper beside the effect the paper reports: the difference measured here and
    the smallest one this run could have detected (80% power, conclusions/power.json's reference NME), over this
    run's seeds and by the published test over every kernel setting (the settings' shift a once-trained teacher and
    pretrain put on every seed, which this run's seeds cannot see), both as shares of the reference, and what a
    reader may take from it: read against the published test's MDE where the power report has one."""
    statements = {s["id"]: s for s in read_input(metrics / "conclusions.json")["statements"]}
    pairs = read_input(metrics.parent / "conclusions" / "power.json",
                       "run `python -m thermbench.tools.measure.power_report`")
    rows = ["| claim | the source reports | here: A − B | minimum detectable effect: this run's seeds / every "
            "setting pooled | verdict | reading | a seed's difference moves: between seeds / re-trained under another "
            "kernel setting |", "|---|---|---|---|---|---|---|"]
    for sid, (reported, effect, pair) in SOURCE_EFFECTS.items():
        s = statements.get(sid)
        if s is None:
            continue
        n = s["numbers"]
        power_pair = pairs["pairs"].get(pair, {}) if pair else {}
        ref = power_pair.get("reference_nme")
        here = None if ref is None else n["mean"] / ref
        # once pooled, the statement's own MDE is the published test's: this run's seeds' comes from the power report
        run_mde = power_pair.get("mde_t", n.get("mde"))
        mde = None if ref is None or run_mde is None else run_mde / ref
        reach_published = None if ref is None else _published_mde(power_pair)
        published = None if reach_published is None else reach_published / ref
        reach = published if published is not None else mde
        if s["resolved"]:
            reading = "resolved"
        elif reach is None:
            reading = "too few runs to say"
        elif effect is not None and reach <= abs(effect):
            reading = "a difference of the reported size would have been seen: none that large here"
        else:
            reading = f"this run is too small to say: it sees {_share(reach).lstrip('+')} or more"
        rows.append(f"| {s['claim']} | {reported}" + (f" ({_share(effect)})" if effect is not None else "")
                    + f" | {_share(here)} | {_share(mde).lstrip('+')} / {_share(published).lstrip('+')} | "
                    f"{s['verdict']} | {reading} | {_spreads(n, ref)} |")
    return "\n" + "\n".join(rows) + "\n"


def conclusions_status(metrics: Path) -> str:
    """How many statements are published as resolved, and how many this run alone resolves while the kernel check
    does not cover them (metrics/conclusions.json): what a reader may take from the ranks today."""
    data = read_input(metrics / "conclusions.json")
    statements = data["statements"]
    here = [s for s in statements if s["resolved_here"] and not s["resolved"] and not s.get("target")]
    unchecked = sum("not kernel-checked" in s["why"] for s in here)
    text = (f"{len(statements)} statements: {data['resolved']} published as resolved "
            f"({data['resolved_kernel_checked']} kernel-checked, {data['resolved_deterministic']} deterministic); "
            f"{len(here)} more resolved on this run alone, {unchecked} of them waiting for a kernel check of this "
            "code (`make conclusions`)")
    power = metrics.parent / "conclusions" / "power.json"
    levels = {name: p["rules"]["t alone (this run)"]["level"] for name, p in
              (read_json(power)["pairs"].items() if power.is_file() else ()) if "t alone (this run)" in p["rules"]}
    if levels and max(levels.values()) > ALPHA:
        name, level = max(levels.items(), key=lambda kv: kv[1])
        text += (". A trained model's statement resolved on this run alone is not yet a result: a kernel setting "
                 "re-trains the teacher and pretrain every seed starts from and moves all seeds at once, so the t test "
                 f"over one run's seeds resolves pure noise in {100 * level:.0f}% of simulated runs of {name} on "
                 "T-FAKE ([docs/power.md](docs/power.md))")
    return text


def glance(metrics: Path) -> str:
    """The numbers a reader asks first (metrics/headline/), one line per reproduction, and the zero-shot models that
    have no numbers offline (metrics/zeroshot/: their status names what is missing)."""
    nose, ml, breath = (read_input(metrics / "headline" / f"{name}.json") for name in ("nose", "mlcmkd", "breath"))
    labels = read_input(metrics / "head" / "thermeval.json")["n_train_labels"]

    def sd(d: dict, key: str, fmt: str, scale: float = 1.0) -> str:
        spread = f" ± {format(scale * d[f'{key}.sd'], fmt)}" if f"{key}.sd" in d else ""
        return format(scale * d[f"{key}.mean"], fmt) + spread

    missing = sorted(p.stem for p in (metrics / "zeroshot").glob("*.json")
                     if read_input(p).get("status", "ok") != "ok")
    lines = [
        f"- **Nose**, GT Person box given (ThermEval-D test, PCK@10px): TinyHead from {labels} labels "
        f"{sd(nose, 'tinyhead.gt_box.pck10', '.0f', 100)}% over {nose['tinyhead.seeds']} seeds; zero-shot dlib-68 "
        f"{100 * nose['dlib68.gt_box.pck10']:.0f}%, MediaPipe FaceMesh {100 * nose['mediapipe.gt_box.pck10']:.0f}%.",
        f"- **MLCM-KD**, T-FAKE test NME-IO (lower is better): KTL with DIKD {sd(ml, 'tfake.nme.ktl_dikd', '.4f')}, "
        f"supervised RTMPose-s {sd(ml, 'tfake.nme.supervised_s', '.4f')} ({ml['runs.ktl_dikd']} and "
        f"{ml['runs.supervised_s']} seeds); the RGB teacher zero-shot "
        f"{ml['tfake.nme.teacher.mean']:.4f}, dlib-68 {ml['tfake.nme.zeroshot_dlib68.mean']:.4f}.",
        f"- **Breath rate**, near scene, MAE in breaths/min: the true nostrils {breath['near.oracle.mae.mean']:.2f}, "
        f"the KTL-DIKD student's {sd(breath, 'near.ktl_dikd.mae', '.2f')}, a fixed ROI "
        f"{breath['near.fixed_roi.mae.mean']:.2f}.",
    ]
    if missing:
        lines.append(f"- **No numbers offline** for {', '.join(missing)}: their weights are not downloaded, so their "
                     "rows read \"weights not available\" (online, the real route fetches them: "
                     "[docs/real-data.md](docs/real-data.md)).")
    return "\n" + "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------ docs/parity.md
def parity_table(metrics: Path) -> str:
    """Each comparison `make parity` made (metrics/parity.json): against which official code, the largest absolute
    difference over the compared arrays, and the run it comes from."""
    rows = ["| compared | official code | max abs difference | run |", "|---|---|---|---|"]
    for r in read_input(metrics / "parity.json")["results"]:
        diff = "0: identical" if r["identical"] else f"{r['max_abs_diff']:.2g}"
        rows.append(f"| {r['compared']} ({r['arrays']} array{'s' if r['arrays'] > 1 else ''}) | {r['reference']} | "
                    f"{diff} | {r['date']}, {r['commit']}, torch {r['torch']} |")
    return "\n" + "\n".join(rows) + "\n"


# ------------------------------------------------------------------------------------------------- docs/speed.md
def speed_families(metrics: Path) -> str:
    """Which runtime and precision to deploy per CPU family, from each measured machine's file (`make speed-family`)."""
    params = load_params(metrics.parent / "params.yaml")
    return families.markdown(metrics / "timing" / "speed_family",
                             {test: section(params, f"prepare.{test}.crop_size") for test in ("tfake", "charlotte")})


BLOCKS: dict[str, dict[str, Callable[[Path], str]]] = {
    "README.md": {"head_params": head_params, "timings": timings, "workers_model": workers_model,
                  "conclusions_status": conclusions_status, "glance": glance},
    "docs/timings.md": {"stage_timings": stage_timings},
    "docs/own-model.md": {"ktl_tfake": ktl_tfake, "ktl_charlotte": ktl_charlotte, "dlib_found": dlib_found,
                          "ktl_speed": ktl_speed, "mediapipe_rates": mediapipe_rates},
    "docs/results.md": {"datasets_sample": datasets_sample, "exp_workflow": exp_workflow},
    "docs/ci.md": {"lock_kb": lock_kb, "gate_sample": gate_sample, "baseline_calibration": baseline_calibration,
                   "wide_bands": wide_bands},
    "docs/dag.md": {"dag": dag, **{block: _dag_of(target) for block, target in DAG_AREAS.items()}},
    "docs/breath.md": {"breath_sway": breath_sway},
    "docs/conclusions.md": {"vendor_margin": vendor_margin, "source_effects": source_effects},
    "docs/synthetic.md": {"synth_anchors": synth_anchors},
    "docs/speed.md": {"speed_families": speed_families},
    "docs/gpu.md": {"gpu_table": gpu_table, "gpu_loader": gpu_loader, "gpu_sapiens2": gpu_sapiens2,
                    "gpu_precision": gpu_precision, "gpu_fp32_range": gpu_fp32_range, "grid_hours": grid_hours,
                    "grid_rate": grid_rate, "grid_total": grid_total, "step_ops": step_ops, "gpu_choice": gpu_choice,
                    "gpu_nme_limits": gpu_nme_limits, "gpu_workers": gpu_workers, "gpu_determinism": gpu_determinism,
                    "gpu_determinism_cost": gpu_determinism_cost, "gpu_cpu_forward": gpu_cpu_forward,
                    "gpu_compile_time": gpu_compile_time, "gpu_time": gpu_time},
    "docs/scale.md": {"scale_resources": scale_resources},
    "docs/parity.md": {"parity_table": parity_table},
}


def main(argv: list[str] | None = None) -> None:
    from thermbench.tools import library_help

    library_help.main(__doc__, "make readme runs it (python -m thermbench.tools.publish.readme --write)", argv)


if __name__ == "__main__":
    from thermbench.core.stage import run

    run(main)
