"""Sapiens2: full-size key/shape manifest on the meta device, and a tiny checkpoint through the real loading path."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from thermbench.models.sapiens2 import Sapiens2Config, build_sapiens2, load_sapiens2
from thermbench.models.sapiens2_pose import Sapiens2Pose, box_center_scale, decode_heatmaps, udp_warp
from thermbench.models.weights import WeightsUnavailable, resolve_sapiens2

MANIFEST = json.loads((Path(__file__).parents[1] / "data" / "sapiens2_0.4b_pose_keys.json").read_text())
TINY = dict(dim=32, depth=3, heads=4, ffn_dim=64, gqa_layers=(1, 2), deconv_channels=(16, 8), conv_channels=(8, 8))


def test_full_model_keys_and_shapes_match_released_checkpoint():
    with torch.device("meta"):
        model = build_sapiens2("0.4b")
    shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert shapes == MANIFEST["keys"]
    assert len(shapes) == 424
    backbone = sum(p.numel() for n, p in model.named_parameters() if n.startswith("backbone."))
    assert backbone == MANIFEST["backbone_params"] == 395_450_368


def test_full_model_feature_shape_at_256():
    with torch.device("meta"):
        model = build_sapiens2("0.4b")
        feats = model.forward_features(torch.empty(1, 3, 256, 256))
    assert tuple(feats.shape) == (1, 1024, 16, 16)


def test_attention_rounds_every_tokens_q_and_k_to_the_rope_dtype(monkeypatch):
    """The official apply_rope casts all of q and k to bf16 before it splits off the cls and storage tokens, so
    those 9 unrotated tokens enter attention rounded to bf16 as the rotated patch tokens do."""
    seen = []
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def capture(q, k, v):
        seen.append((q, k))
        return sdpa(q, k, v)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", capture)
    torch.manual_seed(0)
    model = build_sapiens2("0.4b", **TINY).eval()
    with torch.no_grad():
        model.forward_features(torch.randn(1, 3, 64, 48))
    assert len(seen) == TINY["depth"]
    for q, k in seen:
        assert q.dtype == k.dtype == torch.float32 and q.shape[2] == 9 + 12
        for t in (q, k):
            assert torch.equal(t, t.to(torch.bfloat16).float())


def _tiny_checkpoint(path: Path, drop_periods: bool = False) -> Sapiens2Config:
    torch.manual_seed(0)
    cfg = Sapiens2Config(**TINY)
    state = {k: v.contiguous() for k, v in build_sapiens2("0.4b", **TINY).state_dict().items()}
    if drop_periods:
        del state["backbone.rope_embed.periods"]
    save_file(state, str(path))
    return cfg


def test_tiny_checkpoint_loads_and_matches(tmp_path):
    cfg = _tiny_checkpoint(tmp_path / "tiny.safetensors")
    torch.manual_seed(0)
    ref = build_sapiens2("0.4b", **TINY).eval()  # same seed -> same weights as the saved file
    model = load_sapiens2(tmp_path / "tiny.safetensors", cfg)
    x = torch.randn(1, 3, 64, 48)
    with torch.no_grad():
        expected = ref(x).numpy()
        np.testing.assert_allclose(model(x).numpy(), expected, rtol=1e-5, atol=1e-5)
        assert tuple(model.forward_features(x).shape) == (1, 32, 4, 3)
        assert tuple(model(x).shape) == (1, 308, 16, 12)
    # a file without the RoPE buffer still loads strictly (the periods are recomputed)
    _tiny_checkpoint(tmp_path / "noperiods.safetensors", drop_periods=True)
    with torch.no_grad():
        out = load_sapiens2(tmp_path / "noperiods.safetensors", cfg)(x)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_adapter_end_to_end_from_local_path(tmp_path, monkeypatch):
    import thermbench.models.sapiens2_pose as adapter

    path = tmp_path / "w.safetensors"
    cfg = _tiny_checkpoint(path)
    monkeypatch.setattr(adapter.Sapiens2Config, "from_arch", classmethod(lambda c, arch: cfg))
    params = {"local_path": str(path), "repo_id": "facebook/sapiens2-pose-0.4b",
              "filename": "sapiens2_0.4b_pose.safetensors", "arch": "0.4b", "input_size": [48, 64]}
    pose = Sapiens2Pose.from_params(params, allow_download=False)
    frame = np.random.default_rng(0).integers(0, 255, (256, 192), dtype=np.uint8)
    pred = pose.predict(frame, [[10, 20, 80, 220], [100, 30, 170, 230]])
    assert pred.keypoints.shape == (2, 308, 2) and pred.scores.shape == (2, 308)
    np.testing.assert_allclose(pred.noses, pred.keypoints[:, 182:188].mean(axis=1))
    assert len(pose.predict(frame).noses) == 1  # no boxes: the whole frame, one person


def test_missing_weights_say_how_to_get_them(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))  # an empty cache
    params = {"local_path": str(tmp_path / "absent.safetensors"), "repo_id": "facebook/sapiens2-pose-0.4b",
              "filename": "sapiens2_0.4b_pose.safetensors"}
    with pytest.raises(WeightsUnavailable, match="hf download facebook/sapiens2-pose-0.4b") as err:
        resolve_sapiens2(params, allow_download=False)
    assert str(err.value).startswith("weights not available: Sapiens2 facebook/sapiens2-pose-0.4b/")
    assert f"zeroshot.sapiens2.local_path = {tmp_path / 'absent.safetensors'}" in str(err.value)


def test_corrupt_weights_file_is_an_error_naming_it(tmp_path):
    """A truncated download under the weights' name must stop the stage (exit 2), not become a status row."""
    from thermbench.core.io import InputError

    cfg = _tiny_checkpoint(tmp_path / "whole.safetensors")
    whole = (tmp_path / "whole.safetensors").read_bytes()
    (tmp_path / "half.safetensors").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "html.safetensors").write_text("<html>Access to this model is restricted</html>")
    for name in ("half.safetensors", "html.safetensors"):
        with pytest.raises(InputError, match=f"{name}: not a readable safetensors file") as err:
            load_sapiens2(tmp_path / name, cfg)
        assert "\n" not in str(err.value)


