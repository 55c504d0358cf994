"""The synthetic video generator: deterministic, ground truth consistent with the pixels, breathing visible."""

import numpy as np
import pytest

from thermbench.breath import signal as sig
from thermbench.datasets import video
from thermbench.datasets.synth import video as sv


def _cfg(**kw):
    near = sv.SceneConfig(sequences=1, fps=5.0, duration_s=8.0, face_width_px=(100, 100), frame_size=(160, 128))
    far = sv.SceneConfig(sequences=1, fps=5.0, duration_s=4.0, face_width_px=(24, 24), frame_size=(96, 128),
                         people=(2, 2), supersample=3, pose_step_deg=3.0)
    return sv.VideoConfig(near=near, far=far, **{"pause_prob": 0.0, "mouth_prob": 0.0, "turn_prob": 0.0, **kw})


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("v") / "videos"
    sv.write_videos(out, _cfg(), seed=3)
    return out


def test_layout_and_ground_truth(written):
    assert [p.name for p in video.list_sequences(written)] == ["far_0", "near_0"]
    near = video.read_sequence(written / "near_0")
    assert near.frames.shape == (40, 128, 160) and near.fps == 5.0 and near.scene == "near" and near.synthetic
    gt = near.subject_truth("s0")
    assert np.isfinite(gt[["nose_x", "nose_y", "rate_bpm", "resp"]].to_numpy()).all()
    x0, y0, x1, y1 = near.subjects[0].face_box
    assert x1 - x0 == pytest.approx(100, rel=0.15)  # face width ~ jaw-to-jaw landmark span
    assert x0 < gt["nose_x"].iloc[0] < x1 and y0 < gt["nose_y"].iloc[0] < y1
    assert near.landmarks.shape == (40, 2 + 136)
    far = video.read_sequence(written / "far_0")
    assert len(far.subjects) == 2 and far.frames.shape == (20, 128, 96)
    assert all(5 <= r <= 31 for r in far.truth["rate_bpm"])


def test_breathing_warms_the_nostril_roi(written):
    near = video.read_sequence(written / "near_0")
    gt = near.subject_truth("s0")
    roi = sig.roi_means(near.frames, gt[["nose_x", "nose_y"]].to_numpy(), 6.0)
    assert np.corrcoef(roi, gt["resp"])[0, 1] > 0.5


def test_deterministic(written, tmp_path):
    sv.write_videos(tmp_path / "again", _cfg(), seed=3)
    a, b = video.read_sequence(written / "far_0"), video.read_sequence(tmp_path / "again" / "far_0")
    assert np.array_equal(a.frames, b.frames) and a.truth.equals(b.truth)


def test_breathing_pause_holds_the_phase_and_counts_as_zero_rate():
    cfg = _cfg(pause_prob=1.0, pause_s=(3.0, 3.0))
    t = np.arange(0, 60, 0.1)
    b = sv.breathing(np.random.default_rng(0), t, cfg)
    paused = b["rate_bpm"] == 0
    assert 25 <= paused.sum() <= 31  # 3 s at 10 fps
    assert np.allclose(b["resp"][paused], 0.5)  # held at the end of an exhale
    assert (b["rate_bpm"][~paused] >= 5.9).all()


def test_ffc_freezes_frames_and_resets_the_offset():
    cfg = _cfg(ffc_interval_s=(5.0, 5.0))
    offset, freeze = sv._ffc(np.random.default_rng(1), np.arange(0, 20, 0.1), cfg)
    assert freeze.any() and not freeze[0]
    assert 4 <= freeze.sum() // max(np.count_nonzero(np.diff(freeze.astype(int)) == 1), 1) <= 6  # ~0.5 s each
