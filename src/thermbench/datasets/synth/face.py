"""A synthetic head: the base mesh deformed by identity and expression, plus proxy parts (skull with hair, ears,
neck, torso) that the FaceMesh surface lacks. Everything is in head units: face width (MediaPipe 234 -> 454) = 1,
origin between those two points, x right, y down, z away from the camera.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from thermbench.datasets.synth import mesh
from thermbench.datasets.synth.thermal import ThermalLook, face_temperatures, sample_thermal_look

# Region ids follow FaceSynthetics' segmentation classes.
SKIN, EYE, EAR, MOUTH, NECK, HAIR, CLOTHING, GLASSES = 1, 3, 7, 9, 12, 13, 15, 16


@dataclass
class Part:
    """A triangle mesh with per-vertex attributes. Parts with a lower layer are drawn first (always behind)."""

    vertices: np.ndarray  # (N, 3) head units
    triangles: np.ndarray  # (T, 3), counter-clockwise seen from outside
    region: np.ndarray  # (T,) uint8 region id
    rgb: np.ndarray  # (N, 3) float 0..1
    temp: np.ndarray  # (N,) °C before view-angle emissivity
    layer: int = 0
    uv: np.ndarray | None = None  # (N, 2) texture px; textured parts take colour from the texture
    rigid_body: bool = False  # neck and torso: turn only a little with the head
    weights: dict = field(default_factory=dict)  # extra per-vertex weights (face: hair fringe, beard, plain skin)


@dataclass
class Identity:
    shape: dict
    skin_tint: np.ndarray
    hair_rgb: np.ndarray
    hairline: float  # y (head units) above which the face mesh is covered by a fringe
    hair_back: float  # z (head units) behind which the skull is hair
    beard: float  # 0 = none, up to 1 = full
    glasses: bool
    clothing_rgb: np.ndarray
    thermal: ThermalLook


@dataclass
class Expression:
    mouth_open: float = 0.0  # head units the jaw drops
    smile: float = 0.0
    eyes_closed: float = 0.0  # 0 open .. 1 closed


@lru_cache(maxsize=1)
def base_vertices() -> np.ndarray:
    """Base mesh in head units with the astronaut's small head roll removed."""
    v = mesh.load().vertices.copy()
    left, right = v[234], v[454]
    centre = (left + right) / 2
    width = np.linalg.norm(right[:2] - left[:2])
    angle = np.arctan2(right[1] - left[1], right[0] - left[0])
    c, s = np.cos(-angle), np.sin(-angle)
    v = (v - centre) / width
    x, y = v[:, 0].copy(), v[:, 1].copy()
    v[:, 0], v[:, 1] = c * x - s * y, s * x + c * y
    return v


@lru_cache(maxsize=1)
def face_triangles() -> tuple[np.ndarray, np.ndarray]:
    """Tesselation + eye and mouth fans, wound to face the camera in the base pose; and their region ids."""
    m = mesh.load()
    tris = np.concatenate([m.triangles, m.eye_fill, m.mouth_fill])
    v = base_vertices()
    normal_z = np.cross(v[tris[:, 1]] - v[tris[:, 0]], v[tris[:, 2]] - v[tris[:, 0]])[:, 2]
    tris = np.where((normal_z > 0)[:, None], tris[:, ::-1], tris)  # camera looks along +z: front faces have n_z < 0
    region = np.full(len(tris), SKIN, np.uint8)
    region[len(m.triangles) : len(m.triangles) + len(m.eye_fill)] = EYE
    region[len(m.triangles) + len(m.eye_fill) :] = MOUTH
    return tris, region


def sample_identity(rng: np.random.Generator) -> Identity:
    shape = {
        "scale": rng.uniform([0.9, 0.92, 0.85], [1.1, 1.08, 1.15]),
        "nose": rng.uniform(0.85, 1.2),
        "jaw": rng.uniform(0.9, 1.1),
        "bumps": rng.normal(0, 0.025, (4, 3)),
        "bump_at": rng.choice(468, 4, replace=False),
    }
    skin = np.array([1.0, 1.0, 1.0]) * rng.uniform(0.55, 1.15) * rng.uniform([0.95, 0.92, 0.88], [1.05, 1.03, 1.04])
    hair = rng.choice([[0.08, 0.06, 0.05], [0.25, 0.16, 0.09], [0.45, 0.33, 0.2], [0.6, 0.55, 0.5], [0.12, 0.1, 0.1]])
    clothing = rng.uniform(0.1, 0.9, 3)
    return Identity(
        shape=shape,
        skin_tint=skin,
        hair_rgb=np.asarray(hair) * rng.uniform(0.8, 1.2),
        hairline=rng.uniform(-0.6, -0.45),
        hair_back=rng.uniform(-0.1, 0.25),
        beard=float(rng.uniform(0.4, 1.0)) if rng.random() < 0.2 else 0.0,
        glasses=bool(rng.random() < 0.2),
        clothing_rgb=clothing,
        thermal=sample_thermal_look(rng),
    )


