"""TFAN's pre- and post-processing (thermal-face-alignment 1.0.0, `ThermalLandmarks.process` / `_refine_landmarks`),
checked by hand, and the adapter on a TFAN with random weights.

Parity with the package's own `ThermalLandmarks` is tests/parity/test_tfan.py, run by `make parity`.
"""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from thermbench.core.io import InputError
from thermbench.core.keypoints import load_schema
from thermbench.models import tfan_landmarker as tfan
from thermbench.models.landmarker import nose_indices, nose_note
from thermbench.models.tfan import TFAN
from thermbench.models.weights import WeightsUnavailable


# --------------------------------------------------------------------------------------------------- value ranges
def test_temperature_window_clips_then_stretches_the_frame_by_hand():
    frame = np.array([[15.0, 20.0, 25.0], [30.0, 40.0, 45.0]])  # clipped: 20 20 25 / 30 40 40
    np.testing.assert_allclose(tfan.temperature_to_pixels(frame), [[0, 0, 63.75], [127.5, 255, 255]])
    # the clipped frame's own min..max is stretched, so 22..36 °C maps to 0..255 (not 20..40 -> 0..255)
    np.testing.assert_allclose(tfan.temperature_to_pixels(np.array([[22.0, 29.0], [36.0, 36.0]])),
                               [[0, 127.5], [255, 255]])
    assert not tfan.temperature_to_pixels(np.full((2, 2), 50.0)).any()  # flat after clipping: all 0


def test_pixel_mode_scales_unit_frames_and_clips_the_rest():
    np.testing.assert_allclose(tfan.pixels_to_0_255(np.array([[0.0, 0.5], [1.0, 0.2]])), [[0, 127.5], [255, 51]])
    np.testing.assert_array_equal(tfan.pixels_to_0_255(np.array([[0, 7], [255, 90]], np.uint8)), [[0, 7], [255, 90]])
    np.testing.assert_array_equal(tfan.pixels_to_0_255(np.array([[3000, 12], [-5.0, 90]])), [[255, 12], [0, 90]])


@pytest.mark.parametrize("frame, mode", [
    (np.full((4, 4), 200, np.uint8), "pixel"),                    # integer: pixels
    (np.linspace(20, 37, 16).reshape(4, 4), "temperature"),       # float within -10..80: °C
    (np.linspace(0, 1, 16).reshape(4, 4), "pixel"),               # float in [0, 1]
    (np.linspace(0, 255, 16).reshape(4, 4), "pixel"),             # float, p99 above 80
    (np.linspace(-40, 30, 16).reshape(4, 4), "pixel"),            # float, p1 below -10
])
def test_auto_mode_reads_the_frame_like_the_package(frame, mode):
    assert tfan.resolve_mode(frame, "auto") == mode
    assert tfan.resolve_mode(frame, "temperature") == "temperature"  # an explicit mode is taken as given


def test_auto_percentiles_sample_every_kth_value_of_a_large_frame():
    frame = np.zeros(400_000)
    frame[1::2] = 100.0  # k = 400,000 // 200,000 = 2: only the zeros are looked at
    assert tfan.robust_percentiles(frame) == (0.0, 0.0)
    assert tfan.robust_percentiles(frame[:1000])[1] == 100.0


def test_network_frame_averages_colour_and_rejects_bad_modes():
    bgr = np.stack([np.full((3, 3), v, np.uint8) for v in (90, 120, 150)], axis=-1)
    np.testing.assert_array_equal(tfan.network_frame(bgr), np.full((3, 3), 120.0))  # float 120: p99 > 80 -> pixels
    with pytest.raises(ValueError, match="unknown TFAN input mode 'celsius'"):
        tfan.network_frame(bgr, "celsius")


# -------------------------------------------------------------------------------------------------- crop and decode
def test_face_window_by_hand():
    # 40x40 box: side 50, centre (30, 40), padding 25; padded bounds 30..80 x 40..90 -> frame origin (5, 15)
    origin, side, bounds, padding = tfan.face_window([10, 20, 50, 60])
    np.testing.assert_array_equal(origin, [5, 15])
    assert (side, bounds, padding) == (50.0, (30, 40, 80, 90), 25)
    # fractional box: int() truncates each bound (centre (30.3, 40.5), side 41.25, padding 20: x 29.675 -> 29,
    # 70.925 -> 70; y 39.875 -> 39, 81.125 -> 81), so the crop spans 41 x 42 px while decoding scales by 41.25
    origin, side, bounds, _ = tfan.face_window([14.3, 24.0, 46.3, 57.0])
    assert side == pytest.approx(41.25) and bounds == (29, 39, 70, 81)
    np.testing.assert_array_equal(origin, [9, 19])


def test_crop_pads_with_zeros_outside_the_frame():
    frame = np.full((60, 60), 100.0, np.float32)
    crop, origin, side = tfan.crop_face(frame, [0, 0, 40, 40])  # side 50 about (20, 20): frame -5..45
    np.testing.assert_array_equal(origin, [-5, -5])
    assert crop.shape == (224, 224)
    assert not crop[:20, :20].any()                 # the first 5 of 50 px (22 crop px) lie outside the frame
    np.testing.assert_array_equal(crop[30:, 30:], 100.0)


