"""CPU families and their deploy measurements: the family of a CPU's flags, a speed stage run's rows in a machine's
file, files kept per family and machine, the variant recommended under each accuracy rule, the docs block, and
`make speed-family`'s runs of the stage's own command (the stage faked: no timing here)."""

import json
import shlex
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from thermbench.core.io import InputError, read_json
from thermbench.speed import families

ROOT = Path(__file__).resolve().parents[2]
PIPE, POSE = families.PIPELINE, families.POSE
CROPS = {"tfake": 256, "charlotte": 256}  # params.yaml's prepare.<test>.crop_size


@pytest.mark.parametrize(("flags", "expected"), [
    (["avx2"], "avx2"), (["avx2", "avx512f"], "avx2"), (["avx2", "avx_vnni"], "vnni"),
    (["avx2", "avx512f", "avx512_vnni", "avx512_bf16"], "vnni"), (["avx2", "avx512_vnni", "amx_int8"], "amx"),
    (["avx2", "amx_bf16"], "amx")])
def test_family_of_the_flags(flags, expected):
    assert families.family(flags) == expected


def test_a_cpu_without_avx2_is_no_family():
    with pytest.raises(InputError, match="without AVX2"):
        families.family(["sse4_2"])


def test_slug_of_a_cpu_name():
    assert families.slug("Intel(R) Xeon(R) Processor") == "intel-xeon-processor"
    assert families.slug("AMD EPYC 9R14 96-Core") == "amd-epyc-9r14-96-core"


def _timed(cpu_ms, median, q1, q3):
    return {"cpu_ms": cpu_ms, "wall_ms": cpu_ms + 0.5, "cpu_fps": 1e3 / cpu_ms,
            "speedup_over_onnxruntime-fp32": {"cpu": {"median": median, "q1": q1, "q3": q3},
                                              "wall": {"median": 9.0, "q1": 9.0, "q3": 9.0}}}


OPS = {"onnxruntime-fp32": {**dict.fromkeys(("stem_conv", "depthwise_conv", "pointwise_conv", "other_conv",
                                            "silu_and_products", "quantize_dequantize", "rest"), 1.0),
                             "quantize_dequantize": 0.0, "total": 6.0},
       "onnxruntime-int8": {**dict.fromkeys(("stem_conv", "depthwise_conv", "pointwise_conv", "other_conv",
                                            "silu_and_products", "quantize_dequantize", "rest"), 0.5),
                            "depthwise_conv": 2.25, "total": 5.25}}


def stage_run(flags, threads, int8_nme=0.001, bf16=True, box_side=0.01, ops=None):
    """(deploy metrics, deploy timing) of a speed stage run as it writes them, one pipeline and one student; the
    pipeline's reference top boxes `box_side` px on their shortest side (a seeded detector's: under 1 px); `ops`:
    the detector's op profile `make speed-family` adds to the timing."""
    no_bf16 = {"not_run": "not run: no BF16"}
    pipe_t = {"onnxruntime-fp32": _timed(20.0, 1.0, 1.0, 1.0), "onnxruntime-int8": _timed(10.0, 2.0, 1.9, 2.1),
              "onnxruntime-int8-both": _timed(8.0, 2.4, 2.3, 2.5),
              "openvino-bf16": _timed(12.5, 1.6, 1.5, 1.7) if bf16 else no_bf16}

    def boxes(iou_mean, iou_min):
        measured = {"box_iou_mean": iou_mean, "box_iou_min": iou_min, "boxes_missed": 0} if box_side >= 1 else {}
        return {"reference_box_side_px": box_side, **measured}

    pipe_a = {"onnxruntime-fp32": {"mean_px_from_fp32": 0.0, "within_1px_share": 1.0, **boxes(1.0, 1.0)},
              "onnxruntime-int8": {"mean_px_from_fp32": 0.1, "within_1px_share": 1.0, **boxes(1.0, 1.0)},
              "onnxruntime-int8-both": {"mean_px_from_fp32": 0.1, "within_1px_share": 1.0, **boxes(0.9, 0.8)},
              "openvino-bf16": ({"mean_px_from_fp32": 0.01, "within_1px_share": 1.0, **boxes(0.99, 0.98)} if bf16
                                else no_bf16)}
    pose_t = {"onnxruntime-fp32": _timed(5.0, 1.0, 1.0, 1.0), "onnxruntime-int8": _timed(4.0, 1.25, 1.2, 1.3),
              "openvino-bf16": _timed(4.5, 1.1, 1.0, 1.2) if bf16 else no_bf16}
    pose_a = {"onnxruntime-fp32": {"tfake_nme": 0.06, "tfake_nme_change": 0.0, "charlotte_nme_change": 0.0,
                                   "mean_px_from_fp32": 0.0, "within_1px_share": 1.0},
              "onnxruntime-int8": {"tfake_nme": 0.061, "tfake_nme_change": int8_nme, "charlotte_nme_change": -0.0002,
                                   "mean_px_from_fp32": 0.6, "within_1px_share": 0.8},
              "openvino-bf16": ({"tfake_nme": 0.06, "tfake_nme_change": 0.0001, "charlotte_nme_change": 0.0,
                                 "mean_px_from_fp32": 0.05, "within_1px_share": 1.0} if bf16 else no_bf16)}
    numbers = {"pipelines": {PIPE: {"arch": "t", "agreement": pipe_a}},
               "int8_students": {POSE: {"arch": "s", "input_size": [64, 64], "int8_conv": 44}},
               "runtimes": {POSE: pose_a}, "max_nme_rise": 0.005}
    timing = {"data": {"tfake": "synthetic"},
              "environment": {"cpu": "AMD EPYC", "cpu_int8_flags": flags, "openvino_capabilities": ["FP32", "INT8"],
                              "threads": threads, "onnxruntime": "1", "openvino": "2", "torch": "3"},
              "pipelines": {PIPE: {"arch": "t", "threads": threads, "variants": pipe_t}},
              "int8_students": {POSE: {"threads": threads, "variants": pose_t}},
              **({"detector_ops": ops} if ops else {})}
    return numbers, timing


