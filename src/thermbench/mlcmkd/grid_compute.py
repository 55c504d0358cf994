"""The training compute of a profile's MLCM-KD grid, on paper: per trained stage, forward FLOPs per image x images x
epochs x runs, in GPU-hours at a stated rate.

Assumptions, each a parameter: a training step costs 3 forwards of the trained network (forward + backward at twice
the forward) plus one forward of a frozen teacher; validation is one forward of the val images per epoch; the
aligners and the augmentation are left out (well under 1% of a step); runs stop at `expected_fraction` of their epoch
cap (early stopping), and the cap itself is the bound.
"""

from __future__ import annotations

from collections.abc import Callable


def grid_runs(params: dict) -> list[dict]:
    """Every training run of the profile `params` (a rendered params.yaml): stage, what it trains, the network
    trained and its frozen teacher (None), the images it trains on (`tfake` or `rgb`), the epoch cap, the count."""
    rt, train = params["rtmpose"], params["train"]
    seeds, scratch_seeds = len(train["seeds"]), len(train.get("scratch_seeds", train["seeds"]))
    epochs, teacher_epochs = train["fit"]["epochs"], train["teacher_epochs"]
    runs = [{"stage": "teacher", "what": f"RTMPose-{rt['teacher_arch']} on RGB", "arch": rt["teacher_arch"],
             "teacher": None, "data": "rgb", "epochs": teacher_epochs, "runs": 1}]
    runs += [{"stage": "pretrain", "what": f"RTMPose-{a} on RGB", "arch": a, "teacher": None, "data": "rgb",
              "epochs": teacher_epochs, "runs": 1} for a in rt["pretrain_archs"]]
    runs += [{"stage": "supervised", "what": f"RTMPose-{a} thermal", "arch": a, "teacher": None, "data": "tfake",
              "epochs": epochs, "runs": seeds} for a in rt["supervised_archs"]]
    runs += [{"stage": "supervised", "what": f"RTMPose-{a} thermal, from scratch", "arch": a, "teacher": None,
              "data": "tfake", "epochs": epochs, "runs": scratch_seeds} for a in train["scratch"]["supervised"]]
    runs += [{"stage": "ktl", "what": f"KTL {v} ({rt['ktl_arch']} from {rt['teacher_arch']})", "arch": rt["ktl_arch"],
              "teacher": rt["teacher_arch"], "data": "tfake", "epochs": epochs, "runs": seeds}
             for v in train["ktl"]["runs"]]
    runs += [{"stage": "ktl", "what": f"KTL {v}, from scratch", "arch": rt["ktl_arch"], "teacher": rt["teacher_arch"],
              "data": "tfake", "epochs": epochs, "runs": scratch_seeds} for v in train["scratch"]["ktl"]]
    runs += [{"stage": "mcl", "what": f"MCL {v} ({rt['mcl_arch']} from KTL {rt['ktl_arch']})", "arch": rt["mcl_arch"],
              "teacher": rt["ktl_arch"], "data": "tfake", "epochs": epochs, "runs": seeds}
             for v in train["mcl"]["variants"]]
    return runs


def grid_compute(runs: list[dict], forward_gflops: Callable[[str], float], images: dict[str, tuple[int, int]],
                 gpu_tflops: float, utilisation: float, expected_fraction: float) -> dict:
    """GPU-hours of `runs` (`grid_runs`) at the cap and at `expected_fraction` of it: `forward_gflops(arch)` per
    image at the input size, `images[data]` = (train, val) images per epoch, the GPU at `utilisation` of
    `gpu_tflops`."""
    rate = gpu_tflops * 1e12 * utilisation
    rows = []
    for run in runs:
        train_n, val_n = images[run["data"]]
        step = 3 * forward_gflops(run["arch"]) + (forward_gflops(run["teacher"]) if run["teacher"] else 0.0)
        per_epoch = (train_n * step + val_n * forward_gflops(run["arch"])) * 1e9
        hours = per_epoch * run["epochs"] * run["runs"] / rate / 3600
        rows.append({**run, "train_step_gflops_per_image": step, "gpu_hours_at_cap": hours,
                     "gpu_hours_expected": hours * expected_fraction})
    total = sum(r["gpu_hours_at_cap"] for r in rows)
    return {"rows": rows, "gpu_hours_at_cap": total, "gpu_hours_expected": total * expected_fraction,
            "assumed": {"gpu_tflops": gpu_tflops, "utilisation": utilisation, "expected_fraction": expected_fraction,
                        "images": {k: {"train": v[0], "val": v[1]} for k, v in images.items()}}}
