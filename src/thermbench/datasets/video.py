"""The on-disk format of thermal video sequences (breath-rate benchmark): one reader, one writer.

A sequence is a folder (the full description is the FORMAT section of `thermbench/breath/README.md`)::

    <sequence>/meta.json        {"fps": 9.0, "units": "celsius" | "centikelvin",
                                 "subjects": [{"id": "s0", "face_box": [x0, y0, x1, y1]}, ...],
                                 "scene": "near" | "far" | any label (optional), "synthetic": bool (optional),
                                 "subject_draws": {id: {...}} (optional, synthetic: what each subject was drawn with)}
    <sequence>/frames/*.tif(f)  one radiometric frame per file, in file-name order, all one shape:
                                float32 °C ("celsius") or uint16 centikelvin ("centikelvin": °C = raw / 100 - 273.15)
    <sequence>/truth.csv        optional ground truth, one row per (frame, subject):
                                frame, subject, rate_bpm [, resp, nose_x, nose_y, mouth]
    <sequence>/landmarks.csv    optional, one row per (frame, subject): frame, subject, x0..x67, y0..y67 (iBUG-68)

Frame i is at time i / fps seconds. `face_box` (frame px, first frame) is where each subject's face is when the
sequence starts: landmark sources start their tracking there. `rate_bpm` is the instantaneous breathing rate
(breaths/min; 0 during a pause), `resp` the respiration waveform (+ = exhale), `nose_x, nose_y` the nostril centre
(px), `mouth` the share of the breath going through the mouth (0..1).
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile

from thermbench.core.io import InputError, atomic_dir, is_number, read_csv, read_json, write_json, write_text
from thermbench.datasets.common import celsius_from_centikelvin, centikelvin_from_celsius

UNITS = ("celsius", "centikelvin")
TRUTH_REQUIRED = ("frame", "subject", "rate_bpm")
FRAME_SUFFIXES = (".tif", ".tiff")
N_LANDMARKS = 68


@dataclass
class Subject:
    id: str
    face_box: tuple[float, float, float, float]  # x0, y0, x1, y1 frame px, first frame

    @property
    def face_size(self) -> float:
        """Face box width (px): the scale ROI radii are given relative to."""
        return float(self.face_box[2] - self.face_box[0])


@dataclass
class Sequence:
    name: str
    fps: float
    frames: np.ndarray  # (T, H, W) float32 °C
    subjects: list[Subject]
    scene: str = "real"
    synthetic: bool = False
    truth: pd.DataFrame | None = None  # rows (frame, subject), sorted
    landmarks: pd.DataFrame | None = None
    meta: dict = field(default_factory=dict)
    truth_missing: str | None = None  # what truth.csv lacks ("no truth.csv", frames without a rate), None: complete

    @property
    def times(self) -> np.ndarray:
        return np.arange(len(self.frames)) / self.fps

    def subject_truth(self, subject: str) -> pd.DataFrame | None:
        """This subject's ground-truth rows, one per frame in frame order (None: no ground truth)."""
        if self.truth is None:
            return None
        return self.truth[self.truth["subject"] == subject].set_index("frame").reindex(range(len(self.frames)))


def encode(temp_c: np.ndarray, units: str) -> np.ndarray:
    if units == "celsius":
        return np.asarray(temp_c, dtype=np.float32)
    return centikelvin_from_celsius(np.asarray(temp_c, np.float64))


def decode(raw: np.ndarray, units: str) -> np.ndarray:
    if units == "celsius":
        return raw.astype(np.float32)
    return celsius_from_centikelvin(raw).astype(np.float32)


def write_sequence(out: Path, frames_c: np.ndarray, fps: float, subjects: list[Subject], units: str = "celsius",
                   truth: pd.DataFrame | None = None, landmarks: pd.DataFrame | None = None, **extra) -> None:
    """Write one sequence folder (frames given in °C). `extra` goes into meta.json (e.g. scene, synthetic)."""
    if units not in UNITS:
        raise ValueError(f"units must be one of {UNITS}")
    out = Path(out)
    (out / "frames").mkdir(parents=True, exist_ok=True)
    # Fast zlib with the horizontal predictor halves a noisy uint16 stream (4 ms a frame); every TIFF reader reads it.
    packed = {"compression": "zlib", "compressionargs": {"level": 1}, "predictor": True}
    packed = packed if units == "centikelvin" else {}
    for i, frame in enumerate(frames_c):
        tifffile.imwrite(out / "frames" / f"{i:06d}.tiff", encode(frame, units), **packed)
    meta = {"fps": float(fps), "units": units,
            "subjects": [{"id": s.id, "face_box": [round(float(v), 2) for v in s.face_box]} for s in subjects], **extra}
    write_json(out / "meta.json", meta, 4)
    for name, table in (("truth.csv", truth), ("landmarks.csv", landmarks)):
        if table is not None:
            write_text(out / name, table.to_csv(index=False, float_format="%.4f", lineterminator="\n"))


