"""One rendered person with its landmarks: the step every dataset writer shares."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thermbench.core.keypoints import load_schema
from thermbench.datasets.synth import scene
from thermbench.datasets.synth.face import Expression, Identity, build_parts, sample_expression, sample_identity
from thermbench.datasets.synth.render import Camera, Pose, Render, draw_glasses, render


@dataclass
class Shot:
    render: Render
    points70: np.ndarray  # (70, 2) image px: iBUG-68 then right, left pupil
    visible70: np.ndarray  # (70,) bool, from the z-buffer


def mapping70() -> list[int]:
    table = load_schema("mediapipe478_to_ibug68")
    return list(table["index"]) + list(table["pupils"])


def random_light(rng: np.random.Generator) -> np.ndarray:
    """Unit direction the light travels (mostly from the camera side, so faces are lit)."""
    d = np.array([rng.uniform(-0.6, 0.6), rng.uniform(-0.2, 0.6), 1.0])
    return d / np.linalg.norm(d)


def shoot(identity: Identity, expr: Expression, pose: Pose, camera: Camera, rng: np.random.Generator,
          with_torso: bool = True) -> Shot:
    parts = build_parts(identity, expr, with_torso)
    out = render(parts, pose, camera, identity.thermal.ambient, random_light(rng))
    index = mapping70()
    points, visible = out.points[index], out.visible[index]
    if identity.glasses:
        draw_glasses(out, points[:68], visible[:68], identity.thermal.ambient, rng.uniform(0, 0.25, 3))
    return Shot(out, points, visible)


def centred_face(rng: np.random.Generator, size: int, face_width_px: tuple, max_pose: tuple
                 ) -> tuple[Identity, Expression, Pose, Shot]:
    """A random identity, expression and pose (|yaw|, |pitch|, |roll| within `max_pose`), shot as a face of frontal
    width within `face_width_px` near the centre of a square `size` image: the T-FAKE framing."""
    identity, expr = sample_identity(rng), sample_expression(rng)
    pose = scene.sample_pose(rng, *max_pose)
    width = rng.uniform(*face_width_px)
    centre = (size / 2 + rng.normal(0, size * 0.03), size / 2 - 0.1 * width + rng.normal(0, size * 0.03))
    return identity, expr, pose, shoot(identity, expr, pose, Camera(width, centre, (size, size)), rng)
