"""Rasteriser: painter's algorithm (cv2.fillConvexPoly of triangle ids, back to front) plus per-pixel barycentric
interpolation of vertex attributes. One pass gives the RGB image, the °C map, region ids, depth and the
landmark visibility, so the RGB and thermal images are pixel-aligned by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from thermbench.datasets.synth import mesh
from thermbench.datasets.synth.face import GLASSES, HAIR, Part, skin_rgb
from thermbench.datasets.synth.thermal import view_emissivity

SUBPIXEL_BITS = 2
GRAIN_SIZE = 256
# Columns of the per-vertex attribute matrix that `render` interpolates.
A_RGB, A_SHADE, A_TEMP, A_U, A_V, A_HAIR, A_BEARD, A_DEPTH, A_PLAIN = slice(0, 3), 3, 4, 5, 6, 7, 8, 9, 10
VISIBILITY_TOL = 0.04  # head units: a vertex is occluded when a surface this much nearer covers its pixel


@dataclass
class Pose:
    """Degrees. Positive yaw turns the nose towards the image right (the subject's right cheek to the camera),
    positive pitch tilts the chin down, positive roll turns the face clockwise in the image."""

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0


@dataclass
class Camera:
    scale: float  # px per head unit (= frontal face width in px)
    centre: tuple[float, float]  # image position of the head origin
    shape: tuple[int, int]  # (H, W)


@dataclass
class Render:
    rgb: np.ndarray  # (H, W, 3) float 0..1, zeros outside the mask
    temp: np.ndarray  # (H, W) float32 °C, zeros outside the mask
    region: np.ndarray  # (H, W) uint8, 0 = background
    mask: np.ndarray  # (H, W) bool
    points: np.ndarray  # (478, 2) image px of the face vertices
    visible: np.ndarray  # (478,) bool


def rotation(pose: Pose) -> np.ndarray:
    y, p, r = np.radians([pose.yaw, pose.pitch, pose.roll])
    ry = np.array([[np.cos(y), 0, -np.sin(y)], [0, 1, 0], [np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


def vertex_normals(v: np.ndarray, tris: np.ndarray) -> np.ndarray:
    n = np.cross(v[tris[:, 1]] - v[tris[:, 0]], v[tris[:, 2]] - v[tris[:, 0]])
    out = np.zeros_like(v)
    for k in range(3):
        np.add.at(out, tris[:, k], n)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def rasterise(xy: np.ndarray, z: np.ndarray, tris: np.ndarray, layer: np.ndarray, shape) -> np.ndarray:
    """Triangle id per pixel (-1 = empty). Back faces are culled; lower layers first, then far to near."""
    a, b, c = xy[tris[:, 0]], xy[tris[:, 1]], xy[tris[:, 2]]
    cross = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    front = np.nonzero(cross < 0)[0]  # y points down, so camera-facing triangles wind negatively
    order = front[np.lexsort((-z[tris[front]].mean(1), layer[front]))]
    ids = np.full(shape, -1, np.int32)
    pts = np.round(xy * (1 << SUBPIXEL_BITS)).astype(np.int32)
    for t in order:
        cv2.fillConvexPoly(ids, pts[tris[t]], int(t), lineType=cv2.LINE_8, shift=SUBPIXEL_BITS)
    return ids


def interpolate(ids: np.ndarray, xy: np.ndarray, tris: np.ndarray, attrs: np.ndarray):
    """Barycentric interpolation of per-vertex `attrs` (N, C) at covered pixels; returns (ys, xs, values)."""
    ys, xs = np.nonzero(ids >= 0)
    t = tris[ids[ys, xs]]
    p0, p1, p2 = xy[t[:, 0]], xy[t[:, 1]], xy[t[:, 2]]
    det = (p1[:, 0] - p0[:, 0]) * (p2[:, 1] - p0[:, 1]) - (p2[:, 0] - p0[:, 0]) * (p1[:, 1] - p0[:, 1])
    det = np.where(np.abs(det) < 1e-9, 1e-9, det)
    dx, dy = xs - p0[:, 0], ys - p0[:, 1]
    b1 = (dx * (p2[:, 1] - p0[:, 1]) - (p2[:, 0] - p0[:, 0]) * dy) / det
    b2 = ((p1[:, 0] - p0[:, 0]) * dy - dx * (p1[:, 1] - p0[:, 1])) / det
    bary = np.clip(np.stack([1 - b1 - b2, b1, b2], 1), 0, 1)  # pixel centres just outside a sliver triangle
    bary /= bary.sum(1, keepdims=True)
    values = np.einsum("pk,pkc->pc", bary.astype(np.float32), attrs.astype(np.float32)[t])
    return ys, xs, values


def render(parts: list[Part], pose: Pose, camera: Camera, ambient: float, light: np.ndarray,
           body_yaw_share: float = 0.3) -> Render:
    """Render one person. parts[0] must be the face (478 MediaPipe vertices first)."""
    rot = rotation(pose)
    body_rot = rotation(Pose(yaw=pose.yaw * body_yaw_share))
    verts, tris, layers, regions, attrs, textured = [], [], [], [], [], []
    offset = 0
    for part in parts:
        v = part.vertices @ (body_rot if part.rigid_body else rot).T
        n = vertex_normals(v, part.triangles)
        lambert = np.clip(n @ -light, 0, 1)
        emis = view_emissivity(-n[:, 2])
        temp = ambient + (part.temp - ambient) * emis
        is_tex = part.uv is not None
        shade = 0.6 + 0.45 * lambert
        uv = part.uv if is_tex else np.zeros((len(v), 2))
        hair, beard, plain = (part.weights.get(k, np.zeros(len(v))) for k in ("hair", "beard", "plain"))
        attrs.append(np.column_stack([part.rgb, shade, temp, uv, hair, beard, v[:, 2], plain]))  # the A_* columns
        verts.append(v)
        tris.append(part.triangles + offset)
        layers.append(np.full(len(part.triangles), part.layer))
        regions.append(part.region)
        textured.append(np.full(len(part.triangles), is_tex))
        offset += len(v)
    v3 = np.concatenate(verts)
    tris, layers, regions, textured = map(np.concatenate, (tris, layers, regions, textured))
    attrs = np.concatenate(attrs)
    xy = v3[:, :2] * camera.scale + np.asarray(camera.centre)

    ids = rasterise(xy, v3[:, 2], tris, layers, camera.shape)
    ys, xs, val = interpolate(ids, xy, tris, attrs)
    h, w = camera.shape
    rgb = np.zeros((h, w, 3), np.float32)
    temp = np.zeros((h, w), np.float32)
    depth = np.full((h, w), np.inf, np.float32)
    region = np.zeros((h, w), np.uint8)
    tri_id = ids[ys, xs]
    flat = val[:, A_RGB] * val[:, A_SHADE, None]
    tex_px = textured[tri_id]
    if tex_px.any():
        t = val[tex_px]
        tint = t[:, A_RGB] / np.maximum(skin_rgb(), 1e-3)  # the identity's skin tone relative to the photo's
        colour = bilinear(_texture(), t[:, A_U], t[:, A_V]) * tint * t[:, A_SHADE, None]
        for column, strength in ((A_PLAIN, 1.0), (A_HAIR, 1.0), (A_BEARD, 0.85)):
            alpha = strength * t[:, column, None]
            colour = colour * (1 - alpha) + flat[tex_px] * alpha
        flat[tex_px] = colour
    hairy = (regions[tri_id] == HAIR) | (val[:, A_HAIR] > 0.5) | (val[:, A_BEARD] > 0.3)
    flat[hairy] *= _grain()[ys[hairy] % GRAIN_SIZE, xs[hairy] % GRAIN_SIZE, None]
    rgb[ys, xs] = np.clip(flat, 0, 1)
    temp[ys, xs] = val[:, A_TEMP]
    depth[ys, xs] = val[:, A_DEPTH]
    region[ys, xs] = regions[tri_id]

    face_xy, face_z = xy[: len(parts[0].vertices)], v3[: len(parts[0].vertices), 2]
    px = np.round(face_xy).astype(int)
    inside = (px[:, 0] >= 0) & (px[:, 0] < w) & (px[:, 1] >= 0) & (px[:, 1] < h)
    visible = np.zeros(len(face_xy), bool)
    visible[inside] = face_z[inside] <= depth[px[inside, 1], px[inside, 0]] + VISIBILITY_TOL
    return Render(rgb, temp, region, ids >= 0, face_xy, visible)


def bilinear(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Sample (H, W, C) `image` at float positions, clamped to the border."""
    h, w = image.shape[:2]
    x = np.clip(x, 0, w - 1.001)
    y = np.clip(y, 0, h - 1.001)
    x0, y0 = x.astype(int), y.astype(int)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    top = image[y0, x0] * (1 - fx) + image[y0, x0 + 1] * fx
    bottom = image[y0 + 1, x0] * (1 - fx) + image[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


@lru_cache(maxsize=1)
def _grain() -> np.ndarray:
    """Fixed strand-like brightness variation for hair and beard (vertical streaks)."""
    noise = np.random.default_rng(12345).normal(0, 1, (GRAIN_SIZE, GRAIN_SIZE)).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), sigmaX=0.7, sigmaY=4.0)
    return 1 + 0.24 * noise / noise.std()


