"""The blog's part-1 and part-3 frame selections, precision, status-only rows and the report's reference rows."""

import json

import numpy as np
import pandas as pd
import pytest

from thermbench.core.conclusions import Statement
from thermbench.core.io import InputError, read_json
from thermbench.zeroshot import blog_report, blog_statements
from thermbench.zeroshot.evaluate import full_frame_metrics
from thermbench.zeroshot.protocols import blog_part1, blog_part3


def frames_table():
    rows = []
    for f, ids in ((1, [3, 1, 2, 4]), (2, [7, 5, 6])):
        for i in ids:
            noses = [] if i in (2, 6) else [[10.0 * i, 20.0]]
            persons = [] if i == 5 else [[0.0, 0.0, 50.0, 90.0]]
            rows.append({"image_file": f"images/{f}_{i}.png", "annotation_file": f, "image_id": i,
                         "split": "x", "noses": json.dumps(noses), "persons": json.dumps(persons)})
    return pd.DataFrame(rows)


def test_part1_takes_the_first_split1_frames_with_a_nose_in_id_order(tmp_path):
    got = blog_part1.select_frames(frames_table(), 2, tmp_path / "frames.csv")
    assert got["image_id"].tolist() == [1, 3]          # id 2 has no nose; no Person needed


def test_part3_needs_person_and_nose_in_file_2(tmp_path):
    got = blog_part3.select_frames(frames_table(), 5, tmp_path / "frames.csv")
    assert got["image_id"].tolist() == [7]              # 5 has no Person, 6 no Nose


def test_precision_is_matched_over_predictions():
    records = [{"gt": [[0, 0]], "pred": [[1, 0], [50, 50]]}, {"gt": [[10, 10]], "pred": []}]
    m = full_frame_metrics(records, cap=80, thresholds=[5])
    # GT 1 matches (1 px); (50, 50) is 70.7 px from GT 1, but GT 1 is taken; GT 2 has no prediction
    assert m["n_predictions"] == 2 and m["precision"] == 0.5 and m["detection_rate"] == 0.5
    assert m["median_px"] == 1.0 and m["pck"]["5px"] == 0.5


def test_rows_without_weights_carry_one_status_line_and_no_numbers(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))   # no rtmlib cache
    table = frames_table()
    (tmp_path / "prep").mkdir()
    table.to_csv(tmp_path / "prep" / "frames.csv", index=False)
    balanced = {"det": "https://example.org/yolox_m.zip", "det_input_size": [640, 640],
                "pose": "https://example.org/rtmw.zip", "pose_input_size": [192, 256], "nms_thr": 0.45,
                "score_thr": 0.7}
    cfg = blog_part1.Part1Config(2, 80.0, (5, 10), ("dwpose_rtmw",), balanced)
    adapters = blog_part1.Adapters({}, balanced, {}, {})
    blog_part1.evaluate(tmp_path / "prep", tmp_path / "raw", tmp_path / "m.json", tmp_path / "t.json",
                        tmp_path / "c.csv", cfg, adapters, "synthetic")
    row = read_json(tmp_path / "m.json")["rows"]["dwpose_rtmw"]
    assert set(row) == {"label", "status"} and row["status"].startswith("weights not available")
    assert read_json(tmp_path / "m.json")["n_gt"] == 2


def test_unknown_rows_are_an_input_error(tmp_path):
    cfg = blog_part1.Part1Config(2, 80.0, (5,), ("dwpose_rtmw", "vitpose"), {})
    with pytest.raises(InputError, match="vitpose"):
        blog_part1.evaluate(tmp_path, tmp_path, tmp_path / "m", tmp_path / "t", tmp_path / "c", cfg,
                            blog_part1.Adapters({}, {}, {}, {}), "synthetic")


