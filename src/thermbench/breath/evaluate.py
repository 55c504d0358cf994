"""The breath benchmark end to end: landmark tracks per source, then rates per window and their scores.

`track_source` runs one landmark source over every sequence and writes its nostril tracks (JSON). A trained source
(a student, the TinyHead) is tracked once per training seed, into `<source>/seed<s>.json`: its breath error moves
with the seed (and across CPUs) as much as between sources, so one run of it ranks nothing. `evaluate` reads the
videos and every track file, adds the no-tracking baselines and the noisy-oracle sources, runs the signal chain and
writes the scalar metrics (JSON), the per-window series and one example sequence's signals (CSV, for the figures).
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from thermbench.breath import metrics as bm
from thermbench.breath import signal as sig
from thermbench.breath import sources as src
from thermbench.core.io import InputError, read_json, write_json, write_text
from thermbench.core.parallel import ordered_map
from thermbench.core.progress import progress
from thermbench.datasets.video import Sequence, list_sequences, read_sequence

BASELINES = ("fixed_roi", "whole_face")  # no tracking: the first frame's nose, the first frame's face box
SEED_FILE = re.compile(r"seed(\d+)")  # <source>/seed<s>.json: the track of one training seed of a trained source
TRACK_CHECKS = ("outside_frame", "model_frames", "not_tracked")  # what a track file says about its frames


@dataclass
class MediaPipeTrack:
    crop_scale: float = 2.0
    crop_px: int = 192
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5


@dataclass
class StudentTrack:
    crop_scale: float = 1.25  # as the students' training crops: square landmark box x 1.25
    window_c: tuple[float, float] = (20.0, 40.0)  # as their training images (T-FAKE thermal encoding)
    chunk: int = 8  # model frames per batch sharing one crop box
    stride: int = 4  # the model runs on every stride-th frame, the track is interpolated in between (CPU budget)


@dataclass
class ZeroShotTrack:
    crop_scale: float = 3.0  # body models want context around the face
    crop_px: int = 256


@dataclass
class TFANTrack:
    crop_scale: float = 2.0  # TFAN gets the crop's centre half as its face box and widens it as its package does
    crop_px: int = 256


@dataclass
class TinyHeadTrack:
    """The Person-like box the head's crop is cut about (`sources.PersonCrop`), in face box widths."""

    person_width: float = 2.29
    person_top: float = 0.56
    person_height: float = 5.56  # least box height; a frame that ends sooner is set on a canvas (PersonCrop)
    face_in_crop: tuple[float, float] = (0.098, 0.211)  # face box width / crop width where the head applies
    chunk: int = 8
    stride: int = 4


@dataclass
class DlibTrack:
    crop_scale: float = 2.0  # the face fills half the crop: above the detectors' ~80 px face at 256 px
    crop_px: int = 256
    upsample: int = 0  # detector upsampling (each doubles the crop side it searches)
    stride: int = 1


@dataclass
class TrackConfig:
    mediapipe: MediaPipeTrack = field(default_factory=MediaPipeTrack)
    students: StudentTrack = field(default_factory=StudentTrack)
    zeroshot: ZeroShotTrack = field(default_factory=ZeroShotTrack)
    tinyhead: TinyHeadTrack = field(default_factory=TinyHeadTrack)
    tfan: TFANTrack = field(default_factory=TFANTrack)
    dlib_hog: DlibTrack = field(default_factory=DlibTrack)
    dlib_mmod: DlibTrack = field(default_factory=lambda: DlibTrack(stride=4))  # the CNN: ~0.2 s a 256 px crop
    threads: int = 1  # torch threads of a model source, per worker
    workers: int = 1  # sequences tracked at once, one process each (tracks do not depend on it)


@dataclass
class TinyHeadInputs:
    """Where the TinyHead source finds its trained head (one seed's head file), its features' backbone info and the
    teacher backbone, and how its training crops were cut."""

    head: Path
    features: Path
    teacher: Path
    backbone: object  # tinyhead.finetune.BackboneConfig (params head.backbone)
    sapiens2: dict  # params zeroshot.sapiens2
    thermeval: dict  # params prepare.thermeval (crop_geometry, box_scale: `thermeval.crop_pair`)


