"""Synthetic thermal video for the breath-rate benchmark, written in the format of `thermbench.datasets.video`.

Two scene kinds: "near" (one face >= 100 px wide, TC001-like 256x192 frames) and "far" (ThermEval-like 192x256
frames, 1-3 people with faces 20-30 px wide). Each subject moves (slow drift in position, yaw, pitch, roll, and in
some sequences one turn beyond 45 degrees and back) and breathes: exhaled air warms the nostril region and inhaled
air cools it, amplitude 0.3-2 °C, 6-30 breaths/min with slow rate variability, sometimes a short pause, and in some
sequences a stretch of mouth breathing (the nostril signal drops to a fifth and the mouth warms instead). Each
subject's base rate either stays, steps to another rate at a random time, or ramps linearly to it over 10-20 s
(the two rates at least 4 breaths/min apart). In the last near sequences (scene kind "near_sway") the head also
sways: a periodic translation of about ±0.1 face width (±8-12 px) with a 6-10 s period, inside the breathing band,
so a fixed ROI or the whole-face mean sees a periodic temperature change that is not breathing. The camera adds
blur, fixed-pattern and temporal noise, and the flat-field correction (FFC) of cheap microbolometers: the image
freezes for about half a second every 15-30 s and the slow offset drift resets with a step.

meta.json holds what was drawn per subject (`subject_draws`: the rate change and the sway), so results can be
grouped by them; the ground truth itself is in truth.csv as for any sequence.

Rendering cost: the projection is orthographic, so roll, scale and translation are exact 2-D similarity warps of a
head rendered at roll 0. Heads are rendered once per (yaw, pitch) on a grid (`pose_step_deg`) and cached; every frame
is a warp of the cached render plus the breathing field, so a 45 s sequence costs a few dozen renders.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from thermbench.core.io import InputError, atomic_dir
from thermbench.core.parallel import ordered_map
from thermbench.datasets import video
from thermbench.datasets.synth import scene, thermal
from thermbench.datasets.synth.face import Expression, build_parts, sample_identity
from thermbench.datasets.synth.person import mapping70, random_light
from thermbench.datasets.synth.render import Camera, Pose, draw_glasses, render

DATASET_CODE = 13
NOSTRILS = [98, 97, 2, 326, 327]  # MediaPipe nose-base arc; its mean is the nostril point (schema mediapipe478_nose)
MOUTH = [13, 14]  # inner lip centre
HEAD_BOX = (-0.8, -1.05, 0.8, 1.45)  # head-unit extent rendered around the head origin (x0, y0, x1, y1)
BLOB_SIGMA = 0.045  # face widths: spread of the exhaled-air warming about the nostril point
MOUTH_SHARE_NASAL = 0.2  # nostril amplitude left while breathing through the mouth
RATE_CHANGES = ("none", "step", "ramp")


@dataclass
class SceneConfig:
    sequences: int
    fps: float
    duration_s: float
    face_width_px: tuple[float, float]
    frame_size: tuple[int, int]  # (w, h)
    people: tuple[int, int]  # min, max subjects per sequence
    supersample: int  # heads render at this multiple and are area-averaged (small faces need it)
    pose_step_deg: float  # (yaw, pitch) grid of the cached head renders


@dataclass
class VideoConfig:
    near: SceneConfig
    far: SceneConfig
    rate_bpm: tuple[float, float]
    amplitude_c: tuple[float, float]
    rate_variability: float  # relative slow modulation of the rate
    rate_change_probs: tuple[float, float, float]  # per subject: P(none, step, ramp)
    rate_change_min_bpm: float  # the two rates of a step or ramp differ at least this much
    ramp_s: tuple[float, float]
    pause_prob: float  # per subject: one pause of pause_s
    pause_s: tuple[float, float]
    mouth_prob: float  # per subject: one stretch of mouth breathing of mouth_s
    mouth_s: tuple[float, float]
    turn_prob: float  # per subject: one head turn to 50-70 degrees yaw and back
    sway_sequences: int  # the last near sequences, whose head sways (scene kind "near_sway")
    sway_fw: tuple[float, float]  # sway amplitude, face widths
    sway_period_s: tuple[float, float]  # 6-10 cycles/min: inside the breathing band
    ffc_interval_s: tuple[float, float]
    ffc_freeze_s: float
    ffc_drift_c: float  # offset drift accumulated between two FFCs, °C
    netd_c: float
    blur_px: float
    units: str


# ----------------------------------------------------------------------------------------------- breathing and motion


def _smooth_noise(rng: np.random.Generator, t: np.ndarray, periods: tuple[float, float], n: int = 3) -> np.ndarray:
    """A slow random curve in [-1, 1]: a few sinusoids with periods in `periods` seconds."""
    out = np.zeros_like(t)
    for _ in range(n):
        out += np.sin(2 * np.pi * t / rng.uniform(*periods) + rng.uniform(0, 2 * np.pi))
    return out / n


@dataclass(frozen=True)
class RateChange:
    """A subject's base breathing rate: `before_bpm` until `start_s`, then linearly to `after_bpm` over `ramp_s`
    seconds (0: a step; kind "none" keeps `before_bpm`)."""
    kind: str  # one of RATE_CHANGES
    before_bpm: float
    after_bpm: float
    start_s: float
    ramp_s: float = 0.0

    def curve(self, t: np.ndarray) -> np.ndarray:
        """Base rate (breaths/min) at times `t` (s)."""
        if self.ramp_s > 0:
            share = np.clip((t - self.start_s) / self.ramp_s, 0, 1)
        else:
            share = (t >= self.start_s).astype(float)
        return self.before_bpm + (self.after_bpm - self.before_bpm) * share


def other_rate(rate: float, u: float, lo: float, hi: float, gap: float) -> float:
    """The rate in [lo, hi] at least `gap` away from `rate` at quantile `u` in [0, 1) of the uniform draw over the
    allowed parts below and above `rate`."""
    below, above = max(rate - gap - lo, 0.0), max(hi - rate - gap, 0.0)
    x = u * (below + above)
    return lo + x if x < below else rate + gap + (x - below)


def draw_rate_change(rng: np.random.Generator, cfg: VideoConfig, duration_s: float) -> RateChange:
    """One subject's rate change. Both rates lie in [rate_bpm low + 1, high - 3], the room the slow modulation
    needs. The change starts 20-80% into the time the sequence leaves after it: a ramp ends inside the sequence
    (it starts at 0 where it is longer)."""
    lo, hi = cfg.rate_bpm[0] + 1, cfg.rate_bpm[1] - 3
    kind = RATE_CHANGES[rng.choice(len(RATE_CHANGES), p=cfg.rate_change_probs)]
    before = rng.uniform(lo, hi)
    if kind == "none":
        return RateChange(kind, before, before, 0.0)
    after = other_rate(before, rng.uniform(), lo, hi, cfg.rate_change_min_bpm)
    ramp = rng.uniform(*cfg.ramp_s) if kind == "ramp" else 0.0
    return RateChange(kind, before, after, rng.uniform(0.2, 0.8) * max(duration_s - ramp, 0.0), ramp)


def breathing(rng: np.random.Generator, t: np.ndarray, cfg: VideoConfig, change: RateChange) -> dict[str, np.ndarray]:
    """Per-frame instantaneous rate (breaths/min, 0 in a pause), waveform resp in [-0.5, 0.5] (+ = exhale) and the
    mouth share (0 = nasal, 1 = mouth). The phase advances by the rate (the base rate of `change`, slowly
    modulated); a pause begins at the end of an exhale."""
    lo, hi = cfg.rate_bpm
    pace = np.clip(change.curve(t) * (1 + cfg.rate_variability * _smooth_noise(rng, t, (15, 60))), lo, hi)
    dt = t[1] - t[0]
    pause_at = rng.uniform(0.2, 0.7) * t[-1] if rng.random() < cfg.pause_prob else np.inf
    pause_end = None
    phase = np.zeros_like(t)
    for i in range(1, len(t)):
        if pause_end is not None and t[i] < pause_end:
            phase[i] = phase[i - 1]
            continue
        new = phase[i - 1] + 2 * np.pi * pace[i - 1] / 60 * dt
        done = np.floor((new - np.pi) / (2 * np.pi))  # completed exhales (an exhale ends at phase pi mod 2 pi)
        if pause_end is None and t[i] >= pause_at and done > np.floor((phase[i - 1] - np.pi) / (2 * np.pi)):
            new = np.pi + 2 * np.pi * done  # stop at the end of the exhale and hold
            pause_end = t[i] + rng.uniform(*cfg.pause_s)
        phase[i] = new
    # The rate of frame i is the one that carried the phase into it, so its mean over a window counts the breaths.
    rate = np.empty_like(t)
    rate[1:] = np.diff(phase) / (2 * np.pi * dt) * 60
    rate[0] = rate[1]
    resp = -0.5 * np.cos(phase)
    mouth = np.zeros_like(t)
    if rng.random() < cfg.mouth_prob:
        length = rng.uniform(*cfg.mouth_s)
        start = rng.uniform(0.1, 0.9) * max(t[-1] - length, 0)
        mouth = np.clip(np.minimum(t - start, start + length - t) / 1.5, 0, 1)  # 1.5 s transitions
    return {"rate_bpm": rate, "resp": resp, "mouth": mouth}


def head_motion(rng: np.random.Generator, t: np.ndarray, cfg: VideoConfig) -> dict[str, np.ndarray]:
    """Yaw, pitch, roll (degrees) and translation (face widths) per frame."""
    yaw = rng.uniform(-20, 20) + 10 * _smooth_noise(rng, t, (8, 40))
    if rng.random() < cfg.turn_prob:
        peak = rng.choice([-1, 1]) * rng.uniform(50, 70)
        start, ramp, hold = rng.uniform(0.2, 0.7) * t[-1], rng.uniform(1.0, 2.0), rng.uniform(1.0, 2.5)
        up = np.clip((t - start) / ramp, 0, 1)
        down = np.clip((t - start - ramp - hold) / ramp, 0, 1)
        shape = 0.5 - 0.5 * np.cos(np.pi * (up - down))  # smooth there and back
        yaw = yaw + (peak - yaw) * shape
    return {"yaw": yaw, "pitch": rng.uniform(-5, 5) + 6 * _smooth_noise(rng, t, (6, 30)),
            "roll": rng.uniform(-5, 5) + 5 * _smooth_noise(rng, t, (8, 40)),
            "dx": 0.15 * _smooth_noise(rng, t, (6, 30)), "dy": 0.08 * _smooth_noise(rng, t, (5, 25)),
            "zoom": 1 + 0.04 * _smooth_noise(rng, t, (10, 40))}


@dataclass(frozen=True)
class Sway:
    """A head swaying back and forth along one image direction: amplitude_fw * sin(2 pi t / period_s + phase_rad)."""
    amplitude_fw: float  # face widths
    period_s: float
    phase_rad: float
    angle_deg: float  # direction in the image: 0 = x (right), 90 = y (down)

    def offsets(self, t: np.ndarray) -> np.ndarray:
        """(len(t), 2) translation (face widths) at times `t` (s)."""
        along = self.amplitude_fw * np.sin(2 * np.pi * t / self.period_s + self.phase_rad)
        a = np.radians(self.angle_deg)
        return np.column_stack([along * np.cos(a), along * np.sin(a)])


def draw_sway(rng: np.random.Generator, cfg: VideoConfig) -> Sway:
    return Sway(rng.uniform(*cfg.sway_fw), rng.uniform(*cfg.sway_period_s), rng.uniform(0, 2 * np.pi),
                rng.uniform(0, 180))


# ------------------------------------------------------------------------------------------------------- rendering


@dataclass
class HeadPatch:
    temp: np.ndarray  # (h, w) °C premultiplied by alpha
    alpha: np.ndarray  # (h, w) coverage 0..1
    points: np.ndarray  # (478, 2) patch px
    visible: np.ndarray  # (478,) bool


class HeadCache:
    """Renders of one subject at roll 0 on the (yaw, pitch) grid, at `face_px` face width, patch origin = head box."""

    def __init__(self, rng: np.random.Generator, ambient: float, face_px: float, supersample: int, step: float):
        self.identity = sample_identity(rng)
        self.identity.thermal = thermal.sample_thermal_look(rng, ambient)
        self.parts = build_parts(self.identity, Expression(), with_torso=False)
        self.light = random_light(rng)
        self.frame_rgb = rng.uniform(0, 0.25, 3)
        self.face_px, self.ss, self.step = face_px, supersample, step
        x0, y0, x1, y1 = HEAD_BOX
        self.size = (int(np.ceil((x1 - x0) * face_px)), int(np.ceil((y1 - y0) * face_px)))  # (w, h)
        self.origin = np.array([-x0 * face_px, -y0 * face_px])  # head origin in patch px
        self._cache: dict[tuple[int, int], HeadPatch] = {}

    def get(self, yaw: float, pitch: float) -> HeadPatch:
        key = (int(round(yaw / self.step)), int(round(pitch / self.step)))
        if key not in self._cache:
            self._cache[key] = self._render(key[0] * self.step, key[1] * self.step)
        return self._cache[key]

    def _render(self, yaw: float, pitch: float) -> HeadPatch:
        s = self.ss
        w, h = self.size
        cam = Camera(self.face_px * s, tuple(self.origin * s - 0.5), (h * s, w * s))
        out = render(self.parts, Pose(yaw, pitch, 0.0), cam, self.identity.thermal.ambient, self.light)
        if self.identity.glasses:
            index = mapping70()[:68]
            draw_glasses(out, out.points[index], out.visible[index], self.identity.thermal.ambient, self.frame_rgb)
        alpha = cv2.resize(out.mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
        temp = cv2.resize(out.temp * out.mask, (w, h), interpolation=cv2.INTER_AREA)
        # the renderer puts pixel centres at integers; +0.5 gives continuous coordinates (pixel i covers [i, i+1))
        return HeadPatch(temp, alpha, (out.points + 0.5) / s, out.visible)


def similarity(scale: float, roll_deg: float, src_origin: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 affine: rotate by roll (clockwise in the image, as render.Pose) and scale about src_origin, move to dst."""
    r = np.radians(roll_deg)
    rot = scale * np.array([[np.cos(r), -np.sin(r)], [np.sin(r), np.cos(r)]])
    return np.column_stack([rot, dst - rot @ src_origin])