PROVENANCE = {"machine": "m", "date": "2026-11-29", "commit": "abc1234", "command": "make speed-family"}


def test_record_keeps_the_rows_by_thread_count():
    rec = families.record([stage_run(["avx2"], 1), stage_run(["avx2"], 2)], 2, PROVENANCE)
    assert (rec["family"], rec["cpu"], rec["cores"], rec["max_nme_rise"]) == ("avx2", "AMD EPYC", 2, 0.005)
    assert set(rec["threads"]) == {"1", "2"}
    int8 = rec["threads"]["1"]["pipelines"][PIPE]["variants"]["onnxruntime-int8"]
    assert int8 == {"cpu_ms": 10.0, "wall_ms": 10.5, "mean_px_from_fp32": 0.1, "within_1px_share": 1.0,
                    "reference_box_side_px": 0.01, "speedup": {"median": 2.0, "q1": 1.9, "q3": 2.1}}  # CPU time's
    measured = families.record([stage_run(["avx2"], 1, box_side=30.0)], 2, PROVENANCE)
    both = measured["threads"]["1"]["pipelines"][PIPE]["variants"]["onnxruntime-int8-both"]
    assert (both["reference_box_side_px"], both["box_iou_mean"], both["box_iou_min"], both["boxes_missed"]) == (
        30.0, 0.9, 0.8, 0)
    pose = rec["threads"]["2"]["pose"][POSE]
    assert (pose["arch"], pose["input_size"]) == ("s", [64, 64])
    assert pose["variants"]["onnxruntime-int8"]["tfake_nme_change"] == 0.001
    assert "tfake_nme" not in pose["variants"]["onnxruntime-int8"]
    assert "detector_ops" not in rec["threads"]["1"]
    profiled = families.record([stage_run(["avx2"], 1, ops=OPS)], 2, PROVENANCE)
    assert profiled["threads"]["1"]["detector_ops"] == OPS
    no_bf16 = families.record([stage_run(["avx2"], 1, bf16=False)], 2, PROVENANCE)
    assert no_bf16["threads"]["1"]["pipelines"][PIPE]["variants"]["openvino-bf16"] == {"not_run": "not run: no BF16"}


