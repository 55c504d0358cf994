"""The blog's ThermEval crop geometry and split (nostril-finetune build_dataset_thermeval.py), on hand-built frames.

Expectations are worked by hand from the blog's arithmetic: side = 1.25 * max(w, h); x0 = max(0, int(cx - side/2));
x1 = min(W, int(x0 + side)); crop = frame[y0:y1, x0:x1] resized to 256 x 256; nose = (centre - x0) * 256 / (x1 - x0).
Frames are 192 wide x 256 high.
"""

import json

import cv2
import numpy as np
import pandas as pd
import pytest

from raw_builders import build_thermeval
from thermbench.core import crops
from thermbench.datasets import thermeval

INTERIOR = ([60, 80, 40, 80], [75, 95, 6, 8])  # side 100, window (30, 70)-(130, 170); nose (78, 99)
TOP_LEFT = ([10, 5, 40, 120], [25, 30, 5, 7])  # side 150, corner (-45, -10) moved to (0, 0); nose (27.5, 33.5)
BOTTOM_RIGHT = ([150, 170, 40, 80], [165, 190, 5, 7])  # side 100, window (120, 160)-(192, 256) clipped: 72 x 96
FRACTIONAL = ([70.6, 60.2, 37.9, 91.1], [85.2, 80.4, 5.2, 6.6])  # side 113.875, corner (32.61, 48.81) -> (32, 48)
OFF_FRAME = ([200, 10, 10, 10], [202, 12, 2, 2])  # window starts at x 198 >= 192: empty, the pair is left out
EDGE_NOSE = ([172, 100, 20, 40], [188, 110, 8, 6])  # nose centre x 192 -> crop x 256, outside [0, 256): left out

GEOMETRY = {
    1: [[INTERIOR], [TOP_LEFT, OFF_FRAME], [FRACTIONAL]],
    2: [[BOTTOM_RIGHT], [EDGE_NOSE]],
}
EXPECTED = {  # frame nose centre -> (window x0, y0, w, h), nose in crop px
    (78.0, 99.0): ((30, 70, 100, 100), (48 * 2.56, 29 * 2.56)),
    (27.5, 33.5): ((0, 0, 150, 150), (27.5 * 256 / 150, 33.5 * 256 / 150)),
    (167.5, 193.5): ((120, 160, 72, 96), (47.5 * 256 / 72, 33.5 * 256 / 96)),
    (87.8, 83.7): ((32, 48, 113, 113), (55.8 * 256 / 113, 35.7 * 256 / 113)),
}
CFG = {"n_train": 1, "n_val": 1, "n_test": 1, "box_scale": 1.25, "crop_size": 256, "crop_geometry": "blog",
       "split": "blog", "split_seed": 7}


def test_blog_window_by_hand():
    assert crops.blog_window(INTERIOR[0], (192, 256), 1.25) == (30, 70, 130, 170)
    assert crops.blog_window(TOP_LEFT[0], (192, 256), 1.25) == (0, 0, 150, 150)  # shifted inward, still square
    assert crops.blog_window(BOTTOM_RIGHT[0], (192, 256), 1.25) == (120, 160, 192, 256)  # clipped, not square
    assert crops.blog_window(FRACTIONAL[0], (192, 256), 1.25) == (32, 48, 145, 161)  # int() truncates both ends


def test_crop_window_is_the_sliced_pixels_resized_and_empty_is_none():
    image = np.arange(256 * 192, dtype=np.uint32).reshape(256, 192).astype(np.uint8)
    out = crops.crop_window(image, (120, 160, 192, 256), (256, 256))
    np.testing.assert_array_equal(out, cv2.resize(image[160:256, 120:192], (256, 256)))
    assert crops.crop_window(image, (198, 0, 192, 20), (256, 256)) is None


def test_point_of_a_crop_window_lands_on_its_pixel():
    image = np.zeros((256, 192), np.uint8)
    image[99, 78] = 255  # pixel centre (78.5, 99.5) in continuous coordinates
    window = (30, 70, 130, 170)
    out = crops.crop_window(image, window, (256, 256))
    x, y = crops.to_crop([[78.5, 99.5]], crops.window_box(window), (256, 256))[0]
    assert (x, y) == pytest.approx((124.16, 75.52))
    peak = np.unravel_index(np.argmax(out), out.shape)
    assert abs(peak[1] + 0.5 - x) <= 1 and abs(peak[0] + 0.5 - y) <= 1


