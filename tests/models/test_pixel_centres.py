"""One pixel-centre convention for every adapter and the ground truth: pixel i covers [i, i+1), so a bright pixel at
index (i, j) sits at continuous (i + 0.5, j + 0.5). Each adapter's own coordinate handling is checked end to end
with a stand-in network that finds that pixel in whatever input the adapter builds."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from thermbench.models.sapiens2_pose import Sapiens2Pose


class BlobHeatmaps(torch.nn.Module):
    """A 'pose net' whose heatmaps are its input's first channel resampled onto the UDP grid (align_corners: heatmap
    px k sits at input px k (W-1)/(Wh-1)), one copy per keypoint."""

    def forward(self, x):
        h, w = x.shape[-2:]
        heat = F.interpolate(x[:, :1], size=(h // 4, w // 4), mode="bilinear", align_corners=True)
        return heat.expand(-1, 308, -1, -1)


def test_sapiens2_returns_continuous_coordinates():
    frame = np.zeros((120, 90), np.uint8)
    yy, xx = np.mgrid[0:120, 0:90]
    # a smooth blob centred on the centre of pixel (40, 70), i.e. continuous (40.5, 70.5)
    frame[:] = np.round(255 * np.exp(-((xx - 40) ** 2 + (yy - 70) ** 2) / (2 * 4.0**2)))
    pose = Sapiens2Pose(BlobHeatmaps(), input_size=(96, 128))
    pred = pose.predict(frame, [[20.0, 40.0, 60.0, 100.0]])
    np.testing.assert_allclose(pred.keypoints[0, 0], [40.5, 70.5], atol=0.15)
    pred = pose.predict(frame)  # the whole frame as one box, as the blog
    np.testing.assert_allclose(pred.keypoints[0, 0], [40.5, 70.5], atol=0.3)


def test_dwpose_through_rtmlib_returns_continuous_coordinates():
    from rtmlib import RTMPose

    from thermbench.models.dwpose import DWPose

    # rtmlib's real pre/post-processing around a stand-in network (no session needed)
    adapter = DWPose.__new__(DWPose)
    adapter.nose = "anatomical"
    pose = RTMPose.__new__(RTMPose)
    w, h = 48, 64
    pose.model_input_size, pose.mean, pose.std, pose.to_openpose = (w, h), None, None, False

    def find_pixel(img):
        v, u = np.unravel_index(img[..., 0].argmax(), img.shape[:2])
        sx, sy = np.zeros((1, 133, 2 * w)), np.zeros((1, 133, 2 * h))
        sx[0, :, 2 * u] = 1.0
        sy[0, :, 2 * v] = 1.0
        return [sx, sy]

    pose.inference = find_pixel
    adapter.pose = pose
    frame = np.zeros((256, 192), np.uint8)
    frame[130, 70] = 255  # pixel (x 70, y 130): continuous (70.5, 130.5)
    # a box whose padded size equals the input size (unit scale), centred on that pixel's centre
    bw, bh = w / 1.25, h / 1.25
    box = [70.5 - bw / 2, 130.5 - bh / 2, 70.5 + bw / 2, 130.5 + bh / 2]
    pred = adapter.predict(frame, boxes=[box])
    np.testing.assert_allclose(pred.keypoints[0, 0], [70.5, 130.5], atol=1e-6)


def test_dlib_points_and_boxes_follow_the_convention():
    dlib = pytest.importorskip("dlib")
    from thermbench.models.dlib68 import box_to_rect, parts_to_points, rect_to_box

    rect = dlib.rectangle(10, 20, 29, 59)            # pixels 10..29 x 20..59 inclusive
    np.testing.assert_allclose(rect_to_box(rect), [10, 20, 20, 40])  # continuous [10, 30) x [20, 60)
    back = box_to_rect(np.array([10.0, 20.0, 20.0, 40.0]))
    assert (back.left(), back.top(), back.right(), back.bottom()) == (10, 20, 29, 59)
    shape = dlib.full_object_detection(rect, [dlib.point(12, 30)] * 68)
    np.testing.assert_allclose(parts_to_points(shape)[0], [12.5, 30.5])  # the centre of pixel (12, 30)


def test_sapiens2_flip_test_keeps_the_convention():
    frame = np.zeros((120, 90), np.uint8)
    yy, xx = np.mgrid[0:120, 0:90]
    frame[:] = np.round(255 * np.exp(-((xx - 33) ** 2 + (yy - 58) ** 2) / (2 * 4.0**2)))
    pose = Sapiens2Pose(BlobHeatmaps(), input_size=(96, 128), flip_test=True)
    # the mirrored crop's heatmaps, flipped back along W, must land on the same (continuous) spot
    pred = pose.predict(frame, [[10.0, 30.0, 55.0, 90.0]])
    np.testing.assert_allclose(pred.keypoints[0, 0], [33.5, 58.5], atol=0.15)
