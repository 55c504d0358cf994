"""The TinyHead's frozen backbones, feature cache, training loop, protocol and evaluation on a tiny hand-built
thermeval folder and a tiny random backbone."""

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from raw_builders import build_prepared_crops
from thermbench.core.io import InputError
from thermbench.models import tinyhead as M
from thermbench.models.rtmpose import build_rtmpose, normalize_input, save_model
from thermbench.models.sapiens2 import build_sapiens2
from thermbench.tinyhead import evaluation as E
from thermbench.tinyhead import features as FC
from thermbench.tinyhead import protocol as P
from thermbench.tinyhead import training as T
from thermbench.tinyhead.phases import descent_phases

CROP = 32  # crop side in px; the tiny backbone has stride 8 -> 4x4 features -> 16x16 heatmap, stride 2


class TinyBackbone(nn.Module):
    """Stand-in with the backbone interface: forward_features (B,3,32,32) -> (B,6,4,4); BN has running stats."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 8, stride=8)
        self.bn = nn.BatchNorm2d(6)

    def forward_features(self, x):
        return self.bn(self.conv(x))


def make_prepared(root, n=(6, 3, 4)):
    return build_prepared_crops(root, CROP, n, unused_row=True)


CFG = {"lr": 3e-3, "weight_decay": 1e-4, "epochs": 6, "patience": None, "min_delta": 0.02, "batch_size": 4,
       "sigma": 1.0, "subpixel": False, "checkpoint": "best_val", "pck_thresholds": [3, 5, 10, 20]}


def head_config(**overrides) -> T.HeadConfig:
    backbone = M.BackboneConfig(name="teacher", fallback=None, teacher_input_px=(32, 32), teacher_stages=((1,),),
                                feature_size=4, batch_size=4, device="cpu")
    fields = {**CFG, "pck_thresholds": tuple(CFG["pck_thresholds"]), "seeds": (0,), "label_counts": (2,),
              "curve_seeds": (0,), "threads": 1, "timing_crops": 2, "sweep_epochs": None, "warmup_epochs": 0,
              "init": "default", **overrides}
    return T.HeadConfig(backbone=backbone, **fields)


def recipe(**overrides) -> T.TrainConfig:
    return T.TrainConfig.from_head(head_config(**overrides), CROP, 4)


@pytest.fixture
def prepared(tmp_path):
    return make_prepared(tmp_path / "prepared")


def cached_features(prepared, out):
    torch.manual_seed(0)
    backbone = M.FrozenBackbone(TinyBackbone(), feature_size=4)
    samples = FC.load_samples(prepared)
    crops = FC.read_crops(prepared, samples["crop_path"])
    out.mkdir()
    FC.save_features(out, FC.extract_features(backbone, crops, batch_size=5), samples,
                    {"name": "tiny", "crop_size": CROP, "feature_size": 4})
    return backbone, crops


def test_samples_keep_only_train_val_test_in_file_order(prepared):
    samples = FC.load_samples(prepared)
    assert len(samples) == 13 and "unused" not in set(samples["split"])
    assert samples["sample_id"].tolist()[:2] == ["s000", "s001"]


def test_missing_column_and_empty_split_are_input_errors(prepared):
    samples = pd.read_csv(prepared / "samples.csv")
    samples.drop(columns="box_w").to_csv(prepared / "samples.csv", index=False)
    with pytest.raises(InputError, match="box_w"):
        FC.load_samples(prepared)
    samples[samples["split"] != "val"].to_csv(prepared / "samples.csv", index=False)
    with pytest.raises(InputError, match="split 'val' is empty"):
        FC.load_samples(prepared)


def test_corrupt_crop_is_an_input_error(prepared):
    (prepared / "crops" / "s000.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="s000.png"):
        FC.read_crops(prepared, ["crops/s000.png"])


def test_cached_features_equal_freshly_computed_ones(prepared, tmp_path):
    backbone, crops = cached_features(prepared, tmp_path / "features")
    maps, index, info = FC.load_features(tmp_path / "features")
    assert list(maps) == ["final"] and maps["final"].shape == (13, 6, 4, 4) and info["name"] == "tiny"
    assert index["sample_id"].tolist() == FC.load_samples(prepared)["sample_id"].tolist()
    fresh = backbone(crops[[7, 2]])  # another batch composition must not change a crop's features
    assert torch.equal(maps["final"][[7, 2]], fresh)


def test_backbone_gets_no_gradient_and_is_unchanged_by_training(prepared, tmp_path):
    torch.manual_seed(0)
    model = TinyBackbone()
    before = copy.deepcopy(model.state_dict())
    backbone = M.FrozenBackbone(model, feature_size=4)
    backbone.train()  # a training loop calling .train() must not switch BN to batch statistics
    crops = FC.read_crops(prepared, FC.load_samples(prepared)["crop_path"])
    features = backbone(crops)
    assert not features.requires_grad
    points = torch.full((len(crops), 2), 16.0)
    T.train_head(features, points, features, points, T.TrainConfig(**CFG, heatmap_size=16, stride=2.0), seed=0)
    assert all(p.grad is None and not p.requires_grad for p in model.parameters())
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights and BN running stats


def test_teacher_backbone_at_crop_size_upsamples_stride32_to_16x16(tmp_path):
    save_model(build_rtmpose("t", input_size=(96, 96)), tmp_path / "model.safetensors")  # as the teacher stage
    cfg = M.BackboneConfig(name="sapiens2", fallback="teacher", teacher_input_px=(256, 256), teacher_stages=(4,),
                           feature_size=16, batch_size=1, device="cpu")
    sapiens2 = {"local_path": str(tmp_path / "absent.safetensors"), "repo_id": "facebook/sapiens2-pose-0.4b",
                "filename": "sapiens2_0.4b_pose.safetensors", "arch": "0.4b"}
    model, info = M.load_backbone(cfg, sapiens2, allow_download=False, teacher_dir=tmp_path)
    assert info["name"] == "teacher" and info["channels"] == 384 and "not available" in info["note"]
    assert (info["trained_px"], info["input_px"], info["stages"]) == ([96, 96], [256, 256], [4])
    assert info["candidates"] == [["stage4"]]
    crops = torch.randint(0, 256, (1, 256, 256), dtype=torch.uint8)
    feats = M.FrozenBackbone(model, feature_size=16)(crops)
    assert feats.shape == (1, 384, 16, 16)  # trained at 96 px, run at 256: 8x8 stride-32 map upsampled x2
    with torch.no_grad():  # the teacher CSPNeXt output (its forward_features), upsampled
        direct = model.backbone(normalize_input(crops[:, None]))
    assert torch.allclose(feats, F.interpolate(direct, size=(16, 16), mode="bilinear", align_corners=False))
    with pytest.raises(InputError, match="fallback is empty"):
        M.load_backbone(dataclasses.replace(cfg, fallback=None), sapiens2, allow_download=False, teacher_dir=tmp_path)


def test_teacher_features_resize_the_input_and_concatenate_stages():
    torch.manual_seed(0)
    teacher = build_rtmpose("t", input_size=(96, 96)).eval()
    model = M.TeacherFeatures(teacher, input_px=[256, 512], stages=[4, 3])
    assert model.stages == (3, 4) and model.channels == 192 + 384  # RTMPose-t: 512 and 1024 x widen 0.375
    x = normalize_input(torch.randint(0, 256, (1, 1, 256, 256), dtype=torch.uint8))
    with torch.no_grad():
        stage3, stage4 = model.forward_features(x)
        wide = teacher.backbone(F.interpolate(x, size=(512, 256), mode="bilinear", align_corners=False))
    # 256 wide x 512 tall: stride 16 -> 16 x 32 cells, stride 32 -> 8 x 16 (torch shapes are (h, w))
    assert stage3.shape == (1, 192, 32, 16) and stage4.shape == (1, 384, 16, 8)
    assert torch.allclose(stage4, wide, atol=1e-5)  # an upsample is the same with or without antialiasing
    feats = M.FrozenBackbone(model, feature_size=16)(torch.zeros(2, 256, 256, dtype=torch.uint8))
    assert feats.shape == (2, 576, 16, 16)


def test_teacher_features_check_their_params():
    teacher = build_rtmpose("t", input_size=(96, 96))
    assert M.TeacherFeatures(teacher, 512, [4]).input_px == (512, 512)
    with pytest.raises(InputError, match="multiples of 32"):
        M.TeacherFeatures(teacher, [256, 500], [4])
    with pytest.raises(InputError, match="stages 1..4"):
        M.TeacherFeatures(teacher, [256, 256], [5])


def test_sapiens2_backbone_gives_16x16_at_256_without_resizing():
    # a tiny Sapiens2 with the real structure (patch 16): 256 / 16 = 16 patches per side, dim channels
    model = build_sapiens2("0.4b", dim=32, depth=2, heads=4, ffn_dim=64, gqa_layers=(1, 1), deconv_channels=(16, 8),
                           conv_channels=(8, 8))
    crops = torch.randint(0, 256, (2, 256, 256), dtype=torch.uint8)
    feats = M.FrozenBackbone(model, feature_size=16)(crops)
    with torch.no_grad():
        direct = model.forward_features(normalize_input(crops[:, None]))
    assert feats.shape == (2, 32, 16, 16) and torch.equal(feats, direct)


def test_training_is_seeded_follows_cosine_and_fits_the_train_set(prepared, tmp_path):
    cached_features(prepared, tmp_path / "features")
    maps, index, info = FC.load_features(tmp_path / "features")
    cfg = T.TrainConfig.from_head(head_config(epochs=40), info["crop_size"], info["feature_size"])
    assert (cfg.heatmap_size, cfg.stride) == (16, 2.0)  # 4x4 grid x4 upsample; 32 px / 16
    train_feats, train_points = FC.split_data(maps["final"], index, "train")
    val_feats, val_points = FC.split_data(maps["final"], index, "val")
    head, history, best, record = T.train_head(train_feats, train_points, val_feats, val_points, cfg, seed=3)
    _, again, _, _ = T.train_head(train_feats, train_points, val_feats, val_points, cfg, seed=3)
    assert history == again
    assert len(history) == 40 and history[-1]["train_loss"] < 0.5 * history[0]["train_loss"]
    # CosineAnnealingLR, eta_min 0: lr_e = lr/2 (1 + cos(pi e/E)) with e from 0; epoch 20 of 40 is the midpoint
    assert [history[0]["epoch"], history[0]["lr"], history[20]["lr"]] == pytest.approx([0, 3e-3, 1.5e-3])
    assert set(history[0]) >= {"epoch", "train_loss", "val_loss", "val_mean_px", "val_pck10"}
    assert best > 0 and record == {"converged": False, "criterion": "early stopping off (fixed schedule)",
                                   "epochs_run": 40, "epoch_cap": 40, "best_epoch": best, "failed_to_train": False}
    # patience None: every epoch, never "converged"


def scripted_val_errors(monkeypatch, errors):
    """train_head's val mean error per epoch replaced by `errors` (the training itself runs as usual)."""
    values = iter(errors)
    monkeypatch.setattr(T.metrics, "mean_error", lambda _: next(values))


