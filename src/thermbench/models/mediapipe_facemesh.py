"""MediaPipe FaceMesh (legacy solutions API of mediapipe==0.10.21, whose wheel ships the detector and mesh models).

Full frame: face detection + 478-point mesh for up to `max_num_faces` faces. Crop protocol: each person box is padded
x1.25 and resampled to the 256x256 crop the data contract defines, FaceMesh runs on that crop (one face), and the
points are mapped back to frame pixels.

Pixel centres: MediaPipe's normalised landmarks times the image size are continuous coordinates (pixel i covers
[i, i+1)), the project's convention, so no shift is applied.
"""

from __future__ import annotations

import numpy as np

from thermbench.core import crops
from thermbench.models.landmarker import Prediction, to_bgr, with_noses

CROP_SIZE = (256, 256)
PERSON_PAD = 1.25


class MediaPipeFaceMesh:
    schema = "mediapipe478_nose"
    num_keypoints = 478

    def __init__(self, max_num_faces: int = 3, min_detection_confidence: float = 0.5, nose: str = "anatomical"):
        from mediapipe.python.solutions.face_mesh import FaceMesh

        self.nose = nose
        kwargs = dict(static_image_mode=True, refine_landmarks=True, min_detection_confidence=min_detection_confidence)
        self.frame_mesh = FaceMesh(max_num_faces=max_num_faces, **kwargs)
        self.crop_mesh = FaceMesh(max_num_faces=1, **kwargs)

    @classmethod
    def from_params(cls, cfg: dict, max_num_faces: int | None = None, nose: str = "anatomical"
                    ) -> "MediaPipeFaceMesh":
        """`max_num_faces` overrides the configured count (the blog's part 1 uses 1)."""
        faces = cfg["max_num_faces"] if max_num_faces is None else max_num_faces
        return cls(faces, cfg["min_detection_confidence"], nose)

    @staticmethod
    def _landmarks(mesh, image: np.ndarray) -> np.ndarray:
        """(F, 478, 2) in the image's pixels (gray and BGR are equal for thermal, so BGR->RGB is a plain flip)."""
        rgb = np.ascontiguousarray(to_bgr(image)[..., ::-1])
        result = mesh.process(rgb)
        h, w = rgb.shape[:2]
        faces = [[(p.x * w, p.y * h) for p in face.landmark] for face in result.multi_face_landmarks or []]
        return np.asarray(faces, dtype=np.float64).reshape(-1, 478, 2)

    def predict(self, image: np.ndarray, boxes=None) -> Prediction:
        """No boxes: faces in the whole frame. Person boxes (xyxy frame px): one crop each, at most one face each."""
        if boxes is None:
            kpts = self._landmarks(self.frame_mesh, image)
        else:
            found = []
            for x0, y0, x1, y1 in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
                box = crops.scale_box(x0, y0, x1 - x0, y1 - y0, PERSON_PAD)
                face = self._landmarks(self.crop_mesh, crops.crop(np.asarray(image), box, CROP_SIZE))
                found += [crops.to_frame(f, box, CROP_SIZE) for f in face]
            kpts = np.asarray(found, dtype=np.float64).reshape(-1, 478, 2)
        # FaceMesh reports no per-landmark confidence.
        return with_noses(kpts, np.full(kpts.shape[:2], np.nan), self.schema, self.nose)