def sample_expression(rng: np.random.Generator) -> Expression:
    return Expression(
        mouth_open=float(rng.uniform(0.0, 0.12)) if rng.random() < 0.35 else 0.0,
        smile=float(rng.uniform(0.0, 0.05)) if rng.random() < 0.3 else 0.0,
        eyes_closed=float(rng.uniform(0.5, 1.0)) if rng.random() < 0.08 else 0.0,
    )


def _gauss(v: np.ndarray, centre: np.ndarray, sigma: float) -> np.ndarray:
    return np.exp(-np.sum((v - centre) ** 2, axis=-1) / (2 * sigma**2))


# Upper-lid vertices and the lower-lid vertices they close onto (right eye, then left eye).
UPPER_LID = [246, 161, 160, 159, 158, 157, 173, 466, 388, 387, 386, 385, 384, 398]
LOWER_LID = [7, 163, 144, 145, 153, 154, 155, 249, 390, 373, 374, 380, 381, 382]
IRIS = {468: range(468, 473), 473: range(473, 478)}


def deform(identity: Identity, expr: Expression) -> np.ndarray:
    """478 vertices of this identity with this expression (head units)."""
    v = base_vertices().copy()
    s = identity.shape
    nose_c = v[[4, 168]].mean(0)
    nose_w = _gauss(v[:, :2], nose_c[:2], 0.14)[:, None]
    v = v + nose_w * (v - nose_c) * (s["nose"] - 1)
    lower = np.clip((v[:, 1] - 0.2) / 0.3, 0, 1)
    v[:, 0] *= 1 + (s["jaw"] - 1) * lower
    for at, bump in zip(s["bump_at"], s["bumps"]):
        v = v + _gauss(v, base_vertices()[at], 0.25)[:, None] * bump
    v = v * s["scale"]

    mouth_y = v[[13, 14]].mean(0)[1]
    # The jaw drops below the lip gap, fading out towards the ears.
    jaw = np.clip((v[:, 1] - mouth_y) / 0.02, 0, 1) * np.clip(1 - (np.abs(v[:, 0]) - 0.3) / 0.2, 0, 1)
    v[:, 1] += expr.mouth_open * jaw
    for corner in (61, 291):
        w = _gauss(v[:, :2], v[corner, :2], 0.08)
        v[:, 0] += expr.smile * w * np.sign(v[corner, 0])
        v[:, 1] -= expr.smile * 0.6 * w
    if expr.eyes_closed:
        v[UPPER_LID] += expr.eyes_closed * (v[LOWER_LID] - v[UPPER_LID]) * 0.9
    return v


@lru_cache(maxsize=None)
def _unit_sphere(n_lat: int, n_lon: int) -> tuple[np.ndarray, np.ndarray]:
    lat = np.linspace(0, np.pi, n_lat + 1)
    lon = np.linspace(0, 2 * np.pi, n_lon, endpoint=False)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    unit = np.stack([np.sin(la) * np.cos(lo), -np.cos(la), np.sin(la) * np.sin(lo)], -1).reshape(-1, 3)
    tris = []
    for i in range(n_lat):
        for j in range(n_lon):
            a, b = i * n_lon + j, i * n_lon + (j + 1) % n_lon
            tris += [[a, a + n_lon, b], [b, a + n_lon, b + n_lon]]
    tris = np.array(tris)
    # Orient outwards (normal away from the centre); scaling by positive radii keeps the orientation.
    n = np.cross(unit[tris[:, 1]] - unit[tris[:, 0]], unit[tris[:, 2]] - unit[tris[:, 0]])
    outward = np.sum(n * unit[tris].mean(1), 1) > 0
    return unit, np.where(outward[:, None], tris, tris[:, ::-1])


def _ellipsoid(centre, radii, n_lat=14, n_lon=24) -> tuple[np.ndarray, np.ndarray]:
    unit, tris = _unit_sphere(n_lat, n_lon)
    return np.asarray(centre) + unit * np.asarray(radii), tris


# Face-outline vertices on the cheeks and jaw, both sides (MediaPipe indices).
OUTLINE_SIDES = [234, 93, 132, 58, 172, 454, 323, 361, 288, 397]