@dataclass
class RateConfig:
    chain: sig.ChainConfig = field(default_factory=sig.ChainConfig)
    oracle_noise_px: tuple[float, ...] = ()  # extra sources: ground truth + this much Gaussian noise per frame
    change_share: float = 0.3  # a window whose true rate spans more than this share of its mean has a rate change
    example_sequence: str = "near_0"  # the sequence whose signals the figure shows (absent: the first one)


# ------------------------------------------------------------------------------------------------------- tracking


def run_name(path: Path) -> tuple[str, str, int | None]:
    """(name in the results, source, training seed) of a track file: `<dir>/seed<s>.json` is seed s of the trained
    source named by its folder (ktl-dikd/seed1.json: "ktl-dikd-seed1"); any other file is the untrained source named
    by its stem (mediapipe.json: "mediapipe", no seed)."""
    path = Path(path)
    match = SEED_FILE.fullmatch(path.stem)
    if match is None:
        return path.stem, path.stem, None
    return f"{path.parent.name}-{path.stem}", path.parent.name, int(match[1])


def list_track_files(paths: list[Path]) -> list[Path]:
    """The track files a list names: a file is one untrained source, a folder a trained source's seed<s>.json files
    (in seed order)."""
    out = []
    for path in map(Path, paths):
        if path.is_dir():
            seeds = [p for p in path.glob("*.json") if SEED_FILE.fullmatch(p.stem)]
            if not seeds:
                raise InputError(f"{path}: no seed<s>.json track files (run its breath_track stage)")
            out += sorted(seeds, key=lambda p: int(SEED_FILE.fullmatch(p.stem)[1]))
        elif path.is_file():
            out.append(path)
        else:
            raise InputError(f"{path}: no track file or folder (run its breath_track stage)")
    return out


def training_converged(metrics_path: Path) -> bool | None:
    """Whether a trained model converged, from its training metrics (`training.convergence.converged`); None for
    metrics written before runs recorded it."""
    training = read_json(metrics_path).get("training", {})
    return training.get("convergence", {}).get("converged")


def head_converged(head: Path) -> bool | None:
    """Whether a TinyHead converged, from the sidecar its checkpoint is saved with; None when it records none."""
    return read_json(Path(head).with_suffix(".json")).get("convergence", {}).get("converged")


def track_source(source: str, videos: Path, out: Path, cfg: TrackConfig, model_dir: Path | None = None,
                 zeroshot_cfg: dict | None = None, timing: Path | None = None,
                 tinyhead: TinyHeadInputs | None = None, converged: bool | None = None) -> dict:
    """Track `source` (oracle | mediapipe | dwpose | sapiens2 | dlib_hog | dlib_mmod | student | tinyhead) over all
    sequences into `out` (JSON), and its wall-clock time into `timing`. `run_name(out)` names the source in the
    results; a trained run (out = <source>/seed<s>.json) also records its seed and whether its training `converged`
    (None: not recorded). The file also counts the model frames whose point fell outside the frame (`outside_frame`,
    of `model_frames`: no face there) and says why a subject has no track (`not_tracked`). An unavailable source
    writes its one-line reason instead of tracks, prints it and returns normally."""
    start = time.perf_counter()
    name, trained_source, seed = run_name(out)
    trained = {} if seed is None else {"trained": {"source": trained_source, "seed": seed, "converged": converged}}
    track_one = partial(_track_sequence, source, cfg, model_dir, zeroshot_cfg, tinyhead)
    workers = 1 if source == "oracle" else cfg.workers  # the oracle reads no frames
    try:
        if source in ("dwpose", "sapiens2", "tfan"):  # absent weights: the one line now, not after starting the workers
            src.require_weights(source, zeroshot_cfg or {})
        results = list(ordered_map(track_one, list_sequences(videos), f"breath track {source}", workers, unit="seq"))
        merged = src.merge_sequences(results)
    except src.SourceUnavailable as err:
        print(f"breath {name}: {err}", file=sys.stderr)
        result = {"source": name, "kind": source, "available": False, "reason": str(err), **trained}
    else:
        tracks = merged.pop("tracks")
        result = {"source": name, "kind": source, "available": True, **trained, **merged,
                  "tracks": {s: {k: v.tolist() for k, v in subs.items()} for s, subs in tracks.items()}}
    write_json(out, result, 3)
    if timing is not None:
        frames = sum(len(v) for subs in result.get("tracks", {}).values() for v in subs.values())
        busy = sum(r["seconds"] for r in results) if result["available"] else None  # one process's time
        write_json(timing, {"source": name, "available": result["available"], "threads": cfg.threads,
                            "workers": workers, "seconds": time.perf_counter() - start,
                            "ms_per_face_frame": 1000 * busy / frames if frames else None}, 2)
    return result