def test_crop_and_decode_round_trip_a_point():
    frame = np.zeros((120, 100), np.float32)
    frame[51:54, 36:39] = 255.0  # a 3x3 blob about pixel (37, 52), continuous centre (37.5, 52.5)
    crop, origin, side = tfan.crop_face(frame, [20, 30, 60, 70])  # side 50 from (15, 25): exactly 50 px wide
    ys, xs = np.indices(crop.shape)
    fraction = np.array([(xs * crop).sum(), (ys * crop).sum()]) / crop.sum() / tfan.CROP_PX + 0.5 / tfan.CROP_PX
    points, scores = tfan.decode(np.array([[*fraction, 0.25]]), origin, side)
    np.testing.assert_allclose(points[0], [37.5, 52.5], atol=0.05)
    assert scores[0] == 0.25


def test_decode_by_hand():
    out = np.array([[0.5, 0.5, 0.2], [0.0, 1.0, 1.5]])
    points, scores = tfan.decode(out, np.array([5.0, 15.0]), 50.0)
    np.testing.assert_allclose(points, [[30, 40], [5, 65]])
    np.testing.assert_allclose(scores, [0.2, 1.5])


def test_imagenet_normalisation_of_gray_crops():
    x = tfan.to_tensor([np.full((224, 224), 255.0), np.zeros((224, 224))])
    assert tuple(x.shape) == (2, 3, 224, 224)
    np.testing.assert_allclose(x[0, :, 0, 0], [(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225], 1e-6)
    np.testing.assert_allclose(x[1, :, 5, 7], [-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225], 1e-6)


def test_ibug68_part_drops_the_pupils():
    points = np.arange(140.0).reshape(70, 2)
    np.testing.assert_array_equal(tfan.ibug68_points(points), points[:68])
    assert tfan.ibug68_points(points[None]).shape == (1, 68, 2)


# ------------------------------------------------------------------------------------------------ weights, adapter
def params(tmp_path, n: int = 70, mode: str = "auto") -> dict:
    return {"local_path": str(tmp_path / f"{n}.pt"), "n_landmarks": n, "mode": mode}


def test_absent_weights_say_where_to_get_them_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(WeightsUnavailable) as err:
        tfan.resolve_weights(params(tmp_path))
    message = str(err.value)
    assert message.startswith("weights not available: TFAN 70-point landmarker (T-FAKE, research use only)")
    assert "gdown 'https://drive.google.com/uc?export=download&id=1DqBVVmw9NscDELsnCxB4Pt9ltVUuNoWR'" in message
    assert "nor at ~/.tfan/models/70.pt;" in message and "-O ~/.tfan/models/70.pt" in message
    assert str(tmp_path / "home") not in message  # the same status on every machine
    assert message.endswith(f"zeroshot.tfan.local_path = {tmp_path / '70.pt'}") and "\n" not in message
    with pytest.raises(InputError, match="zeroshot.tfan.n_landmarks must be one of 70, 478, got 68"):
        tfan.resolve_weights(params(tmp_path, 68))


def test_weights_found_at_the_local_path_then_in_the_packages_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cached = tmp_path / "home" / ".tfan" / "models" / "478.pt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"")
    assert tfan.resolve_weights(params(tmp_path, 478)) == cached
    (tmp_path / "478.pt").write_bytes(b"")
    assert tfan.resolve_weights(params(tmp_path, 478)) == tmp_path / "478.pt"


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Random-weight TFANs saved as the Drive files are (DataParallel keys)."""
    folder = tmp_path_factory.mktemp("tfan")
    torch.manual_seed(0)
    for n in (70, 478):
        torch.save({f"module.{k}": v for k, v in TFAN(n).state_dict().items()}, folder / f"{n}.pt")
    return folder


def test_adapter_is_the_documented_steps_in_order(weights):
    model = tfan.TFANLandmarker.from_params(params(weights))
    frame_c = 20.0 + 17.0 * np.random.default_rng(0).random((96, 80))  # °C
    box = [18.0, 20.0, 62.0, 70.0]
    points, scores = model.landmarks(frame_c, [box])
    crop, origin, side = tfan.crop_face(tfan.temperature_to_pixels(frame_c), box)
    with torch.no_grad():
        out = model.model(tfan.to_tensor([crop]))[0].numpy()
    expected = tfan.decode(out, origin, side)
    np.testing.assert_allclose(points[0], expected[0], rtol=1e-6)
    np.testing.assert_allclose(scores[0], expected[1], rtol=1e-6)


def test_predictions_carry_facesynthetics70_and_the_mesh_for_478(weights):
    frame = np.random.default_rng(1).integers(0, 255, (96, 80), dtype=np.uint8)
    boxes = [[10, 10, 50, 60], [30, 20, 70, 80]]
    m70 = tfan.TFANLandmarker.from_params(params(weights))
    pred = m70.predict(frame, boxes)
    full, _ = m70.landmarks(frame, boxes)
    assert (m70.schema, m70.num_keypoints) == ("facesynthetics70", 70) and pred.keypoints.shape == (2, 70, 2)
    np.testing.assert_allclose(pred.keypoints, full)
    np.testing.assert_allclose(pred.noses, full[:, 31:36].mean(axis=1))            # anatomical: the nose-base arc
    blog = tfan.TFANLandmarker.from_params(params(weights), nose="blog").predict(frame, boxes)
    np.testing.assert_allclose(blog.noses, full[:, [32, 34]].mean(axis=1))          # the iBUG pair, as dlib's

    m478 = tfan.TFANLandmarker.from_params(params(weights, 478))
    pred = m478.predict(frame, boxes)
    assert (m478.schema, m478.num_keypoints) == ("mediapipe478_nose", 478) and pred.scores.shape == (2, 478)
    np.testing.assert_allclose(pred.noses, pred.keypoints[:, [98, 97, 2, 326, 327]].mean(axis=1))
    assert len(m478.predict(frame).noses) == 1  # no boxes: the whole frame is the box


def test_the_70_point_nose_is_data_in_the_schema():
    """Points 0-67 are iBUG-68, so the nose centre is iBUG's nose-base arc 31-35, stated with its reason."""
    schema = load_schema("facesynthetics70")
    assert nose_indices("facesynthetics70") == [31, 32, 33, 34, 35] == load_schema("ibug68")["nose_centre"]
    assert nose_indices("facesynthetics70", "blog") == [32, 34]
    assert "nose tip 30" in schema["nose_centre_note"] and "pupils 68/69" in schema["nose_centre_note"]
    assert nose_note("facesynthetics70").startswith("mean of facesynthetics70 points 31, 32, 33, 34, 35 (")


HEAD_BIAS = np.tile([0.5, 0.25, 0.1], (70, 1))
HEAD_BIAS[31:36, 0] = [0.3, 0.4, 0.5, 0.6, 0.7]   # the nose-base arc spread in x about 0.5
HEAD_BIAS[0] = [-0.2, 1.0, -1.0]                  # negative values go through the LeakyReLU (slope 0.01)


def constant_head_file(folder: Path) -> Path:
    """Seeded random backbone and a head whose weights are 0, so its output is LeakyReLU(bias) on any image; saved
    with the Drive file's `module.` keys."""
    torch.manual_seed(3)
    model = TFAN(70)
    with torch.no_grad():
        model.fc.weight.zero_()
        model.fc.bias.copy_(torch.from_numpy(HEAD_BIAS.reshape(-1)))
    path = folder / "70.pt"
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, path)
    return path


