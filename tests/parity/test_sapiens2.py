"""Sapiens2-0.4B, backbone and pose head, against facebookresearch/sapiens2's own code (@3098c14): the standalone
`Sapiens2` backbone and `PoseHeatmapHead` built with the arguments of
`sapiens2_0.4b_keypoints308_shutterstock_goliath_3po-1024x768.py`, on shared random weights and one input: features
and heatmaps must be bit-identical. The code is not a package on PyPI: `make parity SAPIENS2=<checkout>` points
SAPIENS2_SRC at a local copy.
"""

import importlib
import os
import sys
import types
from pathlib import Path

import pytest
import torch

from parity.common import randomize, record, require_official

require_official()

from thermbench.models.sapiens2 import build_sapiens2  # noqa: E402

# Parents of the two modules, stood in for: the real `sapiens/__init__.py` imports every task and its dependencies.
PACKAGES = ("sapiens", "sapiens.backbones", "sapiens.backbones.standalone", "sapiens.pose", "sapiens.pose.src",
            "sapiens.pose.src.models", "sapiens.pose.src.models.heads", "sapiens.pose.src.models.losses",
            "sapiens.pose.src.evaluators")
EVALUATOR = "sapiens.pose.src.evaluators.keypoints308_evaluator"  # the head imports its accuracy for training only
BACKBONE_ARGS = dict(arch="sapiens2_0.4b", img_size=(1024, 768), patch_size=16, final_norm=True, use_tokenizer=False,
                     with_cls_token=True, out_type="featmap")
HEAD_ARGS = dict(in_channels=1024, out_channels=308, deconv_out_channels=(1024, 768), deconv_kernel_sizes=(4, 4),
                 conv_out_channels=(512, 512, 256), conv_kernel_sizes=(1, 1, 1),
                 loss_decode=dict(type="KeypointMSELoss", use_target_weight=True, loss_weight=10.0))


@pytest.fixture(scope="module")
def official():
    """(Sapiens2, PoseHeatmapHead) imported from the checkout at SAPIENS2_SRC."""
    src = os.environ.get("SAPIENS2_SRC")
    if not src:
        pytest.skip("Sapiens2 against its own code: git clone https://github.com/facebookresearch/sapiens2, then "
                    "`make parity SAPIENS2=<that folder>`")
    root = Path(src)
    for name in PACKAGES:
        sys.modules[name] = types.ModuleType(name)
        sys.modules[name].__path__ = [str(root.joinpath(*name.split(".")))]
    sys.modules[EVALUATOR] = types.ModuleType(EVALUATOR)
    sys.modules[EVALUATOR].pose_pck_accuracy = None
    try:
        backbone = importlib.import_module("sapiens.backbones.standalone.sapiens2")
        importlib.import_module("sapiens.pose.src.models.losses.heatmap_loss")  # registers KeypointMSELoss
        head = importlib.import_module("sapiens.pose.src.models.heads.pose_heatmap_head")
        yield backbone.Sapiens2, head.PoseHeatmapHead
    finally:
        for name in [n for n in sys.modules if n == "sapiens" or n.startswith("sapiens.")]:
            del sys.modules[name]


def test_features_and_heatmaps_match_the_official_code(official):
    backbone_cls, head_cls = official
    torch.manual_seed(0)
    ours = randomize(build_sapiens2("0.4b"), seed=1)
    backbone, head = backbone_cls(**BACKBONE_ARGS).eval(), head_cls(**HEAD_ARGS).eval()
    state = ours.state_dict()
    assert len(state) == 424
    for prefix, module in (("backbone.", backbone), ("decode_head.", head)):
        module.load_state_dict({k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)},
                               strict=True)
    x = torch.randn(1, 3, 512, 384, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        feats = ours.forward_features(x)
        (their_feats,) = backbone(x)
        mine, theirs = [feats, ours.decode_head(feats)], [their_feats, head(their_feats)]
    assert record("Sapiens2-0.4B features, heatmaps", "facebookresearch/sapiens2 3098c14", mine, theirs)