def track_tinyhead_seeds(inputs: dict[int, TinyHeadInputs], videos: Path, out: Path, timing: Path,
                         cfg: TrackConfig) -> dict[int, dict]:
    """Every seed's TinyHead (seed -> its inputs, one head file each) tracked into `out`/seed<s>.json, its time into
    `timing`/seed<s>.json; whether the head converged from its sidecar (`<head>.json`: `convergence.converged`)."""
    return {seed: track_source("tinyhead", videos, Path(out) / f"seed{seed}.json", cfg,
                               timing=Path(timing) / f"seed{seed}.json", tinyhead=one,
                               converged=head_converged(one.head))
            for seed, one in sorted(inputs.items())}


def _track_sequence(source: str, cfg: TrackConfig, model_dir: Path | None, zeroshot_cfg: dict | None,
                    tinyhead: TinyHeadInputs | None, path: Path) -> dict:
    """One sequence in a worker: its own predictors (models load once per sequence), `src.track_sequence`'s result
    and the seconds it took."""
    start = time.perf_counter()
    make, crop_cfg = _predictor_factory(source, cfg, model_dir, zeroshot_cfg, tinyhead)
    return {**src.track_sequence(path, make, crop_cfg), "seconds": time.perf_counter() - start}


def _predictor_factory(source: str, cfg: TrackConfig, model_dir: Path | None, zeroshot_cfg: dict | None,
                       tinyhead: TinyHeadInputs | None):
    if source == "oracle":
        return None, None
    if source in ("student", "dwpose", "sapiens2", "tfan", "tinyhead"):
        import torch

        torch.set_num_threads(cfg.threads)
    if source == "mediapipe":
        mp = cfg.mediapipe
        return (lambda: src.MediaPipePredictor(mp.min_detection_confidence, mp.min_tracking_confidence),
                src.CropConfig(src.SquareCrop(mp.crop_scale, mp.crop_px)))
    if source in ("dlib_hog", "dlib_mmod"):
        dl = getattr(cfg, source)
        dlib = src.DlibPredictor(source.removeprefix("dlib_"), dl.upsample)  # stateless: serves every track
        return (lambda: dlib), src.CropConfig(src.SquareCrop(dl.crop_scale, dl.crop_px), stride=dl.stride)
    if source == "student":
        if model_dir is None:
            raise InputError("breath track: a student source needs --model <dir with model.safetensors>")
        student = src.StudentPredictor(model_dir)  # stateless: one instance serves every track
        st = cfg.students
        return (lambda: student), src.CropConfig(src.SquareCrop(st.crop_scale, student.input_px), st.window_c,
                                                 st.chunk, st.stride)
    if source == "tinyhead":
        if tinyhead is None:
            raise InputError("breath track: the tinyhead source needs --heads, --features and --teacher")
        head = src.TinyHeadPredictor(tinyhead.head, tinyhead.features, tinyhead.teacher, tinyhead.backbone,
                                     tinyhead.sapiens2)
        th = cfg.tinyhead
        crop = src.PersonCrop(th.person_width, th.person_top, th.person_height, th.face_in_crop,
                              {**tinyhead.thermeval, "crop_size": head.input_px})
        return (lambda: head), src.CropConfig(crop, chunk=th.chunk, stride=th.stride)
    if source in ("dwpose", "sapiens2"):
        adapter = src.zero_shot_adapter(source, zeroshot_cfg or {}, cfg.threads)
        zs = cfg.zeroshot
        return (lambda: src.ZeroShotPredictor(adapter)), src.CropConfig(src.SquareCrop(zs.crop_scale, zs.crop_px))
    if source == "tfan":
        tfan, tf = src.zero_shot_adapter(source, zeroshot_cfg or {}, cfg.threads), cfg.tfan
        return (lambda: src.FaceBoxPredictor(tfan, tf.crop_scale)), src.CropConfig(src.SquareCrop(tf.crop_scale,
                                                                                                tf.crop_px))
    raise InputError(f"breath track: unknown source '{source}' (oracle, mediapipe, student, tinyhead, dwpose, "
                     "sapiens2, tfan, dlib_hog, dlib_mmod)")


