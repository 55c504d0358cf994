"""Track files of the breath benchmark: one landmark source run over every sequence into a JSON file of nostril
tracks, and those files read back.

A trained source (a student, the TinyHead) is tracked once per training seed, into `<source>/seed<s>.json`: its breath
error moves with the seed (and across CPUs) as much as between sources, so one run of it ranks nothing.
"""

from __future__ import annotations

import re
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

from thermbench.breath.sources import SourceInputs, TinyHeadInputs, TrackConfig, require_weights, setup
from thermbench.breath.tracking import merge_sequences, track_sequence
from thermbench.breath.unavailable import SourceUnavailable
from thermbench.core.io import InputError, read_json, write_json
from thermbench.core.parallel import ordered_map
from thermbench.datasets.video import data_source, list_sequences

SEED_FILE = re.compile(r"seed(\d+)")  # <source>/seed<s>.json: the track of one training seed of a trained source
TRACK_CHECKS = ("outside_frame", "model_frames", "not_tracked")  # what a track file says about its frames


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
    inputs = SourceInputs(cfg.threads, model_dir, zeroshot_cfg, tinyhead)
    track_one = partial(_track_sequence, source, cfg, inputs)
    workers = 1 if source == "oracle" else cfg.workers  # the oracle reads no frames
    try:
        if source in cfg.skip:
            raise SourceUnavailable(f"not run in this profile (breath.track.skip lists {source})")
        require_weights(source, zeroshot_cfg or {})  # absent weights: the one line now, not after starting the workers
        results = list(ordered_map(track_one, list_sequences(videos), f"breath track {source}", workers, unit="seq"))
        merged = merge_sequences(results)
    except SourceUnavailable as err:
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
        write_json(timing, {"data": data_source(videos), "source": name, "available": result["available"],
                            "threads": cfg.threads,
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


def _track_sequence(source: str, cfg: TrackConfig, inputs: SourceInputs, path: Path) -> dict:
    """One sequence in a worker: its own predictors (models load once per sequence), `track_sequence`'s result and
    the seconds it took."""
    start = time.perf_counter()
    make, crop_cfg = setup(source, cfg, inputs)
    return {**track_sequence(path, make, crop_cfg), "seconds": time.perf_counter() - start}


def read_tracks(path: Path) -> dict:
    data = read_json(path)
    if not isinstance(data, dict) or "source" not in data or "available" not in data:
        raise InputError(f"{path}: not a breath track file (needs 'source' and 'available')")
    if data["available"]:
        data["tracks"] = {s: {k: np.array(v, dtype=np.float64).reshape(-1, 2) for k, v in subs.items()}
                          for s, subs in data["tracks"].items()}
    return data
