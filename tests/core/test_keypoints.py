import numpy as np
import pytest

from thermbench.core.keypoints import load_schema, map_points


def test_map_points_gathers_and_marks_missing_as_nan():
    points = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    out = map_points(points, [2, None, 0])
    np.testing.assert_array_equal(out[0], [4.0, 5.0])
    assert np.isnan(out[1]).all()
    np.testing.assert_array_equal(out[2], [0.0, 1.0])


def test_map_points_keeps_leading_batch_dims():
    points = np.arange(2 * 3 * 2, dtype=float).reshape(2, 3, 2)
    out = map_points(points, [1, 1])
    assert out.shape == (2, 2, 2)
    np.testing.assert_array_equal(out[1, 0], points[1, 1])


def test_unknown_schema_is_a_clear_error():
    with pytest.raises(KeyError, match="unknown keypoint schema"):
        load_schema("no_such_schema")