def test_end_to_end_points_land_where_the_output_says_by_hand(tmp_path):
    """A 40x30 image, face box (4, 6)-(20, 30): side = max(16, 24) x 1.25 = 30 about the centre (12, 18), padding
    15, crop bounds int(12 - 15 + 15) = 12 and int(18 - 15 + 15) = 18 in the padded frame, so the crop's origin is
    (12 - 15, 18 - 15) = (-3, 3) frame px and a point is (-3, 3) + 30 x (x, y)."""
    constant_head_file(tmp_path)
    model = tfan.TFANLandmarker.from_params(params(tmp_path))
    image = np.random.default_rng(0).integers(0, 256, (30, 40), dtype=np.uint8)
    pred = model.predict(image, [[4, 6, 20, 30]])
    kp, scores = pred.keypoints[0], pred.scores[0]
    np.testing.assert_allclose(kp[1], [-3 + 30 * 0.5, 3 + 30 * 0.25], atol=1e-5)     # (12, 10.5)
    np.testing.assert_allclose(kp[0], [-3 + 30 * -0.002, 3 + 30 * 1.0], atol=1e-5)   # LeakyReLU(-0.2) = -0.002
    np.testing.assert_allclose(kp[31:36, 0], [6, 9, 12, 15, 18], atol=1e-5)          # -3 + 30 x 0.3 ... 0.7
    np.testing.assert_allclose(pred.noses[0], [12, 10.5], atol=1e-5)                 # mean x 0.5, y 0.25
    np.testing.assert_allclose(scores[[0, 1, 69]], [-0.01, 0.1, 0.1], atol=1e-6)

    # the random backbone and head, the same arithmetic: points = (-3, 3) + 30 x the network's (x, y)
    torch.manual_seed(4)
    torch.save(TFAN(70).state_dict(), tmp_path / "70.pt")
    model = tfan.TFANLandmarker.from_params(params(tmp_path))
    points, scores = model.landmarks(image, [[4, 6, 20, 30]])
    crop = cv2.resize(np.pad(image.astype(np.float32), 15)[18:48, 12:42], (224, 224))  # bounds 12..42 x 18..48
    with torch.no_grad():
        out = model.model(tfan.to_tensor([crop]))[0].numpy().astype(np.float64)
    np.testing.assert_allclose(points[0], out[:, :2] * 30 + [-3, 3], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(scores[0], out[:, 2], rtol=1e-6)

