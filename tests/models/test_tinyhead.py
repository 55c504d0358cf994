"""TinyHead architecture and its heatmap codec (src/thermbench/models/heads.py)."""

import math

import pytest
import torch

from thermbench.models.tinyhead import TinyHead, count_trainable, decode_heatmap, encode_heatmap


def test_tinyhead_has_the_blogs_410625_parameters_at_1024_channels():
    # conv 1x1 1024->256 with bias: 1024*256 + 256     = 262,400
    # BN(256) weight + bias:        2*256              =     512
    # conv 3x3 256->64 with bias:   256*64*9 + 64      = 147,520
    # BN(64) weight + bias:         2*64               =     128
    # conv 1x1 64->1 with bias:     64 + 1             =      65
    # total                                            = 410,625
    assert count_trainable(TinyHead(1024)) == 410_625


def test_input_channels_follow_the_backbone():
    # only the first conv changes: 384*256 + 256 = 98,560 replaces 262,400
    assert count_trainable(TinyHead(384)) == 410_625 - 262_400 + 98_560


def test_tinyhead_maps_a_16x16_grid_to_a_64x64_heatmap():
    head = TinyHead(8).eval()
    assert head(torch.zeros(2, 8, 16, 16)).shape == (2, 1, 64, 64)


def test_encode_puts_a_unit_peak_at_point_over_stride():
    sigma = 2.0
    target = encode_heatmap(torch.tensor([[100.0, 60.0]]), heatmap_size=64, stride=4, sigma=sigma)
    assert target.shape == (1, 1, 64, 64)
    assert target[0, 0, 15, 25] == pytest.approx(1.0)  # (100/4, 60/4) = (25, 15), indexed [y, x]
    assert target[0, 0, 15, 26] == pytest.approx(math.exp(-1 / (2 * sigma**2)))
    assert target[0, 0, 17, 27] == pytest.approx(math.exp(-(4 + 4) / (2 * sigma**2)))


def test_argmax_decode_round_trips_grid_points_and_quantises_others():
    points = torch.tensor([[100.0, 60.0], [101.0, 63.0]])
    decoded = decode_heatmap(encode_heatmap(points, 64, 4, 2.0), stride=4)
    # (101, 63)/4 = (25.25, 15.75): the nearest heatmap cell is (25, 16) -> (100, 64) crop px
    assert decoded.tolist() == [[100.0, 60.0], [100.0, 64.0]]


def test_subpixel_refinement_recovers_an_off_grid_gaussian_exactly():
    points = torch.tensor([[101.0, 63.0], [0.0, 30.0]])
    decoded = decode_heatmap(encode_heatmap(points, 64, 4, 2.0), stride=4, subpixel=True)
    # the log of a Gaussian is a parabola, so the 3-point vertex is exact; at the border (x = 0) no refinement
    assert decoded.flatten().tolist() == pytest.approx([101.0, 63.0, 0.0, 30.0], abs=1e-3)