def test_a_run_without_the_student_or_the_pipeline_is_refused_before_a_file_is_written(tmp_path):
    no_student = stage_run(["avx2"], 1)
    for part in (no_student[0]["int8_students"], no_student[0]["runtimes"], no_student[1]["int8_students"]):
        part["supervised-t-seed0"] = part.pop(POSE)
    with pytest.raises(InputError) as refused:
        families.record([stage_run(["avx2"], 1), no_student], 2, PROVENANCE)
    assert str(refused.value) == (
        f"not a speed stage run a family file can be made of (one with {POSE} in speed.models and {PIPE} among its "
        f"pipelines, speed.deploy.pipeline_architectures): deploy metrics without int8_students/{POSE}, "
        f"runtimes/{POSE}; deploy timing without int8_students/{POSE}")
    other = "RTMDet-nano + RTMPose-s"
    no_pipeline = stage_run(["avx2"], 1)
    no_pipeline[1]["pipelines"][other] = no_pipeline[1]["pipelines"].pop(PIPE)  # its metrics: t's only
    with pytest.raises(InputError) as refused:
        families.record([no_pipeline], 2, PROVENANCE)
    assert str(refused.value).endswith(f": deploy metrics without pipelines/{other}; deploy timing without "
                                       f"pipelines/{PIPE}")
    # files of another stage (metrics/speed.json, metrics/timing/speed.json): one line, and no family file
    timing = stage_run(["avx2"], 1)[1]
    (tmp_path / "speed.json").write_text(json.dumps({"data": {}, "architectures": {}}))
    (tmp_path / "timing.json").write_text(json.dumps({"data": {}, "environment": timing["environment"],
                                                      "architectures": {}}))
    out = tmp_path / "families"
    with pytest.raises(InputError) as refused:
        families.main(["--out", str(out), "import", "--deploy-metrics", str(tmp_path / "speed.json"),
                       "--deploy-timing", str(tmp_path / "timing.json"), "--cores", "2",
                       *(f"--{k}={v}" for k, v in PROVENANCE.items())])
    assert str(refused.value).endswith(": deploy metrics without max_nme_rise, pipelines, int8_students, runtimes; "
                                       "deploy timing without pipelines, int8_students")
    assert not out.exists()


def test_each_family_and_machine_keeps_its_file(tmp_path):
    avx2 = families.write(tmp_path, families.record([stage_run(["avx2"], 1)], 2, PROVENANCE))
    vnni = families.write(tmp_path, families.record([stage_run(["avx2", "avx512_vnni"], 1)], 2, PROVENANCE))
    assert (avx2.name, vnni.name) == ("avx2-amd-epyc.json", "vnni-amd-epyc.json")
    again = families.write(tmp_path, families.record([stage_run(["avx2", "avx512_vnni"], 1),
                                                      stage_run(["avx2", "avx512_vnni"], 2)], 2, PROVENANCE))
    assert again == vnni and set(read_json(vnni)["threads"]) == {"1", "2"}
    assert set(read_json(avx2)["threads"]) == {"1"}


def test_choose_the_fastest_within_the_rule():
    variants = {"a": {"speedup": {"median": 1.0}, "ok": True}, "b": {"speedup": {"median": 1.8}, "ok": False},
                "c": {"speedup": {"median": 1.5}, "ok": True}, "d": {"not_run": "no"}}
    assert families.choose(variants, lambda v: variants[v]["ok"]) == ("c", "b")
    assert families.choose(variants, lambda v: True) == ("b", None)


def test_the_accuracy_rules():
    students = {"onnxruntime-int8": {"tfake_nme_change": 0.005, "charlotte_nme_change": -0.01},
                "openvino-bf16": {"tfake_nme_change": 0.0051, "charlotte_nme_change": 0.0}}
    boxes = {"reference_box_side_px": 1.0, "box_iou_mean": 0.7, "box_iou_min": 0.5, "boxes_missed": 0}
    ok = lambda name, row: families.pipeline_ok(name, row, students, 0.005)  # noqa: E731
    assert ok("onnxruntime-fp32", {}) and ok("torch-fp32", {})  # the reference's precision needs no measurement
    assert ok("onnxruntime-int8", {})  # the student keeps its NME; the detector is fp32
    assert ok("onnxruntime-int8-both", boxes)
    assert not ok("onnxruntime-int8-both", {**boxes, "boxes_missed": 1})
    assert not ok("onnxruntime-int8-both", {**boxes, "reference_box_side_px": 0.99})  # a point's IoU: not measured
    assert not ok("onnxruntime-int8-both", {"box_iou_mean": 1.0, "box_iou_min": 1.0, "boxes_missed": 0})  # no side
    assert not ok("openvino-bf16", boxes)  # the student's NME rises 0.0051
    assert not ok("openvino-int8", {})  # no student row of that variant
    assert families.keypoints_ok({"mean_px_from_fp32": 0.25, "within_1px_share": 0.99})
    assert not families.keypoints_ok({"mean_px_from_fp32": 0.2501, "within_1px_share": 1.0})
    assert not families.keypoints_ok({"mean_px_from_fp32": 0.0, "within_1px_share": 0.9899})
    assert not families.keypoints_ok({})  # not measured
    assert families.pose_ok({"tfake_nme_change": 0.005, "charlotte_nme_change": -0.01}, 0.005)
    assert not families.pose_ok({"tfake_nme_change": 0.0051, "charlotte_nme_change": 0.0}, 0.005)


