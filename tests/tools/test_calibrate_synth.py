"""The synthetic ThermEval calibration: its score by hand, its choice rule, and frames that honour the face width."""

import numpy as np
import pytest

from thermbench.tools.measure import calibrate_synth as cs

REAL = cs.REAL  # mediapipe_one_face 0.137, A 0.233, B 0.100, person+A 0.253


def test_the_score_is_the_log_ratios_to_the_real_rates():
    rates = {"mediapipe_one_face": 0.137, "A": 0.233 * 1.4, "B": 0.100 / 1.2, "person+A": 0.253}
    s = cs.score(rates, 1.5)
    assert s["ratios"]["A"] == pytest.approx(1.4) and s["ratios"]["B"] == pytest.approx(1 / 1.2)
    assert s["sum_sq_log_ratio"] == pytest.approx(np.log(1.4) ** 2 + np.log(1.2) ** 2)
    assert s["within_factor"] and s["a_above_b"] and s["qualifies"]
    assert not cs.score({**rates, "B": 0.5}, 1.5)["qualifies"]  # 5x the real B, and above A
    assert cs.score({**rates, "A": 0.0}, 1.5)["sum_sq_log_ratio"] == np.inf


def test_the_closest_qualifying_setting_is_chosen(monkeypatch):
    """Three settings: one closest to the real rates but with B above A, one within the factor, one outside it."""
    made = {}

    def fake_frames(seed, n, p_people, width, blur):
        return (tuple(width), blur)

    def fake_rates(items, caps, confidence):
        width, blur = items
        made[items] = caps
        return {(20, 30): {**REAL, "A": 0.09, "B": 0.11},           # closest overall, but B above A
                (35, 50): {**REAL, "A": 0.20, "B": 0.12},           # within 1.5, A above B
                (40, 55): {**REAL, "A": 0.40, "B": 0.12}}[width]   # A 1.7x the real one
    monkeypatch.setattr(cs, "frames", fake_frames)
    monkeypatch.setattr(cs, "detection_rates", fake_rates)
    params = {"seed": 0, "synth": {"thermeval": {"people_probs": [0, 1]}},
              "zeroshot_blog": {"part1": {"match_cap_px": 80}, "part3": {"match_cap_px": 60,
                                                                           "min_detection_confidence": 0.5}}}
    result = cs.calibrate(params, 10, 1.5, widths=((20, 30), (35, 50), (40, 55)), blurs=(1.0,))
    assert result["qualified"] and result["chosen"] == {"face_width_px": [35, 50], "blur_px": 1.0}
    assert made[((35, 50), 1.0)] == {"mediapipe_one_face": 80, "A": 60, "B": 60, "person+A": 60}


def test_calibration_frames_have_faces_of_the_asked_width():
    items = cs.frames(0, 3, [0.0, 1.0, 0.0, 0.0], (50, 51), 0.7)
    assert len(items) == 3
    for image, noses, persons in items:
        assert image.dtype == np.uint8 and image.shape == (256, 192) and len(noses) == 1 and len(persons) == 1
        x0, _, x1, _ = persons[0]
        assert x1 - x0 >= 2 * 50  # the torso is 2 x 1.15 face widths at least (datasets/synth/thermeval.py)


def test_the_qa_stage_records_the_choice_and_whether_params_use_it(tmp_path):
    from thermbench.core.io import write_json
    from thermbench.datasets.qa import calibration_summary

    rates = {**REAL, "A": 0.2, "B": 0.12}
    row = {"face_width_px": [35, 50], "blur_px": 2.0, "rates": rates, **cs.score(rates, 1.5)}
    write_json(tmp_path / "c.json", {"anchors": REAL, "chosen": {"face_width_px": [35, 50], "blur_px": 2.0},
                                     "candidates": [row], "qualified": True, "factor": 1.5, "frames": 200,
                                     "frames_from": "own seeds"})
    summary = calibration_summary(tmp_path / "c.json", {"face_width_px": [35, 50], "blur_px": 2.0})
    assert summary["params_use_it"] and summary["qualified"] and summary["ratios"]["B"] == pytest.approx(1.2)
    assert not calibration_summary(tmp_path / "c.json", {"face_width_px": [20, 30], "blur_px": 2.0})["params_use_it"]
    assert calibration_summary(tmp_path / "none.json", {})["status"].endswith("(make calibrate writes it)")
