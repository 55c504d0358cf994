"""Signal chain and scores on hand-computed cases."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from profile_configs import default_config
from thermbench.breath import metrics as bm
from thermbench.breath import signal as sig

CHAIN = default_config("breath.rates.chain", sig.ChainConfig)


def _sine(bpm: float, fps: float, seconds: float, phase: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * fps)) / fps
    return np.sin(2 * np.pi * bpm / 60 * t + phase)


@pytest.mark.parametrize("bpm", [6.0, 15.0, 27.0])
def test_both_estimators_recover_a_pure_sinusoid(bpm):
    x = sig.bandpass(_sine(bpm, 9.0, 30.0), 9.0, (0.1, 0.7))
    assert sig.welch_rate(x, 9.0, (0.1, 0.7), 20.0) == pytest.approx(bpm, abs=0.3)
    # peaks exactly one period apart: (n - 1) periods over (n - 1) intervals
    assert sig.peak_rate(_sine(bpm, 10.0, 30.0), 10.0, bpm, 0.3) == pytest.approx(bpm, abs=0.05)


def test_sinusoid_at_15_bpm_through_window_rates():
    fps = 9.0
    x = _sine(15.0, fps, 45.0)
    filtered, valid = sig.prepare_signal(x, np.zeros(len(x), bool), fps, CHAIN)
    table = sig.window_rates(filtered, valid, fps, replace(CHAIN, window_s=30.0, hop_s=5.0))
    assert len(table) == 4  # starts at 0, 5, 10, 15 s
    assert np.allclose(table["welch_bpm"], 15.0, atol=0.3)
    assert np.allclose(table["peaks_bpm"], 15.0, atol=0.2)


def test_guided_peak_counting_counts_one_peak_per_breath_of_a_double_humped_exhale():
    """cos θ - 0.6 cos 2θ: each 5 s breath (12/min, 50 frames at 10 fps) peaks twice, at θ = ±arccos(1/2.4), 9.08
    frames either side of its centre, over a dip of 0.41 (prominent: 0.3 sd is 0.25). The first hump lies exactly on a
    frame, the second 0.16 frames off it: the first is the higher. Guided by the Welch rate (12.01/min: peaks at least
    0.6 x 10 x 60 / 12.01 = 29 frames apart) the count keeps the first hump of each breath, frames 16, 66, .., 266: 5
    breaths in 25 s, 12/min. Spaced by the band's top (42/min: 8 frames) it counts both humps, frames 16, 34, ..,
    266, 284: 11 intervals in 26.8 s."""
    fps, hump = 10.0, 50 * np.arccos(1 / 2.4) / (2 * np.pi)
    theta = 2 * np.pi * (np.arange(300) - 16 - hump) / 50
    x = np.cos(theta) - 0.6 * np.cos(2 * theta)
    cfg = replace(CHAIN, window_s=30.0, peaks_guided=True)  # one window: the whole 30 s
    guided = sig.window_rates(x, np.ones(len(x), bool), fps, cfg)
    assert len(guided) == 1 and guided["welch_bpm"][0] == pytest.approx(12.0, abs=0.05)
    assert guided["peaks_bpm"][0] == pytest.approx(12.0)
    unguided = sig.window_rates(x, np.ones(len(x), bool), fps, replace(cfg, peaks_guided=False))
    assert unguided["peaks_bpm"][0] == pytest.approx(60 * 11 / 26.8)


def test_a_window_with_too_few_frames_with_a_point_gets_no_rate():
    """12/min at 10 fps for 60 s, no point from 44 s on: 30 s windows every 5 s hold 300, 300, 300, 290, 240, 190,
    140 frames with a point; the last one, 140/300 < 0.5, gets no rate, the others all three."""
    fps = 10.0
    raw = _sine(12.0, fps, 60.0)
    raw[440:] = np.nan
    filtered, valid = sig.prepare_signal(raw, np.zeros(len(raw), bool), fps, CHAIN)
    table = sig.window_rates(filtered, valid, fps, replace(CHAIN, window_s=30.0, hop_s=5.0, min_window_coverage=0.5))
    assert table["coverage"].tolist() == pytest.approx([1.0, 1.0, 1.0, 29 / 30, 0.8, 19 / 30, 14 / 30])
    rates = table[["welch_bpm", "peaks_bpm", "ridge_bpm"]].to_numpy()
    assert np.isnan(rates[-1]).all() and np.isfinite(rates[:-1]).all()
    assert np.allclose(table["welch_bpm"][:-1], 12.0, atol=0.2)


def test_frozen_frames_are_gaps_filled_across_not_a_flat_stretch():
    """A temperature rising 0.1 per frame whose frames 50-79 froze (an FFC: each repeats frame 49). Filled across as
    a gap the line is whole again: the band-passed signal is the unfrozen line's, and the frozen frames are not
    valid."""
    fps = 10.0
    line = 0.1 * np.arange(200)
    frozen = np.zeros(len(line), bool)
    frozen[50:80] = True
    held = np.where(frozen, line[49], line)
    filtered, valid = sig.prepare_signal(held, frozen, fps, CHAIN)
    assert valid.tolist() == (~frozen).tolist()
    assert np.allclose(filtered, sig.bandpass(line, fps, CHAIN.band_hz, CHAIN.filter_order), rtol=0, atol=1e-9)


def test_bandpass_keeps_the_breathing_band_and_removes_drift_and_flicker():
    fps, n = 10.0, 600
    t = np.arange(n) / fps
    breath = np.sin(2 * np.pi * 0.3 * t)
    out = sig.bandpass(breath + 2 * np.sin(2 * np.pi * 0.01 * t) + np.sin(2 * np.pi * 2.0 * t), fps, (0.1, 0.7))
    middle = slice(100, 500)
    assert np.abs(out[middle] - breath[middle]).max() < 0.15


def test_roi_mean_of_a_ramp_is_its_centre_value_and_missing_centres_are_nan():
    ramp = np.tile(np.arange(40, dtype=np.float32) + 0.5, (30, 1))  # value = x coordinate of the pixel centre
    frames = np.stack([ramp, ramp, ramp])
    centres = np.array([[20.0, 15.0], [10.5, 10.0], [np.nan, np.nan]])
    out = sig.roi_means(frames, centres, 4.0)
    assert out[0] == pytest.approx(20.0) and out[1] == pytest.approx(10.5)
    assert np.isnan(out[2])


def test_box_means_fill_gaps_frozen_and_windows():
    frames = np.zeros((3, 4, 4), np.float32)
    frames[1] = 1.0
    frames[2] = 1.0
    assert sig.box_means(frames, (0, 0, 2, 2)).tolist() == [0.0, 1.0, 1.0]
    assert sig.frozen_frames(frames).tolist() == [False, False, True]
    assert sig.fill_gaps(np.array([np.nan, 1.0, np.nan, 3.0, np.nan])).tolist() == [1.0, 1.0, 2.0, 3.0, 3.0]
    assert sig.windows(100, 1.0, 30.0, 5.0)[-1] == (70, 100) and len(sig.windows(100, 1.0, 30.0, 5.0)) == 15
    assert sig.windows(20, 1.0, 30.0, 5.0) == [(0, 20)]


def test_true_window_rate_counts_breaths_including_a_pause():
    rate = np.r_[np.full(20, 12.0), np.zeros(10)]  # 20 s at 12/min, then 10 s of pause, at 1 fps
    assert sig.true_window_rates(rate, 1.0, replace(CHAIN, window_s=30.0, hop_s=5.0))[0] == pytest.approx(8.0)


def test_savgol_leaves_a_straight_track_unchanged_and_skips_short_runs():
    track = np.column_stack([np.arange(30.0), 2 * np.arange(30.0)])
    track[10] = np.nan
    out = sig.savgol_track(track, 10.0, 0.7, 2)
    assert np.allclose(out[11:], track[11:]) and np.isnan(out[10]).all()


def test_rate_scores_by_hand():
    s = bm.rate_scores(np.array([10.0, 12.0, 14.0, np.nan]), np.array([11.0, 12.0, 10.0, 9.0]))
    assert s["mae_bpm"] == pytest.approx(5 / 3)
    assert s["rmse_bpm"] == pytest.approx(np.sqrt(17 / 3))
    assert s["within2_share"] == pytest.approx(2 / 3)
    assert s["window_coverage"] == pytest.approx(3 / 4) and s["truth_coverage"] == 1.0
    assert s["pearson_r"] == pytest.approx(np.corrcoef([10, 12, 14], [11, 12, 10])[0, 1])


def test_windows_without_truth_are_not_scored_and_not_misses():
    """A window whose ground truth is missing (short truth.csv) leaves the estimator's coverage alone."""
    s = bm.rate_scores(np.array([10.0, 12.0, 14.0, 9.0]), np.array([11.0, 12.0, np.nan, np.nan]))
    assert s["window_coverage"] == 1.0 and s["truth_coverage"] == 0.5
    assert s["mae_bpm"] == pytest.approx(0.5) and s["within2_share"] == 1.0
    windows = pd.DataFrame({"source": "a", "scene": ["s", "s", "t"], "welch_bpm": [10.0, np.nan, 9.0],
                            "peaks_bpm": [10.0, 11.0, 9.0], "ridge_bpm": [12.0, 12.0, 9.0],
                            "true_bpm": [12.0, np.nan, np.nan], "true_spread": [0.0, np.nan, np.nan]})
    stats = pd.DataFrame({"source": "a", "scene": ["s", "t"], "frames": [10, 10], "with_point": [10, 10]})
    out = bm.summarise(windows, stats, 0.3)["a"]
    assert out["s"]["welch"]["window_coverage"] == 0.5 and out["s"]["welch"]["truth_coverage"] == 0.5
    assert out["s"]["peaks"]["window_coverage"] == 1.0 and out["s"]["peaks"]["mae_bpm"] == 2.0
    assert out["t"]["welch"] == {"n_windows": 1, "window_coverage": 1.0, "truth_coverage": 0.0, "scored": False,
                                 "mean_bpm": 9.0}