def read_tracks(path: Path) -> dict:
    data = read_json(path)
    if "source" not in data or "available" not in data:
        raise InputError(f"{path}: not a breath track file (needs 'source' and 'available')")
    if data["available"]:
        data["tracks"] = {s: {k: np.array(v, dtype=np.float64).reshape(-1, 2) for k, v in subs.items()}
                          for s, subs in data["tracks"].items()}
    return data


# ----------------------------------------------------------------------------------------------------- evaluation


def _fixed_nose(seq: Sequence, subject) -> np.ndarray:
    """The no-tracking baseline's point: the first frame's true nostril point, else a face-box proportion."""
    gt = seq.subject_truth(subject.id)
    if gt is not None and {"nose_x", "nose_y"} <= set(gt.columns):
        first = gt[["nose_x", "nose_y"]].iloc[0].to_numpy(dtype=np.float64)
        if np.isfinite(first).all():
            return first
    x0, y0, x1, y1 = subject.face_box
    return np.array([(x0 + x1) / 2, y0 + 0.62 * (y1 - y0)])  # nose base of a frontal iBUG-68 face box


def _subject_rows(seq: Sequence, subject, points: dict, cfg: RateConfig, frozen: np.ndarray, ref: np.ndarray,
                  example: bool):
    """Per-window rows, per-source frame stats and example signals for one subject."""
    c = cfg.chain
    gt = seq.subject_truth(subject.id)
    true_nose = gt[["nose_x", "nose_y"]].to_numpy(np.float64) if gt is not None and "nose_x" in gt else None
    true_rate = sig.true_window_rates(gt["rate_bpm"].to_numpy(np.float64), seq.fps, c) if gt is not None else None
    spread = sig.true_window_spread(gt["rate_bpm"].to_numpy(np.float64), seq.fps, c) if gt is not None else None
    mouth = gt["mouth"].to_numpy(np.float64) if gt is not None and "mouth" in gt else None
    radius = max(c.roi_radius * subject.face_size, c.min_roi_px)
    rows, stats, examples = [], [], []
    for name, pts in points.items():
        if name == "whole_face":
            raw, own_ref = sig.box_means(seq.frames, subject.face_box), ref
        else:
            smooth = pts if c.smoothing == "none" else sig.savgol_track(pts, seq.fps, c.smoothing_window_s,
                                                                         c.smoothing_order)
            raw = sig.regress_motion(sig.roi_means(seq.frames, smooth, radius), smooth, c.motion_degree)
            own_ref = (sig.ring_means(seq.frames, smooth, c.ring_radii[0] * radius, c.ring_radii[1] * radius)
                       if c.reference == "ring" else ref)
        filtered, valid = sig.prepare_signal(raw - own_ref, frozen, seq.fps, c)
        win = sig.window_rates(filtered, valid, seq.fps, c)
        win.insert(0, "source", name)
        win["true_bpm"] = true_rate if true_rate is not None else np.nan
        win["true_spread"] = spread if spread is not None else np.nan
        if mouth is not None:
            win["mouth_share"] = [mouth[int(round(a * seq.fps)):int(round(b * seq.fps))].mean()
                                  for a, b in zip(win["t_start"], win["t_end"])]
        rows.append(win)
        has_point = np.isfinite(pts).all(1) if name != "whole_face" else np.ones(len(raw), bool)
        stat = {"source": name, "frames": len(raw), "with_point": int(has_point.sum())}
        if true_nose is not None and name != "whole_face":  # the landmark model's own points, before smoothing
            stat.update(bm.landmark_stats(pts, true_nose, ~frozen))
        stats.append(stat)
        if example and subject.id == seq.subjects[0].id:
            resp = gt["resp"].to_numpy(np.float64) if gt is not None and "resp" in gt else np.full(len(raw), np.nan)
            examples.append(pd.DataFrame({"source": name, "t_s": seq.times, "roi_c": raw - own_ref,
                                          "filtered_c": filtered, "true_resp": resp}))
    return rows, stats, examples


