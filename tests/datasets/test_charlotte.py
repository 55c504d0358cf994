import json

import cv2
import numpy as np
import pandas as pd
import pytest

from raw_builders import build_charlotte, face_points
from real_downloads import profile_points  # the real-route builder's profile rows: one definition
from thermbench.core.io import InputError
from thermbench.datasets import charlotte
from thermbench.datasets.stats import prepared_summary

CFG = {"width": "frame", "median_width": "data", "window_c": [20.0, 40.0], "box_scale": 1.25, "crop_size": 64}


ONE_ROW = {"subject": "S1", "id": "R10001", "points": profile_points(False), "width": 200, "celsius": 30.0}


def test_celsius_window():
    gray = charlotte.celsius_to_gray(np.array([10.0, 20.0, 30.0, 40.0, 45.0]), [20, 40])
    np.testing.assert_array_equal(gray, [0, 0, 128, 255, 255])


def test_width_groups():
    assert [charlotte.width_group(w, 200) for w in (150, 200, 240)] == ["low", "mean", "high"]


def test_profile_mapping_follows_the_visible_side():
    left = charlotte.to_ibug68(np.vstack([profile_points(False), np.full((29, 2), np.nan)]), front=False)
    right = charlotte.to_ibug68(np.vstack([profile_points(True), np.full((29, 2), np.nan)]), front=False)
    assert left[:, 2].sum() == 39 == right[:, 2].sum()  # 43 profile points, 4 without an iBUG counterpart
    np.testing.assert_allclose(left[16], [40, 40, 1])  # profile 0 -> jaw 16 (subject's left)
    np.testing.assert_allclose(left[0], [0, 0, 0])
    np.testing.assert_allclose(right[0], [120, 40, 1])  # mirrored: profile 0 -> jaw 0
    np.testing.assert_allclose(right[39], [70, 40 + 22 * 100 / 42, 1])  # profile 22 -> eye 42, flipped to 39
    np.testing.assert_allclose(left[42], [90, 40 + 22 * 100 / 42, 1])


def test_prepare_views_groups_and_crops(tmp_path):
    front = np.vstack([face_points(100, 80, 40), [[80, 30], [93, 28], [107, 28], [120, 30]]])
    rows = [
        {"subject": "S1", "id": "R10001", "points": front, "width": 240, "celsius": 30.0},
        {"subject": "S1", "id": "R10002", "points": profile_points(False), "width": 200, "celsius": 30.0},
        {"subject": "S2", "id": "R20001", "points": profile_points(True), "width": 150, "celsius": 45.0},
    ]
    raw = build_charlotte(tmp_path / "raw", rows)
    charlotte.prepare(raw, tmp_path / "out", CFG, seed=0)
    samples = pd.read_csv(tmp_path / "out/samples.csv").set_index("sample_id")
    assert (samples.split == "test").all()
    assert samples.view.to_dict() == {"R10001": "front", "R10002": "side", "R20001": "side"}
    assert samples.width_group.to_dict() == {"R10001": "high", "R10002": "mean", "R20001": "low"}
    assert samples.subject.to_dict() == {"R10001": "S1", "R10002": "S1", "R20001": "S2"}
    side = samples.loc["R10002"]
    # present points span x 40..120, y 40..140 -> square side 125 about (80, 90) -> box (17.5, 27.5, 125, 125)
    assert [side.box_x0, side.box_y0, side.box_w, side.box_h] == pytest.approx([17.5, 27.5, 125, 125])
    kpts = np.array(json.loads(side.kpts))
    np.testing.assert_allclose(kpts[16], [22.5 * 0.512, 12.5 * 0.512, 1], atol=1e-3)
    assert np.array(json.loads(samples.loc["R10001"].kpts))[:, 2].sum() == 68
    crop = cv2.imread(str(tmp_path / "out" / side.crop_path), cv2.IMREAD_UNCHANGED)
    assert crop.shape == (64, 64) and crop[32, 32] == 128  # 30 degC in the 20-40 window
    hot = cv2.imread(str(tmp_path / "out" / samples.loc["R20001"].crop_path), cv2.IMREAD_UNCHANGED)
    assert hot[32, 32] == 255


def test_missing_columns_are_named(tmp_path):
    raw = build_charlotte(tmp_path / "raw", [ONE_ROW])
    table = pd.read_csv(raw / "S1.csv").drop(columns=["x5"])
    table.to_csv(raw / "S1.csv", index=False)
    with pytest.raises(InputError, match="S1.csv: missing column"):
        charlotte.prepare(raw, tmp_path / "out", CFG, seed=0)


def test_a_cell_that_is_not_a_number_is_named_not_dropped(tmp_path):
    raw = build_charlotte(tmp_path / "raw", [ONE_ROW])
    table = pd.read_csv(raw / "S1.csv", dtype=str)
    table.loc[0, "x5"] = "12.3.4"
    table.to_csv(raw / "S1.csv", index=False)
    with pytest.raises(InputError, match=r"S1.csv: row R10001: x5 is not a number \('12.3.4'\)"):
        charlotte.prepare(raw, tmp_path / "out", CFG, seed=0)
    assert not (tmp_path / "out").exists()


def test_an_id_is_the_frame_file_name_as_written(tmp_path):
    raw = build_charlotte(tmp_path / "raw", [{**ONE_ROW, "id": "0007"}])
    charlotte.prepare(raw, tmp_path / "out", CFG, seed=0)
    samples = pd.read_csv(tmp_path / "out/samples.csv", dtype={"sample_id": str})
    assert samples[["sample_id", "image_file"]].values.tolist() == [["0007", "S1/0007.tiff"]]


