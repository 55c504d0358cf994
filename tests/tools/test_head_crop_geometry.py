"""The TinyHead breath source's crop geometry from the head's train and val crops: the face box at a pose, the
person-to-meta matching, and the four values worked out by hand from two crops."""

import json

import numpy as np
import pandas as pd
import pytest

from thermbench.core.io import InputError
from thermbench.tools.measure import head_crop_geometry as g


def test_the_face_box_turns_with_the_pose_about_the_nose():
    upright = g.face_box(np.array([50.0, 50.0]), 0.0, 0.0, 0.0, 10.0)
    turned = g.face_box(np.array([50.0, 50.0]), 0.0, 0.0, 90.0, 10.0)  # a quarter roll: width and height swap
    w, h = upright[2] - upright[0], upright[3] - upright[1]
    assert turned[2] - turned[0] == pytest.approx(h) and turned[3] - turned[1] == pytest.approx(w)
    assert upright[0] < 50 < upright[2] and upright[1] < 50 < upright[3]  # the nose tip lies inside
    # twice the face width: twice the box, the nose where it was
    np.testing.assert_allclose(g.face_box(np.array([50.0, 50.0]), 0.0, 0.0, 0.0, 20.0) - 50, (upright - 50) * 2)
    profile = g.face_box(np.array([50.0, 50.0]), 60.0, 0.0, 0.0, 10.0)
    assert profile[2] - profile[0] < w  # a turned head shows a narrower face


def _world(tmp_path):
    """Frame 1 (annotations_1) draws two people, frame 2 (annotations_2, .jpg) one; the train and val crops are the
    second person of frame 1 and the one of frame 2, both frontal. A test crop names a person nobody drew."""
    raw, prepared = tmp_path / "raw", tmp_path / "prepared"
    (raw / "Annotations").mkdir(parents=True)
    prepared.mkdir()
    cats = [{"id": 0, "name": "Person"}, {"id": 3, "name": "Nose"}]
    box = [0, 0, 1, 1]
    for file_no, name, anns in ((1, "Thermal_1.png", [(1, 0), (2, 3), (3, 0), (4, 3)]),
                                (2, "Thermal_2.jpg", [(1, 0), (2, 3)])):
        coco = {"images": [{"id": 1, "file_name": name}], "categories": cats,
                "annotations": [{"id": i, "image_id": 1, "category_id": c, "bbox": box} for i, c in anns]}
        (raw / "Annotations" / f"annotations_{file_no}.json").write_text(json.dumps(coco))
    pd.DataFrame({"image_file": ["Thermal_1.png", "Thermal_1.png", "Thermal_2.png"], "annotation_file": [1, 1, 2],
                  "yaw": [30.0, 0.0, 0.0], "pitch": 0.0, "roll": 0.0, "face_width_px": [25.0, 20.0, 40.0],
                  "nose": 1}).to_csv(raw / "synth_meta.csv", index=False)
    pd.DataFrame({"sample_id": ["a", "b", "c"], "split": ["train", "val", "test"], "annotation_file": [1, 2, 1],
                  "person_id": [3, 1, 7], "frame_nose_x": [100.0, 60.0, 0.0], "frame_nose_y": [80.0, 90.0, 0.0],
                  "person_y0": [40.0, 20.0, 0.0], "person_w": [50.0, 100.0, 1.0], "box_w": [160.0, 200.0, 1.0],
                  }).to_csv(prepared / "samples.csv", index=False)
    return raw, prepared


def test_two_crops_by_hand(tmp_path):
    raw, prepared = _world(tmp_path)
    unit = g.face_box(np.zeros(2), 0.0, 0.0, 0.0, 1.0)  # the frontal box of a 1 px face, nose tip at the origin
    w1, top1 = unit[2] - unit[0], -unit[1]  # its width, and how far its top lies above the nose tip
    out = g.measure(raw, prepared, box_scale=1.25)
    assert (out["crops"], out["frontal_crops"]) == (2, 2)
    # crop a: face 20 * w1 wide, Person box 50 wide, its top 40 px above the Nose at 80; crop b: 40 * w1, 100, 70 px
    expected_width = np.median([50 / (20 * w1), 100 / (40 * w1)])
    expected_top = np.median([(80 - 20 * top1 - 40) / (20 * w1), (90 - 40 * top1 - 20) / (40 * w1)])
    lo, hi = sorted([20 * w1 / 160, 40 * w1 / 200])
    assert out["tinyhead"] == {"person_width": round(expected_width, 3), "person_top": round(expected_top, 3),
                               "person_height": round(1 / (1.25 * np.sqrt(lo * hi)), 3),
                               "face_in_crop": [round(lo, 3), round(hi, 3)]}


def test_a_meta_file_that_does_not_match_the_annotations_is_one_error(tmp_path):
    raw, prepared = _world(tmp_path)
    meta = pd.read_csv(raw / "synth_meta.csv")
    meta.iloc[:2].to_csv(raw / "synth_meta.csv", index=False)  # frame 2's person left out
    with pytest.raises(InputError, match="0 people for Thermal_2, its annotations have 1 Person boxes"):
        g.measure(raw, prepared, box_scale=1.25)