def test_training_stops_once_the_val_error_has_converged(prepared, tmp_path, monkeypatch):
    cached_features(prepared, tmp_path / "features")
    maps, index, info = FC.load_features(tmp_path / "features")
    cfg = T.TrainConfig.from_head(head_config(epochs=20, patience=3, min_delta=0.02), info["crop_size"],
                                  info["feature_size"])
    (train_feats, train_points), (val_feats, val_points) = (FC.split_data(maps["final"], index, s) for s in
                                                            ("train", "val"))
    # 10 opens; 9 beats it by 10% (new anchor); 9.5, 8.9 (best, but within 2% of 9: 8.82 would count), 9.0 are the
    # 3 validations without a > 2% improvement -> stop after epoch 4, keep epoch 3
    scripted_val_errors(monkeypatch, [10.0, 9.0, 9.5, 8.9, 9.0, 1.0, 1.0])
    _, history, best, record = T.train_head(train_feats, train_points, val_feats, val_points, cfg, seed=0)
    assert [row["val_mean_px"] for row in history] == [10.0, 9.0, 9.5, 8.9, 9.0] and best == 3
    assert record == {"converged": True, "criterion": "no validation improvement larger than 2% over the last 3 "
                      "validations", "epochs_run": 5, "epoch_cap": 20, "best_epoch": 3, "failed_to_train": False}
    # improving by 5% every epoch: it reaches the cap of 20 and has not converged
    scripted_val_errors(monkeypatch, [10.0 * 0.95 ** e for e in range(20)])
    _, history, best, record = T.train_head(train_feats, train_points, val_feats, val_points, cfg, seed=0)
    assert len(history) == 20 and best == 19 and not record["converged"] and record["epochs_run"] == 20
    # the cosine schedule runs over the cap, not over the epochs a stopped run ran
    assert history[10]["lr"] == pytest.approx(3e-3 / 2)


