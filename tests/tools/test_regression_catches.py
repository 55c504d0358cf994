"""The gate still catches real change: a deliberate change applied to real library code moves its numbers beyond the
committed tolerances (tests/baseline/tolerances.yaml: rules, k, floor) and the comparison fails with its table; the
unchanged code passes. The numbers come from the library on tiny fixtures, not from a smoke run (too slow for a
unit test); baselines are summarised from runs the way `make baseline` summarises the smoke runs."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from raw_builders import build_thermeval, face_points
from thermbench.core import crops, nme
from thermbench.core.io import dumps_json
from thermbench.datasets import thermeval
from thermbench.datasets.crop_store import Split
from thermbench.datasets.stats import prepared_summary
from thermbench.mlcmkd.losses import DistillConfig, DistillTask
from thermbench.mlcmkd.optim import OptimConfig
from thermbench.mlcmkd.train import FitConfig, fit_ktl
from thermbench.models.rtmpose import build_rtmpose
from thermbench.tools.gates import regression

ROOT = Path(__file__).resolve().parents[2]
TOL = regression.load_tolerances(ROOT / regression.TOLERANCES)


def as_metrics(prefix: str, obj: dict) -> dict:
    """What the gate would read from metrics/<prefix> had a stage written `obj` (write_json rounds to 6 digits)."""
    return {f"{prefix}:{key}": value for key, value in regression.flatten(json.loads(dumps_json(obj))).items()}


def moved_names(baseline: regression.Baseline, current: dict) -> list[str]:
    result = regression.compare(baseline, current, TOL)
    report = regression.format_report(result)
    assert result.ok == (not result.moved) and result.ok == report.startswith("regression: OK")
    if not result.ok:
        assert "| metric | check | baseline | new | allowed | spread |" in report
        assert all(f"| {m.name} | {m.check} | {m.baseline} | {m.new} | {m.allowed} |" in report for m in result.moved)
    return [m.name for m in result.moved]


# ------------------------------------------------------------------------------------ nose-to-crop mapping shifted
FILES = {1: [[([30, 40, 50, 150], [50, 60, 5, 7]), ([100, 50, 40, 120], [115, 70, 5, 7])],
             [([20, 20, 60, 180], [45, 45, 5, 7])]],
         2: [[([10, 30, 60, 160], [35, 55, 5, 7])], [([40, 40, 50, 150], [60, 60, 5, 7])]]}
CFG = {"n_train": 2, "n_val": 0, "n_test": 2, "box_scale": 1.25, "crop_size": 64, "crop_geometry": "blog",
       "split": "seeded", "split_seed": 7}


def test_nose_to_crop_mapping_shifted_by_3_px_fails(tmp_path, monkeypatch):
    raw = build_thermeval(tmp_path / "raw", FILES)

    def prepared(name: str) -> dict:
        thermeval.prepare(raw, tmp_path / name, CFG, seed=0)
        return as_metrics("datasets/thermeval.json", prepared_summary(tmp_path / name))

    baseline = regression.summarise({("native", 0): prepared("a"), ("default", 0): prepared("b")}, TOL)
    assert TOL.rule_for("datasets/thermeval.json:mean_px.nose_x").check == "exact"
    assert moved_names(baseline, prepared("c")) == []

    to_crop = crops.to_crop
    monkeypatch.setattr(crops, "to_crop", lambda points, box, size: to_crop(points, box, size) + [3.0, 0.0])
    assert moved_names(baseline, prepared("shifted")) == ["datasets/thermeval.json:mean_px.nose_cx",
                                                          "datasets/thermeval.json:mean_px.nose_x"]


# --------------------------------------------------------------------------------------- a metric's normaliser
def _faces() -> tuple[np.ndarray, np.ndarray]:
    gt = np.stack([face_points(128, 120, 80), face_points(100, 140, 60), face_points(140, 128, 90)])
    pred = gt + np.random.default_rng(0).normal(0, 3, gt.shape)
    return pred, gt


def _interpupil(gt: np.ndarray) -> np.ndarray:
    gt = np.asarray(gt, dtype=np.float64)
    return np.linalg.norm(gt[:, 36:42].mean(axis=1) - gt[:, 42:48].mean(axis=1), axis=-1)


def test_nme_normaliser_changed_fails(monkeypatch):
    pred, gt = _faces()

    def scored() -> dict:
        return as_metrics("mlcmkd/ktl-dikd.json", {"tfake": nme.summarize(nme.nme_io(pred, gt))})

    baseline = regression.summarise({("native", 0): scored(), ("default", 0): scored()}, TOL)
    assert moved_names(baseline, scored()) == []
    monkeypatch.setattr(nme, "interocular_distance", _interpupil)  # outer eye corners -> pupil centres
    assert "mlcmkd/ktl-dikd.json:tfake.nme" in moved_names(baseline, scored())


def test_nme_normaliser_change_exceeds_the_calibrated_smoke_bands(monkeypatch):
    """The same change against the committed smoke baseline: the relative move of NME-IO it causes on fixed
    predictions, applied to every calibrated T-FAKE NME of the smoke run, is beyond each metric's band."""
    pred, gt = _faces()
    before = nme.summarize(nme.nme_io(pred, gt))["nme"]
    monkeypatch.setattr(nme, "interocular_distance", _interpupil)
    ratio = nme.summarize(nme.nme_io(pred, gt))["nme"] / before
    baseline = regression.read_baseline(ROOT / regression.BASELINE)
    names = [n for n in baseline.entries if n.endswith("tfake.nme") and TOL.rule_for(n).check == "band"]
    assert names, "the committed baseline has no T-FAKE NME: update this test to the metric's new name"
    current = {name: round(baseline.entries[name].centre * ratio, 6) for name in names}
    assert moved_names(regression.Baseline({n: baseline.entries[n] for n in names}), current) == sorted(names)