def test_eight_bit_frame_is_rejected(tmp_path):
    raw = build_charlotte(tmp_path / "raw", [ONE_ROW])
    cv2.imwrite(str(raw / "S1/R10001.tiff"), np.zeros((10, 10), np.uint8))
    with pytest.raises(InputError, match="R10001.tiff: expected a 16-bit single-channel tiff"):
        charlotte.prepare(raw, tmp_path / "out", CFG, seed=0)


def _front(scale: float, x72: bool = False) -> np.ndarray:
    """A frontal row: iBUG-like 0..67, forehead 68..71 (and 72); face width = 2 * scale px."""
    forehead = [[80, 30], [93, 28], [107, 28], [120, 30]] + ([[100, 20]] if x72 else [])
    return np.vstack([face_points(100, 80, scale), forehead])


def test_every_point_column_is_read_and_the_view_follows_the_indices(tmp_path):
    """A frontal row with x72 and 25 of its points missing (47 left: fewer than the old 60-point rule) stays
    frontal and is mapped with the frontal table; a profile row has no index beyond 42."""
    sparse = _front(40, x72=True)
    sparse[:25] = np.nan  # jaw and brows unannotated
    rows = [{"subject": "S1", "id": "R10001", "points": sparse, "width": 240, "celsius": 30.0},
            {"subject": "S1", "id": "R10002", "points": profile_points(False), "width": 200, "celsius": 30.0},
            {"subject": "S1", "id": "R10003", "points": _front(40), "width": 150, "celsius": 30.0}]
    raw = build_charlotte(tmp_path / "raw", rows)
    assert charlotte.read_points(pd.read_csv(raw / "S1.csv"), raw / "S1.csv").shape == (3, 73, 2)
    charlotte.prepare(raw, tmp_path / "out", CFG, seed=0)
    samples = pd.read_csv(tmp_path / "out/samples.csv").set_index("sample_id")
    assert samples.view.to_dict() == {"R10001": "front", "R10002": "side", "R10003": "front"}
    kpts = np.array(json.loads(samples.loc["R10001"].kpts))
    assert kpts[:, 2].sum() == 68 - 25 and kpts[:25, 2].sum() == 0
    # every annotated point of R10001, forehead point 72 (y 20) included: x 76 (eye) .. 132 (brow 26), y 20 .. 100
    # (mouth); crop box 1.25 x 80 = 100 px -> 64 crop px
    assert samples.loc["R10001"].box_w == 100
    assert samples.loc["R10001"].diag_annotated_px == pytest.approx(np.hypot(56, 80) * 0.64, abs=1e-3)


def test_frames_of_one_size_fall_back_to_the_face_width(tmp_path, capsys):
    rows = [{"subject": "S1", "id": f"R1000{i}", "points": _front(scale), "width": 320, "celsius": 30.0}
            for i, scale in enumerate((30, 40, 50, 40))]  # faces 60, 80, 100, 80 px wide: median 80
    raw = build_charlotte(tmp_path / "raw", rows)
    charlotte.prepare(raw, tmp_path / "out", CFG, seed=0)
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"{raw}: every frame is 320 px wide, so High/Mean/Low use the face width (x-extent of the annotated points) "
        "instead")
    samples = pd.read_csv(tmp_path / "out/samples.csv").set_index("sample_id")
    assert samples.width_group.to_dict() == {"R10000": "low", "R10001": "mean", "R10002": "high", "R10003": "mean"}
    assert prepared_summary(tmp_path / "out")["width_groups"] == {
        "measure": "face_box", "threshold_px": 80.0, "median_px": 80.0,
        "quantiles_px": {"p0": 60.0, "p10": 66.0, "p25": 75.0, "p50": 80.0, "p75": 85.0, "p90": 94.0, "p100": 100.0},
        "groups": {"high": 1, "mean": 2, "low": 1}}


@pytest.mark.parametrize("width, median, message", [
    ("frame", "data", "every image's face_box width falls in 'mean' against a median of 80 px (widths 80..80)"),
    ("face_box", 50, "every image's face_box width falls in 'high' against a median of 50 px"),
])
def test_widths_that_do_not_separate_are_an_error(tmp_path, width, median, message):
    rows = [{"subject": "S1", "id": f"R1000{i}", "points": _front(40), "width": 320, "celsius": 30.0}
            for i in range(3)]
    raw = build_charlotte(tmp_path / "raw", rows)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        charlotte.prepare(raw, tmp_path / "out", {**CFG, "width": width, "median_width": median}, seed=0)


def test_a_fixed_median_is_kept_and_recorded(tmp_path):
    rows = [{"subject": "S1", "id": f"R1000{i}", "points": _front(40), "width": w, "celsius": 30.0}
            for i, w in enumerate((150, 200, 260))]
    raw = build_charlotte(tmp_path / "raw", rows)
    charlotte.prepare(raw, tmp_path / "out", {**CFG, "median_width": 240}, seed=0)
    summary = prepared_summary(tmp_path / "out")["width_groups"]
    assert summary["measure"] == "frame" and summary["threshold_px"] == 240.0 and summary["median_px"] == 200.0
    assert summary["groups"] == {"high": 1, "mean": 0, "low": 2}


def test_an_unknown_width_measure_is_named(tmp_path):
    raw = build_charlotte(tmp_path / "raw", [{"subject": "S1", "id": f"R1000{i}", "points": _front(30 + 10 * i),
                                             "width": 320, "celsius": 30.0} for i in range(3)])
    with pytest.raises(InputError, match="^params.yaml: 'prepare.charlotte.width' must be one of frame, face_box, "
                                         "not 'face'$"):
        charlotte.prepare(raw, tmp_path / "out", {**CFG, "width": "face"}, seed=0)
