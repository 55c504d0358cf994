"""The synthetic video generator: deterministic, ground truth consistent with the pixels, breathing visible."""

from dataclasses import replace

import numpy as np
import pytest

from profile_configs import default_config
from thermbench.breath import signal as sig
from thermbench.core.io import InputError
from thermbench.datasets import video
from thermbench.datasets.synth import video as sv


def _cfg(**kw):
    near = sv.SceneConfig(sequences=1, fps=5.0, duration_s=8.0, face_width_px=(100, 100), frame_size=(160, 128),
                          people=(1, 1), supersample=1, pose_step_deg=1.0)
    far = sv.SceneConfig(sequences=1, fps=5.0, duration_s=4.0, face_width_px=(24, 24), frame_size=(96, 128),
                         people=(2, 2), supersample=3, pose_step_deg=3.0)
    video = default_config("synth.video", sv.VideoConfig, {"sway_sequences": 2})
    return replace(video, near=near, far=far, **{"pause_prob": 0.0, "mouth_prob": 0.0, "turn_prob": 0.0, **kw})


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("v") / "videos"
    sv.write_videos(out, _cfg(), seed=3)
    return out


def test_layout_and_ground_truth(written):
    assert [p.name for p in video.list_sequences(written)] == ["far_0", "near_0"]
    near = video.read_sequence(written / "near_0")
    assert near.frames.shape == (40, 128, 160) and near.fps == 5.0 and near.scene == "near_sway" and near.synthetic
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
    sv.write_videos(tmp_path / "again", _cfg(), seed=3, workers=1)  # one process writes what the pool wrote
    a, b = video.read_sequence(written / "far_0"), video.read_sequence(tmp_path / "again" / "far_0")
    assert np.array_equal(a.frames, b.frames) and a.truth.equals(b.truth)


def test_meta_records_the_rate_change_and_the_sway_of_each_subject(written):
    near, far = video.read_sequence(written / "near_0"), video.read_sequence(written / "far_0")
    change = near.meta["subject_draws"]["s0"]["rate_change"]
    assert change["kind"] in sv.RATE_CHANGES and 7 <= change["before_bpm"] <= 27
    # the last 2 near sequences sway: here the only one, near_0
    assert near.meta["subject_draws"]["s0"]["sway"]["period_s"] >= 6
    assert [d["sway"] for d in far.meta["subject_draws"].values()] == [None, None]  # far scenes never sway


def test_breathing_pause_holds_the_phase_and_counts_as_zero_rate():
    cfg = _cfg(pause_prob=1.0, pause_s=(3.0, 3.0))
    t = np.arange(0, 60, 0.1)
    b = sv.breathing(np.random.default_rng(0), t, cfg, sv.RateChange("none", 12.0, 12.0, 0.0))
    paused = b["rate_bpm"] == 0
    assert 25 <= paused.sum() <= 31  # 3 s at 10 fps
    assert np.allclose(b["resp"][paused], 0.5)  # held at the end of an exhale
    assert (b["rate_bpm"][~paused] >= 5.9).all()


def test_ffc_freezes_frames_and_resets_the_offset():
    cfg = _cfg(ffc_interval_s=(5.0, 5.0))
    offset, freeze = sv._ffc(np.random.default_rng(1), np.arange(0, 20, 0.1), cfg)
    assert freeze.any() and not freeze[0]
    assert 4 <= freeze.sum() // max(np.count_nonzero(np.diff(freeze.astype(int)) == 1), 1) <= 6  # ~0.5 s each


def test_step_jumps_to_the_other_rate_at_its_start():
    step = sv.RateChange("step", 10.0, 18.0, start_s=20.0)
    assert step.curve(np.array([0.0, 19.9, 20.0, 30.0])).tolist() == [10, 10, 18, 18]


def test_ramp_is_linear_between_its_ends_and_flat_outside():
    ramp = sv.RateChange("ramp", 10.0, 18.0, start_s=20.0, ramp_s=10.0)
    assert ramp.curve(np.array([0.0, 20.0, 22.5, 25.0, 30.0, 40.0])) == pytest.approx([10, 10, 12, 14, 18, 18])
    assert sv.RateChange("none", 9.0, 9.0, 0.0).curve(np.array([0.0, 30.0])).tolist() == [9, 9]


@pytest.mark.parametrize(("rate", "u", "expected"), [
    (10.0, 0.5, 20.5),  # nothing 4 below 10 in [7, 27]: u spreads over [14, 27]
    (10.0, 0.0, 14.0),
    (20.0, 0.25, 10.0),  # [7, 16] below (9 wide) and [24, 27] above (3 wide): 0.25 x 12 = 3 into the part below
    (20.0, 0.9, 25.8),  # 10.8 into 12: 1.8 into the part above
])
def test_other_rate_is_at_least_the_gap_away_and_inside_the_range(rate, u, expected):
    assert sv.other_rate(rate, u, 7.0, 27.0, 4.0) == pytest.approx(expected)


def test_drawn_rate_changes_keep_their_kind_shares_rates_and_ramps_in_range():
    cfg = _cfg()
    rng = np.random.default_rng(0)
    changes = [sv.draw_rate_change(rng, cfg, 40.0) for _ in range(1000)]
    share = {k: np.mean([c.kind == k for c in changes]) for k in sv.RATE_CHANGES}
    assert share == pytest.approx({"none": 0.4, "step": 0.3, "ramp": 0.3}, abs=0.05)  # 3.5 standard errors
    for c in changes:
        assert 7 <= c.before_bpm <= 27 and 7 <= c.after_bpm <= 27  # rate_bpm 6-30 less the modulation's room
        if c.kind == "none":
            assert c.after_bpm == c.before_bpm
        else:
            assert abs(c.after_bpm - c.before_bpm) >= 4
            assert c.ramp_s == 0 if c.kind == "step" else 10 <= c.ramp_s <= 20
            assert 0 <= c.start_s and c.start_s + c.ramp_s <= 40