def test_label_subsets_are_nested_and_checked():
    assert set(P.label_subset(40, 5, seed=1)) <= set(P.label_subset(40, 20, seed=1))
    assert sorted(P.label_subset(40, 40, seed=1)) == list(range(40))
    with pytest.raises(InputError, match="outside 1..40"):
        P.label_subset(40, 41, seed=0)


def test_best_val_checkpoint_is_the_first_epoch_with_the_lowest_val_error(prepared, tmp_path):
    cached_features(prepared, tmp_path / "features")
    maps, index, info = FC.load_features(tmp_path / "features")
    cfg = T.TrainConfig.from_head(head_config(epochs=12), info["crop_size"], info["feature_size"])
    (train_feats, train_points), (val_feats, val_points) = (FC.split_data(maps["final"], index, s) for s in
                                                            ("train", "val"))
    head, history, best, _ = T.train_head(train_feats, train_points, val_feats, val_points, cfg, seed=1)
    errors = [row["val_mean_px"] for row in history]
    assert best == errors.index(min(errors))
    val_error = T.point_errors(M.predict(head, val_feats, cfg.stride, False), val_points).mean()
    assert val_error == pytest.approx(errors[best])  # the head returned is the one scored at the best epoch
    last, _, same, _ = T.train_head(train_feats, train_points, val_feats, val_points,
                                    dataclasses.replace(cfg, checkpoint="last"), 1)
    last_error = T.point_errors(M.predict(last, val_feats, cfg.stride, False), val_points).mean()
    assert same == best and last_error == pytest.approx(errors[-1])
    with pytest.raises(InputError, match="checkpoint must be best_val or last"):
        T.train_head(train_feats, train_points, val_feats, val_points, dataclasses.replace(cfg, checkpoint="test"), 1)


