"""The TinyHead recipe's warm-up and initialisation (src/thermbench/tinyhead/training.py, models/tinyhead.py) and the
search that chooses them on val (src/thermbench/tinyhead/recipe_search.py), with hand-computed expectations."""

import json
import sys
from pathlib import Path

import pytest
import torch
import yaml

from raw_builders import build_prepared_crops
from thermbench.core import convergence
from thermbench.core.io import InputError
from thermbench.models import tinyhead as M
from thermbench.tinyhead import features as FC
from thermbench.tinyhead import protocol as P
from thermbench.tinyhead import recipe_search as RS
from thermbench.tinyhead import training as T

CROP = 32  # 4x4 features -> 16x16 heatmap, stride 2


def test_lr_factor_warms_up_linearly_then_follows_the_cosine_over_the_remaining_epochs():
    # 5 warm-up epochs of 25: (e + 1) / 5 -> 0.2, 0.4, ..., 1.0 at epoch 4 (lr 3e-3: epoch 0 runs at 6e-4)
    assert [T.lr_factor(e, 5, 25) for e in range(5)] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert 3e-3 * T.lr_factor(0, 5, 25) == pytest.approx(6e-4)
    # then 1/2 (1 + cos(pi (e - 5) / 20)): 1 at epoch 5, 1/2 (1 + cos(pi/4)) = 0.853553 at 10, 0.5 at 15,
    # 1/2 (1 + cos(19 pi / 20)) = 0.006156 at the last epoch, 24
    assert [T.lr_factor(e, 5, 25) for e in (5, 10, 15, 24)] == pytest.approx([1.0, 0.853553, 0.5, 0.006156], abs=1e-6)


def test_lr_factor_without_warm_up_is_the_blogs_cosine_annealing():
    # CosineAnnealingLR over 40 epochs (eta_min 0): lr_e = lr/2 (1 + cos(pi e / 40)); epoch 20 is the midpoint
    assert T.lr_factor(0, 0, 40) == 1.0 and T.lr_factor(20, 0, 40) == pytest.approx(0.5)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=40)
    torch_lrs = []
    for _ in range(40):
        torch_lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        cosine.step()
    assert [T.lr_factor(e, 0, 40) for e in range(40)] == pytest.approx(torch_lrs, abs=1e-12)


def test_zero_last_init_starts_at_the_all_zero_heatmap_and_draws_the_other_layers_as_default():
    torch.manual_seed(0)
    default = M.initialise(M.TinyHead(6), "default")
    torch.manual_seed(0)
    zero = M.initialise(M.TinyHead(6), "zero_last")
    x = torch.randn(3, 6, 4, 4)
    assert torch.equal(zero.eval()(x), torch.zeros(3, 1, 16, 16))
    assert default.eval()(x).abs().max() > 0
    others = [k for k in default.state_dict() if not k.startswith("final.")]
    assert all(torch.equal(default.state_dict()[k], zero.state_dict()[k]) for k in others)
    with pytest.raises(InputError, match="head.init 'xavier' is not one of default, zero_last"):
        M.initialise(M.TinyHead(6), "xavier")


def recipe(**overrides) -> T.TrainConfig:
    fields = {"lr": 3e-3, "weight_decay": 1e-4, "epochs": 6, "patience": None, "min_delta": 0.02, "batch_size": 4,
              "sigma": 1.0, "subpixel": False, "checkpoint": "best_val", "pck_thresholds": (10,), "heatmap_size": 16,
              "stride": 2.0}
    return T.TrainConfig(**{**fields, **overrides})


def test_training_follows_the_warm_up_and_trains_a_zero_initialised_head():
    torch.manual_seed(0)
    feats, points = torch.randn(8, 6, 4, 4), torch.rand(8, 2) * CROP
    cfg = recipe(warmup_epochs=2, init="zero_last")
    head, history, _, _ = T.train_head(feats, points, feats, points, cfg, seed=0)
    # 2 warm-up epochs of 6: 1/2, 1, then the cosine over 4: 1, 1/2 (1 + cos(pi/4)), 1/2, 1/2 (1 + cos(3 pi/4))
    assert [row["lr"] for row in history] == pytest.approx(
        [3e-3 * f for f in (0.5, 1.0, 1.0, 0.853553, 0.5, 0.146447)], rel=1e-5)
    assert head.final.weight.abs().max() > 0  # the zero conv learns: its input is not zero
    with pytest.raises(InputError, match=r"head.warmup_epochs 6 must be in 0..5"):
        T.train_head(feats, points, feats, points, recipe(warmup_epochs=6), seed=0)


def test_head_config_threads_warm_up_and_init_into_the_train_config():
    backbone = M.BackboneConfig(name="teacher", fallback=None, teacher_input_px=(32, 32), teacher_stages=((1,),),
                                feature_size=4, batch_size=4, device="cpu")
    head = T.HeadConfig(backbone=backbone, sigma=1.0, subpixel=False, checkpoint="best_val", sweep_epochs=None,
                        lr=3e-3, weight_decay=1e-4, warmup_epochs=5, init="zero_last", epochs=120, patience=25,
                        min_delta=0.02, batch_size=8, seeds=(0,), label_counts=(40,), curve_seeds=(0,),
                        pck_thresholds=(10,), threads=1, timing_crops=1)
    cfg = T.TrainConfig.from_head(head, 256, 16)
    assert (cfg.warmup_epochs, cfg.init) == (5, "zero_last")
    assert (recipe().warmup_epochs, recipe().init) == (0, "default")  # unset: the blog's recipe


