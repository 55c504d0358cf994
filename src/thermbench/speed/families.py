"""Which runtime and precision to deploy on a CPU family, from the speed stage's measurements on machines of each one.

The family (`family`) is what decides the int8 and bf16 kernels the runtimes pick: `amx` (AMX tiles), `vnni` (int8
dot products, AVX512-VNNI or AVX-VNNI, without AMX) or `avx2` (neither). Each measured machine keeps its own file,
`metrics/timing/speed_family/<family>-<cpu>.json` (`write`): its CPU and flags, where, when, at which commit and by
which command it was measured, and the speed stage's deploy rows (`rows`: RTMDet-nano + RTMPose pipelines and the
trained pose models alone, each variant's paired CPU-time speed-up over ONNX Runtime fp32 and its keypoint, box and
NME changes) per thread count. Another family's file, or another machine's, is never written over.

`make speed-family` (`measure`) runs the speed stage's own command (dvc.yaml) at 1 thread and at every core, its
outputs in a scratch folder (the workspace's stay as DVC made them); `import` makes a file from a speed stage run
made elsewhere. `markdown` is docs/speed.md's "Which runtime on your CPU".
"""

from __future__ import annotations

import argparse
import datetime
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

import yaml

from thermbench import cpuinfo_model, read_cpuinfo
from thermbench.core.io import InputError, read_json, write_json
from thermbench.core.stage import run as run_tool
from thermbench.models.rtmpose import PAPER_INPUT, RTMPoseConfig
from thermbench.speed import op_profile
from thermbench.speed.deploy import cpu_int8_flags, usable_cores
from thermbench.speed.detect_then_pose import (
    MIN_BOX_SIDE_PX,
    MISSED_BELOW_IOU,
    detector_precision,
    pose_precision,
    pose_variant,
)
from thermbench.speed.runtimes import REFERENCE
from thermbench.tools.pipeline.timings import commit

FAMILIES = ("avx2", "vnni", "amx")
FOLDER = Path("metrics/timing/speed_family")
PIPELINE = "RTMDet-nano + RTMPose-t"  # the paper's Table II row
POSE = "ktl-dikd-seed0"  # the project's own student (docs/own-model.md exports it)
KEPT = ("cpu_ms", "wall_ms", "mean_px_from_fp32", "within_1px_share", "reference_box_side_px", "box_iou_mean",
        "box_iou_min", "boxes_missed", "tfake_nme_change", "charlotte_nme_change")
# What the deployed pipeline is held against: its speed-up over ONNX Runtime fp32's by family (VNNI and AMX multiply
# int8 in dot products, AVX2 sums pairs of products in int16), at a keypoint change of its pose precision, the trained
# student's keypoints against fp32's, of at most MAX_MEAN_PX on average with at least MIN_WITHIN_1PX within 1 px.
SPEEDUP_TARGET = {"avx2": 1.5, "vnni": 2.0, "amx": 2.0}
MAX_MEAN_PX, MIN_WITHIN_1PX = 0.25, 0.99
VERSIONS = ("onnxruntime", "openvino", "torch")  # the runtimes' versions a family file keeps
# The speed stage's output flags (dvc.yaml): `measure` points them into its scratch folder.
OUTPUT_FLAGS = ("--onnx-dir", "--metrics", "--timing", "--deploy-metrics", "--deploy-timing", "--table", "--figure",
                "--grid-table")


def family(flags: list[str]) -> str:
    """avx2, vnni or amx from a CPU's flags (/proc/cpuinfo's names); a CPU without AVX2 has none of them."""
    flags = set(flags)
    if flags & {"amx_int8", "amx_bf16"}:
        return "amx"
    if flags & {"avx512_vnni", "avx_vnni"}:
        return "vnni"
    if "avx2" in flags:
        return "avx2"
    raise InputError(f"a CPU without AVX2 (flags: {', '.join(sorted(flags)) or 'none'}) is none of {FAMILIES}")


def slug(cpu: str) -> str:
    """A CPU's name as a file name: 'Intel(R) Xeon(R) Processor' -> 'intel-xeon-processor'."""
    return re.sub(r"[^a-z0-9]+", "-", re.sub(r"\((r|tm)\)", "", cpu.lower())).strip("-")


def _variant(timed: dict, accuracy: dict) -> dict:
    if "not_run" in timed:
        return {"not_run": timed["not_run"]}
    row = {**timed, **accuracy}
    return {**{k: row[k] for k in KEPT if k in row}, "speedup": timed[f"speedup_over_{REFERENCE.name}"]["cpu"]}


