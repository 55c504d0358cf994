"""The real RGB teacher sets: COCO-WholeBody face and 300W from tiny files in their real formats (tests/raw_builders.py)
to the RGB pretraining contract, with hand-computed crop boxes and crop-pixel points; and their union."""

import json

import cv2
import numpy as np
import pandas as pd
import pytest

from raw_builders import build_300w, build_cocowholebody, face_points, write_pts
from thermbench.core.io import InputError
from thermbench.datasets import face300w, rgbsets
from thermbench.datasets.stats import prepared_summary

COCO_CFG = {"box_scale": 1.25, "crop_size": 60, "complete_only": True}
W300_CFG = {"pts_origin": 1.0, "box_scale": 1.25, "crop_size": 50}
PARTS = ("afw", "helen/trainset", "lfpw/trainset", "helen/testset", "lfpw/testset", "ibug")


def kpts(x, y, v=2.0, **changes):
    """68 x (x, y, v) all at (x, y); `changes` = {"p<i>": (x, y, v)} for single points."""
    out = np.tile([x, y, v], (68, 1)).astype(float)
    for key, value in changes.items():
        out[int(key[1:])] = value
    return out


def coco_raw(tmp_path):
    train = [{"image_id": 1, "size": (200, 160), "mark": (80, 70), "faces": [
        {"id": 11, "face_kpts": kpts(80, 70, p0=(60, 40, 0.5)), "face_box": [60, 40, 40, 60], "face_valid": True},
        {"id": 12, "face_kpts": np.zeros((68, 3)), "face_box": [0, 0, 0, 0], "face_valid": False},
        {"id": 13, "face_kpts": np.zeros((68, 3)), "face_box": [0, 0, 0, 0], "face_valid": True},
        {"id": 14, "face_kpts": kpts(20, 129.5, 1.0), "face_box": [-10, 100, 50, 80], "face_valid": True}]}]
    val = [{"image_id": 2, "size": (200, 160), "mark": (80, 70), "faces": [
        {"id": 21, "face_kpts": kpts(80, 70, p5=(0, 0, 0)), "face_box": [60, 40, 40, 60], "face_valid": True},
        {"id": 22, "face_kpts": kpts(80, 70), "face_box": [60, 40, 40, 60], "face_valid": True}]}]
    return build_cocowholebody(tmp_path / "raw", {"train": train, "val": val})


def table(out):
    samples = pd.read_csv(out / "samples.csv").set_index("sample_id")
    return samples, {sid: np.array(json.loads(k)) for sid, k in samples["kpts"].items()}


def test_cocowholebody_keeps_mmposes_faces_and_maps_points_into_the_crop(tmp_path):
    rgbsets.prepare("cocowholebody", coco_raw(tmp_path), tmp_path / "out", COCO_CFG)
    samples, points = table(tmp_path / "out")
    # 12 invalid, 13 valid but all zero (MMPose skips both); 21 has an unlabelled point (complete_only)
    assert samples["split"].to_dict() == {"cw11": "train", "cw14": "train", "cw22": "val"}
    # face_box [60, 40, 40, 60]: square of side 60 x 1.25 = 75 about (80, 70) -> (42.5, 32.5, 75, 75); 60/75 = 0.8
    assert samples.loc["cw11", ["box_x0", "box_y0", "box_w", "box_h"]].tolist() == [42.5, 32.5, 75, 75]
    np.testing.assert_allclose(points["cw11"][0], [(60 - 42.5) * 0.8, (40 - 32.5) * 0.8, 1])  # v 0.5 -> labelled
    np.testing.assert_allclose(points["cw11"][1:], np.tile([30, 30, 1], (67, 1)))
    # [-10, 100, 50, 80] clipped to x 0..40, y 100..159 (W-1, H-1): side 59 x 1.25 = 73.75 about (20, 129.5)
    np.testing.assert_allclose(samples.loc["cw14", ["box_x0", "box_y0", "box_w", "box_h"]].tolist(),
                               [20 - 36.875, 129.5 - 36.875, 73.75, 73.75], atol=1e-3)
    np.testing.assert_allclose(points["cw14"], np.tile([30, 30, 1], (68, 1)))
    crop = cv2.imread(str(tmp_path / "out" / samples.loc["cw11", "rgb_crop_path"]))
    assert crop.shape == (60, 60, 3) and crop[30, 30].min() > 200 and crop[10, 10].max() < 80  # the mark at (80, 70)
    assert samples.loc["cw22", "crop_path"] == samples.loc["cw22", "rgb_crop_path"] == "crops_rgb/cw22.png"


