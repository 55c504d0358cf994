"""QA helpers on hand-built inputs (no MediaPipe needed)."""

import cv2
import numpy as np
import pandas as pd
import pytest

from thermbench.core.io import InputError
from thermbench.core.keypoints import load_schema
from thermbench.datasets import qa
from thermbench.datasets.synth.face import base_vertices
from thermbench.datasets.synth.meta import read_meta


def frontal_landmarks(scale=200.0, centre=(256.0, 256.0)) -> np.ndarray:
    """iBUG-68 points of the base mesh seen frontally, in px."""
    idx = load_schema("mediapipe478_to_ibug68")["index"]
    return base_vertices()[idx, :2] * scale + np.asarray(centre)


def test_region_masks_sit_where_they_should():
    lm = frontal_landmarks()
    masks = qa.region_masks((512, 512), lm)
    assert set(masks) == set(qa.MASKS) and all(m.any() for m in masks.values())
    for k, name in ((39, "canthus_right"), (42, "canthus_left")):
        x, y = np.round(lm[k]).astype(int)
        assert masks[name][y, x]
    x, y = np.round(lm[30]).astype(int)
    assert masks["nose_tip"][y, x]
    ys, _ = np.nonzero(masks["forehead"])
    assert ys.max() < lm[17:27, 1].min()  # the forehead band lies above the brows
    overlap = sum(m.astype(int) for m in masks.values())
    assert overlap.max() == 1  # regions are disjoint


def test_order_statistic_on_a_painted_face():
    lm = frontal_landmarks()
    masks = qa.region_masks((512, 512), lm)
    temp = np.full((512, 512), 33.0)
    temp[masks["canthus_right"]] = 36.0
    temp[masks["canthus_left"]] = 34.0  # the warmer canthus counts
    temp[masks["nose_tip"]] = 30.0
    means = qa.region_means(temp, lm)
    assert means == {"canthi": 36.0, "nose_tip": 30.0, "forehead": 33.0, "cheeks": 33.0, "lips": 33.0}
    assert qa.canthi_warmest_nose_coolest(means)
    temp[masks["forehead"]] = 36.5  # forehead warmer than the canthi
    assert not qa.canthi_warmest_nose_coolest(qa.region_means(temp, lm))
    temp[masks["forehead"]] = 33.0
    temp[masks["lips"]] = 29.0  # lips cooler than the nose tip
    assert not qa.canthi_warmest_nose_coolest(qa.region_means(temp, lm))


def test_select_frontal():
    meta = pd.DataFrame({"id": ["000003", "000001", "000002", "000000"], "yaw": [10.0, -30.0, 31.0, 0.0],
                         "face_width_px": [200, 128, 300, 127]})
    assert qa.select_frontal(meta, 30, 128, 10)["id"].tolist() == ["000001", "000003"]
    assert qa.select_frontal(meta, 30, 128, 1)["id"].tolist() == ["000001"]


def test_bad_inputs(tmp_path):
    with pytest.raises(InputError, match="synth_meta.csv: missing"):
        read_meta(tmp_path)
    pd.DataFrame({"id": ["000000"], "yaw": [50.0], "face_width_px": [200.0], "glasses": [0]}).to_csv(
        tmp_path / "synth_meta.csv", index=False)
    with pytest.raises(InputError, match="no render"):
        qa.run(tmp_path, qa.QAConfig(max_images=5, max_yaw=30, min_face_px=128, detection_confidence=0.5, examples=1,
                                   oracle_max_images=1))


def test_summaries_and_figure_on_a_tiny_world(tmp_path):
    from thermbench.datasets import qa_plots
    from thermbench.datasets.raw import write_synthetic

    write_synthetic("tfake", tmp_path / "tfake", {"num_images": 2, "image_size": 128, "face_width_px": [50, 60],
                                                  "max_pose": [30, 10, 10], "blur_px": 1.0}, seed=1)
    write_synthetic("thermeval", tmp_path / "thermeval",
                    {"frames_file1": 2, "frames_file2": 1, "blur_px": 0.7, "face_width_px": [20, 30],
                     "people_probs": [0.0, 1.0, 0.0, 0.0]}, seed=1)
    write_synthetic("charlotte", tmp_path / "charlotte",
                    {"subjects": 1, "images_per_subject": 2, "median_width_px": 200}, seed=1)
    summary = qa.thermeval_summary(tmp_path / "thermeval")
    assert summary["file1"]["frames"] == 2 and summary["file2"]["frames"] == 1
    assert summary["file1"]["Person"] == 2 and summary["file2"]["Person"] == 1  # one person per frame
    assert qa.charlotte_summary(tmp_path / "charlotte")["images"] == 2
    fig = qa_plots.examples_figure(tmp_path / "tfake", tmp_path / "thermeval", tmp_path / "charlotte", 2)
    assert "SYNTHETIC data" in fig._suptitle.get_text()
    image_axes = [ax for ax in fig.axes if ax.get_xlabel() == "x (px)"]
    assert len(image_axes) == 8 and all(ax.get_ylabel() == "y (px)" for ax in image_axes)


def test_dlib_oracle_scores_its_own_landmarks_and_misses_a_blank_render(tmp_path):
    from matplotlib import cbook

    from thermbench.models.dlib68 import Dlib68

    bgr = cv2.resize(cv2.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)), (256, 300))
    lm = Dlib68("hog", 0).predict(bgr).keypoints[0]
    for name, image, points in (("000000", bgr, lm), ("000001", np.zeros_like(bgr), lm)):
        cv2.imwrite(str(tmp_path / f"{name}.png"), image)
        np.savetxt(tmp_path / f"{name}_ldmks.txt", np.vstack([points, points[:2]]))
    table = pd.DataFrame({"id": ["000000", "000001"], "rgb_detected": [True, False], "nme_io": [0.02, np.nan]})
    out = qa.dlib_oracle(tmp_path, table, max_images=2)
    assert out["images"] == 2 and out["dlib_hog"]["rgb_detection_rate"] == 0.5
    assert out["dlib_hog"]["nme_io_median"] < 1e-3            # its own points, refound on the same image
    assert out["mediapipe_same_images"] == {"rgb_detection_rate": 0.5, "nme_io_median": 0.02, "nme_io_mean": 0.02}
