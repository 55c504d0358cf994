"""Stage speed: params, GFLOPs, ONNX export and CPU latency of every trained RTMPose model (paper Table II, Fig. 4).

Deterministic numbers (params, FLOPs, ONNX agreement) go to metrics/speed.json; wall-clock numbers, which depend on
the machine and its load, go to metrics/timing/speed.json, which nothing downstream reads and the regression ignores.
"""

import argparse
from pathlib import Path

import torch
from tqdm import tqdm

from thermbench import speed
from thermbench.io import atomic_dir, load_params, run_stage, section, write_json, write_text
from thermbench.models.rtmpose import count_parameters
from thermbench.plots import data_label, save_figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=Path("data/models"))
    parser.add_argument("--onnx-dir", type=Path, default=Path("data/onnx"))
    args = parser.parse_args()
    params = load_params()
    cfg = section(params, "speed")
    label = data_label(section(params, "data.source"))
    width, height = cfg["input_size"]
    shape = (1, 3, height, width)
    torch.set_num_threads(cfg["threads"])

    complexity, timing, rows = {}, {}, []
    with atomic_dir(args.onnx_dir) as onnx_dir:
        for name in tqdm(speed.discover_checkpoints(args.models_dir, cfg["models"]), desc="speed", unit="model"):
            model = speed.load_checkpoint(args.models_dir, name, [width, height])
            onnx_path = onnx_dir / f"{name}.onnx"
            export = speed.export_onnx(model, onnx_path, shape, cfg["opset"], output_names=["simcc_x", "simcc_y"])
            max_diff = speed.check_onnx_matches_torch(model, onnx_path, shape, cfg["atol"], cfg["rtol"])
            gflops = speed.count_gflops(model, shape)
            complexity[name] = {"arch": model.cfg.arch, "input_size": [width, height],
                                "params": count_parameters(model), "gflops": gflops, "gmacs": gflops / 2,
                                "onnx_opset": export["opset"], "onnx_max_abs_diff": max_diff}
            timing[name] = speed.measure_latency(model, onnx_path, shape, cfg["warmup"], cfg["repeats"], cfg["threads"])
            rows.append({"name": name, **complexity[name], **timing[name]})

    env = speed.environment(cfg["threads"])
    write_json("metrics/speed.json", complexity)
    write_json("metrics/timing/speed.json", {"environment": env, "models": timing})
    write_text("plots/speed_table.md", speed.table_markdown(rows, env, label))
    save_figure(speed.plot_fps_vs_params(rows, env, label), "plots/speed_fps_vs_params")
    for r in rows:
        print(f"{r['name']}: {r['params'] / 1e6:.2f} M params, {r['gmacs']:.2f} GMACs, "
              f"onnxruntime {r['onnxruntime_ms']:.1f} ms, torch {r['torch_ms']:.1f} ms")


if __name__ == "__main__":
    run_stage(main)