def test_prepare_puts_every_nose_within_a_pixel_of_the_blog_geometry(tmp_path, capsys):
    raw = build_thermeval(tmp_path / "raw", GEOMETRY)
    thermeval.prepare(raw, tmp_path / "out", {**CFG, "split": "seeded"}, seed=0)
    samples = pd.read_csv(tmp_path / "out/samples.csv")
    assert len(samples) == len(EXPECTED)  # the off-frame and edge noses are left out, as the blog does
    assert "2 (Person, Nose) pair(s) give an empty crop or a nose outside it" in capsys.readouterr().err
    for row in samples.itertuples():
        (x0, y0, w, h), (nx, ny) = EXPECTED[(row.frame_nose_x, row.frame_nose_y)]
        assert [row.box_x0, row.box_y0, row.box_w, row.box_h] == [x0, y0, w, h]
        assert (row.nose_x, row.nose_y) == pytest.approx((nx, ny), abs=1e-3)  # the check asks for 1 px
        assert (row.nose_cx, row.nose_cy) == pytest.approx((nx, ny), abs=1e-3)  # rectangle: centroid = centre
        crop = cv2.imread(str(tmp_path / "out" / row.crop_path), cv2.IMREAD_UNCHANGED)
        assert crop.shape == (256, 256) and crop[int(ny), int(nx)] == 255  # the bright nose is under the label
    interior = samples[samples.frame_nose_x == 78].iloc[0]
    assert [interior.person_x0, interior.person_y0, interior.person_w, interior.person_h] == [60, 80, 40, 80]


def test_per_axis_geometry_stays_available(tmp_path):
    raw = build_thermeval(tmp_path / "raw", GEOMETRY)
    thermeval.prepare(raw, tmp_path / "out", {**CFG, "crop_geometry": "per_axis", "split": "seeded"}, seed=0)
    row = pd.read_csv(tmp_path / "out/samples.csv").set_index("frame_nose_x").loc[27.5]
    # Person (10, 5, 40, 120) x1.25 per axis -> (5, -10, 50, 150); nose (27.5, 33.5) -> (115.2, 74.24)
    assert [row.box_x0, row.box_y0, row.box_w, row.box_h] == pytest.approx([5, -10, 50, 150])
    assert (row.nose_x, row.nose_y) == pytest.approx((115.2, 74.24), abs=1e-3)


PERSON_A, NOSE_A = [10, 20, 60, 180], [30, 40, 5, 7]
PERSON_B, NOSE_B = [100, 20, 60, 180], [125, 40, 5, 7]
SPLIT = {
    1: [[(PERSON_A, NOSE_A), (PERSON_B, NOSE_B)], [OFF_FRAME], [(PERSON_A, NOSE_A)], [(PERSON_B, NOSE_B)]],
    2: [[(PERSON_A, NOSE_A)], [(PERSON_B, NOSE_B)], [(PERSON_A, NOSE_A)]],
}


def test_blog_split_follows_the_seed_7_shuffle_of_the_annotation_order(tmp_path):
    raw = build_thermeval(tmp_path / "raw", SPLIT)
    path = raw / "Annotations/annotations_1.json"
    coco = json.loads(path.read_text())
    coco["annotations"].sort(key=lambda a: a["image_id"] != 101)  # image 101 is annotated first (stable sort)
    path.write_text(json.dumps(coco))
    thermeval.prepare(raw, tmp_path / "out", {**CFG, "n_train": 2, "n_val": 2, "n_test": 2}, seed=0)
    # File 1's pair list in annotation order: [101/0, 100/0, 100/1, 102/0, 103/0]; random.Random(7) shuffles five
    # items to positions [4, 0, 3, 1, 2] -> [103/0, 101/0, 102/0, 100/0, 100/1]; then file 2's three to [1, 2, 0]
    # -> [201/0, 202/0, 200/0]. 101/0 has an empty crop and is passed over: train = 103/0, 102/0; val = the next
    # usable pairs whose image is not in train: 100/0, 100/1; test = 201/0, 202/0.
    samples = pd.read_csv(tmp_path / "out/samples.csv")
    got = {(row.image_id, row.frame_nose_x): row.split for row in samples.itertuples()}
    assert got == {(100, 32.5): "val", (100, 127.5): "val", (102, 32.5): "train", (103, 127.5): "train",
                   (200, 32.5): "unused", (201, 127.5): "test", (202, 32.5): "test"}
    frames = pd.read_csv(tmp_path / "out/frames.csv").set_index("image_id").split.to_dict()
    assert frames == {100: "val", 101: "unused", 102: "train", 103: "train", 200: "unused", 201: "test", 202: "test"}


def test_missing_image_is_left_out_with_a_warning(tmp_path, capsys):
    raw = build_thermeval(tmp_path / "raw", SPLIT)
    (raw / "images/f1_002.png").unlink()
    thermeval.prepare(raw, tmp_path / "out", {**CFG, "n_train": 2, "n_val": 2, "n_test": 2}, seed=0)
    assert "1 image(s) named in Annotations/annotations_1.json are not under images/ (first: f1_002.png)" in (
        capsys.readouterr().err)
    assert 102 not in set(pd.read_csv(tmp_path / "out/samples.csv").image_id)


def test_unknown_options_are_named(tmp_path):
    raw = build_thermeval(tmp_path / "raw", GEOMETRY)
    with pytest.raises(thermeval.InputError,
                       match="'prepare.thermeval.crop_geometry' must be one of blog, per_axis, not 'square'"):
        thermeval.prepare(raw, tmp_path / "out", {**CFG, "crop_geometry": "square"}, seed=0)
    with pytest.raises(thermeval.InputError, match="'prepare.thermeval.split' must be one of blog, seeded, not None"):
        thermeval.prepare(raw, tmp_path / "out2", {k: v for k, v in CFG.items() if k != "split"}, seed=0)
