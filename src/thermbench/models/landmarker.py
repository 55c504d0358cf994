"""What every landmark model runner returns, how a nose centre is defined, and the one pixel-centre convention.

Pixel centres: every adapter returns, and every ground-truth file holds, continuous pixel coordinates in which pixel i
covers [i, i+1), so its centre is i + 0.5 (core/crops.py, COCO boxes). Tools that index pixel centres at integers
(cv2 warps, rtmlib, Sapiens2's UDP codec, dlib) get INTEGER_CENTRE_SHIFT subtracted on the way in and added on the
way out; MediaPipe's normalised landmarks times the image size are already continuous.

Nose centres: "anatomical" = the project's nose-base arc per schema (`nose_centre` in the schema JSON); "blog" = each
model's definition in the blog's run_all.py (docs/sources.md, part 1), listed in BLOG_NOSE_CENTRE.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from thermbench.core.keypoints import load_schema

INTEGER_CENTRE_SHIFT = 0.5  # continuous coordinate of the centre of pixel 0

# The blog's per-model nose centre (run_all.py@a442455); every group has equal size, so the mean of the means is
# the plain mean of the listed points.
BLOG_NOSE_CENTRE = {
    "sapiens308": [182, 183, 185, 186],   # inner/outer corners of both nostrils, by name (:57-60, 118-121)
    "coco_wholebody133": [55, 57],        # midpoint of 55 and 57 (:53-54)
    "mediapipe478_nose": [102, 49, 48, 115, 331, 279, 278, 344],  # mean of the two nostril means (:204 ff.)
    "ibug68": [32, 34],                   # not in the blog: iBUG 32/34 are COCO-WholeBody 55/57, its DWPose pair
    "facesynthetics70": [32, 34],         # not in the blog: the iBUG pair, FaceSynthetics 0-67 being iBUG-68
}
NOSE_DEFINITIONS = ("anatomical", "blog")
# TFAN's points by n_landmarks (models/tfan_landmarker.py)
TFAN_SCHEMAS = {70: "facesynthetics70", 478: "mediapipe478_nose"}


class Prediction(NamedTuple):
    keypoints: np.ndarray  # (P, K, 2) frame px, one row per detected person/face
    scores: np.ndarray     # (P, K) the model's per-keypoint confidence
    noses: np.ndarray      # (P, 2) the model's nose centre (mean of its nostril set), frame px

    @classmethod
    def empty(cls, num_keypoints: int) -> "Prediction":
        return cls(np.zeros((0, num_keypoints, 2)), np.zeros((0, num_keypoints)), np.zeros((0, 2)))


def nose_indices(schema: str, definition: str = "anatomical") -> list[int]:
    if definition == "anatomical":
        return load_schema(schema)["nose_centre"]
    if definition == "blog":
        return BLOG_NOSE_CENTRE[schema]
    raise ValueError(f"unknown nose definition '{definition}' (one of {', '.join(NOSE_DEFINITIONS)})")


def nose_note(schema: str) -> str:
    """A schema's anatomical nose centre in words for the reports: its indices and why (the schema's own note)."""
    s = load_schema(schema)
    return f"mean of {schema} points {', '.join(map(str, s['nose_centre']))} ({s['nose_centre_note']})"


def with_noses(keypoints: np.ndarray, scores: np.ndarray, schema: str, definition: str = "anatomical") -> Prediction:
    """Attach nose centres: the mean of the schema's nose-centre indices under `definition`."""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    index = nose_indices(schema, definition)
    noses = keypoints[:, index].mean(axis=1) if len(keypoints) else np.zeros((0, 2))
    return Prediction(keypoints, np.asarray(scores, dtype=np.float64), noses)


def to_bgr(image: np.ndarray) -> np.ndarray:
    """8-bit gray thermal frame -> 3-channel BGR (the colour models' input); BGR passes through."""
    image = np.asarray(image)
    return np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image
