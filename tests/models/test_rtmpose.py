"""RTMPose: parameter counts vs the hand count (docs/sources.md, "RTMPose sizes"), mmpose key layout, checkpoint
loading, forward shapes."""

import pytest
import torch

from thermbench.core.io import InputError
from thermbench.models.rtmpose import (
    PIXEL_MEAN,
    build_rtmpose,
    count_parameters,
    load_mmpose_checkpoint,
    load_model,
    normalize_input,
    save_model,
)

# docs/sources.md, "RTMPose sizes": 68 kpts, 256x256 (whole model; backbone alone), millions, to 2 decimals.
PARAMS_M = {"t": (4.33, 2.35), "s": (6.79, 4.38), "m": (15.54, 12.28), "l": (30.26, 26.14), "x": (52.54, 47.57)}
BLOCKS = {"t": (1, 1, 1, 1), "s": (1, 2, 2, 1), "m": (2, 4, 4, 2), "l": (3, 6, 6, 3), "x": (4, 8, 8, 4)}


@pytest.mark.parametrize("arch", list(PARAMS_M))
def test_parameter_counts_match_fact_sheet(arch):
    with torch.device("meta"):
        model = build_rtmpose(arch)
    total, backbone = PARAMS_M[arch]
    assert abs(count_parameters(model) / 1e6 - total) < 0.005
    assert abs(count_parameters(model.backbone) / 1e6 - backbone) < 0.005


def _conv_module(prefix):
    return [f"{prefix}.conv.weight"] + [f"{prefix}.bn.{n}" for n in
                                        ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")]


def _csp_layer(prefix, blocks):
    keys = [k for p in ("main_conv", "short_conv", "final_conv") for k in _conv_module(f"{prefix}.{p}")]
    for j in range(blocks):
        keys += _conv_module(f"{prefix}.blocks.{j}.conv1")
        keys += _conv_module(f"{prefix}.blocks.{j}.conv2.depthwise_conv")
        keys += _conv_module(f"{prefix}.blocks.{j}.conv2.pointwise_conv")
    return keys + [f"{prefix}.attention.fc.weight", f"{prefix}.attention.fc.bias"]


def documented_keys(blocks):
    """The checkpoint key list written out from mmcv's naming (docs/sources.md, "RTMPose sizes"), independently of
    the model code."""
    keys = [k for i in range(3) for k in _conv_module(f"backbone.stem.{i}")]
    for s in (1, 2, 3):
        keys += _conv_module(f"backbone.stage{s}.0") + _csp_layer(f"backbone.stage{s}.1", blocks[s - 1])
    keys += _conv_module("backbone.stage4.0") + _conv_module("backbone.stage4.1.conv1")
    keys += _conv_module("backbone.stage4.1.conv2") + _csp_layer("backbone.stage4.2", blocks[3])
    keys += ["head.final_layer.weight", "head.final_layer.bias", "head.mlp.0.g", "head.mlp.1.weight",
             "head.gau.uv.weight", "head.gau.o.weight", "head.gau.gamma", "head.gau.beta", "head.gau.ln.g",
             "head.gau.res_scale.scale", "head.cls_x.weight", "head.cls_y.weight"]
    return keys


@pytest.mark.parametrize("arch", ["t", "m"])
def test_state_dict_keys_follow_mmpose_layout(arch):
    with torch.device("meta"):
        model = build_rtmpose(arch)
    keys = documented_keys(BLOCKS[arch])
    assert len(keys) == len(set(keys))
    assert set(model.state_dict()) == set(keys)
    if arch == "t":
        assert len(keys) == 218  # docs/sources.md's count for t/68


def test_head_shapes_at_256():
    with torch.device("meta"):
        sd = build_rtmpose("t").state_dict()
    expected = {"head.final_layer.weight": (68, 384, 7, 7), "head.final_layer.bias": (68,), "head.mlp.0.g": (1,),
                "head.mlp.1.weight": (256, 64), "head.gau.uv.weight": (1152, 256), "head.gau.o.weight": (256, 512),
                "head.gau.gamma": (2, 128), "head.gau.beta": (2, 128), "head.gau.ln.g": (1,),
                "head.gau.res_scale.scale": (256,), "head.cls_x.weight": (512, 256), "head.cls_y.weight": (512, 256)}
    assert {k: tuple(sd[k].shape) for k in expected} == expected


def _random_mmpose_checkpoint(model):
    """Same keys/shapes as an official file: {'state_dict': ..., 'meta': ...} plus a preprocessor buffer."""
    gen = torch.Generator().manual_seed(0)
    state = {k: (torch.randn(v.shape, generator=gen) if v.is_floating_point() else v.clone())
             for k, v in model.state_dict().items()}
    state["data_preprocessor.mean"] = torch.tensor(PIXEL_MEAN).view(3, 1, 1)
    return {"meta": {"epoch": 60}, "state_dict": state}


def test_load_mmpose_checkpoint_from_file(tmp_path):
    model = build_rtmpose("t", input_size=(64, 64))
    ckpt = _random_mmpose_checkpoint(model)
    torch.save(ckpt, tmp_path / "rtmpose.pth")
    fresh = load_mmpose_checkpoint(build_rtmpose("t", input_size=(64, 64)), tmp_path / "rtmpose.pth")
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, ckpt["state_dict"][k]), k


