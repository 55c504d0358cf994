"""Parity with thermal-face-alignment 1.0.0, on seeded random weights (BN statistics included): its network
(`DMMv2`) against TFAN on one input, and its `ThermalLandmarks.process` against our TFANLandmarker on the same face
box and the same frames (°C, 8-bit, unit floats).

<<<<<<<< HEAD:tests/parity/test_tfan.py
========
A test-only extra: the package is not a project dependency (it pulls timm, torchvision, neurovc and a CUDA torch), so
this file is skipped unless it is importable, e.g. in a throwaway venv:
    python3 -m venv /tmp/tfanvenv && /tmp/tfanvenv/bin/pip install thermal-face-alignment==1.0.0 pytest pandas \
        pyyaml matplotlib
    PYTHONPATH=src /tmp/tfanvenv/bin/python -m pytest tests/models/test_tfan_parity.py
>>>>>>>> i34-area3:tests/models/test_tfan_parity.py
Two stand-ins keep it offline, neither touching the compared arithmetic: timm builds MobileNetV2 without its ImageNet
download (every weight is then loaded from our file), and the package's TFW face detector is replaced by one that
returns the given box (the package reads only the box's corners).
"""

from importlib.metadata import version

import numpy as np
import pytest
import torch

from parity.common import randomize, record, require_official

require_official()

import tfan.core.models as tfan_package  # noqa: E402

from thermbench.models.tfan import TFAN, load_tfan  # noqa: E402
from thermbench.models.tfan_landmarker import TFANLandmarker  # noqa: E402

BOX = (22.0, 18.5, 70.0, 81.0)  # x0, y0, x1, y1 frame px


class GivenBox:
    """The package's detector interface (`detect(frame)` -> [{"landmarks", "box"}]) answering with BOX."""

    def __init__(self, device="cpu"):
        pass

    def detect(self, frame):
        x0, y0, x1, y1 = BOX
        return [{"landmarks": [[(x0 + x1) / 2, (y0 + y1) / 2]], "box": [[x0, y0], [x1, y1]]}]


class PackageOnGivenBox(tfan_package.ThermalLandmarks):
    _landmarker_cls = GivenBox


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tfan") / "70.pt"
    torch.save(randomize(TFAN(70), seed=1).state_dict(), path)
    return path


@pytest.fixture(scope="module")
def no_imagenet_download():
    """timm's MobileNetV2 without its pretrained download; the package then loads every weight from our file."""
    create = tfan_package.timm.create_model
    tfan_package.timm.create_model = lambda name, pretrained=False, **kw: create(name, pretrained=False, **kw)
    yield
    tfan_package.timm.create_model = create


def test_our_state_dict_is_the_packages(no_imagenet_download):
    """The package loads with strict=False, which would hide a key mismatch, so the layouts are compared here."""
    theirs = tfan_package.DMMv2(n_landmarks=70).state_dict()
    ours = TFAN(70).state_dict()
    assert set(theirs) == set(ours)
    assert all(theirs[k].shape == ours[k].shape for k in ours)


def test_network_outputs_match_dmmv2(weights, no_imagenet_download):
    ours = load_tfan(weights, 70)
    theirs = tfan_package.DMMv2(n_landmarks=70).eval()
    theirs.load_state_dict(torch.load(weights), strict=True)
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert record("TFAN network (70 points)", f"thermal-face-alignment {version('thermal-face-alignment')}",
                      [ours(x)], [theirs(x)])


@pytest.mark.parametrize("mode, frame", [
    ("temperature", 18.0 + 25.0 * np.random.default_rng(0).random((100, 90))),                 # °C, clipped 20-40
    ("pixel", np.random.default_rng(1).integers(0, 256, (100, 90), dtype=np.uint8)),           # 8-bit
    ("pixel", np.random.default_rng(2).random((100, 90))),                                     # unit floats
    ("auto", 20.0 + 15.0 * np.random.default_rng(3).random((100, 90))),                        # auto -> °C
])
def test_points_and_scores_match_the_package(weights, no_imagenet_download, mode, frame):
    package = PackageOnGivenBox(model_path=str(weights), device="cpu", n_landmarks=70)
    (theirs,), (their_scores,) = package.process(frame, mode=mode)
    ours, our_scores = TFANLandmarker(load_tfan(weights, 70), mode).landmarks(frame, [BOX])
    record(f"TFAN landmarks, {mode} {frame.dtype}", f"thermal-face-alignment {version('thermal-face-alignment')}",
           [ours[0], our_scores[0]], [theirs, their_scores])
    # the package's own pre- and post-processing rounds differently (up to ~1e-5 px here); the network is identical
    np.testing.assert_allclose(ours[0], theirs, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(our_scores[0], their_scores, rtol=1e-5, atol=1e-5)
