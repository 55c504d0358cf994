"""The signal chain's options, chosen on validation videos of their own: never on the benchmark's videos.

Stage breath_options renders `breath.options.sequences` synthetic sequences per scene kind with their own seed
(`breath.options.seed`, not the benchmark's), tracks them with the true nostrils (the oracle: the choice is about the
chain, not a landmark model), and scores the ridge rate MAE of the oracle under every combination of the candidate
ROI references and motion-regression degrees, every other chain value as params `breath.rates.chain` holds it. The
choice is the combination with the lowest MAE averaged over the scene kinds; the table says whether params hold it.
On real recordings (data.source.breath real) there are no validation videos to render: the stage says so.
"""

from __future__ import annotations

import itertools
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from thermbench.breath.rates import RateConfig, evaluate
from thermbench.breath.sources import TrackConfig
from thermbench.breath.tracks import track_source
from thermbench.core.io import write_json
from thermbench.datasets.synth.video import SceneConfig, VideoConfig, write_videos

SOURCE = "oracle"


@dataclass
class OptionsConfig:
    seed: int  # the validation videos' own seed
    sequences: int  # per scene kind (near, near_sway, far)
    reference: list[str]  # candidate ROI references (breath.rates.chain.reference)
    motion_degree: list[int]  # candidate motion-regression degrees (breath.rates.chain.motion_degree)


def validation_videos(video: VideoConfig, cfg: OptionsConfig) -> VideoConfig:
    """The benchmark's scenes with `cfg.sequences` of each kind (the near sequences still and swaying)."""
    near: SceneConfig = replace(video.near, sequences=2 * cfg.sequences)
    return replace(video, near=near, far=replace(video.far, sequences=cfg.sequences), sway_sequences=cfg.sequences)


def score(videos: Path, track: Path, rates: RateConfig, cfg: OptionsConfig, seed: int) -> list[dict]:
    """One row per candidate: its options, the oracle's ridge MAE per scene kind and their mean."""
    rows = []
    for reference, degree in itertools.product(cfg.reference, cfg.motion_degree):
        chain = replace(rates.chain, reference=reference, motion_degree=degree)
        metrics = evaluate(videos, [track], replace(rates, chain=chain, oracle_noise_px=()), seed)["metrics"]
        scenes = {scene: m["ridge"]["mae_bpm"] for scene, m in sorted(metrics["sources"][SOURCE].items())}
        rows.append({"reference": reference, "motion_degree": degree, "mae_bpm": scenes,
                     "mean_mae_bpm": float(np.mean(list(scenes.values())))})
    return rows


def choose(out: Path, source: str, video: VideoConfig, track: TrackConfig, rates: RateConfig, cfg: OptionsConfig,
           seed: int) -> dict:
    """Stage breath_options: render the validation videos, track them with the oracle under `track`, score every
    candidate, write the table to `out` (JSON)."""
    if source != "synthetic":
        result = {"data": source, "status": "data.source.breath is real: the chain's options are chosen on synthetic "
                                            "validation videos only (run the synthetic profile to re-make the choice)"}
        write_json(out, result)
        return result
    with tempfile.TemporaryDirectory() as scratch:
        videos, oracle = Path(scratch) / "videos", Path(scratch) / "oracle.json"
        write_videos(videos, validation_videos(video, cfg), cfg.seed)
        track_source(SOURCE, videos, oracle, track)
        rows = score(videos, oracle, rates, cfg, seed)
    best = min(rows, key=lambda r: (r["mean_mae_bpm"], r["reference"], r["motion_degree"]))
    chosen = {"reference": best["reference"], "motion_degree": best["motion_degree"]}
    held = {"reference": rates.chain.reference, "motion_degree": rates.chain.motion_degree}
    result = {"data": "synthetic", "seed": cfg.seed, "sequences_per_scene": cfg.sequences, "source": SOURCE,
              "candidates": rows, "chosen": chosen, "params": held, "params_hold_the_choice": chosen == held}
    write_json(out, result, 4)
    return result


def markdown(result: dict) -> str:
    """The choice as a table for the breath report."""
    if "status" in result:
        return f"\nOptions of the signal chain: {result['status']}.\n"
    scenes = sorted(result["candidates"][0]["mae_bpm"])
    lines = ["", f"Options of the signal chain, chosen on validation videos of their own (SYNTHETIC, seed "
                 f"{result['seed']}, {result['sequences_per_scene']} sequences per scene kind, never the benchmark's): "
                 f"the {result['source']} track's ridge rate MAE (breaths/min) under each candidate, the rest of the "
                 "chain as params hold it. `make repro TARGETS=breath_options` re-makes the choice.", "",
             "| reference | motion degree | " + " | ".join(scenes) + " | mean | |",
             "|---|---|" + "---|" * len(scenes) + "---|---|"]
    for r in result["candidates"]:
        mark = "chosen" if {"reference": r["reference"], "motion_degree": r["motion_degree"]} == result["chosen"] \
            else ""
        lines.append(f"| {r['reference']} | {r['motion_degree']} | "
                     + " | ".join(f"{r['mae_bpm'][s]:.2f}" for s in scenes) + f" | {r['mean_mae_bpm']:.2f} | {mark} |")
    held = result["params"]
    lines += ["", f"params.yaml holds reference {held['reference']}, motion degree {held['motion_degree']}: "
              + ("the choice." if result["params_hold_the_choice"] else "**not the choice** (set it in "
                 "breath.rates.chain and re-run).")]
    return "\n".join(lines) + "\n"
