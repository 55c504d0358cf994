"""Official CSPNeXt backbone checkpoints: every size loads its backbone from the published layouts and file formats,
strictly by key, head untouched; a file of another size, or one lacking a key, fails in one line."""

import pytest
import torch

from model_builders import official_backbone_state, official_checkpoint
from thermbench.core.io import InputError
from thermbench.models.rtmpose import build_rtmpose, load_backbone, read_checkpoint

# docs/sources.md, "RTMPose sizes": params + BN buffers = 134 + 18 x (blocks over the four stages).
TENSORS = {"t": 134 + 18 * 4, "s": 134 + 18 * 6, "m": 134 + 18 * 12, "l": 134 + 18 * 18, "x": 134 + 18 * 24}
SMALL = 32  # the backbone's keys and shapes do not depend on the input size


def _save(obj: dict, path, legacy: bool):
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return path


def _load_and_check(arch: str, path, backbone: dict) -> None:
    """Load `path` into a fresh RTMPose-`arch`: its backbone must be the file's, its head its own random init."""
    torch.manual_seed(1)
    model = build_rtmpose(arch, input_size=(SMALL, SMALL))
    head = {k: v.clone() for k, v in model.head.state_dict().items()}
    load_backbone(model, read_checkpoint(path), str(path))
    own = model.backbone.state_dict()
    assert len(own) == len(backbone) == TENSORS[arch]
    assert all(torch.equal(v, backbone[f"backbone.{k}"]) for k, v in own.items())
    assert all(torch.equal(v, head[k]) for k, v in model.head.state_dict().items())


@pytest.mark.parametrize("arch", TENSORS)
def test_every_size_loads_its_backbone_from_a_published_file(arch, tmp_path):
    # As publish_model writes it: legacy torch format, `meta` (with numpy objects) + `state_dict` with the pose head.
    model = build_rtmpose(arch, input_size=(SMALL, SMALL))
    backbone = official_backbone_state(model, seed=0)
    path = _save(official_checkpoint(backbone, "mmpose", model.feature_channels), tmp_path / f"{arch}.pth", True)
    _load_and_check(arch, path, backbone)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("layout", ["mmpose", "bare", "mmcls"])
@pytest.mark.parametrize("arch", ["t", "s"])
def test_every_layout_and_format_loads(arch, layout, legacy, tmp_path):
    model = build_rtmpose(arch, input_size=(SMALL, SMALL))
    backbone = official_backbone_state(model, seed=0)
    path = _save(official_checkpoint(backbone, layout, model.feature_channels), tmp_path / "ckpt.pth", legacy)
    _load_and_check(arch, path, backbone)


def test_a_checkpoint_of_another_size_fails_in_one_line(tmp_path):
    small = official_backbone_state(build_rtmpose("s", input_size=(SMALL, SMALL)), seed=0)
    path = _save(official_checkpoint(small, "mmpose", 512), tmp_path / "cspnext-s.pth", True)
    model = build_rtmpose("m", input_size=(SMALL, SMALL))
    with pytest.raises(InputError) as err:
        load_backbone(model, read_checkpoint(path), str(path))
    message = str(err.value)
    # m has blocks (2, 4, 4, 2), s (1, 2, 2, 1): 6 blocks of 18 tensors more. Every shared tensor differs in width
    # (the stem's first conv: 24 channels, not 16) but the scalar BN counters: s has (242 - 4 x 2 attention fc) / 6 =
    # 39 ConvModules, so 242 - 39 = 203 mismatch.
    assert message.startswith(f"{path}: not the backbone of RTMPose-m (CSPNeXt deepen 0.67, widen 0.75: 350 "
                              "tensors under 'backbone.', the file has 242): missing (108): "
                              "stage1.1.blocks.1.conv1.conv.weight")
    assert "shape mismatch (203): stem.0.conv.weight (16, 3, 3, 3) vs model (24, 3, 3, 3)," in message
    assert "unexpected" not in message and "\n" not in message


def test_a_file_lacking_one_backbone_key_fails(tmp_path):
    backbone = official_backbone_state(build_rtmpose("t", input_size=(SMALL, SMALL)), seed=0)
    del backbone["backbone.stage4.1.conv1.bn.running_var"]  # the SPP's first BN
    path = _save(official_checkpoint(backbone, "bare", 384), tmp_path / "t.pth", False)
    with pytest.raises(InputError, match=r"t\.pth: not the backbone of RTMPose-t .* the file has 205\): missing \(1\): "
                                         r"stage4\.1\.conv1\.bn\.running_var$"):
        load_backbone(build_rtmpose("t", input_size=(SMALL, SMALL)), read_checkpoint(path), str(path))


def test_a_file_without_backbone_keys_or_not_a_checkpoint_fails(tmp_path):
    model = build_rtmpose("t", input_size=(SMALL, SMALL))
    path = _save({"meta": {}, "state_dict": dict(model.backbone.state_dict())}, tmp_path / "noprefix.pth", False)
    with pytest.raises(InputError, match=r"the file has 0\): missing \(206\)"):
        load_backbone(model, read_checkpoint(path), str(path))
    (tmp_path / "broken.pth").write_bytes(b"<html>not found</html>")
    with pytest.raises(InputError, match=r"broken\.pth: not a readable torch checkpoint \("):
        read_checkpoint(tmp_path / "broken.pth")