@pytest.fixture
def features(tmp_path):
    """A feature cache of 6 train, 3 val and 4 test crops (random 6-channel 4x4 maps, one map "final")."""
    prepared = build_prepared_crops(tmp_path / "prepared", CROP, (6, 3, 4))
    samples = FC.load_samples(prepared)
    torch.manual_seed(0)
    out = tmp_path / "features"
    out.mkdir()
    FC.save_features(out, {"final": torch.randn(len(samples), 6, 4, 4)}, samples,
                     {"name": "tiny", "crop_size": CROP, "feature_size": 4, "candidates": [["final"]]})
    return out


# (lr, warm-up, init) -> seed -> val mean error per epoch; "blog" fails on seed 0 (best at its first validation)
CANDIDATES = {"blog": {"lr": 3e-3, "warmup_epochs": 0, "init": "default"},
              "zero": {"lr": 3e-3, "warmup_epochs": 0, "init": "zero_last"},
              "warm": {"lr": 3e-3, "warmup_epochs": 2, "init": "default"},
              "slow": {"lr": 1e-3, "warmup_epochs": 0, "init": "default"}}
VAL = {"blog": {0: [5.0, 9.0, 8.0], 1: [9.0, 4.0, 3.0]},   # best 5.0 (epoch 0: failed), 3.0 -> mean 4.0
       "zero": {0: [9.0, 6.0, 5.0], 1: [9.0, 7.0, 6.0]},   # 5.0, 6.0 -> mean 5.5
       "warm": {0: [9.0, 5.0, 4.5], 1: [9.0, 5.0, 4.5]},   # 4.5, 4.5 -> mean 4.5, the lowest with no failure
       "slow": {0: [9.0, 4.0, 4.0], 1: [9.0, 8.0, 6.0]}}   # 4.0, 6.0 -> mean 5.0; worst 6.0


def fake_trainer(calls):
    """train_head stand-in: the val errors of `VAL` for the candidate the config is, best epoch and record as the
    real loop makes them."""
    names = {tuple(c.values()): n for n, c in CANDIDATES.items()}

    def train(train_feats, train_points, val_feats, val_points, cfg, seed):
        name = names[(cfg.lr, cfg.warmup_epochs, cfg.init)]
        calls.append((name, seed, len(train_feats), len(val_feats)))
        errors = VAL[name][seed]
        history = [{"epoch": e, "val_mean_px": v} for e, v in enumerate(errors)]
        best = errors.index(min(errors))
        return (M.TinyHead(train_feats.shape[1]), history, best,
                convergence.record(convergence.StopConfig(1), True, len(errors), 3, best, first_val_epoch=0))
    return train


def test_recipe_search_picks_the_lowest_mean_val_error_among_candidates_with_no_failed_seed(features, monkeypatch):
    calls = []
    monkeypatch.setattr(P, "train_head", fake_trainer(calls))
    maps, index, _ = FC.load_features(features)
    summaries = RS.search(maps, index, recipe(), CANDIDATES, [["final"]], [0, 1])
    # every candidate x seed once, on all 6 train crops, scored on the 3 val crops (never the 4 test ones)
    assert calls == [(name, seed, 6, 3) for name in CANDIDATES for seed in (0, 1)]
    assert summaries["blog"]["failed_to_train"] == ["final_s0"] and summaries["blog"]["mean_best_val_px"] == 4.0
    assert {n: s["mean_best_val_px"] for n, s in summaries.items()} == {"blog": 4.0, "zero": 5.5, "warm": 4.5,
                                                                        "slow": 5.0}
    assert summaries["slow"]["worst_best_val_px"] == 6.0 and summaries["slow"]["init"] == "default"
    assert summaries["warm"]["runs"]["final_s1"] == {"best_epoch": 2, "best_val_mean_px": 4.5, "epochs_run": 3,
                                                     "converged": True, "failed_to_train": False}
    # blog has the lowest mean but a seed that failed to train: warm is chosen
    assert RS.choose(summaries) == "warm"
    # a tie keeps the first candidate; every candidate failing chooses none
    assert RS.choose({"a": {"failed_to_train": [], "mean_best_val_px": 4.5},
                      "b": {"failed_to_train": [], "mean_best_val_px": 4.5}}) == "a"
    assert RS.choose({"a": {"failed_to_train": ["final_s0"], "mean_best_val_px": 1.0}}) is None


def test_recipe_search_command_writes_its_choice(features, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(P, "train_head", fake_trainer([]))
    monkeypatch.setattr(RS, "CANDIDATES", CANDIDATES)
    params = yaml.safe_load((Path(__file__).parents[2] / "params.yaml").read_text())
    params["head"].update(seeds=[0, 1])
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = tmp_path / "recipe.json"
    monkeypatch.setattr(sys, "argv", ["recipe_search", "--features", str(features), "--out", str(out),
                                      "--params", str(tmp_path / "params.yaml")])
    RS.main()
    result = json.loads(out.read_text())
    assert result["chosen"] == "warm" and result["maps"] == ["final"] and result["seeds"] == [0, 1]
    assert set(result["candidates"]) == set(CANDIDATES) and "lr" not in result["base"]
    assert result["base"]["epochs"] == params["head"]["epochs"]
    assert result["base"]["weight_decay"] == params["head"]["weight_decay"] == 1e-4  # not rounded away
    assert result["candidates"]["slow"]["lr"] == 1e-3 and result["candidates"]["warm"]["mean_best_val_px"] == 4.5
    assert capsys.readouterr().out.splitlines()[-1].startswith("chosen: warm")