def test_markdown_recommends_per_family_and_names_what_was_not_measured(tmp_path):
    families.write(tmp_path, families.record([stage_run(["avx2"], 1, bf16=False, ops=OPS),
                                              stage_run(["avx2"], 2, bf16=False)], 2, PROVENANCE))
    families.write(tmp_path, families.record([stage_run(["avx2", "avx512_vnni"], 1, int8_nme=0.006,
                                                        box_side=30.0)], 2, {**PROVENANCE, "note": "alone"}))
    text = families.markdown(tmp_path, CROPS)
    # seeded boxes: the int8 detector's change is not measured, so the pose-only int8 row is the deploy
    assert ("| avx2 | AMD EPYC | 1 | onnxruntime-int8 | 2.00× [1.90–2.10] | +0.0010 / -0.0002 "
            "| fp32, as the reference | onnxruntime-int8-both: 2.40× [2.30–2.50], NME +0.0010 / -0.0002, "
            "boxes not measured |") in text
    assert "| avx2 | AMD EPYC | 2 (all cores) | onnxruntime-int8 |" in text
    # int8 raises the student's NME 0.006, outside the rule: bf16, its boxes measured, is recommended
    assert ("| vnni | AMD EPYC | 1 | openvino-bf16 | 1.60× [1.50–1.70] | +0.0001 / +0.0000 | IoU 0.990, 0 missed "
            "| onnxruntime-int8-both: 2.40× [2.30–2.50], NME +0.0060 / -0.0002, boxes IoU 0.900, 0 missed |") in text
    assert ("| avx2 | AMD EPYC | 1 | onnxruntime-int8 | 1.25× [1.20–1.30] | +0.0010 / -0.0002 | 0.600 px, 80.0 % "
            "| – |") in text
    assert ("| vnni | AMD EPYC | 1 | openvino-bf16 | 1.10× [1.00–1.20] | +0.0001 / +0.0000 | 0.050 px, 100.0 % "
            "| onnxruntime-int8: 1.25× [1.20–1.30], NME +0.0060 / -0.0002 |") in text
    # against the targets: the avx2 deploy is fast enough but its int8 pose moves keypoints; only fp32 keeps them
    assert ("| avx2 | AMD EPYC | 1 | ≥ 1.5× | onnxruntime-int8: 2.00× (met) | 0.600 px, 80.0 % (not met) "
            "| onnxruntime-fp32: 1.00× [1.00–1.00] |") in text
    assert ("| vnni | AMD EPYC | 1 | ≥ 2.0× | openvino-bf16: 1.60× (not met) | 0.050 px, 100.0 % (met) "
            "| openvino-bf16: 1.60× [1.50–1.70] |") in text
    assert ("| avx2 | AMD EPYC | 1 | 1.00 / 0.50 | 1.00 / 2.25 | 1.00 / 0.50 | 1.00 / 0.50 | 1.00 / 0.50 "
            "| 0.00 / 0.50 | 1.00 / 0.50 | 6.00 / 5.25 |") in text
    assert text.count("| avx2 | AMD EPYC |") == 2 + 2 + 2 + 1  # pipeline, pose, target rows; one op profile
    assert ("**Not measured:** the amx family; all cores (2) on the vnni AMD EPYC; RTMDet-nano's op profile on the "
            "avx2 AMD EPYC (2 thread(s)); RTMDet-nano's op profile on the vnni AMD EPYC (1 thread(s)).") in text
    assert "2026-11-29, commit abc1234, command: make speed-family; alone" in text
    assert "which ktl-dikd-seed0 sees at 64 px, so a SimCC bin, 1/2 input px, is 2 crop px" in text


def test_the_keypoints_unit_is_said_in_simcc_bins():
    # 256 px crops at 64 px input, 2 bins a px: a bin is 256 / 64 / 2 = 2 crop px, so within 1 px means an unmoved bin
    assert "so a SimCC bin, 1/2 input px, is 2 crop px: within 1 px counts the keypoints whose bin did not move, " \
           "and the keypoint target asks 99 % of them to keep theirs (at the paper's 256 px input a bin is 0.5 " \
           "crop px)." in families.bin_note(CROPS, 64)
    assert "is 0.5 crop px: a keypoint one bin away is still within 1 px" in families.bin_note(CROPS, 256)
    assert "is 1 crop px: a keypoint one bin away is still within 1 px" in families.bin_note(CROPS, 64, 4.0)
    assert families.bin_note({"tfake": 256, "charlotte": 128}, 64) == ""  # no one unit to state


