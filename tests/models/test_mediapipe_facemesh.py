"""MediaPipe FaceMesh runs for real (models ship in the mediapipe 0.10.21 wheel) on matplotlib's sample portrait."""

import cv2
import numpy as np
import pytest
from matplotlib import cbook

from thermbench.models.mediapipe_facemesh import MediaPipeFaceMesh

NOSE = [98, 97, 2, 326, 327]


@pytest.fixture(scope="module")
def mesh():
    return MediaPipeFaceMesh(max_num_faces=3, min_detection_confidence=0.5)


@pytest.fixture(scope="module")
def portrait():
    gray = cv2.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False), cv2.IMREAD_GRAYSCALE)
    return cv2.resize(gray, (256, 300), interpolation=cv2.INTER_AREA)  # thermal frames are 8-bit gray


def test_full_frame_finds_the_face_and_nose(mesh, portrait):
    pred = mesh.predict(portrait)
    assert pred.keypoints.shape == (1, 478, 2)
    kp = pred.keypoints[0]
    np.testing.assert_allclose(pred.noses[0], kp[NOSE].mean(axis=0))
    # the nose base lies below the nose tip (1) and between the outer eye corners (33, 263)
    assert pred.noses[0, 1] > kp[1, 1]
    assert min(kp[33, 0], kp[263, 0]) < pred.noses[0, 0] < max(kp[33, 0], kp[263, 0])


def test_crop_protocol_maps_back_to_frame(mesh, portrait):
    whole = mesh.predict(portrait)
    full, kp = whole.noses[0], whole.keypoints[0]
    lo, hi = kp.min(axis=0), kp.max(axis=0)
    box = [lo[0] - 20, lo[1] - 20, hi[0] + 20, hi[1] + 40]  # a loose "person" box around the face
    pred = mesh.predict(portrait, boxes=[box])
    assert pred.noses.shape == (1, 2)
    assert np.linalg.norm(pred.noses[0] - full) < 5.0  # same nose, found through the 256x256 crop


def test_no_face(mesh):
    pred = mesh.predict(np.zeros((256, 192), np.uint8))
    assert pred.keypoints.shape == (0, 478, 2) and pred.noses.shape == (0, 2)
    assert mesh.predict(np.zeros((256, 192), np.uint8), boxes=[[10, 10, 100, 200]]).noses.shape == (0, 2)
