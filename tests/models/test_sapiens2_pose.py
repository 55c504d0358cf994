"""Sapiens2's official decoder (UDP heatmap + DARK refinement) and the flip-test channel swap."""

import numpy as np

from thermbench.core.keypoints import load_schema
from thermbench.models.sapiens2 import decode_udp, heatmap_argmax, refine_dark_udp
from thermbench.models.sapiens2_pose import decode_heatmaps, flip_back


def gaussian_map(peak, shape=(48, 64), sigma=2.0):
    h, w = shape
    y, x = np.mgrid[0:h, 0:w]
    return np.exp(-((x - peak[0]) ** 2 + (y - peak[1]) ** 2) / (2 * sigma**2))


def test_dark_udp_recovers_a_known_sub_pixel_peak():
    peaks = [(20.3, 15.7), (40.8, 30.2)]
    heat = np.stack([gaussian_map(p) for p in peaks])
    xy, scores = heatmap_argmax(heat)
    np.testing.assert_array_equal(xy, [[20, 16], [41, 30]])       # argmax: whole heatmap pixels only
    refined = refine_dark_udp(xy, heat)
    np.testing.assert_allclose(refined, peaks, atol=0.05)          # DARK: the sub-pixel peak
    out, s = decode_udp(heat, refine=True)
    np.testing.assert_allclose(out, refined)
    np.testing.assert_allclose(s, scores)
    np.testing.assert_array_equal(decode_udp(heat, refine=False)[0], xy)


def test_decode_maps_refined_peaks_through_the_udp_transform():
    heat = gaussian_map((20.3, 15.7))[None]
    # heatmap 64x48 (W x H) over a 60x94 padded box centred at (100, 200): x = hx / 63 * 60 + 100 - 30
    kpts, _ = decode_heatmaps(heat, np.array([100.0, 200.0]), np.array([60.0, 94.0]), refine=True)
    np.testing.assert_allclose(kpts[0], [20.3 / 63 * 60 + 70, 15.7 / 47 * 94 + 153], atol=0.1)


def test_flip_back_mirrors_and_swaps_left_right_channels():
    flip = load_schema("sapiens308")["flip_indices"]
    assert flip[182] == 185 and flip[185] == 182 and flip[178] == 178
    mirrored = np.zeros((308, 4, 6))
    mirrored[185, 1, 0] = 1.0   # left-nostril channel of the mirrored crop, at its left edge
    back = flip_back(mirrored, flip)
    assert back[182, 1, 5] == 1.0 and back.sum() == 1.0   # the right nostril, at the right edge
