import json

import cv2
import numpy as np
import pandas as pd
import pytest

from raw_builders import build_tfake
from thermbench.core.io import InputError
from thermbench.datasets import tfake

CFG = {"thermal_dir": "thermal", "split": {"train": 0.8, "val": 0.1}, "box_scale": 1.25, "crop_size": 64}


def test_split_fractions_are_seeded():
    ids = [f"{i:06d}" for i in range(10)]
    splits = tfake.assign_splits(ids, {"train": 0.8, "val": 0.1}, seed=3)
    assert sorted(splits.values()).count("train") == 8 and list(splits.values()).count("val") == 1
    assert tfake.assign_splits(ids, {"train": 0.8, "val": 0.1}, seed=3) == splits


def test_prepare_crops_points_and_pupils(tmp_path):
    raw = build_tfake(tmp_path / "raw", 10)
    tfake.prepare(raw, tmp_path / "out", CFG, seed=0)
    samples = pd.read_csv(tmp_path / "out/samples.csv")
    assert samples.split.value_counts().to_dict() == {"train": 8, "val": 1, "test": 1}
    row = samples[samples.sample_id == "tf000002"].iloc[0]
    # 68 points span x 158..358, y 206..356 -> square side 200*1.25 about (258, 281) -> box (133, 156, 250, 250)
    assert [row.box_x0, row.box_y0, row.box_w, row.box_h] == pytest.approx([133, 156, 250, 250])
    kpts, pupils = np.array(json.loads(row.kpts)), np.array(json.loads(row.pupils))
    assert kpts.shape == (68, 3) and (kpts[:, 2] == 1).all()
    np.testing.assert_allclose(kpts[0, :2], [(158 - 133) * 0.256, (276 - 156) * 0.256], atol=1e-3)
    expected_pupils = [[(218 - 133) * 0.256, 75 * 0.256], [(298 - 133) * 0.256, 75 * 0.256]]
    np.testing.assert_allclose(pupils, expected_pupils, atol=1e-3)
    thermal = cv2.imread(str(tmp_path / "out" / row.crop_path), cv2.IMREAD_UNCHANGED)
    rgb = cv2.imread(str(tmp_path / "out" / row.rgb_crop_path), cv2.IMREAD_UNCHANGED)
    assert thermal.shape == (64, 64) and thermal[32, 32] == 128
    assert rgb.shape == (64, 64, 3) and rgb[32, 32].tolist() == [0, 0, 200]


def test_wrong_point_count_is_named(tmp_path):
    raw = build_tfake(tmp_path / "raw", 2)
    np.savetxt(raw / "000001_ldmks.txt", np.zeros((69, 2)))
    with pytest.raises(InputError, match="000001_ldmks.txt: expected 70 finite 'x y' rows"):
        tfake.prepare(raw, tmp_path / "out", CFG, seed=0)


def test_missing_landmark_file_is_named(tmp_path):
    with pytest.raises(InputError, match="x_ldmks.txt: landmark file missing"):
        tfake.read_landmarks(tmp_path / "x_ldmks.txt")


def test_missing_thermal_twin_is_named(tmp_path):
    raw = build_tfake(tmp_path / "raw", 2)
    (raw / "thermal/000000.png").unlink()
    with pytest.raises(InputError, match="thermal/000000.png: image file not found"):
        tfake.prepare(raw, tmp_path / "out", CFG, seed=0)
