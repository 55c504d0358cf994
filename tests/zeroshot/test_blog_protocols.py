"""The blog's part-1 and part-3 frame selections, precision, status-only rows and the report's reference rows."""

import json

import numpy as np
import pandas as pd
import pytest

from thermbench.core.io import read_json
from thermbench.zeroshot import blog_report
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
    from thermbench.core.io import InputError

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
                                     part3, {"rows": {}}, [5, 10])
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
    text = blog_report.blog_sections(part1, {"rows": {}}, part3, {"rows": {}}, [5, 10])
    assert "A (23.3%) above B (10.0%), is reversed here (A 50.0%, B 75.0%)." in text


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