# ------------------------------------------------------------------------------------------- a loss weight changed
SIZE = 64


def _split(n: int, seed: int, paired: bool) -> Split:
    rng = np.random.default_rng(seed)
    kpts = rng.uniform(8, SIZE - 8, size=(n, 68, 2)).astype(np.float32)
    images = np.zeros((n, SIZE, SIZE), dtype=np.uint8)
    for i in range(n):
        images[i, kpts[i, :, 1].astype(int), kpts[i, :, 0].astype(int)] = 255
    return Split(images=images, kpts=kpts, visible=np.ones((n, 68), np.float32), scale=np.ones((n, 2), np.float32),
                 paired=np.repeat(images[..., None], 3, axis=-1) if paired else None)


def ktl_metrics(seed: int, kp_weight: float = 0.1, onednn: bool = True) -> dict:
    """Two KTL steps (DIKD) of a tiny student, as the smoke run trains one; `onednn` False swaps the convolution
    kernels (oneDNN -> PyTorch's own), the in-process stand-in for another CPU's kernels."""
    data = {"train": _split(8, 0, paired=True), "val": _split(4, 1, paired=False)}
    torch.manual_seed(seed)
    student = build_rtmpose("t", input_size=(SIZE, SIZE))
    torch.manual_seed(100)
    teacher = build_rtmpose("t", input_size=(SIZE, SIZE))
    task = DistillTask(student, teacher, DistillConfig(fd=True, ld=True, fi=True, ri=True, kp_weight=kp_weight))
    cfg = FitConfig(epochs=1, batch_size=4, seed=seed, grad_norm_steps=2,
                    optim=OptimConfig(lr=1e-3, weight_decay=0.0, min_lr_ratio=1.0))
    with torch.backends.mkldnn.flags(enabled=onednn):
        history = fit_ktl(student, teacher, task, data, cfg)
    return as_metrics("mlcmkd/ktl-dikd.json", {"training": {"val_nme": history["epochs"][-1]["val_nme"]}})


@pytest.mark.filterwarnings("ignore:TF32 acceleration")  # torch's notice when the oneDNN flags are set
def test_loss_weight_changed_fails():
    runs = {(kernels, seed): ktl_metrics(seed, onednn=kernels == "native")
            for kernels in ("native", "default") for seed in (0, 1)}
    baseline = regression.summarise(runs, TOL)
    assert moved_names(baseline, ktl_metrics(0)) == []
    # lambda_kp 0.1 -> 1.0: after two steps a doubling stayed inside the kernel band under ATEN_CPU_CAPABILITY=default
    assert moved_names(baseline, ktl_metrics(0, kp_weight=1.0)) == ["mlcmkd/ktl-dikd.json:training.val_nme"]