def test_report_shows_measured_rows_status_rows_and_the_blogs_reference_rows():
    block = {"detection_rate": 0.5, "mean_px": 2.0, "median_px": 1.5, "pck": {"5px": 0.5, "10px": 0.5, "20px": 0.5},
             "precision": 1.0, "n_predictions": 3}
    part1 = {"data": "synthetic", "n_frames": 50, "n_gt": 70, "match_cap_px": 80, "rows": {
        "mediapipe_one_face": {"label": "MediaPipe FaceMesh, num_faces=1", "status": "ok", "blog_nose": block,
                               "anatomical_nose": block},
        "sapiens2_one_box": {"label": "Sapiens2", "status": "weights not available: hf download x"}}}
    part3 = {"data": "synthetic", "n_frames": 60, "n_gt": 83, "match_cap_px": 80,
             "rows": {"A": {"label": "A", "status": "ok", **block}}}
    text = blog_report.blog_sections(part1, {"rows": {"mediapipe_one_face": {"median_ms_per_frame": 6.0}}},
                                     part3, {"rows": {}}, [5, 10], CALIBRATION, [], [], {})
    assert "| Sapiens2 [SYNTHETIC data] | – | weights not available |" in text   # no numbers on a status row
    assert "- Sapiens2: weights not available: hf download x" in text
    assert text.count("[blog, real ThermEval-D]") == len(blog_report.BLOG_PART1) + len(blog_report.BLOG_PART3)
    assert "| 68.5% | 4.16 | 2.00 |" in text                       # Sapiens2's part-1 reference row
    assert "Where the blog's code and text differ" in text
    assert np.isclose(blog_report.BLOG_PART1["\"DWPose\" = rtmlib balanced"][6], 743)
    # The synthetic world against the blog's real numbers: MediaPipe 50% here vs 13.7% there; A 50% vs 23.3%;
    # B and the GT box not run here.
    assert "## The SYNTHETIC data against the blog's real ThermEval-D" in text
    assert "| part 1: MediaPipe, num_faces=1, full frame | 13.7% | 50.0% | 3.65 | part 1 |" in text
    assert "| part 3 A: FaceMesh on the full frame | 23.3% | 50.0% | 2.15 | part 3 |" in text
    assert "| GT Person box -> FaceMesh | 25.3% | – | – | part 3, version 8bf00a6 (83 GT) |" in text
    part3["rows"]["B"] = {"label": "B", "status": "ok", **block, "detection_rate": 0.75}
    text = blog_report.blog_sections(part1, {"rows": {}}, part3, {"rows": {}}, [5, 10], CALIBRATION, [], [], {})
    anchors = text.split("## The SYNTHETIC data against")[1].split("## What the synthetic scenes were calibrated to")[0]
    assert "| part 3 B: BlazeFace -> crop -> FaceMesh | 10.0% | 75.0% | 7.50 | part 3 |" in anchors
    assert "above" not in anchors and "reversed" not in anchors          # the order is no finding of this table


# The calibration file's shape (tools/measure/calibrate_synth.py): the chosen setting and one other.
CALIBRATION = {
    "anchors": {"A": 0.233, "B": 0.1}, "factor": 1.5, "frames": 200, "frames_from": "seeds of their own",
    "rule": "every rate within the factor of the real one and A above B", "qualified": False,
    "chosen": {"face_width_px": [35, 50], "blur_px": 2.0},
    "candidates": [
        {"face_width_px": [20, 30], "blur_px": 2.0, "rates": {"A": 0.01, "B": 0.2}, "ratios": {"A": 0.04, "B": 2.0},
         "a_above_b": False},
        {"face_width_px": [35, 50], "blur_px": 2.0, "rates": {"A": 0.19, "B": 0.153},
         "ratios": {"A": 0.815451, "B": 1.53}, "a_above_b": True}]}


def noses(a: list[int], b: list[int]) -> pd.DataFrame:
    """GT noses two per frame, with A's and B's detections."""
    index = range(len(a))
    return pd.DataFrame({"image_file": [f"f{i // 2}.png" for i in index], "nose": [i % 2 for i in index],
                         "A_detected": a, "B_detected": b})


def test_part3_order_is_a_paired_exact_mcnemar_statement(tmp_path):
    # 12 noses: both 1, A only 8, B only 2, neither 1 -> 10 discordant, 8 vs 2: p = 112/1024 = 0.109375
    (s,), skipped = blog_statements.part3_statements(noses([1] + [1] * 8 + [0] * 2 + [0], [1] + [0] * 8 + [1] * 2
                                                           + [0]), tmp_path / "n.csv")
    assert skipped == [] and s.id == "zeroshot.blog_part3.detected_A_vs_B" and not s.trained
    assert s.target == "part 3: A detects more GT noses than B (calibration rule a_above_b)"  # not a finding
    assert (s.verdict, s.resolved) == ("not resolved", False)
    assert s.numbers["p_value"] == pytest.approx(0.109375) and s.numbers["n"] == 12
    assert (s.numbers["A_detected"], s.numbers["B_detected"], s.numbers["a_only"], s.numbers["b_only"]) == (9, 3, 8, 2)
    assert "paired over 12 GT noses of 6 frames" in s.claim
    # A only 6, B only 0: p = 2/64 = 0.03125
    (s,), _ = blog_statements.part3_statements(noses([1] * 6 + [0] * 2, [0] * 8), tmp_path / "n.csv")
    assert (s.verdict, s.resolved) == ("A > B", True)


def test_part3_statement_needs_both_pipelines_and_the_table_its_columns(tmp_path):
    statements, skipped = blog_statements.part3_statements(noses([1], [0]).drop(columns="B_detected"), tmp_path / "n")
    assert statements == [] and skipped == ["A vs B: pipeline B not run (zeroshot_blog.part3.rows)"]
    with pytest.raises(InputError, match="n.csv: expected columns image_file, nose"):
        blog_statements.part3_statements(pd.DataFrame({"x": [1]}), tmp_path / "n.csv")