def test_cocowholebody_unlabelled_points_are_flagged_when_kept(tmp_path):
    rgbsets.prepare("cocowholebody", coco_raw(tmp_path), tmp_path / "out", {**COCO_CFG, "complete_only": False})
    samples, points = table(tmp_path / "out")
    assert "cw21" in samples.index and points["cw21"][5].tolist() == [0, 0, 0] and points["cw21"][4][2] == 1


@pytest.mark.parametrize("change, message", [
    (lambda ann, image: ann.update(face_kpts=[1.0] * 60), "annotation 22: expected 68 x 3 numbers in face_kpts"),
    (lambda ann, image: ann.update(face_kpts=["1"] * 204), "annotation 22: expected 68 x 3 numbers in face_kpts"),
    (lambda ann, image: ann.update(face_box=[60, 40, "w", 60]), "annotation 22: expected 68 x 3 numbers"),
    (lambda ann, image: image.pop("width"), "annotation 21: .* whose image has a width and a height"),
    (lambda ann, image: ann.pop("id"), r"annotations\[1\] has no id or no face_valid"),
])
def test_cocowholebody_bad_annotation_is_one_clear_error(tmp_path, change, message):
    raw = coco_raw(tmp_path)
    path = raw / "annotations/coco_wholebody_val_v1.0.json"
    data = json.loads(path.read_text())
    change(data["annotations"][1], data["images"][0])
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=f"coco_wholebody_val_v1.0.json: {message}"):
        rgbsets.prepare("cocowholebody", raw, tmp_path / "out", COCO_CFG)
    assert not (tmp_path / "out").exists()


def w300_raw(tmp_path):
    points = face_points(80, 60, 20)  # x 60..100, y 50..80
    return build_300w(tmp_path / "raw", {part: [(f"img{i}", points)] for i, part in enumerate(PARTS)})


def test_300w_reads_1_based_pts_and_maps_points_into_the_crop(tmp_path):
    rgbsets.prepare("300w", w300_raw(tmp_path), tmp_path / "out", W300_CFG)
    samples, points = table(tmp_path / "out")
    assert samples["split"].value_counts().to_dict() == {"train": 3, "val": 3}
    assert samples.loc["w3_helen_trainset_img1", "image_file"] == "helen/trainset/img1.jpg"
    assert samples.loc["w3_afw_img0", "image_file"] == "afw/img0.png"
    # .pts = continuous + 0.5; box: side 40 x 1.25 = 50 about (80, 65) -> (55, 40, 50, 50); crop 50 px: scale 1
    assert samples.loc["w3_ibug_img5", ["box_x0", "box_y0", "box_w", "box_h"]].tolist() == [55, 40, 50, 50]
    np.testing.assert_allclose(points["w3_ibug_img5"][30], [80 - 55, 62 - 40, 1])  # nose tip (80, 62)
    np.testing.assert_allclose(points["w3_ibug_img5"][0], [60 - 55, 64 - 40, 1])   # jaw start (60, 64)
    for sid in ("w3_afw_img0", "w3_ibug_img5"):
        crop = cv2.imread(str(tmp_path / "out" / samples.loc[sid, "rgb_crop_path"]))
        assert crop[22, 25].min() > 200 and crop[5, 5].max() < 80  # the mark on the nose tip


