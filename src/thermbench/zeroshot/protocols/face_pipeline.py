"""Blog part 3's detector-upstream pipelines with the models in the mediapipe 0.10.21 wheel (docs/sources.md).

- A: the face landmarker on the full frame (up to 4 faces, as hier_yolo_thermeval.py's landmarker).
- B: BlazeFace full range (the wheel's `face_detection_full_range`, default 0.5 threshold) -> each face box cropped
  as the blog's `crop_resize` (side 1.25 max(w, h) about the box centre, truncated to whole pixels and clipped at the
  frame, resized to 256x256 ignoring aspect) -> the landmarker on the crop -> mapped back.
- The same two with the GT Person box upstream: each Person box gets the same crop, then A or B runs inside it.

The blog runs the Tasks API `face_landmarker.task`, which is not in the wheel; the landmarker here is the wheel's
FaceMesh (the legacy solution with the same face-mesh topology, refine_landmarks for the 478 points).
All outputs are continuous frame px (pixel i covers [i, i+1)): cv2.resize and MediaPipe both use that convention.
"""

from __future__ import annotations

import cv2
import numpy as np

from thermbench.models.landmarker import to_bgr

CROP_SIZE = 256
PAD = 0.25               # crop side = max(w, h) x (1 + PAD)
LANDMARKER_FACES = 4     # num_faces of the blog's part-3 landmarker
PIPELINES = ("A", "B", "person+A", "person+B")


def blog_crop(image: np.ndarray, box_xywh, pad: float = PAD, size: int = CROP_SIZE):
    """The blog's crop_resize: (size x size crop, origin (x0, y0), source size (w, h)), or None for an empty crop."""
    x, y, w, h = (float(v) for v in box_xywh)
    side = max(w, h) * (1 + pad)
    cx, cy = x + w / 2, y + h / 2
    height, width = image.shape[:2]
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x1, y1 = int(min(width, x0 + side)), int(min(height, y0 + side))
    if x1 <= x0 or y1 <= y0:
        return None
    crop = cv2.resize(np.ascontiguousarray(image[y0:y1, x0:x1]), (size, size))
    return crop, np.array([x0, y0], dtype=np.float64), np.array([x1 - x0, y1 - y0], dtype=np.float64)


def crop_to_frame(points: np.ndarray, origin: np.ndarray, source: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    return np.asarray(points, dtype=np.float64) * (source / size) + origin


class MediaPipeParts:
    """BlazeFace full range + FaceMesh from the wheel, on 8-bit gray or BGR images."""

    def __init__(self, min_detection_confidence: float = 0.5, landmarker_faces: int = LANDMARKER_FACES):
        # here, not at the top: mediapipe takes seconds to import, and only blog part 3 runs these models
        from mediapipe.python.solutions.face_detection import FaceDetection
        from mediapipe.python.solutions.face_mesh import FaceMesh

        self.detector = FaceDetection(model_selection=1, min_detection_confidence=min_detection_confidence)
        self.mesh = FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=landmarker_faces,
                             min_detection_confidence=min_detection_confidence)

    @staticmethod
    def _rgb(image: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(to_bgr(image)[..., ::-1])

    def faces(self, image: np.ndarray) -> np.ndarray:
        """BlazeFace boxes (F, 4) as (x, y, w, h) in the image's px."""
        rgb = self._rgb(image)
        h, w = rgb.shape[:2]
        found = self.detector.process(rgb).detections or []
        boxes = [(b.xmin * w, b.ymin * h, b.width * w, b.height * h)
                 for b in (d.location_data.relative_bounding_box for d in found)]
        return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)

    def landmarks(self, image: np.ndarray) -> np.ndarray:
        """FaceMesh faces (F, 478, 2) in the image's px."""
        rgb = self._rgb(image)
        h, w = rgb.shape[:2]
        result = self.mesh.process(rgb)
        faces = [[(p.x * w, p.y * h) for p in face.landmark] for face in result.multi_face_landmarks or []]
        return np.asarray(faces, dtype=np.float64).reshape(-1, 478, 2)

    def close(self) -> None:
        self.detector.close()
        self.mesh.close()


def _in_crops(parts: MediaPipeParts, image: np.ndarray, boxes: np.ndarray, then_detect: bool) -> np.ndarray:
    """Landmarks of every face found in the blog crop of each box (B first detects faces inside that crop)."""
    found = []
    for box in boxes:
        cut = blog_crop(image, box)
        if cut is None:
            continue
        crop, origin, source = cut
        if then_detect:
            found.append(crop_to_frame(_in_crops(parts, crop, parts.faces(crop), False), origin, source))
        else:
            found.append(crop_to_frame(parts.landmarks(crop), origin, source))
    return np.concatenate(found).reshape(-1, 478, 2) if found else np.zeros((0, 478, 2))


def run_pipeline(parts: MediaPipeParts, name: str, image: np.ndarray, person_boxes_xyxy) -> np.ndarray:
    """(F, 478, 2) frame-px landmarks of pipeline `name` on one frame."""
    persons = np.asarray(person_boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    persons = np.concatenate([persons[:, :2], persons[:, 2:] - persons[:, :2]], axis=1)
    if name == "A":
        return parts.landmarks(image)
    if name == "B":
        return _in_crops(parts, image, parts.faces(image), False)
    if name == "person+A":
        return _in_crops(parts, image, persons, False)
    if name == "person+B":
        return _in_crops(parts, image, persons, True)
    raise ValueError(f"unknown pipeline '{name}' (one of {', '.join(PIPELINES)})")
