"""The bake-off's settings as params.yaml gives them."""

from pathlib import Path

from thermbench.core.stage import build, load_params
from thermbench.zeroshot.bakeoff import ZeroshotConfig


def test_default_params_hold_the_tfan_section():
    cfg = build(ZeroshotConfig, load_params(Path(__file__).parents[2] / "params.yaml")["zeroshot"], "zeroshot").tfan
    assert cfg == {"local_path": "data/models/tfan/70.pt", "n_landmarks": 70, "mode": "auto"}
