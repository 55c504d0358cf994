"""Rasteriser, thermal model and encodings (hand-computed), and tiny writes of each raw format."""

import hashlib
import json

import cv2
import numpy as np
import pandas as pd
import pytest
import tifffile

from thermbench.core.io import InputError
from thermbench.datasets.common import centikelvin_from_celsius
from thermbench.datasets.raw import write_synthetic
from thermbench.datasets.synth import render, thermal
from thermbench.datasets.synth.face import base_vertices

TFAKE = {"num_images": 3, "image_size": 160, "face_width_px": [60, 80],
         "max_pose": [60, 25, 20], "blur_px": 1.0}
THERMEVAL = {"frames_file1": 4, "frames_file2": 4, "people_probs": [0.0, 0.0, 0.0, 1.0], "face_width_px": [20, 30],
             "blur_px": 0.7}
CHARLOTTE = {"subjects": 1, "images_per_subject": 6, "median_width_px": 200}


def test_rasterise_covers_a_triangle_and_culls_its_back():
    xy = np.array([[0.0, 0.0], [0.0, 10.0], [10.0, 0.0]])
    z, layer = np.zeros(3), np.zeros(1)
    ids = render.rasterise(xy, z, np.array([[0, 1, 2]]), layer, (16, 16))
    assert (ids == 0).sum() == 66  # lattice points with x, y >= 0 and x + y <= 10: 11 + 10 + ... + 1
    assert (render.rasterise(xy, z, np.array([[0, 2, 1]]), layer, (16, 16)) == -1).all()  # back face


def test_nearer_triangle_wins_and_interpolation_is_exact_for_linear_attributes():
    xy = np.array([[0.0, 0.0], [0.0, 10.0], [10.0, 0.0]] * 2)
    z = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])  # triangle 1 is nearer
    tris = np.array([[0, 1, 2], [3, 4, 5]])
    ids = render.rasterise(xy, z, tris, np.zeros(2), (16, 16))
    assert set(np.unique(ids)) == {-1, 1}
    ys, xs, val = render.interpolate(ids, xy, tris, np.column_stack([xy[:, 0], 2 * xy[:, 1] + 3]))
    assert np.allclose(val[:, 0], xs, atol=1e-4) and np.allclose(val[:, 1], 2 * ys + 3, atol=1e-4)


def test_rotation_turns_the_nose_to_the_image_right_for_positive_yaw():
    nose = np.array([0.0, 0.0, -1.0])
    assert (render.rotation(render.Pose(yaw=30)) @ nose)[0] == pytest.approx(np.sin(np.radians(30)))


def test_encodings():
    assert thermal.encode_window(np.array([20.0, 30.0, 40.0, 45.0, 10.0])).tolist() == [0, 128, 255, 255, 0]
    assert thermal.decode_window(np.array([0, 255])).tolist() == [20.0, 40.0]
    assert centikelvin_from_celsius(np.array([0.0, 36.85])).tolist() == [27315, 31000]
    assert thermal.encode_minmax(np.array([[20.0, 25.0, 30.0]])).tolist() == [[0, 128, 255]]


def test_face_temperatures_order():
    look = thermal.sample_thermal_look(np.random.default_rng(0))
    t = thermal.face_temperatures(base_vertices(), look)
    assert max(t[133], t[362]) == pytest.approx(t[:468].max())  # inner canthi warmest
    for region in (10, 151, 50, 280, 0, 17):  # forehead, cheeks, lips
        assert t[4] < t[region]  # nose tip cooler


def test_view_emissivity():
    assert thermal.view_emissivity(np.array([1.0, 0.0])).tolist() == [1.0, 0.65]


def test_unknown_dataset_and_missing_params(tmp_path):
    with pytest.raises(InputError, match="unknown dataset"):
        write_synthetic("lfw", tmp_path, {}, 0)
    with pytest.raises(InputError, match="synth.tfake lacks image_size"):
        write_synthetic("tfake", tmp_path / "t", {k: v for k, v in TFAKE.items() if k != "image_size"}, 0)
    assert not (tmp_path / "t").exists()


