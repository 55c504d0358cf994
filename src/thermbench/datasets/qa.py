"""Realism QA of the synthetic world: does an off-the-shelf face model accept the renders, do its landmarks agree
with the generator's, and do the thermal faces show the regional order of design §4?

Measured on the T-FAKE-format renders (RGB + thermal twin + 70 landmarks + synth_meta.csv):
- MediaPipe face-detection rate on RGB renders with |yaw| <= max_yaw and a face >= min_face_px wide;
- NME (inter-ocular, points 36/45) of MediaPipe FaceMesh mapped to iBUG-68 against the generator's landmarks;
- share of frontal faces without glasses whose inner canthi are the warmest and nose tip the coolest region;
- MediaPipe detection rate on the thermal twins (reported only).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from thermbench.core.io import InputError, read_json, write_json
from thermbench.core.keypoints import load_schema, map_points
from thermbench.core.nme import interocular_distance, nme
from thermbench.core.parallel import ordered_map
from thermbench.core.plots import save_figure
from thermbench.core.progress import progress
from thermbench.datasets import qa_plots, thermeval
from thermbench.datasets.common import read_image
from thermbench.datasets.synth.meta import read_meta
from thermbench.datasets.synth.tfake import THERMAL_DIR
from thermbench.datasets.synth.thermal import decode_window
from thermbench.datasets.tfake import read_landmarks
from thermbench.models.dlib68 import Dlib68


@dataclass(frozen=True)
class QAConfig:
    max_images: int            # T-FAKE renders checked with MediaPipe
    max_yaw: float             # |yaw| limit, degrees
    min_face_px: float         # minimum face width
    detection_confidence: float
    examples: int              # per row of the example figure
    oracle_max_images: int  # renders of the selection also checked with dlib (HOG + 68-pt predictor)


REGIONS = ("canthi", "nose_tip", "forehead", "cheeks", "lips")
MASKS = ("canthus_right", "canthus_left", "nose_tip", "forehead", "cheeks", "lips")


def select_frontal(meta: pd.DataFrame, max_yaw: float, min_face_px: float, max_images: int) -> pd.DataFrame:
    keep = (meta["yaw"].abs() <= max_yaw) & (meta["face_width_px"] >= min_face_px)
    return meta[keep].sort_values("id").head(max_images)


def region_masks(shape: tuple[int, int], lm: np.ndarray) -> dict[str, np.ndarray]:
    """Facial regions from iBUG-68 points, scaled by the inter-ocular distance `iod`:
    canthi = disks at the inner eye corners (39, 42); nose tip = disk at 30; forehead = band above the brows;
    cheeks = disks midway between the lower eyelid and the mouth corner; lips = the outer lip polygon (48-59)."""
    iod = float(np.linalg.norm(lm[36] - lm[45]))
    masks = {name: np.zeros(shape, np.uint8) for name in MASKS}

    def disk(name: str, centre: np.ndarray, radius: float) -> None:
        cv2.circle(masks[name], tuple(np.round(centre).astype(int)), max(1, int(round(radius))), 1, -1)

    disk("canthus_right", lm[39], 0.06 * iod)
    disk("canthus_left", lm[42], 0.06 * iod)
    disk("nose_tip", lm[30], 0.07 * iod)
    for eye, mouth in ((lm[[40, 41]].mean(0), lm[48]), (lm[[46, 47]].mean(0), lm[54])):
        disk("cheeks", (eye + mouth) / 2, 0.1 * iod)
    up = (lm[27] - lm[30]) / max(np.linalg.norm(lm[27] - lm[30]), 1e-6)  # face "up" direction
    brows = lm[[19, 24]]
    band = np.array([brows[0] + up * 0.1 * iod, brows[1] + up * 0.1 * iod, brows[1] + up * 0.3 * iod,
                     brows[0] + up * 0.3 * iod])
    cv2.fillConvexPoly(masks["forehead"], np.round(band).astype(np.int32), 1)
    cv2.fillPoly(masks["lips"], [np.round(lm[48:60]).astype(np.int32)], 1)
    return {name: m.astype(bool) for name, m in masks.items()}


def region_means(temp: np.ndarray, lm: np.ndarray) -> dict[str, float]:
    """Mean °C per region; the canthi take the warmer of the two eyes (as thermography reads the canthus ROI
    maximum), so a turned head whose far canthus hides behind the nose is still measured at the near one."""
    masks = region_masks(temp.shape, lm)
    means = {name: float(temp[m].mean()) if m.any() else float("nan") for name, m in masks.items()}
    means["canthi"] = max(means.pop("canthus_right"), means.pop("canthus_left"))
    return means


def canthi_warmest_nose_coolest(means: dict[str, float]) -> bool:
    others = [means[r] for r in REGIONS if r not in ("canthi", "nose_tip")]
    return bool(means["canthi"] > max(others + [means["nose_tip"]]) and means["nose_tip"] < min(others))


class MediaPipeFace:
    """MediaPipe's face detector and FaceMesh (478 points, mapped to iBUG-68 with our documented table)."""

    def __init__(self, confidence: float):
        import mediapipe as mp  # here, not at the top: seconds to import, and only the QA workers need it

        self._det = mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=confidence)
        self._mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1,
                                                     min_detection_confidence=confidence)
        self._index = load_schema("mediapipe478_to_ibug68")["index"]

    def detects(self, rgb: np.ndarray, box: np.ndarray) -> bool:
        """True if some detection's centre falls inside `box` (x0, y0, x1, y1, px)."""
        h, w = rgb.shape[:2]
        result = self._det.process(rgb)
        for d in result.detections or []:
            b = d.location_data.relative_bounding_box
            cx, cy = (b.xmin + b.width / 2) * w, (b.ymin + b.height / 2) * h
            if box[0] <= cx <= box[2] and box[1] <= cy <= box[3]:
                return True
        return False

    def landmarks68(self, rgb: np.ndarray) -> np.ndarray | None:
        h, w = rgb.shape[:2]
        result = self._mesh.process(rgb)
        if not result.multi_face_landmarks:
            return None
        pts = np.array([[p.x * w, p.y * h] for p in result.multi_face_landmarks[0].landmark])
        return map_points(pts, self._index)

    def close(self) -> None:
        self._det.close()
        self._mesh.close()