def _meta(path: Path) -> dict:
    meta_path = path / "meta.json"
    if not meta_path.is_file():
        raise InputError(f"{meta_path}: not found (a sequence folder needs meta.json, see breath/README.md FORMAT)")
    meta = read_json(meta_path)
    if not isinstance(meta, dict):
        raise InputError(f"{meta_path}: expected a JSON object with fps, units and subjects")
    for key in ("fps", "units", "subjects"):
        if key not in meta:
            raise InputError(f"{meta_path}: missing key '{key}'")
    if meta["units"] not in UNITS:
        raise InputError(f"{meta_path}: units '{meta['units']}' is not one of {', '.join(UNITS)}")
    if not is_number(meta["fps"]) or meta["fps"] <= 0:
        raise InputError(f"{meta_path}: fps must be a positive number")
    if not isinstance(meta["subjects"], list) or not meta["subjects"]:
        raise InputError(f"{meta_path}: 'subjects' must be a non-empty list (give each face an id and a first-frame "
                         "face_box)")
    for s in meta["subjects"]:
        box = s.get("face_box") if isinstance(s, dict) else None
        if (box is None or "id" not in s or not isinstance(box, list) or len(box) != 4 or not all(map(is_number, box))
                or box[2] <= box[0] or box[3] <= box[1]):
            raise InputError(f"{meta_path}: each subject needs an 'id' and a 'face_box' [x0, y0, x1, y1] with x1 > x0, "
                             "y1 > y0")
    return meta


def _frames(path: Path, units: str) -> np.ndarray:
    files = sorted(p for p in (path / "frames").glob("*") if p.suffix.lower() in FRAME_SUFFIXES)
    if not files:
        raise InputError(f"{path / 'frames'}: no .tif/.tiff frames")
    expected = np.float32 if units == "celsius" else np.uint16
    frames = []
    for f in files:
        try:
            raw = tifffile.imread(f)
        except Exception as err:  # tifffile raises several types for truncated or foreign files
            raise InputError(f"{f}: not a readable TIFF ({type(err).__name__})") from None
        if raw.ndim != 2:
            raise InputError(f"{f}: expected one 2-D radiometric frame, got shape {raw.shape}")
        if raw.dtype != expected:
            raise InputError(f"{f}: dtype {raw.dtype} does not match units '{units}' in meta.json "
                             f"(expected {np.dtype(expected).name})")
        if frames and raw.shape != frames[0].shape:
            raise InputError(f"{f}: shape {raw.shape} differs from the first frame's {frames[0].shape}")
        frames.append(decode(raw, units))
    return np.stack(frames)


def _table(path: Path, required: tuple[str, ...], n_frames: int, subjects: set[str]) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    table = read_csv(path, required, dtype={"subject": str})
    if table.empty:  # a header alone: no rows to check (every frame then lacks them)
        return table
    if not pd.api.types.is_integer_dtype(table["frame"]):
        raise InputError(f"{path}: column frame must hold a whole frame number on every row")
    text = [c for c in required if c not in ("frame", "subject") and not pd.api.types.is_numeric_dtype(table[c])]
    if text:
        raise InputError(f"{path}: column(s) {', '.join(text)} must hold numbers (an empty cell: no value)")
    if table["subject"].isna().any():
        raise InputError(f"{path}: column subject is empty on a row (each row names its subject)")
    unknown = sorted(set(table["subject"]) - subjects)
    if unknown:
        raise InputError(f"{path}: subject(s) {', '.join(unknown)} not listed in meta.json")
    if table["frame"].min() < 0 or table["frame"].max() >= n_frames:
        raise InputError(f"{path}: frame numbers must lie in 0..{n_frames - 1}")
    if table.duplicated(["frame", "subject"]).any():
        raise InputError(f"{path}: duplicate (frame, subject) rows")
    return table.sort_values(["subject", "frame"]).reset_index(drop=True)