def test_box_center_scale_pads_and_fixes_aspect():
    center, scale = box_center_scale([10, 20, 50, 100], aspect=0.75)  # 40x80 -> 50x100 -> w grown to 75
    np.testing.assert_allclose(center, [30, 60])
    np.testing.assert_allclose(scale, [75, 100])


def test_udp_warp_and_decode_are_inverse():
    img = np.zeros((40, 40, 3), np.uint8)
    img[13, 12] = 255
    # scale 7 onto 8 px: unit scale, translation -7 -> frame (12,13) lands on crop (5,6)
    out = udp_warp(img, np.array([10.5, 10.5]), np.array([7.0, 7.0]), (8, 8))
    assert np.unravel_index(out[..., 0].argmax(), out.shape[:2]) == (6, 5)
    heat = np.zeros((2, 4, 3))
    heat[0, 0, 2] = 1.0   # top-right heatmap pixel
    heat[1, 3, 0] = 2.0   # bottom-left
    kpts, scores = decode_heatmaps(heat, np.array([30.0, 60.0]), np.array([75.0, 100.0]))
    np.testing.assert_allclose(kpts, [[67.5, 10.0], [-7.5, 110.0]])
    np.testing.assert_allclose(scores, [1.0, 2.0])


def test_weights_found_in_the_hugging_face_cache_offline(tmp_path, monkeypatch):
    import huggingface_hub.constants

    repo = tmp_path / "hub" / "models--facebook--sapiens2-pose-0.4b"
    revision = "0" * 40
    (repo / "snapshots" / revision).mkdir(parents=True)
    (repo / "snapshots" / revision / "sapiens2_0.4b_pose.safetensors").write_bytes(b"")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    params = {"local_path": str(tmp_path / "absent.safetensors"), "repo_id": "facebook/sapiens2-pose-0.4b",
              "filename": "sapiens2_0.4b_pose.safetensors"}
    assert resolve_sapiens2(params, allow_download=False) == repo / "snapshots" / revision / params["filename"]
