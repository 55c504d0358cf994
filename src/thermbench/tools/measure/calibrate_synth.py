"""Calibrate the synthetic ThermEval scenes against the blog's real detection rates (`make calibrate`).

The blog's stored outputs on the real ThermEval-D give four detection rates of the MediaPipe face pipelines
(docs/sources.md; zeroshot/blog_report.py holds them as ANCHORS). For every candidate scene setting
(the faces' width range in px and the sensor blur) this renders frames drawn as the train/val pool's are, from seeds
of their own (no test frame is drawn, none is read), runs the same four pipelines and scores their detection rates
as the protocols do (the blog's nose centre, greedy matching within the part's cap). The setting kept is the one
whose rates are all within a factor `--factor` of the real ones, with part 3's order (A above B), at the least sum of
squared log ratios; where none qualifies, the best by that sum, marked as such. The result goes to
conclusions/synth_calibration.json; the chosen values are to be written into the profiles' `synth.thermeval`.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import yaml

from thermbench.core import metrics
from thermbench.core.io import write_json
from thermbench.core.progress import progress
from thermbench.core.stage import run
from thermbench.datasets.synth import thermal
from thermbench.datasets.synth import thermeval as synth
from thermbench.models.landmarker import nose_indices
from thermbench.zeroshot.blog_report import ANCHORS
from thermbench.zeroshot.protocols import face_pipeline as fp

CALIBRATION_STREAM = 7  # seeds [seed, dataset code, CALIBRATION_STREAM, k]: frames no dataset file holds
REAL = {row: rate for _, rate, _, _, row in ANCHORS}  # row -> the blog's detection rate
PROTOCOL = {row: protocol for _, _, _, protocol, row in ANCHORS}  # row -> part1 | part3
WIDTHS = ((20, 30), (25, 40), (30, 45), (35, 50), (40, 55), (45, 60))
BLURS = (0.7, 1.2, 1.6, 2.0, 2.5)


def frames(seed: int, n: int, p_people: list[float], face_width: tuple[float, float], blur: float):
    """`n` frames with a Person and a Nose each: (8-bit image, GT noses, Person boxes xyxy)."""
    sensor = thermal.make_sensor(np.random.default_rng([seed, synth.DATASET_CODE]), (synth.HEIGHT, synth.WIDTH), blur)
    out, k = [], 0
    while len(out) < n:
        k += 1
        rng = np.random.default_rng([seed, synth.DATASET_CODE, CALIBRATION_STREAM, k])
        temp, anns, _ = synth.frame(rng, sensor, p_people, face_width)
        noses = [[a["bbox"][0] + a["bbox"][2] / 2, a["bbox"][1] + a["bbox"][3] / 2] for a in anns
                 if a["category_id"] == 3]
        persons = [[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
                   for a in anns if a["category_id"] == 0]
        if noses and persons:
            out.append((thermal.encode_minmax(temp), noses, persons))
    return out


def detection_rates(items: list, caps: dict[str, float], confidence: float) -> dict[str, float]:
    """The four anchored rows' detection rates (matched GT / all GT) on `items`."""
    several, one = fp.MediaPipeParts(confidence), fp.MediaPipeParts(confidence, landmarker_faces=1)
    nose = nose_indices("mediapipe478_nose", "blog")
    found = {row: [0, 0] for row in REAL}
    try:
        for image, noses, persons in items:
            for row in REAL:
                if PROTOCOL[row] == "part1":  # its one row: FaceMesh with num_faces=1
                    points = one.landmarks(image)
                else:
                    points = fp.run_pipeline(several, row, image, persons)
                pred = points[:, nose].mean(axis=1).tolist() if len(points) else []
                errors = metrics.matched_errors(noses, pred, caps[row])
                found[row][0] += int(np.isfinite(errors).sum())
                found[row][1] += len(noses)
    finally:
        several.close()
        one.close()
    return {row: hit / total for row, (hit, total) in found.items()}


def score(rates: dict[str, float], factor: float) -> dict:
    """The log ratios to the real rates, whether every one is within `factor` and A is above B."""
    ratios = {row: rates[row] / REAL[row] for row in REAL}
    logs = [np.log(r) if r > 0 else np.inf for r in ratios.values()]
    within = all(abs(v) <= np.log(factor) for v in logs)
    return {"ratios": ratios, "sum_sq_log_ratio": float(np.sum(np.square(logs))), "within_factor": within,
            "a_above_b": rates["A"] > rates["B"], "qualifies": within and rates["A"] > rates["B"]}


def calibrate(params: dict, n: int, factor: float, widths=WIDTHS, blurs=BLURS) -> dict:
    cfg = params["synth"]["thermeval"]
    caps = {row: params["zeroshot_blog"][PROTOCOL[row]]["match_cap_px"] for row in REAL}
    confidence = params["zeroshot_blog"]["part3"]["min_detection_confidence"]
    candidates = []
    for width, blur in progress(list(itertools.product(widths, blurs)), "calibration", unit="setting"):
        rates = detection_rates(frames(params["seed"], n, cfg["people_probs"], width, blur), caps, confidence)
        candidates.append({"face_width_px": list(width), "blur_px": blur, "rates": rates, **score(rates, factor)})
    ok = [c for c in candidates if c["qualifies"]]
    chosen = min(ok or candidates, key=lambda c: c["sum_sq_log_ratio"])
    return {"anchors": REAL, "frames": n, "frames_from": "seeds of their own, drawn as the train/val "
            "pool's frames are (no test frame)", "factor": factor, "rule": "every rate within the factor of the "
            "real one and A above B; among those, the least sum of squared log ratios", "qualified": bool(ok),
            "chosen": {"face_width_px": chosen["face_width_px"], "blur_px": chosen["blur_px"]},
            "candidates": candidates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--frames", type=int, default=200, help="frames per setting (each with a Person and a Nose)")
    parser.add_argument("--factor", type=float, default=1.5)
    parser.add_argument("--out", type=Path, default=Path("conclusions/synth_calibration.json"))
    args = parser.parse_args()
    result = calibrate(yaml.safe_load(args.params.read_text()), args.frames, args.factor)
    write_json(args.out, result)
    chosen = next(c for c in result["candidates"] if c["face_width_px"] == result["chosen"]["face_width_px"]
                  and c["blur_px"] == result["chosen"]["blur_px"])
    print(f"{args.out}: face_width_px {chosen['face_width_px']}, blur_px {chosen['blur_px']} "
          f"({'qualifies' if result['qualified'] else 'no setting qualifies: the closest'}); rates "
          + ", ".join(f"{r} {100 * v:.1f}% (real {100 * REAL[r]:.1f}%)"
                      for r, v in chosen["rates"].items()))


if __name__ == "__main__":
    run(main)