def rows(numbers: dict, timing: dict) -> dict:
    """The deploy rows of one speed stage run (metrics/speed/deploy.json as `numbers`,
    metrics/timing/speed_deploy.json as `timing`): {"pipelines": {name: {"arch", "variants"}}, "pose": {student:
    {"arch", "input_size", "variants"}}}, each variant's CPU and wall ms, paired CPU-time speed-up (median and
    quartiles) and its changes from ONNX Runtime fp32, or why it did not run."""
    pipes = {name: {"arch": t["arch"], "variants": {
        v: _variant(r, numbers["pipelines"][name]["agreement"].get(v, {})) for v, r in t["variants"].items()}}
        for name, t in timing["pipelines"].items()}
    pose = {name: {"arch": numbers["int8_students"][name]["arch"],
                   "input_size": numbers["int8_students"][name]["input_size"],
                   "variants": {v: _variant(r, numbers["runtimes"][name].get(v, {})) for v, r in t["variants"].items()}}
            for name, t in timing["int8_students"].items()}
    ops = {"detector_ops": timing["detector_ops"]} if "detector_ops" in timing else {}
    return {"pipelines": pipes, "pose": pose, **ops}


def _absent(tree: object, path: tuple[str, ...]) -> str | None:
    """The first key of `path` that `tree` lacks, with the keys before it ("a/b"), or None when it has them all."""
    for depth, key in enumerate(path):
        if not isinstance(tree, dict) or key not in tree:
            return "/".join(path[:depth + 1])
        tree = tree[key]
    return None


def _lacking(numbers: object, timing: object) -> dict[str, list[str]]:
    """What `record` and `markdown` read of one speed stage run (deploy metrics, deploy timing) and it lacks, by
    file: the keys `rows` reads of every pipeline and student the timing lists, and `PIPELINE` and `POSE` among them."""
    def listed(key: str, needed: str) -> dict:
        found = timing.get(key) if isinstance(timing, dict) else None
        return dict.fromkeys([needed, *(found if isinstance(found, dict) else ())])

    pipes, students = listed("pipelines", PIPELINE), listed("int8_students", POSE)
    environment = ("cpu", "cpu_int8_flags", "openvino_capabilities", "threads", *VERSIONS)
    needs = {"deploy metrics": (numbers, [("max_nme_rise",), *(("pipelines", n, "agreement") for n in pipes),
                                          *(("int8_students", n, k) for n in students for k in ("arch", "input_size")),
                                          *(("runtimes", n) for n in students)]),
             "deploy timing": (timing, [("data",), *(("environment", k) for k in environment),
                                        *(("pipelines", n, k) for n in pipes for k in ("arch", "variants")),
                                        *(("int8_students", n, "variants") for n in students)])}
    out = {}
    for name, (tree, paths) in needs.items():
        absent = list(dict.fromkeys(a for a in (_absent(tree, p) for p in paths) if a))  # a missing parent once
        if absent:
            out[name] = absent
    return out


def record(runs: list[tuple[dict, dict]], cores: int, provenance: dict) -> dict:
    """One machine's file: the CPU, its family, the data the NME changes rest on, `provenance` (machine, date,
    commit, command, and what else a reader needs), and `rows` of each (numbers, timing) run, keyed by its thread
    count. A run lacking what the file needs (`_lacking`) is refused."""
    for numbers, timing in runs:
        if absent := _lacking(numbers, timing):
            raise InputError(f"not a speed stage run a family file can be made of (one with {POSE} in speed.models "
                             f"and {PIPELINE} among its pipelines, speed.deploy.pipeline_architectures): "
                             + "; ".join(f"{name} without {', '.join(keys)}" for name, keys in absent.items()))
    env = runs[0][1]["environment"]
    return {"family": family(env["cpu_int8_flags"]), "cpu": env["cpu"], "cpu_flags": env["cpu_int8_flags"],
            "openvino_capabilities": env["openvino_capabilities"], "cores": cores,
            "versions": {k: env[k] for k in VERSIONS},
            "max_nme_rise": runs[0][0]["max_nme_rise"], "data": runs[0][1]["data"], "provenance": provenance,
            "threads": {str(t["environment"]["threads"]): rows(n, t) for n, t in runs}}


