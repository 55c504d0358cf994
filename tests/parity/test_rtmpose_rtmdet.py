"""RTMPose t/s/m/l/x and RTMDet-nano against mmpose 1.3.2 / mmdet 3.3.0 built from their own config files, on
shared random weights (BN statistics included) and one input: the raw outputs must be bit-identical."""

from pathlib import Path

import pytest
import torch

from parity.common import randomize, record, require_official

require_official()

import mmpose  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.model import revert_sync_batchnorm  # noqa: E402
from mmpose.utils import register_all_modules  # noqa: E402

from thermbench.models.rtmdet import build_rtmdet  # noqa: E402
from thermbench.models.rtmpose import build_rtmpose  # noqa: E402

MIM = Path(mmpose.__file__).parent / ".mim"
# The one mmpose folder with a 256x192 config for every size t..x; 68 points as the project's face models.
POSE_CONFIG = "configs/wholebody_2d_keypoint/rtmpose/ubody/rtmpose-{}_8xb64-270e_coco-ubody-wholebody-256x192.py"
DETECTOR_CONFIG = "demo/mmdetection_cfg/rtmdet_nano_320-8xb32_coco-person.py"


def build_official(config: str, registry, num_keypoints: int | None = None):
    """The config's model with no pretrained download and plain BN for the configs' SyncBN (the same BN in eval
    mode); returns the config too."""
    cfg = Config.fromfile(str(MIM / config))
    cfg.model.backbone.init_cfg = None
    if num_keypoints:
        cfg.model.head.out_channels = num_keypoints
    return cfg, revert_sync_batchnorm(registry.build(cfg.model)).eval()


@pytest.mark.parametrize("arch", ["t", "s", "m", "l", "x"])
def test_rtmpose_simcc_logits_match_mmpose(arch):
    from mmpose.registry import MODELS

    register_all_modules()
    torch.manual_seed(0)
    ours = randomize(build_rtmpose(arch, num_keypoints=68, input_size=(192, 256)), seed=1)
    cfg, theirs = build_official(POSE_CONFIG.format(arch), MODELS, num_keypoints=68)
    assert tuple(cfg.model.head.input_size) == (192, 256)
    theirs.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(2, 3, 256, 192, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        mine, official = ours(x), theirs.head(theirs.extract_feat(x))
    assert record(f"RTMPose-{arch} SimCC logits", f"mmpose {mmpose.__version__}", mine, official)


def test_rtmdet_nano_outputs_match_mmdet():
    import mmdet
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules as register_mmdet

    register_mmdet()
    torch.manual_seed(0)
    ours = randomize(build_rtmdet("nano"), seed=1)
    _, theirs = build_official(DETECTOR_CONFIG, MODELS)
    state = ours.state_dict()
    assert len(state) == 698
    theirs.load_state_dict(state, strict=True)
    x = torch.randn(2, 3, 320, 320, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        scores, boxes = theirs.bbox_head(theirs.extract_feat(x))
        mine = ours(x)
    assert record("RTMDet-nano scores, boxes", f"mmdet {mmdet.__version__}", mine, scores + boxes)