@lru_cache(maxsize=1)
def _texture() -> np.ndarray:
    return mesh.texture().astype(np.float32) / 255


def draw_glasses(out: Render, points68: np.ndarray, visible68: np.ndarray, ambient: float, frame_rgb) -> None:
    """Eyeglasses in image space: tinted lenses and dark rims in RGB; in long-wave IR glass is opaque, so the
    lenses show near ambient (a little warmed by the face) and hide the eyes' heat."""
    h, w = out.mask.shape
    lens_mask = np.zeros((h, w), np.uint8)
    rim_mask = np.zeros((h, w), np.uint8)
    eye_width = np.linalg.norm(points68[45] - points68[36]) / 2.6
    thick = max(1, int(round(eye_width * 0.06)))
    centres = []
    for idx in (range(36, 42), range(42, 48)):
        idx = list(idx)
        if visible68[idx].mean() < 0.5:
            continue
        pts = points68[idx]
        c = pts.mean(0)
        ax = np.linalg.norm(pts[3] - pts[0]) * 0.8 + 1
        angle = np.degrees(np.arctan2(pts[3, 1] - pts[0, 1], pts[3, 0] - pts[0, 0]))
        box = ((float(c[0]), float(c[1])), (float(2 * ax), float(1.5 * ax * 0.75 + 2)), float(angle))
        cv2.ellipse(lens_mask, box, 1, -1)
        cv2.ellipse(rim_mask, box, 1, thick)
        centres.append(c)
    if len(centres) == 2:
        cv2.line(rim_mask, tuple(np.round(centres[0] + (centres[1] - centres[0]) * 0.3).astype(int)),
                 tuple(np.round(centres[0] + (centres[1] - centres[0]) * 0.7).astype(int)), 1, thick)
    lens, rim = lens_mask.astype(bool), rim_mask.astype(bool)
    out.rgb[lens] = out.rgb[lens] * 0.8 + 0.04
    out.rgb[rim] = np.asarray(frame_rgb)
    out.temp[lens] = ambient + 2.5
    out.temp[rim] = ambient + 4.0
    out.region[lens | rim] = GLASSES
    out.mask |= lens | rim