def write(folder: Path, rec: dict) -> Path:
    """`rec` as `folder/<family>-<cpu>.json`: the same machine measured again replaces its file, no other."""
    path = folder / f"{rec['family']}-{slug(rec['cpu'])}.json"
    write_json(path, rec)
    return path


def stage_command(dvc_yaml: Path, params: Path, scratch: Path) -> list[str]:
    """The speed stage's command as dvc.yaml runs it, on `params`, its outputs under `scratch`."""
    cmd = shlex.split(yaml.safe_load(dvc_yaml.read_text())["stages"]["speed"]["cmd"])
    if cmd[0] != "python":
        raise InputError(f"{dvc_yaml}: the speed stage's command does not start with python: {cmd[0]}")
    out = [sys.executable, *cmd[1:], "--params", str(params)]
    for i, arg in enumerate(out):
        if arg in OUTPUT_FLAGS:
            out[i + 1] = str(scratch / Path(out[i + 1]).name)
    return out


def measure(root: Path, threads: list[int]) -> list[tuple[dict, dict]]:
    """The speed stage run once per thread count (params.yaml's `speed.threads` set to it), in a scratch folder: its
    (deploy metrics, deploy timing) per run, the timing with the op profile of the detector files it wrote
    (`detector_ops`: {"onnxruntime-fp32": ..., "onnxruntime-int8": ...}) at that thread count."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    runs = []
    for n in threads:
        with tempfile.TemporaryDirectory() as scratch:
            scratch = Path(scratch)
            params["speed"]["threads"] = n
            (scratch / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
            cmd = stage_command(root / "dvc.yaml", scratch / "params.yaml", scratch)
            if subprocess.run(cmd, cwd=root).returncode != 0:
                raise InputError(f"the speed stage failed at {n} thread(s) (it needs `make repro TARGETS=speed`'s "
                                 "inputs)")
            timing = read_json(scratch / "speed_deploy.json")
            detector = scratch / "onnx" / f"rtmdet-{params['speed']['deploy']['detector']}.onnx"
            timing["detector_ops"] = {f"onnxruntime-{precision}": op_profile.profile(path, n) for precision, path in
                                      (("fp32", detector), ("int8", detector.with_suffix(".int8.onnx")))}
            runs.append((read_json(scratch / "deploy.json"), timing))
    return runs


def load(folder: Path) -> list[dict]:
    """Every machine's file under `folder`, by family (FAMILIES' order), then CPU."""
    recs = [read_json(p) for p in sorted(folder.glob("*.json"))]
    return sorted(recs, key=lambda r: (FAMILIES.index(r["family"]), r["cpu"]))


def boxes_measured(row: dict) -> bool:
    """Whether a pipeline row's box agreement was measured on boxes that have an overlap to compare (a run before
    the reference's box side was recorded: not measured)."""
    return row.get("reference_box_side_px", 0.0) >= MIN_BOX_SIDE_PX and "boxes_missed" in row


def pipeline_ok(name: str, row: dict, pose_variants: dict, max_nme_rise: float) -> bool:
    """A pipeline row within the deploy rule. Its pose model's precision keeps the trained student's NME (`pose_ok`
    on the student's row of the same variant, `pose_variants`; fp32 needs none), and a detector run in another
    precision than fp32 had its boxes measured with none missed. The pipeline's own keypoints do not decide: with
    seeded weights they measure no accuracy."""
    pose = pose_precision(name) == "fp32" or pose_ok(pose_variants.get(pose_variant(name), {}), max_nme_rise)
    detector = detector_precision(name) == "fp32" or (boxes_measured(row) and row["boxes_missed"] == 0)
    return pose and detector


def pose_ok(row: dict, max_nme_rise: float) -> bool:
    """The speed stage's deployable rule: neither test's NME rises by more than `max_nme_rise`."""
    return max(row.get("tfake_nme_change", float("inf")), row.get("charlotte_nme_change", float("inf"))) <= max_nme_rise


def keypoints_ok(row: dict) -> bool:
    """The keypoint target on a trained student's row: mean distance from fp32's at most MAX_MEAN_PX, a share of at
    least MIN_WITHIN_1PX within 1 px (a row without them, not measured: no)."""
    return (row.get("mean_px_from_fp32", float("inf")) <= MAX_MEAN_PX
            and row.get("within_1px_share", 0.0) >= MIN_WITHIN_1PX)


