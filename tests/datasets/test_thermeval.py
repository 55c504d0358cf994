import json

import cv2
import numpy as np
import pandas as pd
import pytest

from raw_builders import build_thermeval
from thermbench.core.io import InputError
from thermbench.datasets import thermeval

CFG = {"n_train": 2, "n_val": 2, "n_test": 4, "box_scale": 1.25, "crop_size": 256,  # fillable in any order
       "crop_geometry": "per_axis", "split": "seeded", "split_seed": 7}
A, NOSE_A = [30, 40, 50, 150], [50, 60, 5, 7]  # crop box (23.75, 21.25, 62.5, 187.5); nose centre (52.5, 63.5)
FILES = {
    1: [
        [(A, NOSE_A), ([100, 50, 40, 120], [115, 70, 5, 7])],
        [([10, 10, 150, 230], None), ([40, 30, 40, 100], [55, 50, 5, 7]), (None, [170, 240, 4, 4])],
        [([60, 60, 40, 100], None)],
        [([20, 20, 60, 180], [45, 45, 5, 7])],
        [],
    ],
    2: [
        [([30, 40, 50, 150], [50, 60, 5, 7])],
        [([10, 30, 60, 160], [35, 55, 5, 7]), ([100, 30, 60, 160], [125, 55, 5, 7])],
        [([40, 40, 50, 150], [60, 60, 5, 7])],
    ],
}


@pytest.fixture
def raw(tmp_path):
    return build_thermeval(tmp_path / "raw", FILES)


def test_smallest_containing_box_wins():
    boxes = [[0, 0, 100, 100], [10, 10, 30, 30], [50, 50, 60, 60]]
    assert thermeval.smallest_containing(np.array([20, 20]), boxes) == 1
    assert thermeval.smallest_containing(np.array([80, 20]), boxes) == 0
    assert thermeval.smallest_containing(np.array([150, 20]), boxes) is None


def test_polygon_centroid():
    np.testing.assert_allclose(thermeval.polygon_centroid([[0, 0, 4, 0, 4, 2, 0, 2]]), [2, 1])
    np.testing.assert_allclose(thermeval.polygon_centroid([[0, 0, 3, 0, 0, 3]]), [1, 1])
    assert np.isnan(thermeval.polygon_centroid(None)).all()


def test_jpg_names_resolve_to_png(raw):
    assert thermeval.resolve_image(raw, "f2_000.jpg") == raw / "images" / "f2_000.png"
    with pytest.raises(InputError, match="f9_000.jpg: image file not found"):
        thermeval.resolve_image(raw, "f9_000.jpg")


def test_quotas_fill_exactly_and_stay_image_disjoint():
    frames = [{"annotation_file": 1, "pairs": [(0, 0)]} for _ in range(5)]
    frames += [{"annotation_file": 2, "pairs": [(0, 0)]} for _ in range(3)]
    splits, warnings = thermeval.assign_splits(frames, {"n_train": 2, "n_val": 1, "n_test": 2}, seed=0)
    assert sorted(splits[:5]) == ["train", "train", "unused", "unused", "val"]
    assert sorted(splits[5:]) == ["test", "test", "unused"]
    assert warnings == []
    assert thermeval.assign_splits(frames, {"n_train": 2, "n_val": 1, "n_test": 2}, seed=0)[0] == splits


def test_short_split_is_reported():
    frames = [{"annotation_file": 1, "pairs": [(0, 0)]}, {"annotation_file": 2, "pairs": [(0, 0)]}]
    _, warnings = thermeval.assign_splits(frames, {"n_train": 1, "n_val": 1, "n_test": 1}, seed=0)
    assert warnings == ["warning: ThermEval val split has 0 of 1 crops"]


