"""Stage speed: params, GFLOPs, ONNX export and CPU latency of the RTMPose family and of every trained RTMPose model
(paper Table II, Fig. 4).

Each architecture in speed.architectures is measured at the paper's speed.input_size with fresh weights (params,
FLOPs, latency), whatever was trained; each checkpoint at its trained input size (ONNX export + parity check +
latency), see thermbench.mlcmkd.speed. Deterministic numbers (params, FLOPs, ONNX agreement) go to metrics/speed.json;
wall-clock numbers, which depend on the machine and its load, go to metrics/timing/speed.json, which nothing
downstream reads and the regression ignores.
"""

import argparse
import tempfile
from pathlib import Path

import torch
from tqdm import tqdm

from thermbench.core.io import InputError, atomic_dir, write_json, write_text
from thermbench.core.plots import data_label, save_figure
from thermbench.core.stage import load_params, section
from thermbench.core.stage import run as run_stage
from thermbench.mlcmkd import speed


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

    arch_configs = speed.architecture_configs(cfg["architectures"], cfg["input_size"])
    archs, checkpoints = {}, {}
    timing = {"checkpoints": {}, "architectures": {}}
    with atomic_dir(args.onnx_dir) as onnx_dir, tempfile.TemporaryDirectory() as scratch:
        for arch, arch_cfg in tqdm(arch_configs.items(), desc="speed architectures", unit="arch"):
            archs[arch], timing["architectures"][arch] = speed.benchmark_architecture(
                arch_cfg, Path(scratch) / f"{arch_cfg.arch}.onnx", cfg, seed)
        for name in tqdm(speed.discover_checkpoints(args.models_dir, cfg["models"]), desc="speed checkpoints",
                         unit="model"):
            model = speed.load_checkpoint(args.models_dir, name)
            checkpoints[name], timing["checkpoints"][name] = speed.benchmark_checkpoint(
                model, onnx_dir / f"{name}.onnx", cfg, seed)
            # Names the checkpoint's architecture; where that has a row above, it must be the same network there.
            paper_cfg = speed.at_input_size(model.cfg, cfg["input_size"])
            arch = speed.architecture_name(paper_cfg)
            if arch in arch_configs and arch_configs[arch] != paper_cfg:
                raise InputError(f"{args.models_dir / name}: {arch} config differs from the benchmarked one "
                                 f"({paper_cfg} vs {arch_configs[arch]})")
            checkpoints[name]["architecture"] = arch

    env = speed.environment(cfg["threads"])
    write_json("metrics/speed.json", {"paper_input_size": cfg["input_size"], "checkpoints": checkpoints,
                                      "architectures": archs})
    write_json("metrics/timing/speed.json", {"environment": env, **timing})
    arch_rows = [{**archs[a], **timing["architectures"][a]} for a in archs]
    checkpoint_rows = [{"name": n, **checkpoints[n], **timing["checkpoints"][n]} for n in checkpoints]
    write_text("plots/speed_table.md", speed.table_markdown(arch_rows, checkpoint_rows, env, label))
    save_figure(speed.plot_fps_vs_params(arch_rows, env, label), "plots/speed_fps_vs_params")
    for r in arch_rows + checkpoint_rows:
        print(f"{r.get('name', 'RTMPose-' + r['arch'])} at {r['input_size']}: {r['params'] / 1e6:.2f} M params, "
              f"{r['gmacs']:.3f} GMACs, onnxruntime {r['onnxruntime_ms']:.1f} ms, torch {r['torch_ms']:.1f} ms")


if __name__ == "__main__":
    run_stage(main)