def test_jitter_removes_the_true_motion():
    truth = np.column_stack([np.arange(10.0) * 3, np.arange(10.0)])  # the face moves 3 px right, 1 down per frame
    usable = np.ones(10, bool)
    offset = bm.landmark_stats(truth + [3.0, 4.0], truth, usable)
    assert offset["error_sum"] / offset["error_n"] == pytest.approx(5.0) and offset["jitter_sq_sum"] == 0.0
    wobble = truth + np.column_stack([np.where(np.arange(10) % 2, 1.0, -1.0), np.zeros(10)])
    stats = bm.landmark_stats(wobble, truth, usable)
    assert np.sqrt(stats["jitter_sq_sum"] / stats["jitter_n"]) == pytest.approx(2.0)  # steps of +-2 px
    fixed = bm.landmark_stats(np.tile(truth[0], (10, 1)), truth, usable)
    assert np.sqrt(fixed["jitter_sq_sum"] / fixed["jitter_n"]) == pytest.approx(np.sqrt(10.0))  # the face's motion


def test_interpolated_track_fills_between_predictions_only():
    from thermbench.breath.tracking import interpolate_track

    pts = np.full((7, 2), np.nan)
    pts[1], pts[5] = [0.0, 10.0], [4.0, 2.0]
    out = interpolate_track(pts)
    assert np.isnan(out[0]).all() and np.isnan(out[6]).all()
    assert out[3].tolist() == [2.0, 6.0]


