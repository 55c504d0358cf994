"""The base face mesh: MediaPipe FaceMesh (478 points) fitted once to `skimage.data.astronaut()`.

The fitted vertices and the triangles are shipped as `base_mesh.npz` next to this module, so synthesis needs
neither MediaPipe's detector nor its graph at run time and gives the same geometry on every machine.
Regenerate with `python -m thermbench.datasets.synth.mesh` (needs mediapipe; the test checks the shipped file).

Coordinates of the shipped vertices are pixels of the texture image (`texture()`, 512x512, x right, y down) and
MediaPipe's z on the same scale (negative = towards the camera).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

MESH_FILE = Path(__file__).with_name("base_mesh.npz")
TEXTURE_SIZE = 512
# Square around the astronaut's face in the 512x512 photo; upsampled so the mesh fit and the texture are sharper.
CROP = (123, 25, 200)  # x0, y0, side

# Closed loops (MediaPipe indices) whose interiors the tesselation leaves open; they are filled with fans.
RIGHT_EYE_LOOP = [33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7]
LEFT_EYE_LOOP = [263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249]
INNER_LIP_LOOP = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95]
RIGHT_IRIS_CENTRE, LEFT_IRIS_CENTRE = 468, 473


@dataclass(frozen=True)
class BaseMesh:
    vertices: np.ndarray  # (478, 3) float64, texture px
    triangles: np.ndarray  # (T, 3) int, tesselation triangles
    eye_fill: np.ndarray  # (E, 3) int, fans closing both eye openings
    mouth_fill: np.ndarray  # (M, 3) int, fan closing the mouth opening


def texture() -> np.ndarray:
    """RGB uint8 texture (512x512): the astronaut's face square, upsampled."""
    from skimage import data

    x0, y0, side = CROP
    crop = data.astronaut()[y0 : y0 + side, x0 : x0 + side]
    return cv2.resize(crop, (TEXTURE_SIZE, TEXTURE_SIZE), interpolation=cv2.INTER_CUBIC)


def triangles_from_edges(edges) -> np.ndarray:
    """Triangles of a triangulated surface given as an edge set: every 3-clique of the edge graph."""
    neighbours: dict[int, set[int]] = {}
    for a, b in edges:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    tris = {tuple(sorted((a, b, c))) for a, b in edges for c in neighbours[a] & neighbours[b]}
    return np.array(sorted(tris), dtype=np.int32)


def fan(loop: list[int]) -> np.ndarray:
    return np.array([[loop[0], loop[i], loop[i + 1]] for i in range(1, len(loop) - 1)], dtype=np.int32)


def fit_base_mesh() -> dict:
    """Run MediaPipe FaceMesh on the texture; return the arrays stored in `base_mesh.npz`."""
    import mediapipe as mp

    image = texture()
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1) as fm:
        result = fm.process(image)
    if not result.multi_face_landmarks:
        raise RuntimeError("MediaPipe found no face in skimage.data.astronaut()")
    lm = np.array([[p.x, p.y, p.z] for p in result.multi_face_landmarks[0].landmark]) * TEXTURE_SIZE
    tris = triangles_from_edges(mp.solutions.face_mesh.FACEMESH_TESSELATION)
    return {"vertices": lm.astype(np.float32), "triangles": tris}


@lru_cache(maxsize=1)
def load() -> BaseMesh:
    with np.load(MESH_FILE) as z:
        vertices, triangles = z["vertices"].astype(np.float64), z["triangles"].astype(np.int64)
    eye_fill = np.concatenate([fan(RIGHT_EYE_LOOP), fan(LEFT_EYE_LOOP)])
    return BaseMesh(vertices, triangles, eye_fill, fan(INNER_LIP_LOOP))


if __name__ == "__main__":
    arrays = fit_base_mesh()
    with open(MESH_FILE, "wb") as f:
        np.savez_compressed(f, **arrays)
    print(f"wrote {MESH_FILE}: {len(arrays['vertices'])} vertices, {len(arrays['triangles'])} triangles")