def test_report_shows_a_calibration_target_as_calibrated_to_hold_and_only_other_statements_as_findings():
    (order,), _ = blog_statements.part3_statements(noses([1] * 6 + [0] * 2, [0] * 8), "n.csv")
    other = Statement("zeroshot.other", "something measured", "X < Y", True, "something measured: X < Y",
                      trained=False)
    unchecked = "\n".join(blog_report.calibration_section(CALIBRATION, [order, other], [], {}))
    assert "paired over 8 GT noses of 4 frames: not resolved (not kernel-checked) (here A > B)" in unchecked
    check = {"native": {order.id: "A > B", "zeroshot.other": "X < Y"}, "default": {order.id: "A > B",
                                                                                   "zeroshot.other": "X < Y"}}
    lines = "\n".join(blog_report.calibration_section(CALIBRATION, [order, other], [], check))
    calibrated, findings = lines.split("## Findings")
    assert "no setting met every rule, this one is the closest" in calibrated          # qualified: False
    # the chosen candidate's rates, not the other's: A 0.815x is within 1.5x, B 1.53x is not
    assert "| A: detection within 1.5x of the blog's real 23.3% | 19.0% (0.82x) | yes |" in calibrated
    assert "| B: detection within 1.5x of the blog's real 10.0% | 15.3% (1.53x) | no |" in calibrated
    assert "| part 3: A detects more GT noses than B | A 19.0%, B 15.3% | yes |" in calibrated
    assert ("- Blog part 3: GT noses detected, pipeline A vs B, paired over 8 GT noses of 4 frames: A > B (A only 6, "
            "B only 0 of 8; exact McNemar p = 0.03125). Calibrated to hold: part 3: A detects more GT noses than B "
            "(calibration rule a_above_b)."
            in calibrated)
    assert "pipeline A vs B" not in findings and "- Something measured: X < Y." in findings
    lines = "\n".join(blog_report.calibration_section(CALIBRATION, [order], [], {}))
    assert lines.split("## Findings")[1].rstrip().endswith("- None.")


def test_nose_table_has_one_row_per_gt_nose_with_each_pipelines_detection_and_error():
    records = {"A": [{"image_file": "f1.png", "gt": [[0, 0], [100, 0]], "pred": [[3, 4]]},
                     {"image_file": "f2.png", "gt": [[50, 50]], "pred": []}],
               "B": [{"image_file": "f1.png", "gt": [[0, 0], [100, 0]], "pred": [[100, 6], [200, 200]]},
                     {"image_file": "f2.png", "gt": [[50, 50]], "pred": [[50, 140]]}]}
    table = blog_part3.nose_table(records, cap=80)
    assert table["image_file"].tolist() == ["f1.png", "f1.png", "f2.png"]
    assert table["nose"].tolist() == [0, 1, 0]
    assert table["A_detected"].tolist() == [1, 0, 0]
    assert table["B_detected"].tolist() == [0, 1, 0]      # (50, 140) is 90 px away: beyond the cap
    np.testing.assert_allclose(table["A_error_px"], [5.0, np.nan, np.nan])
    np.testing.assert_allclose(table["B_error_px"], [np.nan, 6.0, np.nan])


def test_part3_writes_the_per_nose_csv_its_metrics_count(tmp_path, monkeypatch):
    class Parts:  # no MediaPipe: A finds the first frame's nose 3 px off, B nothing
        def __init__(self, confidence):
            pass

        def close(self):
            pass

    def run_pipeline(parts, row, image, persons):
        # 478 points at one place: the blog's nose centre (a mean of nostril points) is that place
        return np.full((1, 478, 2), [13.0, 20.0]) if row == "A" and image.shape == (4, 6) else np.zeros((0, 478, 2))

    monkeypatch.setattr(blog_part3.fp, "MediaPipeParts", Parts)
    monkeypatch.setattr(blog_part3.fp, "run_pipeline", run_pipeline)
    monkeypatch.setattr(blog_part3, "read_image", lambda path: np.zeros((4, 6) if "7" in path.name else (5, 5)))
    table = frames_table()
    table.loc[table["image_id"] == 5, "persons"] = json.dumps([[0.0, 0.0, 9.0, 9.0]])
    (tmp_path / "prep").mkdir()
    table.to_csv(tmp_path / "prep" / "frames.csv", index=False)
    cfg = blog_part3.Part3Config(5, 80.0, (5,), ("A", "B"), 0.5, 1)
    out = [tmp_path / n for n in ("m.json", "t.json", "c.csv", "noses.csv")]
    blog_part3.evaluate(tmp_path / "prep", tmp_path / "raw", *out, cfg, "synthetic")
    noses = pd.read_csv(out[3])
    # frames 5 and 7 of file 2 (id order): GT (50, 20) and (70, 20); A's nose (13, 20) is 57 px from frame 7's GT
    assert noses.columns.tolist() == ["image_file", "nose", "A_detected", "A_error_px", "B_detected", "B_error_px"]
    assert noses["image_file"].tolist() == ["images/2_5.png", "images/2_7.png"]
    assert noses["A_detected"].tolist() == [0, 1] and noses["B_detected"].tolist() == [0, 0]
    assert noses["A_error_px"].isna().tolist() == [True, False] and noses["A_error_px"][1] == pytest.approx(57.0)
    assert noses["B_error_px"].isna().all()
    assert read_json(out[0])["rows"]["A"]["detection_rate"] == noses["A_detected"].mean()