@lru_cache(maxsize=1)
def skin_rgb() -> np.ndarray:
    """Median texture colour just inside the face outline, the base colour for untextured skin, so the skull,
    jaw and neck meet the textured face without a visible seam."""
    tex = mesh.texture().astype(np.float64) / 255
    v = mesh.load().vertices[:, :2]
    centre = v[[234, 454]].mean(0)
    pts = (centre + 0.85 * (v[OUTLINE_SIDES] - centre)).round().astype(int)
    return np.median(np.array([tex[y - 2 : y + 3, x - 2 : x + 3].reshape(-1, 3) for x, y in pts]).reshape(-1, 3), 0)


def _solid(verts: np.ndarray, tris: np.ndarray, region: int, rgb: np.ndarray, temp: float, **kw) -> Part:
    """A part of one region, colour and temperature."""
    n = len(verts)
    return Part(verts, tris, np.full(len(tris), region, np.uint8), np.tile(rgb, (n, 1)), np.full(n, temp), **kw)


def build_parts(identity: Identity, expr: Expression, with_torso: bool = True) -> list[Part]:
    """All parts of one person; the face part keeps the 478 MediaPipe vertices first, in order."""
    t = identity.thermal
    tris, region = face_triangles()
    skin = np.clip(skin_rgb() * identity.skin_tint, 0, 1)
    base = base_vertices()
    # Hair fringe over the top of the forehead, beard over the lower face (not the lips).
    hair_w = np.clip((identity.hairline + 0.03 - base[:, 1]) / 0.06, 0, 1)
    lips = _gauss(base[:, :2], base[[13, 14]].mean(0)[:2], 0.09)
    beard_w = (identity.beard * np.clip((base[:, 1] - 0.2) / 0.08, 0, 1)
               * np.clip((np.abs(base[:, 0]) - 0.05) / 0.05, 0, 1) * (1 - np.clip(lips * 3, 0, 1)))
    face_t = face_temperatures(base, t)
    face_t = face_t + hair_w * (t.hair - face_t) + beard_w * (t.beard - face_t)
    face_rgb = np.where((hair_w + beard_w)[:, None] > 0, identity.hair_rgb, skin)
    # Towards the ears the photo shows the astronaut's hair and the background: fade to plain skin there.
    plain_w = np.clip((np.abs(base[:, 0]) - 0.36) / 0.1, 0, 1)
    face = Part(deform(identity, expr), tris, region, face_rgb, face_t, layer=1, uv=mesh.load().vertices[:, :2].copy(),
                weights={"hair": hair_w, "beard": beard_w, "plain": plain_w})

    sx, sy, sz = identity.shape["scale"]
    sv, st = _ellipsoid([0.0, -0.2 * sy, 0.08 * sz], [0.56 * sx, 0.66 * sy, 0.62 * sz])
    # Hair on the crown (from the top of the face mesh up), the back, and the sides above the ears.
    is_hair = ((sv[:, 1] < -0.42 * sy) | (sv[:, 2] > identity.hair_back)
               | ((sv[:, 1] < -0.2) & (sv[:, 2] > -0.05)))
    skull_region = np.where(is_hair[st].mean(1) > 0.5, HAIR, SKIN).astype(np.uint8)
    skull_rgb = np.where(is_hair[:, None], identity.hair_rgb, skin)
    parts = [face, Part(sv, st, skull_region, skull_rgb, np.where(is_hair, t.hair, t.cheek - 1.0))]
    # The jaw and cheeks behind the mesh outline, seen when the head turns.
    jaw = _ellipsoid([0.0, 0.3 * sy, 0.0], [0.47 * sx * identity.shape["jaw"], 0.36 * sy, 0.36 * sz], 10, 16)
    parts.append(_solid(*jaw, SKIN, skin, t.cheek - 1.0))
    for side in (-1, 1):
        ear = _ellipsoid([side * 0.52 * sx, 0.02 * sy, 0.2 * sz], [0.04, 0.13 * sy, 0.08], 8, 12)
        parts.append(_solid(*ear, EAR, skin * 0.95, t.ear))
    neck = _ellipsoid([0.0, 0.85 * sy, 0.25 * sz], [0.36 * sx, 0.6, 0.32 * sz], 10, 16)
    parts.append(_solid(*neck, NECK, skin * 0.85, t.neck, rigid_body=True))
    if with_torso:
        torso = _ellipsoid([0.0, 1.75, 0.4], [1.25, 0.75, 0.45], 12, 20)
        parts.append(_solid(*torso, CLOTHING, identity.clothing_rgb, t.clothing, layer=-1, rigid_body=True))
    return parts