def evaluate(videos: Path, track_paths: list[Path], cfg: RateConfig, seed: int) -> dict:
    """Windows, per-source summaries and example signals over all sequences (see module docstring); `track_paths` as
    `list_track_files` takes them. `runs` in the metrics: {run name: {source, seed, converged}} of the trained runs;
    `tracking`: {source: its track file's `TRACK_CHECKS`}."""
    if cfg.chain.smoothing not in ("savgol", "none") or cfg.chain.reference not in ("frame_median", "ring", "none"):
        raise InputError("params.yaml: breath.rates.chain.smoothing must be savgol|none and reference "
                         "frame_median|ring|none")
    tracks = [read_tracks(p) for p in list_track_files(track_paths)]
    runs = {t["source"]: t["trained"] for t in tracks if "trained" in t}
    unavailable = {t["source"]: t["reason"] for t in tracks if not t["available"]}
    available = [t for t in tracks if t["available"]]
    tracking = {t["source"]: {k: t[k] for k in TRACK_CHECKS} for t in available}
    rng = np.random.default_rng([seed, 13])
    windows, stats, examples = [], [], []
    paths = list_sequences(videos)
    names = [p.name for p in paths]
    example = cfg.example_sequence if cfg.example_sequence in names else names[0]
    scenes = {}
    for path in progress(paths, desc="breath rates", unit="seq"):
        seq = read_sequence(path)
        frozen = sig.frozen_frames(seq.frames)
        ref = sig.reference(seq.frames, cfg.chain.reference)
        for subject in seq.subjects:
            points = {}
            for t in available:
                if seq.name not in t["tracks"] or subject.id not in t["tracks"][seq.name]:
                    raise InputError(f"track file of '{t['source']}' lacks {seq.name}/{subject.id} (re-run its stage)")
                points[t["source"]] = t["tracks"][seq.name][subject.id]
            if "oracle" in points:
                for sigma in cfg.oracle_noise_px:
                    points[f"oracle+{sigma:g}px"] = points["oracle"] + rng.normal(0, sigma, points["oracle"].shape)
            points["fixed_roi"] = np.tile(_fixed_nose(seq, subject), (len(seq.frames), 1))
            points["whole_face"] = np.full((len(seq.frames), 2), np.nan)
            rows, st, ex = _subject_rows(seq, subject, points, cfg, frozen, ref, seq.name == example)
            for table in rows:
                table.insert(0, "subject", subject.id)
                table.insert(0, "sequence", seq.name)
                table.insert(0, "scene", seq.scene)
            windows += rows
            stats += [{"scene": seq.scene, **s} for s in st]
            examples += ex
        scenes[seq.name] = {"scene": seq.scene, "synthetic": seq.synthetic, "truth_missing": seq.truth_missing}
    table = pd.concat(windows, ignore_index=True)
    synthetic = all(s["synthetic"] for s in scenes.values())
    summary = bm.summarise(table, pd.DataFrame(stats), cfg.change_share)
    return {"windows": table, "examples": pd.concat(examples, ignore_index=True) if examples else pd.DataFrame(),
            "metrics": {"data": "synthetic" if synthetic else "real", "sources": summary, "runs": runs,
                        "unavailable": unavailable, "tracking": tracking, "sequences": len(scenes),
                        "not_scored": {n: s["truth_missing"] for n, s in scenes.items() if s["truth_missing"]},
                        "window_s": cfg.chain.window_s, "hop_s": cfg.chain.hop_s, "change_share": cfg.change_share}}


def write_outputs(result: dict, metrics_path: Path, windows_csv: Path, signals_csv: Path) -> None:
    write_json(metrics_path, result["metrics"], 4)
    for table, path in ((result["windows"], windows_csv), (result["examples"], signals_csv)):
        write_text(path, table.to_csv(index=False, float_format="%.5g", lineterminator="\n"))