def warp_points(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ m[:, :2].T + m[:, 2]


def _warp(image: np.ndarray, m: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    # continuous coordinates (pixel i covers [i, i+1)) -> cv2's integer pixel centres
    shift = m[:, :2] @ np.array([0.5, 0.5]) - np.array([0.5, 0.5])
    m_cv = np.column_stack([m[:, :2], m[:, 2] + shift])
    return cv2.warpAffine(image, m_cv, (shape[1], shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=0)


def gaussian_blob(shape: tuple[int, int], centre: np.ndarray, sigma: float) -> np.ndarray:
    h, w = shape
    xs, ys = np.arange(w) + 0.5, np.arange(h) + 0.5
    gx = np.exp(-((xs - centre[0]) ** 2) / (2 * sigma**2))
    gy = np.exp(-((ys - centre[1]) ** 2) / (2 * sigma**2))
    return (gy[:, None] * gx[None, :]).astype(np.float32)


@dataclass
class Actor:
    head: HeadCache
    centre: np.ndarray  # head origin in the frame at t = 0, px
    motion: dict
    breath: dict
    amplitude: float
    torso: np.ndarray | None  # (H, W) soft silhouette, far scenes, drawn under the head


def _torso(shape: tuple[int, int], cx: float, head_y: float, fw: float) -> np.ndarray:
    """Shoulders and trunk below a small head, as a soft mask (ThermEval-like far scenes)."""
    h, w = shape
    mask = np.zeros((h, w), np.float32)
    top = head_y + 1.3 * fw
    half = 1.1 * fw
    cv2.ellipse(mask, (int(round(cx)), int(round(top + 0.45 * fw))), (int(half), int(0.5 * fw)), 0, 180, 360, 1, -1)
    cv2.rectangle(mask, (int(round(cx - half)), int(round(top + 0.45 * fw))), (int(round(cx + half)), h), 1, -1)
    return cv2.GaussianBlur(mask, (0, 0), 0.8)


def render_sequence(rng: np.random.Generator, kind: str, sc: SceneConfig, cfg: VideoConfig, sways: bool = False):
    """Frames (°C), subjects, truth and landmark tables of one sequence, and what was drawn per subject (rate change,
    sway); `sways`: every head sways."""
    w, h = sc.frame_size
    n = int(round(sc.duration_s * sc.fps))
    t = np.arange(n) / sc.fps
    ambient = float(rng.uniform(20, 26))
    background = scene.thermal_background(rng, (h, w), ambient, objects=int(rng.integers(0, 3)))
    count = int(rng.integers(sc.people[0], sc.people[1] + 1))
    actors, draws = [], {}
    slots = (np.arange(count) + rng.uniform(0.35, 0.65, count)) * w / count
    for k, cx in enumerate(slots):
        fw = float(rng.uniform(*sc.face_width_px))
        cy = float(rng.uniform(0.42, 0.5) * h) if kind == "near" else float(rng.uniform(45, 140))
        head = HeadCache(rng, ambient, fw, sc.supersample, sc.pose_step_deg)
        torso = None if kind == "near" else _torso((h, w), cx, cy, fw)
        motion = head_motion(rng, t, cfg)
        change = draw_rate_change(rng, cfg, float(t[-1]))
        breath = breathing(rng, t, cfg, change)
        amplitude = float(rng.uniform(*cfg.amplitude_c))
        sway = draw_sway(rng, cfg) if sways else None
        if sway is not None:  # a translation: the landmarks and the torso follow it as they follow dx, dy
            shift = sway.offsets(t)
            motion["dx"], motion["dy"] = motion["dx"] + shift[:, 0], motion["dy"] + shift[:, 1]
        actors.append(Actor(head, np.array([cx, cy]), motion, breath, amplitude, torso))
        draws[f"s{k}"] = {"rate_change": asdict(change), "sway": asdict(sway) if sway else None}
    sensor = thermal.make_sensor(rng, (h, w), cfg.blur_px, cfg.netd_c)
    offset, freeze = _ffc(rng, t, cfg)

    frames = np.zeros((n, h, w), np.float32)
    truth, marks = [], []
    index68 = mapping70()[:68]
    first_boxes = []
    for i in range(n):
        temp = background.copy()
        for k, a in enumerate(actors):
            m = a.motion
            patch = a.head.get(m["yaw"][i], m["pitch"][i])
            fw = a.head.face_px
            dst = a.centre + fw * np.array([m["dx"][i], m["dy"][i]])
            if a.torso is not None:
                body = np.roll(a.torso, int(round(fw * m["dx"][i])), axis=1)
                temp = temp * (1 - body) + body * a.head.identity.thermal.clothing
            mat = similarity(m["zoom"][i], m["roll"][i], a.head.origin, dst)
            alpha = _warp(patch.alpha, mat, (h, w))
            hot = _warp(patch.temp, mat, (h, w))
            points = warp_points(mat, patch.points)
            nose = points[NOSTRILS].mean(0)
            mouth_pt = points[MOUTH].mean(0)
            b = a.breath
            sigma = BLOB_SIGMA * fw * m["zoom"][i]
            nasal = 1 - (1 - MOUTH_SHARE_NASAL) * b["mouth"][i]
            nose_vis = patch.visible[NOSTRILS].mean()
            field = a.amplitude * b["resp"][i] * (nasal * nose_vis * gaussian_blob((h, w), nose, sigma)
                                                  + b["mouth"][i] * gaussian_blob((h, w), mouth_pt, 1.5 * sigma))
            head_t = hot / np.maximum(alpha, 1e-6) + field
            temp = temp * (1 - alpha) + head_t * alpha
            truth.append({"frame": i, "subject": f"s{k}", "rate_bpm": b["rate_bpm"][i], "resp": b["resp"][i],
                          "nose_x": nose[0], "nose_y": nose[1], "mouth": b["mouth"][i],
                          "nose_visible": int(nose_vis > 0.5), "yaw": m["yaw"][i]})
            pts68 = points[index68]
            marks.append({"frame": i, "subject": f"s{k}", **{f"x{j}": p[0] for j, p in enumerate(pts68)},
                          **{f"y{j}": p[1] for j, p in enumerate(pts68)}})
            if i == 0:
                lo, hi = pts68.min(0), pts68.max(0)
                first_boxes.append((lo[0], lo[1], hi[0], hi[1]))
        frames[i] = frames[i - 1] if freeze[i] else thermal.apply_sensor(temp, sensor, rng) + offset[i]
    subjects = [video.Subject(f"s{k}", box) for k, box in enumerate(first_boxes)]
    return frames, subjects, pd.DataFrame(truth), pd.DataFrame(marks), draws


def _ffc(rng: np.random.Generator, t: np.ndarray, cfg: VideoConfig) -> tuple[np.ndarray, np.ndarray]:
    """Global offset per frame (slow drift reset at each FFC) and which frames are frozen by an FFC."""
    offset, freeze = np.zeros_like(t, dtype=np.float32), np.zeros(len(t), bool)
    start, level = 0.0, rng.normal(0, 0.1)
    next_ffc = rng.uniform(*cfg.ffc_interval_s) * rng.uniform(0.3, 1.0)
    for i, ti in enumerate(t):
        if ti >= next_ffc:
            freeze[i] = ti < next_ffc + cfg.ffc_freeze_s
            if not freeze[i]:
                start, level = ti, rng.normal(0, 0.1)
                next_ffc = ti + rng.uniform(*cfg.ffc_interval_s)
        offset[i] = level + cfg.ffc_drift_c * (ti - start) / cfg.ffc_interval_s[1]
    return offset, freeze


def write_videos(out: Path, cfg: VideoConfig, seed: int, workers: int | None = None) -> None:
    """All sequences into `out/<kind>_<k>/` in the video format (`out` replaced atomically), on `workers`
    processes (None = every core; each sequence draws from its own seed, so the files do not depend on it)."""
    _check(cfg)
    sequences = [(kind, k) for kind in ("near", "far") for k in range(getattr(cfg, kind).sequences)]
    with atomic_dir(out) as tmp:
        for _ in ordered_map(partial(_write_sequence, out=tmp, cfg=cfg, seed=seed), sequences, "synth video",
                             workers, unit="sequence"):
            pass


def _write_sequence(sequence: tuple[str, int], out: Path, cfg: VideoConfig, seed: int) -> None:
    kind, k = sequence
    sc = getattr(cfg, kind)
    rng = np.random.default_rng([seed, DATASET_CODE, 0 if kind == "near" else 1, k])
    sways = kind == "near" and k >= sc.sequences - cfg.sway_sequences
    frames, subjects, truth, marks, draws = render_sequence(rng, kind, sc, cfg, sways)
    # a scene kind of their own, so every table and ranking shows the moving heads apart from the still ones
    video.write_sequence(out / f"{kind}_{k}", frames, sc.fps, subjects, cfg.units, truth, marks,
                         scene=f"{kind}_sway" if sways else kind, synthetic=True, subject_draws=draws)


def _check(cfg: VideoConfig) -> None:
    """Rate-change params a draw could not honour, as one line."""
    probs = cfg.rate_change_probs
    if len(probs) != len(RATE_CHANGES) or min(probs) < 0 or not np.isclose(sum(probs), 1):
        raise InputError("params.yaml: synth.video.rate_change_probs must be 3 shares (none, step, ramp) summing to 1")
    lo, hi = cfg.rate_bpm[0] + 1, cfg.rate_bpm[1] - 3
    if hi - lo <= 2 * cfg.rate_change_min_bpm:
        raise InputError(f"params.yaml: synth.video.rate_bpm leaves the rates [{lo:g}, {hi:g}]: too narrow for two "
                         f"rates rate_change_min_bpm = {cfg.rate_change_min_bpm:g} apart from every starting rate")
