"""What every zero-shot adapter returns, and how a model's own nose-centre definition is applied."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from thermbench.core.keypoints import load_schema


class WeightsUnavailable(Exception):
    """The model's weights are not on this machine; the message says how to get them."""


class Prediction(NamedTuple):
    keypoints: np.ndarray  # (P, K, 2) frame px, one row per detected person/face
    scores: np.ndarray     # (P, K) the model's per-keypoint confidence
    noses: np.ndarray      # (P, 2) the model's nose centre (mean of its nostril set), frame px

    @classmethod
    def empty(cls, num_keypoints: int) -> "Prediction":
        return cls(np.zeros((0, num_keypoints, 2)), np.zeros((0, num_keypoints)), np.zeros((0, 2)))


def with_noses(keypoints: np.ndarray, scores: np.ndarray, schema: str) -> Prediction:
    """Attach nose centres: the mean of the schema's `nose_centre` indices."""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    index = load_schema(schema)["nose_centre"]
    noses = keypoints[:, index].mean(axis=1) if len(keypoints) else np.zeros((0, 2))
    return Prediction(keypoints, np.asarray(scores, dtype=np.float64), noses)


def to_bgr(image: np.ndarray) -> np.ndarray:
    """8-bit gray thermal frame -> 3-channel BGR (the colour models' input); BGR passes through."""
    image = np.asarray(image)
    return np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image