def choose(variants: dict, ok: Callable[[str], bool]) -> tuple[str, str | None]:
    """(the fastest variant within `ok`'s rule (given the variant's name), the fastest of all where it is another
    one, else None), by the median paired CPU-time speed-up."""
    timed = {v: r for v, r in variants.items() if "speedup" in r}
    fastest = max(timed, key=lambda v: timed[v]["speedup"]["median"])
    best = max((v for v in timed if ok(v)), key=lambda v: timed[v]["speedup"]["median"])
    return best, (fastest if fastest != best else None)


def _speedup(row: dict) -> str:
    q = row["speedup"]
    return f"{q['median']:.2f}× [{q['q1']:.2f}–{q['q3']:.2f}]"


def _keypoints(row: dict) -> str:
    return f"{row['mean_px_from_fp32']:.3f} px, {100 * row['within_1px_share']:.1f} %"


def _boxes(name: str, row: dict) -> str:
    if detector_precision(name) == "fp32":
        return "fp32, as the reference"
    if not boxes_measured(row):
        return "not measured"
    return f"IoU {row['box_iou_mean']:.3f}, {row['boxes_missed']} missed"


def _pose_nme(name: str, pose_variants: dict) -> str:
    row = pose_variants.get(pose_variant(name), {})
    return _nme(row) if "tfake_nme_change" in row else "not measured"


def _nme(row: dict) -> str:
    return f"{row['tfake_nme_change']:+.4f} / {row['charlotte_nme_change']:+.4f}"


def _threads(n: str, cores: int) -> str:
    return f"{n} (all cores)" if int(n) == cores else n


def _met(ok: bool) -> str:
    return "met" if ok else "not met"


def _target_row(family_name: str, chain: dict, students: dict, best: str, within: Callable[[str], bool]) -> str:
    """The deployed pipeline `best` against the family's speed-up target and the keypoint target, and the fastest
    variant within the deploy rule (`within`) whose pose precision meets the keypoint target."""
    target, speedup = SPEEDUP_TARGET[family_name], chain[best]["speedup"]["median"]
    student = students.get(pose_variant(best), {})
    keypoints = f"{_keypoints(student)} ({_met(keypoints_ok(student))})" if "mean_px_from_fp32" in student else \
        "not measured"
    both = [v for v in chain if "speedup" in chain[v] and within(v) and keypoints_ok(students.get(pose_variant(v), {}))]
    fastest = max(both, key=lambda v: chain[v]["speedup"]["median"], default=None)
    kept = "none" if fastest is None else f"{fastest}: {_speedup(chain[fastest])}"
    return f"≥ {target:.1f}× | {best}: {speedup:.2f}× ({_met(speedup >= target)}) | {keypoints} | {kept} |"


def _outside(variants: dict, name: str | None, cells: Callable[[str], str]) -> str:
    return "–" if name is None else f"{name}: {_speedup(variants[name])}, {cells(name)}"


OP_KINDS = {"stem_conv": "stem convs", "depthwise_conv": "depthwise convs", "pointwise_conv": "pointwise convs",
            "other_conv": "other convs", "silu_and_products": "SiLU and products",
            "quantize_dequantize": "(de)quantize", "rest": "rest", "total": "total"}


def _ops_rows(recs: list[dict]) -> tuple[list[str], list[str]]:
    """(the table of where the detector's time goes, fp32 / int8 ms a frame by kind, for every run with its op
    profile; the runs without one)."""
    rows = ["| Family | CPU | Threads | " + " | ".join(OP_KINDS.values()) + " |",
            "|---|---|---|" + "---:|" * len(OP_KINDS)]
    missing = []
    for r in recs:
        lacking = []
        for n, run in r["threads"].items():
            if "detector_ops" not in run:
                lacking.append(n)
                continue
            fp32, int8 = run["detector_ops"]["onnxruntime-fp32"], run["detector_ops"]["onnxruntime-int8"]
            rows.append(f"| {r['family']} | {r['cpu']} | {_threads(n, r['cores'])} | "
                        + " | ".join(f"{fp32[k]:.2f} / {int8[k]:.2f}" for k in OP_KINDS) + " |")
        if lacking:
            missing.append(f"RTMDet-nano's op profile on the {r['family']} {r['cpu']} ({', '.join(lacking)} "
                           "thread(s))")
    return rows, missing


