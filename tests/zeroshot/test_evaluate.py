"""ThermEval zero-shot protocol: hand-built frames/samples, a scripted adapter, hand-computed numbers; and the stage."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from thermbench.core.io import read_csv
from thermbench.datasets.prepared import read_frames
from thermbench.models.landmarker import Prediction
from thermbench.zeroshot import evaluate as ev

ROOT = Path(__file__).resolve().parents[2]


class Scripted:
    """Full frame: the next scripted list of noses; given a box: the box centre + (2, 3)."""

    def __init__(self, noses):
        self.noses = noses

    def predict(self, image, boxes=None):
        if boxes is None:
            noses = np.asarray(self.noses.pop(0), dtype=float).reshape(-1, 2)
        else:
            x0, y0, x1, y1 = boxes[0]
            noses = np.array([[(x0 + x1) / 2 + 2, (y0 + y1) / 2 + 3]])
        return Prediction(np.zeros((len(noses), 1, 2)), np.zeros((len(noses), 1)), noses)


def test_full_frame_protocol(thermeval):
    raw, prepared = thermeval
    frames = ev.select(read_frames(prepared), "test", 0, prepared)
    # frame a: two GT, predictions 3 px from the first and 200 px away (beyond the cap); frame b: none
    records, seconds = ev.run_full_frame(Scripted([[[53, 50], [300, 260]], []]), frames, raw)
    assert len(seconds) == 2 and records[0]["gt"] == [[50, 50], [120, 60]]
    m = ev.full_frame_metrics(records, cap=80, thresholds=[3, 5])
    assert m["n_gt"] == 3 and m["n_frames"] == 2 and m["n_predictions"] == 2
    assert m["detection_rate"] == pytest.approx(1 / 3)
    assert m["mean_px"] == pytest.approx(3.0) and m["median_px"] == pytest.approx(3.0)
    assert m["pck"] == pytest.approx({"3px": 1 / 3, "5px": 1 / 3})


def test_crop_protocol_and_offset(thermeval):
    raw, prepared = thermeval
    samples = read_csv(prepared / "samples.csv")
    assert ev.person_box(next(samples.itertuples())) == pytest.approx([80, 60, 120, 140])
    records = ev.run_crops(Scripted([]), samples, raw)
    # predictions: box centre + (2,3) -> s1 (102,103), s2 (102,103), s3 (62,143)
    assert [r["pred"] for r in records] == [[102, 103], [102, 103], [62, 143]]
    test = [r for r in records if r["split"] == "test"]
    m = ev.crop_metrics(test, crop_size=256, thresholds=[3, 5])
    # frame errors: s2 |(2,-1)| = sqrt(5); s3 |(2,3)| = sqrt(13)
    assert m["frame_px"]["mean_px"] == pytest.approx((5 ** 0.5 + 13 ** 0.5) / 2)
    assert m["frame_px"]["pck"] == pytest.approx({"3px": 0.5, "5px": 1.0})
    # crop px: x scaled by 256/50, y by 256/100 -> s2 |(10.24, -2.56)|
    assert m["crop_px"]["median_px"] == pytest.approx(
        np.median([np.hypot(10.24, -2.56), np.hypot(10.24, 7.68)]))
    # offset fitted on train (s1): GT - pred = (-2, -3) -> (-0.04, -0.03) in box units; applied on test
    offset = ev.fit_offset([r for r in records if r["split"] == "train"])
    np.testing.assert_allclose(offset, [-0.04, -0.03])
    fixed = ev.crop_metrics(ev.apply_offset(test, offset), 256, [3, 5])
    # s2 corrected (100,100) vs GT (100,104): 4 px; s3 corrected (60,140) = GT: 0 px
    assert fixed["frame_px"]["mean_px"] == pytest.approx(2.0)


def test_missing_prediction_is_a_miss():
    records = [{"gt": [0, 0], "pred": None, "box": [0, 0, 10, 10]},
               {"gt": [0, 0], "pred": [3, 4], "box": [0, 0, 10, 10]}]
    m = ev.crop_metrics(records, 256, [10])
    assert m["frame_px"]["detection_rate"] == 0.5 and m["frame_px"]["pck"] == {"10px": 0.5}
    assert np.isnan(ev.fit_offset(records[:1])).all()


def _params(tmp_path: Path) -> Path:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["zeroshot"]["sapiens2"]["local_path"] = str(tmp_path / "absent.safetensors")
    params["zeroshot"]["tfan"]["local_path"] = str(tmp_path / "absent.pt")
    params["prepare"]["thermeval"] = {"box_scale": 1.25, "crop_size": 256}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def _stage(model, tmp_path, raw, prepared, env=None):
    out = tmp_path / "out"
    cmd = [sys.executable, str(ROOT / "stages/zeroshot/predict.py"), "--model", model, "--raw", str(raw),
           "--prepared", str(prepared), "--params", str(_params(tmp_path)),
           "--predictions", str(out / "pred.json"), "--metrics", str(out / "m.json"), "--timing", str(out / "t.json")]
    return subprocess.run(cmd, capture_output=True, text=True, env=env), out


def test_stage_mediapipe_runs_for_real(thermeval, tmp_path):
    raw, prepared = thermeval
    proc, out = _stage("mediapipe", tmp_path, raw, prepared)
    assert proc.returncode == 0, proc.stderr
    m = json.loads((out / "m.json").read_text())
    # blank frames: no face anywhere, so every GT is a miss
    assert m["status"] == "ok" and m["full_frame"]["detection_rate"] == 0.0 and m["full_frame"]["n_gt"] == 3
    assert m["crop"]["frame_px"]["detection_rate"] == 0.0
    assert json.loads((out / "t.json").read_text())["n_frames"] == 2


def test_stage_without_weights_writes_status_only(thermeval, tmp_path):
    raw, prepared = thermeval
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "HOME": str(tmp_path),
           "TORCH_HOME": str(tmp_path / "th"), "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    for model in ("sapiens2", "dwpose", "tfan"):
        proc, out = _stage(model, tmp_path, raw, prepared, env)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr.strip().count("\n") == 0 and "weights not available" in proc.stderr
        m = json.loads((out / "m.json").read_text())
        assert set(m) == {"model", "data", "status"} and m["status"].startswith("weights not available")


def test_missing_prepared_data_is_one_line_error(tmp_path):
    proc, _ = _stage("mediapipe", tmp_path, tmp_path / "raw", tmp_path / "nothing")
    assert proc.returncode == 2 and proc.stderr.startswith("error:") and "frames.csv" in proc.stderr


def test_tfan_takes_part_with_its_nose_base_arc_by_hand(thermeval, tmp_path):
    """TFAN whose head outputs (0.5, 0.25) for every point (weights 0, bias only), so its nose (the mean of points
    31-35) sits at the top-centre of its square: Person box 40x80 -> side 80 x 1.25 = 100 about the box centre, origin
    = centre - 50, nose = origin + (50, 25) = centre - (0, 25). s2: centre (100, 100) -> (100, 75), GT (100, 104): 29
    px; s3: centre (60, 140) -> (60, 115), GT (60, 140): 25 px. Crop px: x 256/50, y 256/100 -> 74.24 and 64."""
    import torch

    from thermbench.core.stage import load_params
    from thermbench.models.tfan import TFAN
    from thermbench.zeroshot.bakeoff import config, predict

    raw, prepared = thermeval
    model = TFAN(70)
    with torch.no_grad():
        model.fc.weight.zero_()
        model.fc.bias.copy_(torch.tensor([0.5, 0.25, 0.1] * 70))
    torch.save(model.state_dict(), tmp_path / "70.pt")
    section = load_params(_params(tmp_path))["zeroshot"]
    section["tfan"]["local_path"] = str(tmp_path / "70.pt")
    cfg = config(section)
    out = tmp_path / "out"
    predict("tfan", prepared, raw, out / "p.json", out / "m.json", out / "t.json", cfg, 256, "synthetic")
    m = json.loads((out / "m.json").read_text())
    assert m["status"] == "ok"
    assert m["crop"]["frame_px"]["mean_px"] == pytest.approx(27.0, abs=1e-4)
    assert m["crop"]["crop_px"]["mean_px"] == pytest.approx((74.24 + 64) / 2, abs=1e-4)
    # full frame 192x256: side 320 about (96, 128), origin (-64, -32), nose (96, 48); frame a's nearest GT is
    # (120, 60) at sqrt(24^2 + 12^2) = 26.83 px; frame b's (30, 200) lies 166 px off, beyond the 80 px cap
    p = json.loads((out / "p.json").read_text())
    np.testing.assert_allclose(p["full_frame"][0]["pred"], [[96.0, 48.0]], atol=1e-4)
    assert m["full_frame"]["mean_px"] == pytest.approx(np.hypot(24, 12), abs=1e-4)
    assert m["full_frame"]["detection_rate"] == pytest.approx(1 / 3)
