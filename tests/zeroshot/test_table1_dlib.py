"""dlib-68's Table I row on a real face (matplotlib's sample portrait, 8-bit gray) and a blank crop."""

import cv2
import numpy as np

from thermbench.datasets.crop_store import Split
from thermbench.zeroshot.table1.common import fallback_box
from thermbench.zeroshot.table1.dlib import predict_split


def test_table1_falls_back_to_the_crops_own_box(dlib68_hog, hopper_portrait):
    np.testing.assert_allclose(fallback_box(256, 1.25), [25.6, 25.6, 204.8, 204.8])
    face = cv2.resize(hopper_portrait[40:260, 18:238], (256, 256))
    split = Split(images=np.stack([face, np.zeros_like(face)]), kpts=np.zeros((2, 68, 2), np.float32),
                  visible=np.ones((2, 68), np.float32), scale=np.array([[1.0, 1.0], [2.0, 2.0]]))
    pred, found = predict_split(dlib68_hog, split, 1.25, bgr=False, desc="test")
    assert pred.shape == (2, 68, 2) and found == 0.5                   # the blank image: no face, fallback box
    assert np.all((pred[1] >= 2 * 25.6 - 40) & (pred[1] <= 2 * 230.4 + 40))  # inside the fallback box, x2 scale
