"""The project's decoders against mmpose 1.3.2's codecs on random network outputs: identical coordinates and scores.

SimCC: `thermbench.models.simcc.decode` vs `SimCCLabel.decode` (RTMPose, 256x192, split 2). UDP heatmaps with
DARK-UDP refinement: `thermbench.models.sapiens2.decode_udp` vs `UDPHeatmap.decode`, Sapiens2's codec (its copy in
facebookresearch/sapiens2 is the same code), 1024x768 input, 256x192 heatmaps, blur kernel 11.
"""

import numpy as np

from parity.common import record, require_official

require_official()

import mmpose  # noqa: E402
from mmpose.codecs import SimCCLabel, UDPHeatmap  # noqa: E402

from thermbench.models import simcc  # noqa: E402
from thermbench.models.sapiens2 import BLUR_KERNEL, decode_udp  # noqa: E402


def test_simcc_decode_matches_simcc_label():
    rng = np.random.default_rng(0)
    logits_x = rng.standard_normal((8, 68, 384)).astype(np.float32)  # every row has a positive maximum: no -1
    logits_y = rng.standard_normal((8, 68, 512)).astype(np.float32)
    codec = SimCCLabel(input_size=(192, 256), smoothing_type="gaussian", sigma=simcc.default_sigma((192, 256)),
                       simcc_split_ratio=2.0, normalize=False, use_dark=False)
    theirs = codec.decode(logits_x, logits_y)
    ours = simcc.decode(logits_x, logits_y, split_ratio=2.0)
    assert record("SimCC decode", f"mmpose {mmpose.__version__} SimCCLabel", ours, theirs)


def test_udp_decode_with_dark_refinement_matches_udp_heatmap():
    codec = UDPHeatmap(input_size=(768, 1024), heatmap_size=(192, 256), blur_kernel_size=BLUR_KERNEL)
    ours, theirs = [], []
    for seed in range(3):
        heatmaps = np.random.default_rng(seed).standard_normal((308, 256, 192)).astype(np.float32)
        keypoints, scores = codec.decode(heatmaps)
        xy, our_scores = decode_udp(heatmaps)
        ours += [xy / [192 - 1, 256 - 1] * (768, 1024), our_scores]  # heatmap px -> input px as the codec does
        theirs += [keypoints[0], scores[0]]
    assert record("UDP decode + DARK-UDP", f"mmpose {mmpose.__version__} UDPHeatmap", ours, theirs)