def test_pck_thresholds_without_the_headline_10_px_are_refused_in_one_line():
    # the report reads val_pck10 and pck10_crop_px: a list without 10 would train, then crash the report
    for thresholds in ((3, 5, 20), (10.0,)):  # 10.0 keys val_pck10.0
        with pytest.raises(InputError, match=r"^params.yaml: 'head.pck_thresholds' must include 10 \(the report's "
                           r"headline PCK@10px\), not \[" + ", ".join(map(str, thresholds)) + r"\]$"):
            head_config(pck_thresholds=thresholds)
    assert head_config(pck_thresholds=(10,)).pck_thresholds == (10,)


def test_val_sweep_chooses_the_lowest_seed_mean_val_error_and_trains_the_curve_on_it(prepared, tmp_path,
                                                                                      monkeypatch):
    cached_features(prepared, tmp_path / "features")
    maps, index, info = FC.load_features(tmp_path / "features")
    maps = {"a": maps["final"], "b": maps["final"][:, :2], "c": maps["final"][:, :3]}
    # (in_channels, seed) -> val error per epoch
    val = {(6, 0): [9.0, 4.0, 5.0], (6, 1): [5.0, 6.0, 7.0], (2, 0): [8.0, 7.0, 7.5], (2, 1): [7.0, 6.0, 8.0],
           (3, 0): [6.0, 6.0, 4.0], (3, 1): [5.0, 5.0, 5.0]}
    calls = []

    def fake_train(train_feats, train_points, val_feats, val_points, cfg, seed):
        calls.append((train_feats.shape[1], len(train_feats), seed))
        errors = val.get((train_feats.shape[1], seed), [1.0])
        history = [{"epoch": e, "val_mean_px": v, "val_pck10": 0.5} for e, v in enumerate(errors)]
        best = min(range(len(history)), key=lambda e: history[e]["val_mean_px"])
        return M.TinyHead(train_feats.shape[1]), history, best, {"converged": seed != 1}

    monkeypatch.setattr(P, "train_head", fake_train)
    runs, sweep = P.fit_protocol(maps, index, recipe(), seeds=[0, 1], candidates=[["a"], ["b"], ["c"]],
                                 label_counts=[2, 6], curve_seeds=[0, 2], workers=1)  # workers would not see the patch
    # best val errors per seed: a 4.0 (epoch 1), 5.0 (epoch 0) -> 4.5; b 7.0, 6.0 -> 6.5; c 4.0, 5.0 -> 4.5
    assert [(row["maps"], row["seed"]) for row in sweep] == [("a", 0), ("a", 1), ("b", 0), ("b", 1), ("c", 0),
                                                             ("c", 1)]
    assert [(row["best_val_mean_px"], row["best_epoch"]) for row in sweep] == [(4.0, 1), (5.0, 0), (7.0, 1),
                                                                              (6.0, 1), (4.0, 2), (5.0, 0)]
    assert [row["converged"] for row in sweep] == [True, False] * 3
    assert [row["chosen"] for row in sweep] == [True, True, False, False, False, False]  # a tie: the first candidate
    assert sorted(runs) == ["main", "main_s1", "n2_s0", "n2_s2", "n6_s0", "n6_s2"]
    assert (runs["main"]["seed"], runs["main_s1"]["seed"], runs["main"]["maps"]) == (0, 1, ["a"])
    assert runs["n6_s0"] is runs["main"]  # every label and a main seed: that main run, not a second one
    assert calls[6:] == [(6, 2, 0), (6, 2, 2), (6, 6, 2)]  # the curve on the chosen maps: 2 labels x seeds 0, 2, and
    #                                                        6 labels for seed 2, which is not a main seed

    epochs = []
    monkeypatch.setattr(P, "train_head", lambda *a: (epochs.append(a[4].epochs), fake_train(*a))[1])
    runs, _ = P.fit_protocol(maps, index, recipe(epochs=3), seeds=[0, 1], candidates=[["b"], ["c"]], label_counts=[6],
                             curve_seeds=[0], sweep_epochs=2, workers=1)
    # a shorter sweep: both candidates and seeds for 2 epochs, then the chosen maps ("c": 4.5 < 6.5) for the full 3
    # epochs once per seed as the main runs
    assert epochs == [2, 2, 2, 2, 3, 3] and runs["main"]["maps"] == runs["main_s1"]["maps"] == ["c"]
    assert runs["n6_s0"] is runs["main"]