def test_markdown_without_measurements_says_how_to_make_them(tmp_path):
    with pytest.raises(InputError, match="make speed-family"):
        families.markdown(tmp_path, CROPS)


def test_the_stage_command_writes_only_into_the_scratch_folder(tmp_path):
    stage = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["speed"]
    outs = [next(iter(o)) if isinstance(o, dict) else o for o in stage["outs"]]
    cmd = families.stage_command(ROOT / "dvc.yaml", tmp_path / "params.yaml", tmp_path)
    assert cmd[:2] == [sys.executable, "stages/speed/speed.py"] and cmd[-2:] == ["--params", str(tmp_path /
                                                                                              "params.yaml")]
    given = dict(zip(cmd[2:-2:2], cmd[3:-2:2]))
    assert set(given) == {a for a in shlex.split(stage["cmd"]) if a.startswith("--")}
    for flag, value in given.items():
        written = flag in families.OUTPUT_FLAGS
        assert Path(value).parent == tmp_path if written else Path(value).parent != tmp_path, flag
        assert written or not any(o == value or o.startswith(value + ".") for o in outs), flag


def test_measure_runs_the_stage_once_per_thread_count(tmp_path, monkeypatch):
    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    params = {"seed": 3, "speed": {"threads": 1, "repeats": 7, "deploy": {"detector": "nano"}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    seen, profiled = [], []

    def fake_stage(cmd, cwd):
        args = dict(zip(cmd[2::2], cmd[3::2]))
        params = yaml.safe_load(Path(args["--params"]).read_text())
        seen.append((cwd, params))
        numbers, timing = stage_run(["avx2"], params["speed"]["threads"])
        Path(args["--deploy-metrics"]).write_text(json.dumps(numbers))
        Path(args["--deploy-timing"]).write_text(json.dumps(timing))
        return type("Done", (), {"returncode": 0})()

    def fake_profile(path, threads):
        profiled.append((path.parent.name, path.name, threads))
        return {"total": float(len(profiled))}

    monkeypatch.setattr(families.subprocess, "run", fake_stage)
    monkeypatch.setattr(families.op_profile, "profile", fake_profile)
    runs = families.measure(tmp_path, [1, 3])
    assert [t["environment"]["threads"] for _, t in runs] == [1, 3]
    assert [p for _, p in seen] == [{**params, "speed": {**params["speed"], "threads": n}} for n in (1, 3)]
    # the detector files the stage wrote into its scratch onnx folder, at each run's thread count
    assert profiled == [("onnx", "rtmdet-nano.onnx", 1), ("onnx", "rtmdet-nano.int8.onnx", 1),
                        ("onnx", "rtmdet-nano.onnx", 3), ("onnx", "rtmdet-nano.int8.onnx", 3)]
    assert [t["detector_ops"] for _, t in runs] == [
        {"onnxruntime-fp32": {"total": 1.0}, "onnxruntime-int8": {"total": 2.0}},
        {"onnxruntime-fp32": {"total": 3.0}, "onnxruntime-int8": {"total": 4.0}}]
    assert {cwd for cwd, _ in seen} == {tmp_path}
    assert yaml.safe_load((tmp_path / "params.yaml").read_text())["speed"]["threads"] == 1  # the workspace's as it was


def test_measure_writes_the_note_into_the_provenance(tmp_path, monkeypatch):
    """`make speed-family NOTE=...`: the note is the file's, beside the provenance measure fills in itself."""
    monkeypatch.setattr(families, "measure", lambda root, threads: [stage_run(["avx2"], n) for n in threads])
    monkeypatch.setattr(families, "usable_cores", lambda: 2)
    monkeypatch.setattr(families, "commit", lambda root: "abc1234")
    families.main(["--out", str(tmp_path), "measure", "--note", "its own students"])
    (path,) = tmp_path.glob("*.json")
    rec = json.loads(path.read_text())
    provenance = rec["provenance"]
    assert (provenance["note"], provenance["command"], provenance["commit"]) == ("its own students",
                                                                                "make speed-family", "abc1234")
    assert sorted(rec["threads"]) == ["1", "2"]
    families.main(["--out", str(tmp_path), "measure"])
    assert "note" not in json.loads(path.read_text())["provenance"]