def bin_note(crop_px: dict[str, int], input_px: int, split_ratio: float = RTMPoseConfig.split_ratio) -> str:
    """What "within 1 px" means for a student seeing the test crops (`crop_px`: each test's crop side) at `input_px`:
    a SimCC bin, 1 / `split_ratio` input px, in crop px."""
    sizes = sorted(set(crop_px.values()))
    if len(sizes) > 1:
        return ""
    crop = sizes[0]
    bin_px, paper_bin_px = crop / input_px / split_ratio, crop / PAPER_INPUT / split_ratio
    meaning = (f"within 1 px counts the keypoints whose bin did not move, and the keypoint target asks "
               f"{100 * MIN_WITHIN_1PX:.0f} % of them to keep theirs" if bin_px > 1
               else "a keypoint one bin away is still within 1 px")
    return (f" Keypoints are in crop px: the test crops are {crop} px, which {POSE} sees at {input_px} px, so a "
            f"SimCC bin, 1/{split_ratio:g} input px, is {bin_px:g} crop px: {meaning} (at the paper's {PAPER_INPUT} "
            f"px input a bin is {paper_bin_px:g} crop px).")


def markdown(folder: Path, crop_px: dict[str, int]) -> str:
    """docs/speed.md's "Which runtime on your CPU" block from every machine's file under `folder`; `crop_px`: the test
    crops' side per test set (params.yaml's prepare.<test>.crop_size), which gives the keypoints' unit meaning."""
    recs = load(folder)
    if not recs:
        raise InputError(f"{folder}: no measurement (`make speed-family`)")
    reference = REFERENCE.name
    pipe = ["| Family | CPU | Threads | Deploy | Speed-up | Pose precision: NME change T-FAKE / CHARLOTTE "
            "| Detector: boxes | Faster, outside the rule |", "|---|---|---|---|---:|---:|---:|---|"]
    pose = ["| Family | CPU | Threads | Deploy | Speed-up | NME change T-FAKE / CHARLOTTE "
            "| Keypoints: mean, within 1 px | Faster, outside the rule |", "|---|---|---|---|---:|---:|---:|---|"]
    targets = ["| Family | CPU | Threads | Speed-up target | Deploy: speed-up | Its pose precision's keypoints "
               f"({POSE}) | Fastest within the rule and the keypoint target |", "|---|---|---|---:|---|---:|---|"]
    missing, sources = [], []
    for r in recs:
        for n, run in r["threads"].items():
            head = f"| {r['family']} | {r['cpu']} | {_threads(n, r['cores'])} |"
            chain, students = run["pipelines"][PIPELINE]["variants"], run["pose"][POSE]["variants"]
            within = lambda name: pipeline_ok(name, chain[name], students, r["max_nme_rise"])  # noqa: E731
            best, faster = choose(chain, within)
            cells = lambda n: f"NME {_pose_nme(n, students)}, boxes {_boxes(n, chain[n])}"  # noqa: E731
            pipe.append(f"{head} {best} | {_speedup(chain[best])} | {_pose_nme(best, students)} "
                        f"| {_boxes(best, chain[best])} | {_outside(chain, faster, cells)} |")
            targets.append(f"{head} {_target_row(r['family'], chain, students, best, within)}")
            best, faster = choose(students, lambda name: pose_ok(students[name], r["max_nme_rise"]))
            outside = _outside(students, faster, lambda n: "NME " + _nme(students[n]))
            pose.append(f"{head} {best} | {_speedup(students[best])} | {_nme(students[best])} "
                        f"| {_keypoints(students[best])} | {outside} |")
        if str(r["cores"]) not in r["threads"]:
            missing.append(f"all cores ({r['cores']}) on the {r['family']} {r['cpu']}")
        p = r["provenance"]
        sources.append(f"- {r['family']}, {r['cpu']} ({r['cores']} cores; flags {', '.join(r['cpu_flags'])}): "
                       f"{p['machine']}; {p['date']}, commit {p['commit']}, command: {p['command']}"
                       + (f"; {p['note']}" if p.get("note") else "") + f" (`{FOLDER}/{r['family']}-"
                       f"{slug(r['cpu'])}.json`)")
    missing[:0] = [f"the {f} family" for f in FAMILIES if f not in {r["family"] for r in recs}]
    ops, no_ops = _ops_rows(recs)
    some = recs[0]["threads"][next(iter(recs[0]["threads"]))]["pose"][POSE]
    return "\n".join([
        "", "",
        f"**{PIPELINE}, one frame end to end** (seeded pose weights; the int8 `-both` rows quantise the detector too, "
        "bf16 rows run both models in bf16). Deploy: the fastest variant whose pose precision keeps the trained "
        f"{POSE}'s NME (its row of the same variant below, the same rule) and whose detector, where it runs in "
        f"another precision than fp32, had its top boxes measured with none missed (IoU below "
        f"{MISSED_BELOW_IOU} against {reference}'s, on boxes at least {MIN_BOX_SIDE_PX:.0f} px wide). A run with "
        "trained detector weights measures the boxes (speed.deploy.detector_checkpoint, by default the detector "
        "fitted offline by stage detector_fit: docs/speed.md); a seeded detector's box distances are near 0, so its "
        "top box is a point and its row says not measured. The pipeline's own keypoints (plots/speed_table.md) "
        "come from a seeded pose model and decide nothing:", "",
        *pipe, "",
        f"**{POSE} alone** (RTMPose-{some['arch']}, {some['input_size'][1]}×{some['input_size'][0]}, trained). "
        f"Deploy: the fastest variant whose NME on neither test rises by more than {recs[0]['max_nme_rise']}:",
        "", *pose, "",
        f"**Against the targets:** {PIPELINE}'s deployed variant at the family's speed-up over {reference} (≥ "
        f"{SPEEDUP_TARGET['avx2']}× with AVX2 only, ≥ {SPEEDUP_TARGET['vnni']}× with VNNI or AMX), its pose "
        f"precision at a keypoint change of at most {MAX_MEAN_PX} px on average with at least "
        f"{100 * MIN_WITHIN_1PX:.0f} % within 1 px (the trained {POSE}'s keypoints against {reference}'s, on the "
        f"test crops).{bin_note(crop_px, some['input_size'][0])}", "", *targets, "",
        *(["**Where RTMDet-nano's time goes** in ONNX Runtime, ms of kernel time a frame by its profiler, fp32 file / "
           "int8 file (`make speed-family`, `speed/op_profile.py`): a kind whose int8 figure is the larger gains "
           "nothing from its CPU's int8 kernels. Stem convs: the stem's three, on few channels; depthwise and "
           "pointwise: the two halves of each separable convolution; SiLU and products: the activation after every "
           "convolution (a quantised sigmoid and a quantised product in the int8 file) and the channel attention's "
           "products:", "", *ops, ""] if len(ops) > 2 else []),
        f"Speed-up: the median [quartiles] over paired rounds of {reference}'s CPU time / the variant's, on the same "
        "machine and thread count; keypoints: distance from its predictions. Measured on:", "", *sources, "",
        f"**Not measured:** {'; '.join(missing + no_ops) if missing + no_ops else 'none'}.", "", ""])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    here = sub.add_parser("measure", help="this machine at 1 thread and at every core (make speed-family)")
    here.add_argument("--root", type=Path, default=Path("."), help="the repository")
    other = sub.add_parser("import", help="a speed stage run made on another machine")
    other.add_argument("--deploy-metrics", required=True, type=Path, help="its metrics/speed/deploy.json")
    other.add_argument("--deploy-timing", required=True, type=Path, help="its metrics/timing/speed_deploy.json")
    other.add_argument("--cores", required=True, type=int, help="the machine's cores")
    for flag in ("machine", "date", "commit", "command"):
        other.add_argument(f"--{flag}", required=True, help="provenance, written into the file")
    for each in (here, other):
        each.add_argument("--note", help="what else a reader of the numbers needs to know")
    parser.add_argument("--out", type=Path, default=FOLDER, help=f"default: {FOLDER}")
    args = parser.parse_args(argv)
    if args.command == "measure":
        cores = usable_cores()
        provenance = {"machine": f"{cpuinfo_model(read_cpuinfo())}, {cores} cores, flags {', '.join(cpu_int8_flags())}",
                      "date": datetime.date.today().isoformat(), "commit": commit(args.root),
                      "command": "make speed-family", **({"note": args.note} if args.note else {})}
        rec = record(measure(args.root, sorted({1, cores})), cores, provenance)
    else:
        provenance = {k: getattr(args, k) for k in ("machine", "date", "commit", "command", "note") if getattr(args, k)}
        rec = record([(read_json(args.deploy_metrics), read_json(args.deploy_timing))], args.cores, provenance)
    print(write(args.out, rec))


if __name__ == "__main__":
    run_tool(main)