def test_load_mmpose_checkpoint_strips_ddp_prefix():
    model = build_rtmpose("t", input_size=(64, 64))
    weights = _random_mmpose_checkpoint(model)["state_dict"]
    loaded = load_mmpose_checkpoint(model, {f"module.{k}": v for k, v in weights.items()})
    assert loaded is model
    state = model.state_dict()
    assert set(state) == set(weights) - {"data_preprocessor.mean"}
    for k, v in state.items():
        assert torch.equal(v, weights[k]), k


def test_load_mmpose_checkpoint_reports_bad_keys():
    model = build_rtmpose("t", input_size=(64, 64))
    state = dict(_random_mmpose_checkpoint(model)["state_dict"])
    del state["head.gau.gamma"]
    state["neck.extra.weight"] = torch.zeros(1)
    with pytest.raises(InputError, match=r"missing \(1\): head\.gau\.gamma.*unexpected \(1\): neck\.extra\.weight"):
        load_mmpose_checkpoint(model, state)


def test_load_mmpose_checkpoint_reports_keypoint_mismatch():
    state = build_rtmpose("t", num_keypoints=106, input_size=(64, 64)).state_dict()
    with pytest.raises(InputError, match=r"shape mismatch.*head\.final_layer\.weight \(106,"):
        load_mmpose_checkpoint(build_rtmpose("t", input_size=(64, 64)), state)


def test_missing_checkpoint_file(tmp_path):
    with pytest.raises(InputError, match="checkpoint not found"):
        load_mmpose_checkpoint(build_rtmpose("t", input_size=(64, 64)), tmp_path / "nope.pth")


def test_save_and_load_model_round_trip(tmp_path):
    torch.manual_seed(0)
    model = build_rtmpose("t", num_keypoints=5, input_size=(64, 96)).eval()
    save_model(model, tmp_path / "m.safetensors")
    assert (tmp_path / "m.safetensors.json").is_file()
    loaded = load_model(tmp_path / "m.safetensors").eval()
    assert loaded.cfg == model.cfg
    x = torch.randn(1, 3, 96, 64)
    with torch.no_grad():
        for a, b in zip(model(x), loaded(x)):
            assert torch.equal(a, b)


def test_forward_shapes_non_square():
    model = build_rtmpose("t", input_size=(64, 96)).eval()  # (W, H)
    x = torch.zeros(2, 3, 96, 64)
    with torch.no_grad():
        feats = model.forward_features(x)
        simcc_x, simcc_y = model.forward_head(feats)
    assert feats.shape == (2, model.feature_channels, 3, 2)
    assert simcc_x.shape == (2, 68, 128) and simcc_y.shape == (2, 68, 192)


def test_feature_channels_per_arch():
    with torch.device("meta"):
        assert [build_rtmpose(a).feature_channels for a in "tsmlx"] == [384, 512, 768, 1024, 1280]


def test_unknown_arch_and_bad_size():
    with pytest.raises(InputError, match="unknown arch 'q'"):
        build_rtmpose("q")
    with pytest.raises(ValueError, match="multiples of 32"):
        build_rtmpose("t", input_size=(100, 64))


def test_normalize_input_repeats_gray_and_uses_mmpose_stats():
    gray = torch.full((1, 1, 2, 2), 123.675)
    out = normalize_input(gray)
    assert out.shape == (1, 3, 2, 2)
    assert torch.allclose(out[0, :, 0, 0], torch.tensor([0.0, (123.675 - 116.28) / 57.12, (123.675 - 103.53) / 57.375]))
