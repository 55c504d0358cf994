import json

import cv2
import numpy as np
import pandas as pd
import pytest

from raw_builders import build_tfake
from thermbench.core.io import InputError
from thermbench.datasets import tfake
from thermbench.datasets.stats import prepared_summary

CFG = {"thermal_dir": "thermal", "conditions": [], "split": {"train": 0.8, "val": 0.1}, "box_scale": 1.25,
       "crop_size": 64}
BOTH = {**CFG, "conditions": ["warm", "cold"]}


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


def test_conditions_share_the_split_of_their_identity(tmp_path):
    raw = build_tfake(tmp_path / "raw", 10, {"warm": 200, "cold": 60})
    tfake.prepare(raw, tmp_path / "out", BOTH, seed=0)
    samples = pd.read_csv(tmp_path / "out/samples.csv")
    assert len(samples) == 20 and samples.condition.value_counts().to_dict() == {"cold": 10, "warm": 10}
    ids = samples.sample_id.str.split("_").str[0]
    assert (samples.groupby(ids)["split"].nunique() == 1).all()   # both conditions of an id: one split
    by_id = samples.assign(id=ids).drop_duplicates("id").set_index("id")["split"].to_dict()
    assert by_id == {f"tf{k}": v for k, v in tfake.assign_splits([f"{i:06d}" for i in range(10)], BOTH["split"],
                                                                    0).items()}
    warm = samples.set_index("sample_id").loc["tf000002_warm"]
    cold = samples.set_index("sample_id").loc["tf000002_cold"]
    assert warm.image_file == "thermal/warm/000002.png" and cold.rgb_crop_path == warm.rgb_crop_path
    assert warm.kpts == cold.kpts
    assert cv2.imread(str(tmp_path / "out" / warm.crop_path), cv2.IMREAD_UNCHANGED)[32, 32] == 200
    assert cv2.imread(str(tmp_path / "out" / cold.crop_path), cv2.IMREAD_UNCHANGED)[32, 32] == 60
    assert prepared_summary(tmp_path / "out")["conditions"] == {
        "test": {"cold": 1, "warm": 1}, "train": {"cold": 8, "warm": 8}, "val": {"cold": 1, "warm": 1}}


def test_one_condition_when_asked_for_one(tmp_path):
    raw = build_tfake(tmp_path / "raw", 4, {"warm": 200, "cold": 60})
    tfake.prepare(raw, tmp_path / "out", {**CFG, "conditions": ["cold"]}, seed=0)
    samples = pd.read_csv(tmp_path / "out/samples.csv")
    assert samples.sample_id.tolist() == [f"tf{i:06d}" for i in range(4)] and set(samples.condition) == {"cold"}


def test_a_flat_thermal_folder_is_one_condition_said_in_one_line(tmp_path, capsys):
    raw = build_tfake(tmp_path / "raw", 3)
    tfake.prepare(raw, tmp_path / "out", BOTH, seed=0)
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"{raw / 'thermal'}: one thermal set of <id>.png, not warm/ and cold/ folders: used as one condition, "
        "'thermal'")
    assert set(pd.read_csv(tmp_path / "out/samples.csv").condition) == {"thermal"}


@pytest.mark.parametrize("conditions, layout, message", [
    (["warm", "cold"], {"warm": 200}, "thermal: no cold/ folder beside warm/"),
    ([], {"warm": 200, "cold": 60}, "neither condition folders .none listed. nor <id>.png thermal images; it holds "
                                    "cold/, warm/"),
])
def test_a_layout_that_does_not_fit_the_conditions_is_named(tmp_path, conditions, layout, message):
    raw = build_tfake(tmp_path / "raw", 2, layout)
    with pytest.raises(InputError, match=message):
        tfake.prepare(raw, tmp_path / "out", {**CFG, "conditions": conditions}, seed=0)
