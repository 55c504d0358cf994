"""The RGB pretraining set: prepared-contract table, crops with the landmarks inside, deterministic, seeded splits."""

import json

import numpy as np
import pandas as pd

from thermbench.datasets.common import read_image
from thermbench.datasets.synth.rgbpretrain import RGBPretrainConfig, write


def test_writes_prepared_rgb_crops(tmp_path):
    cfg = RGBPretrainConfig(num_images=4, image_size=96, face_width_px=(40.0, 60.0), max_pose=(60, 25, 20),
                            val_fraction=0.25, crop_size=64, box_scale=1.25)
    write(tmp_path / "a", cfg, seed=0, workers=1)
    table = pd.read_csv(tmp_path / "a" / "samples.csv")
    assert list(table["split"]) == ["val", "train", "train", "train"]  # round(4 * 0.25) = 1 val
    assert (table["crop_path"] == table["rgb_crop_path"]).all()
    for row in table.itertuples():
        img = read_image(tmp_path / "a" / row.rgb_crop_path, flags=1)
        assert img.shape == (64, 64, 3) and img.std() > 5
        pts = np.asarray(json.loads(row.kpts))
        assert pts.shape == (68, 3) and (pts[:, 2] == 1).all()
        # the square box is the landmark box padded 1.25x: the points span 1/1.25 of the crop on the longer side
        span = np.ptp(pts[:, :2], axis=0).max()
        assert abs(span - 64 / 1.25) < 1e-2
    # two worker processes write the same files as one: each face draws from its own seed
    write(tmp_path / "b", cfg, seed=0, workers=2)
    for path in sorted((tmp_path / "a").rglob("*.*")):
        assert path.read_bytes() == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes(), path