def _digest(folder):
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {p.relative_to(folder).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest() for p in files}


def test_tfake_format_and_determinism(tmp_path):
    write_synthetic("tfake", tmp_path / "a", TFAKE, seed=7)
    write_synthetic("tfake", tmp_path / "b", TFAKE, seed=7)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    out = tmp_path / "a"
    for i in range(3):
        rgb = cv2.imread(str(out / f"{i:06d}.png"), cv2.IMREAD_UNCHANGED)
        twin = cv2.imread(str(out / "thermal" / f"{i:06d}.png"), cv2.IMREAD_UNCHANGED)
        assert rgb.shape == (160, 160, 3) and twin.shape == (160, 160) and twin.dtype == np.uint8
        assert np.loadtxt(out / f"{i:06d}_ldmks.txt").shape == (70, 2)
    meta = pd.read_csv(out / "synth_meta.csv", dtype={"id": str})
    assert meta["id"].tolist() == ["000000", "000001", "000002"] and (meta["yaw"].abs() <= 60).all()


def test_thermeval_format(tmp_path):
    write_synthetic("thermeval", tmp_path, THERMEVAL, seed=3)
    for k in (1, 2):
        coco = json.loads((tmp_path / "Annotations" / f"annotations_{k}.json").read_text())
        assert {c["name"]: c["id"] for c in coco["categories"]} == {"Person": 0, "Chest": 1, "Forehead": 2, "Nose": 3}
        for image in coco["images"]:
            assert (image["width"], image["height"]) == (192, 256)
            assert image["file_name"].endswith(".png" if k == 1 else ".jpg")  # the real set's quirk
            stem = image["file_name"][:-4]
            assert (tmp_path / "images" / f"{stem}.png").is_file()
            temp = tifffile.imread(tmp_path / "Temp_Matrix" / f"{stem}.tiff")
            assert temp.shape == (256, 192) and temp.dtype == np.float32 and 15 < temp.mean() < 40
        persons = [a["bbox"] for a in coco["annotations"] if a["category_id"] == 0]
        noses = [a["bbox"] for a in coco["annotations"] if a["category_id"] == 3]
        assert len(persons) == 12 and noses  # 3 people in each of 4 frames
        for x, y, w, h in noses:
            assert 4 <= w <= 6 and 6 <= h <= 8


def test_thermeval_faces_take_the_asked_width(tmp_path):
    write_synthetic("thermeval", tmp_path, {**THERMEVAL, "face_width_px": [44.0, 45.0], "frames_file2": 1}, seed=3)
    widths = pd.read_csv(tmp_path / "synth_meta.csv")["face_width_px"]
    assert len(widths) == 15 and widths.between(44.0, 45.0).all()


def test_thermeval_output_parses(tmp_path):
    from thermbench.datasets import thermeval

    write_synthetic("thermeval", tmp_path, THERMEVAL, seed=3)
    frames, warnings = thermeval.parse_frames(tmp_path)
    assert len(frames) == 8 and sum(len(f["pairs"]) for f in frames) > 0 and warnings == []
    assert all(f["path"].is_file() for f in frames)


def test_charlotte_format(tmp_path):
    write_synthetic("charlotte", tmp_path, CHARLOTTE, seed=5)
    table = pd.read_csv(tmp_path / "S1.csv")
    assert list(table.columns[:3]) == ["ID", "x0", "x1"] and list(table.columns[-5:]) == [
        "Distance", "RH", "Airflow", "env-temp", "Sensation"]
    for _, row in table.iterrows():
        raw = tifffile.imread(tmp_path / "S1" / f"{row.ID}.tiff")
        assert raw.dtype == np.uint16 and 15 < (raw / 100 - 273.15).mean() < 40
        n = int(row[[f"x{i}" for i in range(72)]].notna().sum())
        assert n in (72, 43)
        if n == 43:  # the visible side follows the team's rule, consistent with the pose
            meta = pd.read_csv(tmp_path / "synth_meta.csv").set_index("ID").loc[row.ID]
            left = row["x18"] < np.mean([row[f"x{i}"] for i in range(22, 28)])
            assert left == (meta["yaw"] < 0)
