"""SimCC codec: Gaussian labels as mmpose SimCCLabel, argmax decode, flip helpers."""

import numpy as np
import pytest
import torch

from thermbench.core.keypoints import load_schema
from thermbench.models.simcc import decode, default_sigma, encode, flip_index


def test_default_sigma_matches_mmpose_configs():
    assert default_sigma((256, 256)) == pytest.approx((5.657, 5.657), abs=1e-3)
    assert default_sigma((192, 256)) == pytest.approx((4.899, 5.657), abs=1e-3)


def test_encode_gaussian_values():
    tx, ty, w = encode(np.array([[10.2, 20.0]]), np.array([1.0]), (64, 64), sigma=(2.0, 3.0))
    assert tx.shape == (1, 128) and ty.shape == (1, 128) and tx.dtype == np.float32
    assert tx[0].argmax() == 20 and ty[0].argmax() == 40  # mu = round(2 * kpt)
    assert tx[0, 20] == 1.0
    assert tx[0, 21] == pytest.approx(np.exp(-1 / 8))
    assert ty[0, 43] == pytest.approx(np.exp(-9 / 18))
    assert w.tolist() == [1.0]


def test_encode_invisible_and_far_outside_get_zero_weight():
    kpts = np.array([[5.0, 5.0], [-20.0, 5.0], [np.nan, np.nan], [30.0, 30.0]])
    tx, ty, w = encode(kpts, np.array([0.0, 1.0, 0.0, 1.0]), (64, 64))
    assert w.tolist() == [0.0, 0.0, 0.0, 1.0]
    assert not tx[:3].any() and not ty[:3].any() and np.isfinite(tx).all()


def test_encode_window_past_the_edge_and_on_tensors():
    # x = -1.0 -> mu = -2 bins, kept: its 3-sigma window (sigma 2) reaches bins 0..3; bin 0 is 2 bins from mu.
    kpts = np.array([[-1.0, 63.0], [64.2, 10.0]])
    tx, ty, w = encode(kpts, np.ones(2), (64, 64), sigma=(2.0, 2.0))
    assert w.tolist() == [1.0, 1.0]
    assert tx[0, 0] == pytest.approx(np.exp(-4 / 8)) and tx[0, 3] == pytest.approx(np.exp(-25 / 8))
    assert tx[1, 127] == pytest.approx(np.exp(-1 / 8))  # mu = 128, one bin past the last
    assert ty[0, 126] == 1.0
    on_tensors = encode(torch.from_numpy(kpts), torch.ones(2), (64, 64), sigma=(2.0, 2.0))
    assert all(isinstance(t, torch.Tensor) and np.array_equal(t.numpy(), a)
               for t, a in zip(on_tensors, (tx, ty, w)))


def test_round_trip_within_one_bin():
    rng = np.random.default_rng(0)
    kpts = rng.uniform(0, 63.9, size=(3, 68, 2))
    tx, ty, w = encode(kpts, np.ones((3, 68)), (64, 64), split_ratio=2.0)
    assert tx.shape == (3, 68, 128) and w.shape == (3, 68)
    locs, scores = decode(torch.from_numpy(tx), torch.from_numpy(ty), split_ratio=2.0)
    assert np.abs(locs - kpts).max() <= 0.25 + 1e-9  # rounding to the nearest half-pixel bin
    assert np.all(scores == 1.0)


def test_decode_score_is_min_of_axis_maxima():
    sx = np.array([[[0.1, 0.9, 0.2]]])
    sy = np.array([[[0.5, 0.1, 0.4]]])
    locs, scores = decode(sx, sy, split_ratio=2.0)
    assert locs.tolist() == [[[0.5, 0.0]]]
    assert scores.tolist() == [[0.5]]


def test_flip_index_from_ibug68_schema():
    index = flip_index(load_schema("ibug68")["flip_pairs"], 68)
    assert index[0] == 16 and index[36] == 45 and index[40] == 47 and index[30] == 30
    assert [index[i] for i in index] == list(range(68))  # an involution