def test_val_sweep_in_two_processes_trains_the_same_heads(prepared, tmp_path):
    cached_features(prepared, tmp_path / "features")
    maps, index, _ = FC.load_features(tmp_path / "features")
    maps = {"a": maps["final"], "b": maps["final"][:, :3]}
    cfg = T.TrainConfig.from_head(head_config(epochs=2), CROP, 4)
    kwargs = dict(seeds=[0], candidates=[["a"], ["b"]], label_counts=[6], curve_seeds=[0])
    pooled, pooled_sweep = P.fit_protocol(maps, index, cfg, workers=2, **kwargs)
    serial, serial_sweep = P.fit_protocol(maps, index, cfg, workers=1, **kwargs)
    drop = lambda rows: [{k: v for k, v in row.items() if k != "seconds"} for row in rows]  # noqa: E731
    assert drop(pooled_sweep) == drop(serial_sweep) and pooled["main"]["history"] == serial["main"]["history"]
    for name, tensor in pooled["main"]["head"].state_dict().items():
        assert torch.equal(tensor, serial["main"]["head"].state_dict()[name]), name


def test_evaluate_reports_crop_and_frame_pixels(prepared, tmp_path):
    cached_features(prepared, tmp_path / "features")
    maps, index, info = FC.load_features(tmp_path / "features")
    cfg = {**dataclasses.asdict(T.TrainConfig.from_head(head_config(), CROP, 4)), "maps": ["final"]}
    head = M.TinyHead(6).eval()
    with torch.no_grad():  # a head whose heatmap is 0 everywhere: argmax picks cell (0, 0) -> crop point (0, 0)
        head.final.weight.zero_()
        head.final.bias.zero_()
    table, scores = E.evaluate(head, maps, index, cfg, CROP)
    test = index[index["split"] == "test"]
    gt = test[["nose_x", "nose_y"]].to_numpy()
    assert np.allclose(table["error_crop_px"], np.hypot(gt[:, 0], gt[:, 1]))
    # box 16 x 64 resized to 32 x 32: frame px per crop px = (0.5, 2)
    assert np.allclose(table["error_frame_px"], np.hypot(0.5 * gt[:, 0], 2 * gt[:, 1]))
    assert scores["crop_px"]["n_gt"] == 4 and scores["crop_px"]["detection_rate"] == 1.0
    assert scores["crop_px"]["mean_px"] == pytest.approx(table["error_crop_px"].mean())
    assert scores["frame_px"]["pck"]["20px"] == np.mean(table["error_frame_px"] <= 20)