def _ranges(frames: np.ndarray) -> str:
    """Sorted frame numbers as "0..4, 9" (runs of consecutive numbers joined)."""
    breaks = np.flatnonzero(np.diff(frames) != 1)
    starts, ends = np.r_[frames[0], frames[breaks + 1]], np.r_[frames[breaks], frames[-1]]
    return ", ".join(f"{a}" if a == b else f"{a}..{b}" for a, b in zip(starts, ends))


def truth_missing(truth: pd.DataFrame | None, n_frames: int, ids: list[str]) -> str | None:
    """What the ground truth lacks for one row per frame and subject with a rate (None: nothing). A frame without a
    row, or with an empty rate_bpm, has no truth: windows over it are reported, not scored."""
    if truth is None:
        return "no truth.csv"
    gaps = []
    for subject in ids:
        rates = truth[truth["subject"] == subject].set_index("frame")["rate_bpm"].reindex(range(n_frames))
        lacking = np.flatnonzero(rates.isna().to_numpy())
        if len(lacking):
            gaps.append(f"subject {subject} has no rate_bpm for frame(s) {_ranges(lacking)} of 0..{n_frames - 1}")
    return "; ".join(gaps) or None


def read_sequence(path: str | Path, with_frames: bool = True) -> Sequence:
    """Read one sequence folder; every problem is one InputError line naming the file. `with_frames=False` reads
    only the frame count (for ground-truth-only work) and leaves `frames` as an empty (T, 0, 0) array."""
    path = Path(path)
    meta = _meta(path)
    if with_frames:
        frames = _frames(path, meta["units"])
    else:
        count = sum(1 for p in (path / "frames").glob("*") if p.suffix.lower() in FRAME_SUFFIXES)
        frames = np.zeros((count, 0, 0), np.float32)
    subjects = [Subject(str(s["id"]), tuple(float(v) for v in s["face_box"])) for s in meta["subjects"]]
    ids = {s.id for s in subjects}
    truth = _table(path / "truth.csv", TRUTH_REQUIRED, len(frames), ids)
    landmark_cols = ("frame", "subject") + tuple(f"{a}{i}" for a in "xy" for i in range(N_LANDMARKS))
    landmarks = _table(path / "landmarks.csv", landmark_cols, len(frames), ids)
    return Sequence(path.name, float(meta["fps"]), frames, subjects, str(meta.get("scene", "real")),
                    bool(meta.get("synthetic", False)), truth, landmarks, meta,
                    truth_missing(truth, len(frames), [s.id for s in subjects]))


def frame_size(path: str | Path) -> tuple[int, int]:
    """(width, height) of a sequence folder's frames, from its first frame file."""
    files = sorted(p for p in (Path(path) / "frames").glob("*") if p.suffix.lower() in FRAME_SUFFIXES)
    if not files:
        raise InputError(f"{Path(path) / 'frames'}: no .tif/.tiff frames")
    with tifffile.TiffFile(files[0]) as tif:
        h, w = tif.pages[0].shape[:2]
    return int(w), int(h)


def list_sequences(root: str | Path) -> list[Path]:
    """Sequence folders under `root` (those holding meta.json), sorted by name."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: folder of video sequences not found")
    found = sorted(p.parent for p in root.glob("*/meta.json"))
    if not found:
        raise InputError(f"{root}: no sequence folders (each needs meta.json and frames/, see breath/README.md)")
    return found


def import_real(source: str | Path, out: str | Path) -> None:
    """Check every sequence folder under `source` with the reader, then copy them into `out` (replaced atomically;
    hard links where the file system allows, so large recordings are not duplicated)."""
    source = Path(source)
    paths = list_sequences(source)
    for p in paths:
        seq = read_sequence(p)  # every file readable, frames of one shape in the declared units, tables consistent
        if seq.truth_missing:  # one line per sequence: its rates are still estimated, and reported as not scored
            print(f"{p / 'truth.csv'}: {seq.truth_missing}; those windows are reported, not scored", file=sys.stderr)
    with atomic_dir(out) as tmp:
        for p in paths:
            shutil.copytree(p, tmp / p.name, copy_function=_link_or_copy)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def data_source(root: str | Path) -> str:
    """"synthetic" when every sequence under `root` says it is (meta.json `synthetic`), else "real": the label of
    what is measured on them."""
    return "synthetic" if all(_meta(p).get("synthetic", False) for p in list_sequences(root)) else "real"