def _breathing(rate_bpm: np.ndarray, fps: float) -> np.ndarray:
    """The waveform of an instantaneous rate, as the video generator makes it: the phase advances by the rate."""
    return -0.5 * np.cos(np.cumsum(2 * np.pi * rate_bpm / 60 / fps))


def test_the_ridge_follows_a_rate_step_inside_a_window_where_welch_keeps_one_rate():
    """10 -> 18 breaths/min at 30 s (the issue's case). The window 15-45 s holds 15 s of each: its breath count is
    (15 x 10 + 15 x 18) / 30 = 14.0/min. Welch keeps the higher of its two peaks; the ridge's mean counts both."""
    fps = 9.0
    rate = np.where(np.arange(int(60 * fps)) / fps < 30, 10.0, 18.0)
    noise = np.random.default_rng(0).normal(0, 0.3, len(rate))
    x = sig.bandpass(_breathing(rate, fps) + noise, fps, (0.1, 0.7), 4)
    cfg = CHAIN
    table = sig.window_rates(x, np.ones(len(x), bool), fps, cfg)
    middle = table[table["t_start"] == 15.0].iloc[0]
    assert sig.true_window_rates(rate, fps, cfg)[3] == pytest.approx(14.0)
    assert middle["ridge_bpm"] == pytest.approx(14.0, abs=1.0)
    assert abs(middle["welch_bpm"] - 14.0) > 2.0
    # away from the step both rates come out: the first window is all 10/min, the last all 18/min
    assert table["ridge_bpm"].iloc[0] == pytest.approx(10.0, abs=0.5)
    assert table["ridge_bpm"].iloc[-1] == pytest.approx(18.0, abs=0.5)