def test_300w_pts_origin_shifts_every_point(tmp_path):
    rgbsets.prepare("300w", w300_raw(tmp_path), tmp_path / "out", {**W300_CFG, "pts_origin": 0.0})
    _, points = table(tmp_path / "out")
    # the same box (a shift moves the box with the points), so crop points are unchanged: only the frame moved
    np.testing.assert_allclose(points["w3_afw_img0"][30], [25, 22, 1])
    samples = pd.read_csv(tmp_path / "out/samples.csv").set_index("sample_id")
    assert samples.loc["w3_afw_img0", "box_x0"] == 56


@pytest.mark.parametrize("text, problem", [
    ("version: 1\nn_points: 67\n{\n" + "1 2\n" * 67 + "}\n", "not a 68-point .pts file"),
    ("version: 1\nn_points: 68\n{\n" + "1 2\n" * 68, "not a 68-point .pts file"),
    ("version: 1\nn_points: 68\n{\n" + "1 x\n" * 68 + "}\n", "expected 68 lines of two finite numbers"),
])
def test_300w_bad_pts_is_one_clear_error(tmp_path, text, problem):
    path = tmp_path / "bad.pts"
    path.write_text(text)
    with pytest.raises(InputError, match=f"bad.pts: {problem}"):
        face300w.read_pts(path)


def test_300w_round_trip_of_the_pts_writer(tmp_path):
    points = face_points(10, 20, 5)
    write_pts(tmp_path / "a.pts", points)
    np.testing.assert_allclose(face300w.read_pts(tmp_path / "a.pts"), points, atol=1e-3)


def test_300w_missing_part_or_image_is_named(tmp_path):
    raw = w300_raw(tmp_path)
    (raw / "ibug/img5.jpg").unlink()
    with pytest.raises(InputError, match="ibug/img5.pts: no image with the same name"):
        rgbsets.prepare("300w", raw, tmp_path / "out", W300_CFG)
    for f in (raw / "ibug").iterdir():
        f.unlink()
    with pytest.raises(InputError, match="300W part 'ibug' missing"):
        rgbsets.prepare("300w", raw, tmp_path / "out", W300_CFG)


def test_union_is_the_teachers_set_and_each_set_counts_alone(tmp_path):
    prepared = tmp_path / "prepared"
    rgbsets.prepare("cocowholebody", coco_raw(tmp_path / "c"), prepared / "cocowholebody", COCO_CFG)
    rgbsets.prepare("300w", w300_raw(tmp_path / "w"), prepared / "300w", W300_CFG)
    assert prepared_summary(prepared / "cocowholebody")["samples"] == {"train": 2, "val": 1}
    assert prepared_summary(prepared / "300w")["samples"] == {"train": 3, "val": 3}
    rgbsets.union(prepared, ["cocowholebody", "300w"], tmp_path / "union")
    union = pd.read_csv(tmp_path / "union/samples.csv")
    assert union.groupby(["source", "split"]).size().to_dict() == {
        ("300w", "train"): 3, ("300w", "val"): 3, ("cocowholebody", "train"): 2, ("cocowholebody", "val"): 1}
    assert all((tmp_path / "union" / p).is_file() for p in union["crop_path"])
    summary = prepared_summary(tmp_path / "union")
    assert summary["samples"] == {"train": 5, "val": 4} and summary["keypoints"]["per_sample"] == 68
    with pytest.raises(InputError, match="sample ids repeat"):
        rgbsets.union(prepared, ["300w", "300w"], tmp_path / "twice")
    with pytest.raises(InputError, match="data.rgb_sets is empty"):
        rgbsets.union(prepared, [], tmp_path / "none")


def test_a_bad_param_is_one_line_before_any_output(tmp_path):
    with pytest.raises(InputError, match="'prepare.300w.crop_size' must be a whole number of px of at least 1, not 0"):
        rgbsets.prepare("300w", w300_raw(tmp_path), tmp_path / "out", {**W300_CFG, "crop_size": 0})
    assert not (tmp_path / "out").exists()
