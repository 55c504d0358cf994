"""Blog part 3's crop follows the project's pixel-centre convention (pixel i covers [i, i+1)), as every runner
does (tests/models/test_pixel_centres.py)."""

import numpy as np

from thermbench.zeroshot.protocols import face_pipeline as fp


def test_mediapipe_crop_mapping_is_continuous():
    image = np.zeros((100, 80), np.uint8)
    crop, origin, source = fp.blog_crop(image, (20, 30, 32, 32))   # side 40 about (36, 46) -> [16, 56) x [26, 66)
    assert crop.shape == (256, 256)
    np.testing.assert_array_equal(origin, [16, 26])
    np.testing.assert_array_equal(source, [40, 40])
    # crop (continuous) 0 and 256 are the crop's outer edges, i.e. frame 16 and 56; its centre is frame 36
    np.testing.assert_allclose(fp.crop_to_frame([[0, 0], [256, 256], [128, 128]], origin, source),
                               [[16, 26], [56, 66], [36, 46]])
