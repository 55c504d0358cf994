"""The hand-built ThermEval world the zero-shot tests share: three blank 192x256 frames, their noses and three
samples with padded Person boxes."""

import cv2
import numpy as np
import pandas as pd
import pytest


@pytest.fixture()
def thermeval(tmp_path):
    raw, prepared = tmp_path / "raw", tmp_path / "prepared"
    (raw / "images").mkdir(parents=True)
    prepared.mkdir()
    for name in ("a", "b", "c"):
        cv2.imwrite(str(raw / "images" / f"{name}.png"), np.zeros((256, 192), np.uint8))
    pd.DataFrame({
        "image_file": ["images/a.png", "images/b.png", "images/c.png"],
        "annotation_file": [2, 2, 1], "image_id": [1, 2, 1],
        "split": ["test", "test", "train"],
        "noses": ["[[50, 50], [120, 60]]", "[[30, 200]]", "[[90, 90]]"],
        "persons": ["[]", "[]", "[]"],
    }).to_csv(prepared / "frames.csv", index=False)
    # Padded boxes (x1.25 of Person boxes 40x80 centred at (100,100) / (60,140)): 50x100.
    pd.DataFrame({
        "sample_id": ["s1", "s2", "s3"], "split": ["train", "test", "test"],
        "image_file": ["images/c.png", "images/a.png", "images/b.png"],
        "crop_path": ["crops/s1.png", "crops/s2.png", "crops/s3.png"], "nose_x": [128.0] * 3, "nose_y": [128.0] * 3,
        "frame_nose_x": [100.0, 100.0, 60.0], "frame_nose_y": [100.0, 104.0, 140.0],
        "box_x0": [75.0, 75.0, 35.0], "box_y0": [50.0, 50.0, 90.0], "box_w": [50.0] * 3, "box_h": [100.0] * 3,
        "person_x0": [80.0, 80.0, 40.0], "person_y0": [60.0, 60.0, 100.0], "person_w": [40.0] * 3,
        "person_h": [80.0] * 3,
    }).to_csv(prepared / "samples.csv", index=False)
    return raw, prepared
