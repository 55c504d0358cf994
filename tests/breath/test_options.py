"""The signal chain's option choice on validation videos: the scenes it renders, the pick, the table."""

import json

from profile_configs import default_config
from thermbench.breath import options as op
from thermbench.breath.rates import RateConfig
from thermbench.breath.sources import TrackConfig
from thermbench.datasets.synth.video import VideoConfig

TRACK = default_config("breath.track", TrackConfig)
RATES = default_config("breath.rates", RateConfig, {"chain.reference": "frame_median", "chain.motion_degree": 0})

CFG = op.OptionsConfig(seed=101, sequences=3, reference=["frame_median", "ring"], motion_degree=[0, 1])


def _video() -> VideoConfig:
    return default_config("synth.video", VideoConfig, {"near.sequences": 20, "far.sequences": 10, "sway_sequences": 10})


def test_validation_videos_have_the_asked_sequences_per_scene_kind():
    v = op.validation_videos(_video(), CFG)
    # near: 3 still + 3 swaying (the last sway_sequences of the near ones), far: 3
    assert (v.near.sequences, v.sway_sequences, v.far.sequences) == (6, 3, 3)


def _rows():
    def row(reference, degree, near, far):
        return {"reference": reference, "motion_degree": degree, "mae_bpm": {"far": far, "near": near},
                "mean_mae_bpm": (near + far) / 2}
    return [row("frame_median", 0, 0.5, 3.0), row("frame_median", 1, 0.4, 2.9), row("ring", 0, 0.2, 4.0),
            row("ring", 1, 0.3, 3.5)]


def test_the_lowest_mean_over_scene_kinds_is_chosen_and_params_are_held_against_it(tmp_path, monkeypatch):
    monkeypatch.setattr(op, "write_videos", lambda out, video, seed: out.mkdir())
    monkeypatch.setattr(op, "track_source", lambda *a, **k: None)
    monkeypatch.setattr(op, "score", lambda videos, track, rates, cfg, seed: _rows())
    out = tmp_path / "options.json"
    # means: 1.75, 1.65, 2.1, 1.9 -> frame_median with motion degree 1
    result = op.choose(out, "synthetic", _video(), TRACK, RATES, CFG, 0)
    assert result["chosen"] == {"reference": "frame_median", "motion_degree": 1}
    assert result["params"] == {"reference": "frame_median", "motion_degree": 0}
    assert not result["params_hold_the_choice"]
    assert json.loads(out.read_text())["data"] == "synthetic"
    md = op.markdown(result)
    assert "| frame_median | 1 | 2.90 | 0.40 | 1.65 | chosen |" in md
    assert "| ring | 0 | 4.00 | 0.20 | 2.10 |  |" in md
    assert "**not the choice**" in md and "seed 101, 3 sequences per scene kind" in md


def test_real_recordings_get_a_status_and_no_choice(tmp_path):
    result = op.choose(tmp_path / "o.json", "real", _video(), TRACK, RATES, CFG, 0)
    assert result["data"] == "real" and "synthetic validation videos only" in result["status"]
    assert op.markdown(result).startswith("\nOptions of the signal chain: data.source.breath is real")