def test_save_and_load_head_round_trip(tmp_path):
    head = M.TinyHead(6).eval()
    M.save_head(tmp_path / "main.safetensors", head, {"n_labels": 3})
    loaded, config = M.load_head(tmp_path / "main.safetensors")
    assert config == {"n_labels": 3, "in_channels": 6}
    x = torch.randn(2, 6, 4, 4)
    assert torch.equal(head(x), loaded(x))


def test_descent_phases_find_two_drops_and_one():
    epochs = np.arange(120)  # counted from 0, as the blog's history
    # fast fall over epochs 0-10, plateau, a second fall over 39-49, plateau
    two = 1.0 * np.exp(-np.clip(epochs, 0, 10) * 0.3) * np.exp(-np.clip(epochs - 39, 0, 10) * 0.1)
    phases = descent_phases(two.tolist())
    assert len(phases) == 2
    assert phases[0]["first_epoch"] <= 2 and 7 <= phases[0]["last_epoch"] <= 12
    assert 35 <= phases[1]["first_epoch"] <= 40 and 47 <= phases[1]["last_epoch"] <= 52
    assert sum(ph["share"] for ph in phases) == pytest.approx(1.0, abs=0.1)
    one = np.exp(-np.clip(epochs, 0, 10) * 0.3)
    assert len(descent_phases(one.tolist())) == 1


def test_backbone_input_is_the_blogs_imagenet_normalisation():
    class Identity(nn.Module):
        def forward_features(self, x):
            return x

    crops = torch.full((1, 16, 16), 255, dtype=torch.uint8)
    out = M.FrozenBackbone(Identity(), feature_size=16)(crops)
    # blog: gray x3 / 255, mean (123.675, 116.28, 103.53) / 255, std (58.395, 57.12, 57.375) / 255
    expected = [(255 - 123.675) / 58.395, (255 - 116.28) / 57.12, (255 - 103.53) / 57.375]
    assert out[0, :, 3, 5].tolist() == pytest.approx(expected, rel=1e-6)


def test_device_param_is_checked():
    assert FC.resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(InputError, match="must be a torch device .*, not .gpu0."):
        FC.resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA GPU"):
            FC.resolve_device("cuda")


def test_teacher_candidates_extract_each_stage_once_under_its_name():
    torch.manual_seed(0)
    teacher = build_rtmpose("t", input_size=(96, 96)).eval()
    model = M.TeacherFeatures(teacher, input_px=[256, 256], stages=sorted({1, 2} | {2, 3}))
    maps = FC.extract_features(M.FrozenBackbone(model, feature_size=16), torch.zeros(3, 256, 256, dtype=torch.uint8), 2)
    assert {k: tuple(v.shape) for k, v in maps.items()} == {"stage1": (3, 48, 16, 16), "stage2": (3, 96, 16, 16),
                                                           "stage3": (3, 192, 16, 16)}
    assert FC.select_features(maps, ["stage2", "stage3"]).shape == (3, 288, 16, 16)
    assert M.stage_candidates([1, 2]) == [[1, 2]] and M.stage_candidates([[1], [1, 2]]) == [[1], [1, 2]]
    with pytest.raises(InputError, match="no map"):
        FC.select_features(maps, ["stage4"])
