import numpy as np

from thermbench.core import crops


def test_scale_box_about_centre():
    np.testing.assert_allclose(crops.scale_box(10, 20, 40, 80, 1.25), [5, 10, 50, 100])


def test_square_box_uses_longer_side():
    np.testing.assert_allclose(crops.square_box(np.array([[0, 0], [10, 4]]), 2.0), [-5, -8, 20, 20])


def test_point_transforms_are_inverse():
    box, size = np.array([10.0, 20.0, 50.0, 100.0]), (100, 200)
    np.testing.assert_allclose(crops.to_crop([[35, 70]], box, size), [[50, 100]])
    points = np.array([[12.5, 33.0], [-4.0, 150.0]])
    np.testing.assert_allclose(crops.to_frame(crops.to_crop(points, box, size), box, size), points)


def test_identity_crop_is_the_image():
    image = np.arange(12 * 8, dtype=np.uint8).reshape(12, 8)
    np.testing.assert_array_equal(crops.crop(image, np.array([0.0, 0.0, 8.0, 12.0]), (8, 12)), image)


def test_upscaled_pixel_stays_centred_on_its_transformed_centre():
    image = np.zeros((16, 16), np.uint8)
    image[7, 5] = 200  # pixel covers [5, 6) x [7, 8): centre (5.5, 7.5) -> (11, 15) at 2x
    out = crops.crop(image, np.array([0.0, 0.0, 16.0, 16.0]), (32, 32))
    peak = out[14:16, 10:12]
    assert (peak == out.max()).all() and out.max() > 100


def test_outside_the_frame_is_zero():
    image = np.full((10, 10), 100, np.uint8)
    out = crops.crop(image, np.array([-10.0, 0.0, 20.0, 10.0]), (20, 10))
    assert (out[:, :9] == 0).all() and (out[:, 10:] == 100).all()