@pytest.mark.parametrize("bpm", [6.0, 15.0, 27.0])
def test_the_ridge_recovers_a_steady_rate_across_the_band(bpm):
    fps = 9.0
    x = sig.bandpass(_sine(bpm, fps, 60.0), fps, (0.1, 0.7), 4)
    ridge = sig.ridge_rates(x, fps, (0.1, 0.7), 15.0, 1.0, 2.0, 0.05)
    assert len(ridge) == len(x) and np.abs(ridge - bpm).max() < 0.5


def test_the_ridge_follows_a_ramp_and_never_leaves_the_band():
    """A ramp 8 -> 24/min over 20-40 s; windows are 30 s. Band 0.1-0.7 Hz = 6-42/min."""
    fps = 9.0
    t = np.arange(int(60 * fps)) / fps
    rate = np.interp(t, [20.0, 40.0], [8.0, 24.0])
    x = sig.bandpass(_breathing(rate, fps), fps, (0.1, 0.7), 4)
    ridge = sig.ridge_rates(x, fps, (0.1, 0.7), 15.0, 1.0, 2.0, 0.05)
    assert ridge.min() >= 6.0 and ridge.max() <= 42.0
    for start in (0.0, 15.0, 30.0):
        window = (t >= start) & (t < start + 30)
        assert ridge[window].mean() == pytest.approx(rate[window].mean(), abs=1.0)


def test_estimates_outside_the_band_are_cut_or_rejected():
    fps = 9.0
    slow = _sine(4.0, fps, 30.0)  # 4/min, below the 6-42/min band
    assert sig.peak_rate(slow, fps, 42.0, 0.3) == pytest.approx(4.0, abs=0.05)  # no band: counted as is
    assert np.isnan(sig.peak_rate(slow, fps, 42.0, 0.3, (6.0, 42.0)))  # rejected
    # Welch of an unfiltered 4/min sine: its peak inside the band is the lobe's flank at 6/min, whose centroid lies
    # below the band: clamped to 6/min
    assert sig.welch_rate(slow, fps, (0.1, 0.7), 20.0) == 6.0