def test_rate_truth_follows_a_step_and_a_ramp_one_frame_late_and_stays_in_range():
    cfg = _cfg(rate_variability=0.0)
    t = np.arange(600) / 10
    step = sv.breathing(np.random.default_rng(0), t, cfg, sv.RateChange("step", 10.0, 18.0, 20.0))["rate_bpm"]
    assert step[1:201] == pytest.approx(np.full(200, 10.0))  # frame 200 (t = 20 s) is carried by the rate at 19.9 s
    assert step[201:] == pytest.approx(np.full(399, 18.0))
    change = sv.RateChange("ramp", 27.0, 7.0, 15.0, 20.0)
    ramp = sv.breathing(np.random.default_rng(0), t, cfg, change)["rate_bpm"]
    assert ramp[1:] == pytest.approx(change.curve(t[:-1]))
    modulated = sv.breathing(np.random.default_rng(0), t, _cfg(rate_variability=0.5), change)["rate_bpm"]
    assert modulated.min() > 6 - 1e-9 and modulated.max() < 30 + 1e-9  # clipped to rate_bpm


@pytest.mark.parametrize("kind", sv.RATE_CHANGES)
def test_completed_breaths_equal_mean_rate_times_duration(kind):
    """Over any stretch the mean of the per-frame rate truth counts the breaths (a pause counting as zero)."""
    cfg = _cfg(pause_prob=1.0, rate_change_probs=tuple(float(k == kind) for k in sv.RATE_CHANGES))
    fps, t = 9.0, np.arange(540) / 9.0
    for seed in range(5):
        rng = np.random.default_rng(seed)
        b = sv.breathing(rng, t, cfg, sv.draw_rate_change(rng, cfg, t[-1]))
        starts = np.flatnonzero((b["resp"][:-1] < 0) & (b["resp"][1:] >= 0)) + 1  # a breath begins: resp rises past 0
        for a, z in ((0, 539), (0, 270), (270, 539), (100, 370), (45, 315)):
            breaths = np.count_nonzero((starts > a) & (starts <= z))
            assert abs(breaths - b["rate_bpm"][a + 1:z + 1].mean() * (z - a) / fps / 60) <= 1


def test_sway_is_a_sinusoid_of_its_amplitude_and_period_along_its_direction():
    t = np.array([0.0, 2.0, 4.0, 6.0, 8.0])
    expected = [[0, 0], [0.1, 0], [0, 0], [-0.1, 0], [0, 0]]  # period 8 s: peaks at a quarter period
    assert sv.Sway(0.1, 8.0, 0.0, 0.0).offsets(t) == pytest.approx(np.array(expected), abs=1e-12)
    down = sv.Sway(0.1, 8.0, 0.0, 90.0).offsets(t)
    assert down[:, 0] == pytest.approx(np.zeros(5), abs=1e-12) and down[1, 1] == pytest.approx(0.1)
    diagonal = sv.Sway(0.1, 8.0, np.pi / 2, 45.0).offsets(np.array([0.0]))
    assert diagonal == pytest.approx(np.array([[0.1 / np.sqrt(2)] * 2]))
    sway, dense = sv.Sway(0.09, 7.0, 1.0, 30.0), np.linspace(0, 7, 7001)
    along = np.hypot(*sway.offsets(dense).T)
    assert along.max() == pytest.approx(0.09) and sway.offsets(dense + 7.0) == pytest.approx(sway.offsets(dense))


def test_sway_moves_the_head_and_its_nostril_truth_exactly():
    """Same seed with and without the sway: every draw before it is the same, so the nostril truth differs by the
    sway alone, face width (100 px) x offsets, ±8-10 px here."""
    sc = sv.SceneConfig(sequences=1, fps=5.0, duration_s=2.0, face_width_px=(100, 100), frame_size=(160, 128),
                        people=(1, 1), supersample=1, pose_step_deg=1.0)
    cfg = _cfg()
    still = sv.render_sequence(np.random.default_rng(7), "near", sc, cfg, sways=False)
    swaying = sv.render_sequence(np.random.default_rng(7), "near", sc, cfg, sways=True)
    assert still[4]["s0"]["sway"] is None
    sway = sv.Sway(**swaying[4]["s0"]["sway"])
    assert 0.08 <= sway.amplitude_fw <= 0.1 and 6 <= sway.period_s <= 10
    moved = swaying[2][["nose_x", "nose_y"]].to_numpy() - still[2][["nose_x", "nose_y"]].to_numpy()
    assert moved == pytest.approx(100 * sway.offsets(np.arange(10) / 5.0), abs=1e-6)
    assert swaying[3]["x30"].to_numpy() - still[3]["x30"].to_numpy() == pytest.approx(moved[:, 0], abs=1e-6)


@pytest.mark.parametrize(("kw", "message"), [
    ({"rate_change_probs": (0.5, 0.5, 0.5)}, "rate_change_probs must be 3 shares"),
    ({"rate_bpm": (6.0, 16.0)}, "too narrow"),
])
def test_rate_change_params_a_draw_cannot_honour_are_one_line(tmp_path, kw, message):
    with pytest.raises(InputError, match=message):
        sv.write_videos(tmp_path / "v", _cfg(**kw), seed=0)
