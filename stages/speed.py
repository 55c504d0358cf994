"""Stage speed: params, GFLOPs, ONNX export and CPU latency of every trained RTMPose model (paper Table II, Fig. 4).

Each checkpoint is measured at its trained input size (ONNX export + parity check + latency) and its architecture at
the paper's speed.input_size with fresh weights (params, FLOPs, latency; once per architecture), see thermbench.speed.
Deterministic numbers (params, FLOPs, ONNX agreement) go to metrics/speed.json; wall-clock numbers, which depend on
the machine and its load, go to metrics/timing/speed.json, which nothing downstream reads and the regression ignores.
"""

import argparse
import tempfile
from pathlib import Path

import torch
from tqdm import tqdm

from thermbench import speed
from thermbench.io import InputError, atomic_dir, load_params, run_stage, section, write_json, write_text
from thermbench.plots import data_label, save_figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=Path("data/models"))
    parser.add_argument("--onnx-dir", type=Path, default=Path("data/onnx"))
    args = parser.parse_args()
    params = load_params()
    cfg = section(params, "speed")
    seed = section(params, "seed")
    label = data_label(section(params, "data.source"))
    torch.set_num_threads(cfg["threads"])

    checkpoints, archs, rows = {}, {}, []
    timing = {"checkpoints": {}, "architectures": {}}
    paper_configs = {}  # architecture name -> its config at the paper's size; each is measured once
    with atomic_dir(args.onnx_dir) as onnx_dir, tempfile.TemporaryDirectory() as scratch:
        for name in tqdm(speed.discover_checkpoints(args.models_dir, cfg["models"]), desc="speed", unit="model"):
            model = speed.load_checkpoint(args.models_dir, name)
            checkpoints[name], timing["checkpoints"][name] = speed.benchmark_checkpoint(
                model, onnx_dir / f"{name}.onnx", cfg, seed)
            paper_cfg = speed.at_input_size(model.cfg, cfg["input_size"])
            arch = speed.architecture_name(paper_cfg)
            if paper_configs.setdefault(arch, paper_cfg) != paper_cfg:
                raise InputError(f"{args.models_dir / name}: {arch} config differs from another checkpoint's "
                                 f"({paper_cfg} vs {paper_configs[arch]})")
            checkpoints[name]["architecture"] = arch
            if arch not in archs:
                archs[arch], timing["architectures"][arch] = speed.benchmark_architecture(
                    paper_cfg, Path(scratch) / f"{len(archs)}.onnx", cfg, seed)
            rows.append({"name": name, "trained": {**checkpoints[name], **timing["checkpoints"][name]},
                         "paper": {**archs[arch], **timing["architectures"][arch]}})

    env = speed.environment(cfg["threads"])
    write_json("metrics/speed.json", {"paper_input_size": cfg["input_size"], "checkpoints": checkpoints,
                                      "architectures": archs})
    write_json("metrics/timing/speed.json", {"environment": env, **timing})
    write_text("plots/speed_table.md", speed.table_markdown(rows, env, label, cfg["input_size"]))
    paper_points = [{"name": arch, **archs[arch], **timing["architectures"][arch]} for arch in archs]
    save_figure(speed.plot_fps_vs_params(paper_points, env, label), "plots/speed_fps_vs_params")
    for r in rows:
        t, p = r["trained"], r["paper"]
        print(f"{r['name']}: trained {t['input_size']} {t['params'] / 1e6:.2f} M params, {t['gmacs']:.3f} GMACs, "
              f"onnxruntime {t['onnxruntime_ms']:.1f} ms, torch {t['torch_ms']:.1f} ms; at {p['input_size']} "
              f"{p['params'] / 1e6:.2f} M, {p['gmacs']:.2f} GMACs, onnxruntime {p['onnxruntime_ms']:.1f} ms, "
              f"torch {p['torch_ms']:.1f} ms")


if __name__ == "__main__":
    run_stage(main)