def test_true_spread_marks_steps_not_pauses():
    """At 1 fps, 30 s windows every 5 s: 12/min then 20/min from 30 s; (20 - 12) / mean. A pause (rate 0) alone is
    no change of rhythm."""
    cfg = replace(CHAIN, window_s=30.0, hop_s=5.0)
    step = np.r_[np.full(30, 12.0), np.full(30, 20.0)]
    spread = sig.true_window_spread(step, 1.0, cfg)
    assert spread[0] == 0.0 and spread[-1] == 0.0
    assert spread[3] == pytest.approx(8.0 / 16.0)  # window 15-45 s: 15 s of each (both percentiles inside), mean 16
    # a pause, with the partial breath (3/min) of the frame it begins in: 1 frame of 21 is below the 5th percentile
    pause = np.r_[np.full(20, 12.0), 3.0, np.zeros(9)]
    assert sig.true_window_spread(pause, 1.0, cfg)[0] == 0.0


def test_scores_apart_on_steady_windows_and_windows_with_a_rate_change():
    windows = pd.DataFrame({"source": "a", "scene": "s", "welch_bpm": [10.0, 17.0, 12.0],
                            "peaks_bpm": [10.0, 11.0, 12.0], "ridge_bpm": [10.0, 14.5, 12.5],
                            "true_bpm": [10.0, 14.0, 12.0], "true_spread": [0.1, 0.6, 0.0]})
    stats = pd.DataFrame({"source": ["a"], "scene": ["s"], "frames": [10], "with_point": [10]})
    welch = bm.summarise(windows, stats, 0.3)["a"]["s"]["welch"]
    assert welch["mae_bpm"] == pytest.approx(1.0)  # (0 + 3 + 0) / 3
    assert welch["windows"]["steady"]["mae_bpm"] == 0.0 and welch["windows"]["steady"]["n_windows"] == 2
    assert welch["windows"]["change"]["mae_bpm"] == 3.0 and welch["windows"]["change"]["n_windows"] == 1
    ridge = bm.summarise(windows, stats, 0.3)["a"]["s"]["ridge"]
    assert ridge["windows"]["change"]["mae_bpm"] == 0.5 and ridge["windows"]["steady"]["mae_bpm"] == 0.25


def test_ring_reference_is_the_mean_between_its_radii():
    """A ramp image (value = x of the pixel centre) is symmetric about the centre: a ring's mean is its centre
    value; a ring off the frame is NaN."""
    ramp = np.tile(np.arange(60, dtype=np.float32) + 0.5, (60, 1))
    frames = np.stack([ramp, ramp])
    out = sig.ring_means(frames, np.array([[30.0, 30.0], [np.nan, np.nan]]), 4.0, 8.0)
    assert out[0] == pytest.approx(30.0) and np.isnan(out[1])
    one = np.zeros((1, 20, 20), np.float32)
    one[0, 10, 10] = 100.0  # the centre pixel: inside a disc, never inside a ring
    assert sig.roi_means(one, np.array([[10.5, 10.5]]), 1.0)[0] > 0
    assert sig.ring_means(one, np.array([[10.5, 10.5]]), 1.0, 3.0)[0] == 0.0


def test_motion_regression_removes_what_the_track_position_explains_and_keeps_breathing():
    """The head sways along x (period 8 s) and the ROI reads 0.5 °C per standardised x on top of a 15/min breath
    whose position does not move; degree 1 removes the sway's share exactly (the breath is uncorrelated with x over
    whole periods of both), degree 0 leaves the signal alone."""
    fps = 10.0
    t = np.arange(400) / fps  # 40 s: 5 sway periods, 10 breaths
    x = 100 + 10 * np.sin(2 * np.pi * t / 8.0)
    points = np.column_stack([x, np.full(len(t), 50.0)])
    breath = np.sin(2 * np.pi * 15 / 60 * t)
    standardised = (points - points.mean(axis=0)) / (points - points.mean(axis=0)).std()
    raw = 3.0 + breath + 0.5 * standardised[:, 0]
    assert np.array_equal(sig.regress_motion(raw, points, 0), raw)
    out = sig.regress_motion(raw, points, 1)
    assert np.allclose(out, 3.0 + breath, atol=1e-9)
    raw_gap = raw.copy()
    raw_gap[5] = np.nan  # a frame without an ROI stays a gap
    assert np.isnan(sig.regress_motion(raw_gap, points, 1)[5])
