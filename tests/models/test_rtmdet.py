"""RTMDet-nano: counts against the paper's Table II, mmdet key layout, strict loading, ONNX parity, box decoding."""

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from thermbench.core.io import InputError
from thermbench.models.rtmdet import build_rtmdet, decode_top_box, load_mmdet_checkpoint, normalize_detector_input
from thermbench.models.rtmpose import count_parameters
from thermbench.speed.pose_speed import check_onnx_matches_torch, export_onnx


def test_nano_counts_match_paper_table_ii():
    # Paper Table II (and mmpose's RTMPose pipeline table): RTMDet-nano 320x320, 0.99 M params, 0.31 GFLOPs (= MACs).
    with torch.device("meta"):
        model = build_rtmdet("nano")
    assert round(count_parameters(model) / 1e6, 2) == 0.99
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, 320, 320, device="meta"))
    assert round(counter.get_total_flops() / 2 / 1e9, 2) == 0.31


def test_backbone_widths_and_output_shapes():
    torch.manual_seed(0)
    model = build_rtmdet("nano", input_size=(64, 96)).eval()
    assert model.backbone.out_channels == (64, 128, 256)
    with torch.no_grad():
        out = model(torch.zeros(2, 3, 96, 64))
    assert [tuple(o.shape) for o in out] == [(2, 1, 12, 8), (2, 1, 6, 4), (2, 1, 3, 2),
                                             (2, 4, 12, 8), (2, 4, 6, 4), (2, 4, 3, 2)]
    assert model.output_names == ["cls_s8", "cls_s16", "cls_s32", "reg_s8", "reg_s16", "reg_s32"]


def _conv(p):
    return [f"{p}.conv.weight"] + [f"{p}.bn.{n}" for n in
                                   ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")]


def _sep(p):
    return _conv(f"{p}.depthwise_conv") + _conv(f"{p}.pointwise_conv")


def _csp(p, blocks, attention):
    keys = [k for c in ("main_conv", "short_conv", "final_conv") for k in _conv(f"{p}.{c}")]
    for j in range(blocks):
        keys += _sep(f"{p}.blocks.{j}.conv1") + _sep(f"{p}.blocks.{j}.conv2")
    return keys + ([f"{p}.attention.fc.weight", f"{p}.attention.fc.bias"] if attention else [])


def documented_keys():
    """mmdet's checkpoint keys of rtmdet_nano_320 (use_depthwise everywhere it applies), written out by hand."""
    keys = [k for i in range(3) for k in _conv(f"backbone.stem.{i}")]
    for s, blocks in zip((1, 2, 3), (1, 2, 2)):
        keys += _sep(f"backbone.stage{s}.0") + _csp(f"backbone.stage{s}.1", blocks, True)
    keys += _sep("backbone.stage4.0") + _conv("backbone.stage4.1.conv1") + _conv("backbone.stage4.1.conv2")
    keys += _csp("backbone.stage4.2", 1, True)
    for i in range(2):
        keys += _conv(f"neck.reduce_layers.{i}") + _csp(f"neck.top_down_blocks.{i}", 1, False)
        keys += _sep(f"neck.downsamples.{i}") + _csp(f"neck.bottom_up_blocks.{i}", 1, False)
    keys += [k for i in range(3) for k in _sep(f"neck.out_convs.{i}")]
    for level in range(3):
        for branch in ("cls_convs", "reg_convs"):
            keys += [k for i in range(2) for k in _sep(f"bbox_head.{branch}.{level}.{i}")]
        keys += [f"bbox_head.{p}.{level}.{w}" for p in ("rtm_cls", "rtm_reg") for w in ("weight", "bias")]
    return keys


def test_state_dict_keys_follow_mmdet_layout():
    with torch.device("meta"):
        model = build_rtmdet("nano")
    assert sorted(model.state_dict()) == sorted(documented_keys())


def test_checkpoint_round_trip_and_strict_errors():
    torch.manual_seed(1)
    source = build_rtmdet("nano")
    state = {"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}}
    target = load_mmdet_checkpoint(build_rtmdet("nano"), state)
    assert torch.equal(target.bbox_head.rtm_reg[2].weight, source.bbox_head.rtm_reg[2].weight)
    bad = dict(source.state_dict())
    bad["bbox_head.rtm_cls.0.weight"] = torch.zeros(80, 64, 1, 1)  # an 80-class COCO head
    del bad["neck.out_convs.0.depthwise_conv.conv.weight"]
    with pytest.raises(InputError, match="missing.*out_convs.0.*shape mismatch.*rtm_cls.0"):
        load_mmdet_checkpoint(build_rtmdet("nano"), bad)


def test_onnx_export_matches_pytorch(tmp_path):
    torch.manual_seed(2)
    model = build_rtmdet("nano", input_size=(64, 64)).eval()
    for m in model.modules():  # non-trivial BN statistics, so that folding them into the convs is exercised
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    path = tmp_path / "rtmdet.onnx"
    export_onnx(model, path, (1, 3, 64, 64), 17, model.output_names)
    assert check_onnx_matches_torch(model, path, (1, 3, 64, 64), atol=1e-4, rtol=1e-3) < 1e-3


def test_decode_top_box_picks_best_prior_over_levels():
    # Two levels (strides 8, 16) of a 32x32 input; the best logit is at stride 16, row 1, col 0: prior (0, 16).
    s8, s16 = np.full((1, 1, 4, 4), -5.0), np.full((1, 1, 2, 2), -5.0)
    s8[0, 0, 3, 3], s16[0, 0, 1, 0] = 0.0, 2.0
    r8, r16 = np.ones((1, 4, 4, 4)), np.zeros((1, 4, 2, 2))
    r16[0, :, 1, 0] = (1.0, 2.0, 3.0, 4.0)  # l, t, r, b
    box, prob = decode_top_box([s8, s16, r8, r16], (8, 16))
    np.testing.assert_allclose(box, [-1.0, 14.0, 3.0, 20.0])
    assert prob == pytest.approx(1 / (1 + np.exp(-2.0)))


def test_detector_input_is_bgr_normalised():
    x = normalize_detector_input(torch.full((1, 1, 2, 2), 103.53))
    assert x.shape == (1, 3, 2, 2)
    assert torch.allclose(x[0, 0], torch.zeros(2, 2), atol=1e-6)  # channel 0 is blue: mean 103.53
