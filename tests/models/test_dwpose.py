"""DWPose adapter end to end through rtmlib, with tiny ONNX models exported here with the real I/O names and shapes:
YOLOX end2end (`input` -> `dets` (1,N,5), `labels` (1,N)) and RTMPose SimCC (`input` -> `simcc_x` (1,133,2W),
`simcc_y` (1,133,2H)). The models emit fixed outputs, so every expected coordinate is computed by hand below."""

import numpy as np
import pytest
import torch
from torch import nn

from thermbench.models.dwpose import DWPose, resolve_onnx, rtmlib_cached_onnx
from thermbench.models.weights import WeightsUnavailable

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # legacy exporter: no onnxscript here
DET_SIZE = (64, 64)    # (h, w) for YOLOX
POSE_SIZE = (48, 64)   # (w, h) for RTMPose
NOSTRILS = [54, 55, 56, 57, 58]


class ConstantOutputs(nn.Module):
    """Returns fixed tensors; the zero-weighted input term keeps `input` a real graph input."""

    def __init__(self, *outputs: torch.Tensor):
        super().__init__()
        self.outs = nn.ParameterList(nn.Parameter(o, requires_grad=False) for o in outputs)
        self.zero = nn.Parameter(torch.zeros(()), requires_grad=False)

    def forward(self, x):
        tie = x.mean() * self.zero
        return tuple(o + tie.to(o.dtype) for o in self.outs)


def _export(module, path, shape, outputs):
    torch.onnx.export(module, (torch.zeros(shape),), str(path), input_names=["input"], output_names=outputs,
                      opset_version=11, dynamo=False)


@pytest.fixture()
def models(tmp_path):
    # Frame 192x256 (w x h) letterboxed into 64x64: ratio 0.25, so model-space boxes are frame boxes / 4.
    dets = torch.tensor([[[5.0, 10.0, 25.0, 60.0, 0.9],     # frame [20, 40, 100, 240]
                          [30.0, 10.0, 45.0, 50.0, 0.8],    # frame [120, 40, 180, 200]
                          [0.0, 0.0, 10.0, 10.0, 0.1]]])    # below rtmlib's 0.3 end2end threshold
    labels = torch.zeros(1, 3, dtype=torch.int64)
    _export(ConstantOutputs(dets, labels), tmp_path / "det.onnx", (1, 3, *DET_SIZE), ["dets", "labels"])
    # SimCC peaks: nostril x bins 44..52 (mean 48 = centre of 2*48 bins), every y bin at 96 of 128 (3/4 height).
    sx, sy = torch.zeros(1, 133, 2 * POSE_SIZE[0]), torch.zeros(1, 133, 2 * POSE_SIZE[1])
    sx[0, :, 48] = 1.0
    for k, b in zip(NOSTRILS, [44, 46, 48, 50, 52]):
        sx[0, k] = 0.0
        sx[0, k, b] = 1.0
    sy[0, :, 96] = 1.0
    _export(ConstantOutputs(sx, sy), tmp_path / "pose.onnx", (1, 3, POSE_SIZE[1], POSE_SIZE[0]),
            ["simcc_x", "simcc_y"])
    return DWPose(str(tmp_path / "det.onnx"), str(tmp_path / "pose.onnx"), DET_SIZE, POSE_SIZE)


def test_full_frame_detects_persons_and_maps_nose(models):
    frame = np.zeros((256, 192), np.uint8)
    pred = models.predict(frame)
    assert pred.keypoints.shape == (2, 133, 2)
    # Box 1 [20,40,100,240]: centre (60,140), padded 100x250, aspect 0.75 -> 187.5x250.
    #   x = 48/2/48 * 187.5 + 60 - 93.75 = 60 ; y = 96/2/64 * 250 + 140 - 125 = 202.5
    # Box 2 [120,40,180,200]: centre (150,120), padded 75x200 -> 150x200; y = 0.75*200 + 120 - 100 = 170
    np.testing.assert_allclose(pred.noses, [[60.0, 202.5], [150.0, 170.0]], atol=1e-3)


def test_given_boxes_skip_the_detector(models):
    pred = models.predict(np.zeros((256, 192, 3), np.uint8), boxes=[[20, 40, 100, 240]])
    np.testing.assert_allclose(pred.noses, [[60.0, 202.5]], atol=1e-3)
    assert models.predict(np.zeros((256, 192), np.uint8), boxes=[]).noses.shape == (0, 2)


def test_resolve_onnx(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    url = "https://download.openmmlab.com/x/yolox_m_8xb8-300e_humanart-c2c7a14a.zip"
    with pytest.raises(WeightsUnavailable, match="weights not available: DWPose model https://.*zeroshot.dwpose.det"):
        resolve_onnx(url, allow_download=False, param="zeroshot.dwpose.det")
    cached = rtmlib_cached_onnx(url)
    assert cached == tmp_path / "th" / "hub" / "checkpoints" / "yolox_m_8xb8-300e_humanart-c2c7a14a.onnx"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"")
    assert resolve_onnx(url, allow_download=False, param="p") == str(cached)
    with pytest.raises(WeightsUnavailable, match="is not a file .set p.det"):
        resolve_onnx(str(tmp_path / "missing.onnx"), allow_download=True, param="p.det")


def test_download_without_network_is_weights_not_available(tmp_path, monkeypatch):
    """What a real ThermEval source met offline: rtmlib's download raised a bare URLError. Port 9 on the loopback
    refuses the connection at once, so this needs no network and never reaches one."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    url = "http://127.0.0.1:9/models/yolox_tiny.zip"
    with pytest.raises(WeightsUnavailable) as err:
        resolve_onnx(url, allow_download=True, param="zeroshot_blog.part1.dwpose_balanced.det")
    line = str(err.value)
    assert line.startswith(f"weights not available: DWPose model {url} could not be downloaded (")
    assert line.endswith("set zeroshot_blog.part1.dwpose_balanced.det to a local .onnx file") and "\n" not in line


def test_corrupt_download_and_corrupt_file_are_errors_naming_the_file(tmp_path, monkeypatch):
    import zipfile

    import rtmlib.tools.file

    from thermbench.core.io import InputError

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))

    def bad_zip(url, progress=True):
        raise zipfile.BadZipFile("File is not a zip file")

    monkeypatch.setattr(rtmlib.tools.file, "download_checkpoint", bad_zip)
    with pytest.raises(InputError, match=r"th/hub/checkpoints/pose.zip: corrupt download of https://h/pose.zip"):
        resolve_onnx("https://h/pose.zip", allow_download=True, param="p")
    # a truncated .onnx (half of a real model) and a file that is no model at all
    _export(ConstantOutputs(torch.zeros(1, 1, 5), torch.zeros(1, 1, dtype=torch.int64)), tmp_path / "det.onnx",
            (1, 3, *DET_SIZE), ["dets", "labels"])
    whole = (tmp_path / "det.onnx").read_bytes()
    (tmp_path / "half.onnx").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "text.onnx").write_text("<html>403 Forbidden</html>")
    for name in ("half.onnx", "text.onnx"):
        with pytest.raises(InputError, match=f"{name}: not a loadable ONNX model") as err:
            DWPose(str(tmp_path / name), str(tmp_path / "det.onnx"), DET_SIZE, POSE_SIZE)
        assert "\n" not in str(err.value)