def test_prepare_rows_crops_and_frames(raw, tmp_path):
    out = tmp_path / "out"
    thermeval.prepare(raw, out, CFG, seed=0)
    samples = pd.read_csv(out / "samples.csv")
    assert len(samples) == 8  # every (Person, Nose) pair once; the stray nose is not usable
    assert samples["sample_id"].is_unique
    row = samples[(samples.annotation_file == 1) & (samples.frame_nose_x == 52.5)].iloc[0]
    assert (row.nose_x, row.nose_y) == pytest.approx((117.76, 57.685), abs=1e-3)  # (52.5-23.75)*256/62.5, ...
    assert (row.nose_cx, row.nose_cy) == pytest.approx((row.nose_x, row.nose_y), abs=1e-3)
    assert [row.box_x0, row.box_y0, row.box_w, row.box_h] == pytest.approx([23.75, 21.25, 62.5, 187.5])
    crop = cv2.imread(str(out / row.crop_path), cv2.IMREAD_UNCHANGED)
    assert crop.shape == (256, 256) and crop.dtype == np.uint8
    assert crop[57, 117] == 255  # the nose block is under the transformed nose point
    nested = samples[samples.frame_nose_x == 57.5].iloc[0]  # smaller of two containing Person boxes
    assert [nested.box_x0, nested.box_w] == pytest.approx([35, 50])
    assert set(samples[samples.annotation_file == 2].split) <= {"test", "unused"}
    assert set(samples[samples.annotation_file == 1].split) <= {"train", "val", "unused"}
    assert samples[samples.annotation_file == 2].image_file.str.endswith(".png").all()
    assert samples.split.value_counts().to_dict() == {"train": 2, "val": 2, "test": 4}
    assert samples.groupby("image_file").split.nunique().max() == 1  # image-disjoint

    frames = pd.read_csv(out / "frames.csv")
    assert len(frames) == 8
    stray = frames[frames.image_file == "images/f1_001.png"].iloc[0]
    assert json.loads(stray.noses) == [[57.5, 53.5], [172.0, 242.0]]
    assert len(json.loads(stray.persons)) == 2
    assert frames[frames.image_file == "images/f1_004.png"].split.iloc[0] == "unused"


def _edit_json(path, change):
    coco = json.loads(path.read_text())
    change(coco)
    path.write_text(json.dumps(coco))


def test_missing_key_is_named(raw, tmp_path):
    _edit_json(raw / "Annotations/annotations_2.json", lambda c: c["annotations"][1].pop("bbox"))
    with pytest.raises(InputError, match=r"annotations_2.json: annotations\[1\] has no 'bbox'"):
        thermeval.prepare(raw, tmp_path / "out", CFG, seed=0)


@pytest.mark.parametrize("change, message", [
    (lambda ann, image: ann.update(bbox=["x", 0, 1, 1]), r"annotations\[1\].bbox must be \[x, y, w, h\], four numbers"),
    (lambda ann, image: ann.update(image_id=[1]), r"annotations\[1\].image_id must be a number or a string"),
    (lambda ann, image: image.update(id=None), r"images\[0\].id must be a number or a string, got None"),
])
def test_a_value_of_the_wrong_type_is_named(raw, tmp_path, change, message):
    _edit_json(raw / "Annotations/annotations_2.json", lambda c: change(c["annotations"][1], c["images"][0]))
    with pytest.raises(InputError, match=f"annotations_2.json: {message}"):
        thermeval.prepare(raw, tmp_path / "out", CFG, seed=0)
    assert not (tmp_path / "out").exists()


def test_unknown_category_is_named(raw, tmp_path):
    _edit_json(raw / "Annotations/annotations_1.json", lambda c: c["categories"].pop(0))
    with pytest.raises(InputError, match="annotations_1.json: no category named 'Nose'"):
        thermeval.prepare(raw, tmp_path / "out", CFG, seed=0)


def test_file_without_usable_pairs_is_an_empty_split(raw, tmp_path):
    _edit_json(raw / "Annotations/annotations_2.json", lambda c: c.update(annotations=[]))
    with pytest.raises(InputError, match="annotations_2.json: no Nose inside a Person box"):
        thermeval.prepare(raw, tmp_path / "out", CFG, seed=0)


def test_corrupt_image_is_named(raw, tmp_path):
    (raw / "images/f1_000.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="f1_000.png: corrupt or unreadable image"):
        thermeval.prepare(raw, tmp_path / "out", CFG, seed=0)