QA_CHUNK = 50  # renders per worker job (one MediaPipe instance each)


def _check_renders(raw: Path, detection_confidence: float, chunk: pd.DataFrame) -> list[dict]:
    """The QA row of each render in `chunk` (rows of synth_meta.csv)."""
    face = MediaPipeFace(detection_confidence)
    rows = []
    try:
        for item in chunk.itertuples():
            lm = read_landmarks(raw / f"{item.id}_ldmks.txt")[:68]
            rgb = cv2.cvtColor(read_image(raw / f"{item.id}.png", cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            gray = read_image(raw / THERMAL_DIR / f"{item.id}.png", cv2.IMREAD_GRAYSCALE)
            box = np.concatenate([lm.min(0), lm.max(0)])
            pred = face.landmarks68(rgb)
            iod = interocular_distance(lm[None])
            err = float("nan") if pred is None else float(nme(pred[None], lm[None], None, iod)[0])
            means = region_means(decode_window(gray), lm)
            rows.append({
                "id": item.id, "yaw": item.yaw, "glasses": item.glasses,
                "rgb_detected": face.detects(rgb, box),
                "thermal_detected": face.detects(cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB), box),
                "nme_io": err, "order_ok": canthi_warmest_nose_coolest(means),
                **{f"t_{r}": v for r, v in means.items()},
            })
    finally:
        face.close()
    return rows


def run(raw: Path, cfg: QAConfig) -> tuple[dict, pd.DataFrame]:
    """QA metrics over the T-FAKE-format renders in `raw`, and the per-image table behind them."""
    meta = read_meta(raw)
    chosen = select_frontal(meta, cfg.max_yaw, cfg.min_face_px, cfg.max_images)
    if chosen.empty:
        raise InputError(f"{raw}: no render with |yaw| <= {cfg.max_yaw} and face >= {cfg.min_face_px} px")
    # MediaPipe in image mode keeps no state between images: chunks on every core give the rows of one pass.
    chunks = [chosen.iloc[i:i + QA_CHUNK] for i in range(0, len(chosen), QA_CHUNK)]
    check = partial(_check_renders, raw, cfg.detection_confidence)
    rows = [row for part in ordered_map(check, chunks, f"qa ({QA_CHUNK} renders a part)", unit="part") for row in part]
    table = pd.DataFrame(rows)
    no_glasses = table[table["glasses"] == 0]
    nmes = table["nme_io"].to_numpy(dtype=float)
    metrics = {
        "images": len(table),
        "rgb_detection_rate": float(table["rgb_detected"].mean()),
        "thermal_detection_rate": float(table["thermal_detected"].mean()),
        "facemesh_found_rate": float(np.isfinite(nmes).mean()),
        "nme_io_median": float(np.nanmedian(nmes)) if np.isfinite(nmes).any() else float("nan"),
        "nme_io_mean": float(np.nanmean(nmes)) if np.isfinite(nmes).any() else float("nan"),
        "thermal_order_images": len(no_glasses),
        "thermal_order_rate": float(no_glasses["order_ok"].mean()) if len(no_glasses) else float("nan"),
        "region_mean_c": {r: float(no_glasses[f"t_{r}"].mean()) for r in REGIONS},
        "targets": {"rgb_detection_rate": 0.9, "nme_io_median": 0.08, "thermal_order_rate": 0.9},
        "selection": {"max_yaw_deg": cfg.max_yaw, "min_face_px": cfg.min_face_px,
                      "max_images": cfg.max_images},
    }
    return metrics, table


def thermeval_summary(raw: Path) -> dict:
    """Frames, Person and Nose counts per annotation file (the seeds' protocols need enough Nose crops)."""
    out = {}
    for k in (1, 2):
        coco = thermeval.load_annotations(raw / thermeval.ANNOTATION_FILES[k])
        names = {c["id"]: c["name"] for c in coco["categories"]}
        counts = pd.Series([names[a["category_id"]] for a in coco["annotations"]]).value_counts()
        out[f"file{k}"] = {"frames": len(coco["images"]), **{n: int(counts.get(n, 0)) for n in names.values()}}
    return out


def charlotte_summary(raw: Path) -> dict:
    meta = read_meta(raw)
    return {"images": len(meta), "subjects": int(meta["subject"].nunique()),
            "side_share": float((meta["view"] == "side").mean()),
            "median_width_px": float(meta["image_width"].median())}


def dlib_oracle(raw: Path, table: pd.DataFrame, max_images: int, upsample: int = 0) -> dict:
    """An independent oracle beside MediaPipe (whose base mesh the synthetic faces share): dlib's HOG face detector
    and 68-point iBUG 300-W predictor on the first `max_images` RGB renders of the QA selection (`table` from run).
    A render counts as detected when a face box's centre falls inside the generator's landmark box; NME-IO is over
    the 68 points, on detected renders only. MediaPipe's numbers on the same renders sit beside it."""
    model = Dlib68("hog", upsample)
    subset = table.head(max_images)
    detected, errors = [], []
    for item in progress(subset.itertuples(), "qa dlib", total=len(subset), unit="img"):
        lm = read_landmarks(raw / f"{item.id}_ldmks.txt")[:68]
        bgr = read_image(raw / f"{item.id}.png", cv2.IMREAD_COLOR)
        boxes, _ = model.detect(bgr)
        centres = boxes[:, :2] + boxes[:, 2:] / 2
        inside = np.all((centres >= lm.min(0)) & (centres <= lm.max(0)), axis=1)
        detected.append(bool(inside.any()))
        if inside.any():
            pred = model.landmarks(bgr, boxes[np.argmax(inside)])
            errors.append(float(nme(pred[None], lm[None], None, interocular_distance(lm[None]))[0]))
    mp_nme = subset["nme_io"].to_numpy(dtype=float)
    return {
        "images": len(subset),
        "dlib_hog": {"rgb_detection_rate": float(np.mean(detected)) if detected else float("nan"),
                     "nme_io_median": float(np.median(errors)) if errors else float("nan"),
                     "nme_io_mean": float(np.mean(errors)) if errors else float("nan")},
        "mediapipe_same_images": {
            "rgb_detection_rate": float(subset["rgb_detected"].mean()) if len(subset) else float("nan"),
            "nme_io_median": float(np.nanmedian(mp_nme)) if np.isfinite(mp_nme).any() else float("nan"),
            "nme_io_mean": float(np.nanmean(mp_nme)) if np.isfinite(mp_nme).any() else float("nan")},
    }


def calibration_summary(path: Path, scene: dict) -> dict:
    """The committed calibration of the synthetic ThermEval scenes against the blog's real detection rates
    (tools/measure/calibrate_synth.py, `make calibrate`): its choice, the rates there and their ratios to the real ones,
    and whether `scene` (params synth.thermeval) uses that choice."""
    if not path.is_file():
        return {"status": f"{path} not found (make calibrate writes it)"}
    done = read_json(path)
    chosen = done["chosen"]
    row = next(c for c in done["candidates"] if c["face_width_px"] == chosen["face_width_px"]
               and c["blur_px"] == chosen["blur_px"])
    return {"anchors": done["anchors"], "chosen": chosen, "rates": row["rates"], "ratios": row["ratios"],
            "a_above_b": row["a_above_b"], "qualified": done["qualified"], "factor": done["factor"],
            "frames": done["frames"], "frames_from": done["frames_from"],
            "params_use_it": (list(scene["face_width_px"]) == chosen["face_width_px"]
                              and scene["blur_px"] == chosen["blur_px"])}


def measure(raw_tfake: Path, raw_thermeval: Path, raw_charlotte: Path, metrics_path: Path, figure_stem: Path,
            cfg: QAConfig, sources: dict[str, str], calibration: Path, scene: dict) -> None:
    """The qa stage: QA metrics JSON and the example figure; where a dataset is real (`sources`: {dataset: source}),
    a status line saying why there is none. `calibration`: the ThermEval scenes' calibration file, recorded with
    `scene` (params synth.thermeval)."""
    real = sorted(d for d, s in sources.items() if s != "synthetic")
    if real:
        reason = (f"data.source.{real[0]} is real: this stage measures the synthetic world, so there is nothing to "
                  "measure")
        print(f"qa: {reason}")
        write_json(metrics_path, {"data": sources, "status": reason})
        save_figure(qa_plots.not_applicable_figure(reason), figure_stem)
        return
    metrics, table = run(raw_tfake, cfg)
    metrics["oracle"] = dlib_oracle(raw_tfake, table, cfg.oracle_max_images)
    metrics["datasets"] = {"thermeval": thermeval_summary(raw_thermeval), "charlotte": charlotte_summary(raw_charlotte)}
    metrics["thermeval_calibration"] = calibration_summary(calibration, scene)
    write_json(metrics_path, {"data": sources, **metrics})
    save_figure(qa_plots.examples_figure(raw_tfake, raw_thermeval, raw_charlotte, cfg.examples), figure_stem)
    print(f"rgb detection {metrics['rgb_detection_rate']:.3f}, NME-IO median {metrics['nme_io_median']:.4f}, "
          f"thermal order {metrics['thermal_order_rate']:.3f}, "
          f"thermal detection {metrics['thermal_detection_rate']:.3f}; dlib oracle on "
          f"{metrics['oracle']['images']}: detection {metrics['oracle']['dlib_hog']['rgb_detection_rate']:.3f}, "
          f"NME-IO median {metrics['oracle']['dlib_hog']['nme_io_median']:.4f}")
