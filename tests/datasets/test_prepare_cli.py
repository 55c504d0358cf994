"""The prepare stage as a user runs it: a subprocess on a hand-built ThermEval folder (incl. the .jpg/.png quirk)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pandas as pd
import pytest
import yaml

from raw_builders import build_thermeval

ROOT = Path(__file__).resolve().parents[2]
FILES = {
    1: [[([30, 40, 50, 150], [50, 60, 5, 7])], [([60, 20, 40, 200], [75, 40, 5, 7])]],
    2: [[([20, 40, 80, 200], [50, 70, 5, 7]), ([120, 40, 40, 100], None)]],
}
CFG = {"n_train": 1, "n_val": 1, "n_test": 1, "box_scale": 1.25, "crop_size": 256, "crop_geometry": "per_axis",
       "split": "seeded", "split_seed": 7}


def run_prepare(tmp_path, raw, cfg=CFG):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"seed": 0, "prepare": {"thermeval": cfg}}))
    cmd = [sys.executable, "stages/datasets/prepare.py", "--dataset", "thermeval", "--raw", str(raw)]
    cmd += ["--out", str(tmp_path / "out")]
    return subprocess.run(cmd + ["--params", str(params)], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.fixture
def raw(tmp_path):
    return build_thermeval(tmp_path / "raw", FILES)


def test_prepare_writes_samples_and_crops(tmp_path, raw):
    result = run_prepare(tmp_path, raw)
    assert result.returncode == 0, result.stderr
    samples = pd.read_csv(tmp_path / "out/samples.csv")
    assert len(samples) == 3 and sorted(samples.split) == ["test", "train", "val"]
    test = samples[samples.split == "test"].iloc[0]
    assert test.image_file == "images/f2_000.png"  # annotations_2 says .jpg
    # Person (20, 40, 80, 200) x1.25 -> box (10, 15, 100, 250); nose centre (52.5, 73.5) -> (108.8, 59.904)
    assert (test.nose_x, test.nose_y) == pytest.approx((108.8, 59.904), abs=1e-3)
    crop = cv2.imread(str(tmp_path / "out" / test.crop_path), cv2.IMREAD_UNCHANGED)
    assert crop[59, 108] == 255
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "params.yaml", "raw"]


def test_prepare_stage_crops_as_the_blog(tmp_path, raw):
    result = run_prepare(tmp_path, raw, {**CFG, "crop_geometry": "blog", "split": "blog"})
    assert result.returncode == 0, result.stderr
    test = pd.read_csv(tmp_path / "out/samples.csv").set_index("split").loc["test"]
    # Person (20, 40, 80, 200): side 250 about (60, 140) -> corner (-65, 15) moved to (0, 15), far side clipped to
    # (192, 256): a 192 x 241 window; nose centre (52.5, 73.5) -> (52.5 * 256/192, 58.5 * 256/241)
    assert [test.box_x0, test.box_y0, test.box_w, test.box_h] == [0, 15, 192, 241]
    assert (test.nose_x, test.nose_y) == pytest.approx((70.0, 62.141), abs=1e-3)


def _corrupt_image(raw):
    (raw / "images/f2_000.png").write_bytes(b"\x89PNG broken")


def _edit(name, change):
    def apply(raw):
        path = raw / "Annotations" / name
        coco = json.loads(path.read_text())
        change(coco)
        path.write_text(json.dumps(coco))

    return apply


BAD_INPUTS = {
    "corrupt image": (_corrupt_image, "f2_000.png: corrupt or unreadable image"),
    "missing key": (
        _edit("annotations_1.json", lambda c: c["images"][0].pop("file_name")),
        "annotations_1.json: images[0] has no 'file_name'",
    ),
    "unknown category": (
        _edit("annotations_2.json", lambda c: c["categories"].pop(1)),
        "annotations_2.json: no category named 'Person'",
    ),
    "empty split": (
        _edit("annotations_1.json", lambda c: c.update(annotations=[])),
        "annotations_1.json: no Nose inside a Person box",
    ),
    "missing raw folder": (shutil.rmtree, "raw: raw dataset folder not found"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_gives_one_line_and_no_output(tmp_path, raw, case):
    damage, message = BAD_INPUTS[case]
    damage(raw)
    result = run_prepare(tmp_path, raw)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out*"))


def test_a_bad_prepare_param_is_one_line_and_leaves_the_output_as_it_was(tmp_path, raw):
    assert run_prepare(tmp_path, raw).returncode == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    result = run_prepare(tmp_path, raw, {**CFG, "crop_size": "256"})
    assert result.returncode == 2
    assert result.stderr.strip() == "error: params.yaml: 'prepare.thermeval.crop_size' must be int, not '256'"
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()} == before
