"""TFAN's Table I row: iBUG-68 points from each crop's own box (by hand), the MLCM-KD schema, and the status row
that stands in for numbers when the weights are absent (here and in the report's Table I)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from thermbench.core.io import InputError
from thermbench.core.items import read_items
from thermbench.datasets.crop_store import Split
from thermbench.mlcmkd import report_tables
from thermbench.models.tfan import TFAN
from thermbench.models.tfan_landmarker import TFANLandmarker
from thermbench.zeroshot.table1 import tfan as table1_tfan

SOURCES = {"tfake": "synthetic", "charlotte": "real"}

# head output = LeakyReLU(bias) (weights 0): point k at x = k / 100 of the crop side, y = 0.25
BIAS = np.stack([np.arange(70) / 100, np.full(70, 0.25), np.full(70, 0.1)], axis=1)


@pytest.fixture()
def cfg(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.tfan/models/70.pt
    return {"local_path": str(tmp_path / "70.pt"), "n_landmarks": 70, "mode": "auto"}


def save_constant_head(path):
    torch.manual_seed(0)
    model = TFAN(70)
    with torch.no_grad():
        model.fc.weight.zero_()
        model.fc.bias.copy_(torch.from_numpy(BIAS.reshape(-1)))
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, path)


def split(n: int, gt: np.ndarray, meta=None) -> Split:
    return Split(images=np.zeros((n, 256, 256), np.uint8), kpts=np.repeat(gt[None], n, 0).astype(np.float32),
                 visible=np.ones((n, 68), np.float32), scale=np.array([[1.0, 1.0], [2.0, 2.0]][:n]), meta=meta)


def test_each_crop_gets_its_own_box_and_its_ibug68_part_is_kept(cfg):
    """256 px crop, box_scale 1.25: the crop's box is (25.6, 25.6)-(230.4, 230.4), TFAN's square side 204.8 x 1.25
    = 256 about (128, 128), padding 128, so the crop origin is (0, 0): point k = (2.56 k, 64) crop px, times the
    crop's scale back to its original px."""
    save_constant_head(cfg["local_path"])
    pred = table1_tfan.predict_split(TFANLandmarker.from_params(cfg), split(2, np.zeros((68, 2))), 1.25, "test")
    assert pred.shape == (2, 68, 2)                                      # pupils 68, 69 dropped
    expected = np.stack([2.56 * np.arange(68), np.full(68, 64.0)], axis=1)
    np.testing.assert_allclose(pred[0], expected, atol=1e-4)
    np.testing.assert_allclose(pred[1], 2 * expected, atol=2e-4)


def test_row_in_the_mlcmkd_schema_with_hand_nmes(cfg, tmp_path, monkeypatch):
    """GT = the prediction shifted down by 2.304 px; outer eye corners 36, 45 lie 9 x 2.56 = 23.04 px apart, so
    NME-IO = 0.1 on each image (original px: both scale x2 on the second). CHARLOTTE GT = the prediction: NME 0."""
    save_constant_head(cfg["local_path"])
    pts = np.stack([2.56 * np.arange(68), np.full(68, 64.0)], axis=1)
    meta = pd.DataFrame({"sample_id": ["c0", "c1"], "width_group": ["high", "low"], "view": ["front", "side"]})
    splits = {"tfake": split(2, pts + [0, 2.304], pd.DataFrame({"sample_id": ["t0", "t1"]})),
              "charlotte": split(2, pts, meta)}
    monkeypatch.setattr(table1_tfan, "load_split", lambda root, *a, **k: splits[str(root)])
    out = tmp_path / "zeroshot-tfan.json"
    table1_tfan.evaluate("tfake", "charlotte", out, cfg, (1.25, 1.25), 1, "cpu", SOURCES, tmp_path / "items.csv")
    assert read_items(tmp_path / "items.csv", "tfake").to_dict() == pytest.approx({"t0": 0.1, "t1": 0.1}, abs=1e-5)
    assert read_items(tmp_path / "items.csv", "charlotte").to_dict() == pytest.approx({"c0": 0.0, "c1": 0.0},
                                                                                       abs=1e-5)
    saved = json.loads(out.read_text())
    assert saved["model"] == "zeroshot-tfan" and saved["kind"] == "zeroshot" and saved["status"] == "ok"
    assert saved["data"] == SOURCES
    assert saved["tfake"]["nme"] == pytest.approx(0.1, abs=1e-5) and saved["tfake"]["n"] == 2
    assert saved["charlotte"]["full"]["nme"] == pytest.approx(0.0, abs=1e-5) and saved["charlotte"]["side"]["n"] == 1
    assert saved["complexity"] == {"params_m": 2.492882} and "tfake_rgb" not in saved


def test_absent_weights_give_one_line_and_a_status_row(cfg, tmp_path, capsys):
    out = tmp_path / "zeroshot-tfan.json"
    table1_tfan.evaluate(tmp_path / "no-tfake", tmp_path / "no-charlotte", out, cfg, (1.25, 1.25), 1, "cpu", SOURCES,
                         tmp_path / "items.csv")
    assert read_items(tmp_path / "items.csv", "tfake").empty                # no rows, the header only
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("zeroshot_table1@tfan: weights not available: TFAN 70-point")
    row = json.loads(out.read_text())
    assert row["status"] == err.removeprefix("zeroshot_table1@tfan: ").rstrip("\n")
    assert "tfake" not in row and "charlotte" not in row                    # no numbers, not even NaN ones
    assert row["data"] == SOURCES

    dlib = {"model": "zeroshot-dlib68", "tfake": {"nme": 0.3, "fr@0.1": 0.9, "auc@0.1": 0.01},
            "charlotte": {s: {"nme": 0.2} for s in ("high", "mean", "low", "front", "side", "full")}}
    md = report_tables.table_i(report_tables.group_runs({"zeroshot-dlib68": dlib, "zeroshot-tfan": row}))
    lines = md.splitlines()
    assert "| tfan (zero-shot, no training) | weights not available | " + " | " * 13 + " |" in lines
    assert lines[-1] == f"- tfan (zero-shot, no training): {row['status']}"
    assert any(line.startswith("| dlib68 (zero-shot, no training) | – |") for line in lines)


def test_table1_needs_the_70_point_model(cfg):
    with pytest.raises(InputError, match="n_landmarks is 478; Table I scores iBUG-68 points"):
        table1_tfan.evaluate("t", "c", "m.json", {**cfg, "n_landmarks": 478}, (1.25, 1.25), 1, "cpu", SOURCES,
                             "items.csv")
