"""Stage speed_submissions: the ONNX models of submissions.yaml timed as Table II's checkpoint rows are (ONNX Runtime
on the CPU, batch 1, the speed section's threads, warm-up and repeats, wall and CPU time by `runtimes.time_paired`),
with the weights stored in each graph and its multiply-adds (models/onnx_model.py). Predictions files have no model
to time: they get no row.

The numbers that do not depend on the machine go to the metrics file, the latencies to the timing file, both to the
table `plots/speed_submissions.md` beside `speed_table.md`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from thermbench.core.io import write_json, write_text
from thermbench.core.plots import data_label
from thermbench.core.submissions import Submission
from thermbench.models.onnx_model import graph_counts, input_shape, onnx_fields, read_card
from thermbench.speed import pose_speed, runtimes


def latency(card, timing: pose_speed.Timing) -> dict:
    """One batch-1 call on a zero image: median and fastest wall ms, frames per second from the wall median, median
    and fastest CPU ms (the fields of the checkpoint rows' ONNX Runtime timing, pose_speed.measure_latency)."""
    run = runtimes.onnxruntime_runner(card.onnx, timing.threads)
    x = np.zeros(input_shape(card, 1), np.float32)
    row = runtimes.summary(runtimes.time_paired({"onnxruntime": lambda: run(x)}, timing.warmup,
                                                timing.repeats)["onnxruntime"])
    return {**runtimes.latency_fields("onnxruntime", row), "threads": timing.threads, "warmup": timing.warmup,
            "repeats": timing.repeats}


def markdown(rows: dict[str, dict], times: dict[str, dict], env: dict, label: str) -> str:
    lines = [f"**Your ONNX models, timed as Table II's checkpoints** ({label}; {env['cpu']}, {env['threads']} "
             f"thread(s), batch 1; median of repeated runs after warm-up; onnxruntime {env['onnxruntime']}).", ""]
    if not rows:
        return "\n".join(lines + ["No ONNX model is entered in submissions.yaml.", ""])
    lines += ["| Model | Input | GMACs | Weights in the graph (M) | ONNX Runtime ms (fps) |",
              "|---|---|---:|---:|---:|"]
    for name, row in rows.items():
        width, height = row["input_size"]
        t = times[name]
        lines.append(f"| {row['label']} | {height}×{width} | {row['gmacs']:.3f} | {row['weights'] / 1e6:.2f} "
                     f"| {t['onnxruntime_ms']:.2f} ({t['onnxruntime_fps']:.1f}) |")
    lines += ["", "GMACs: the Conv, Gemm and MatMul multiply-adds of one forward pass, each counted once (the paper's "
              "GFLOPs convention, as in speed_table.md). Weights: the graph's stored tensors, after whatever the "
              "exporter folded (batch norms into convolutions), so a little below a PyTorch parameter count.", ""]
    return "\n".join(lines)


def run(entries: list[Submission], timing: pose_speed.Timing, metrics: Path, timing_path: Path, table: Path,
        source: dict[str, str]) -> None:
    """Every ONNX model's row; every card is read and checked before anything is timed or written."""
    cards = {e.name: (e, read_card(e.path)) for e in entries if e.onnx}
    rows, times = {}, {}
    for name, (entry, card) in cards.items():
        weights, gmacs = graph_counts(card)
        rows[name] = {"label": entry.label, "file": str(entry.path), **onnx_fields(card), "notes": entry.notes,
                      "input_size": list(card.size), "weights": weights, "gmacs": gmacs}
        times[name] = latency(card, timing)
    env = pose_speed.environment(timing.threads)
    write_json(metrics, {"data": source, "submissions": rows})
    write_json(timing_path, {"data": source, "environment": env, "submissions": times}, 2)
    write_text(table, markdown(rows, times, env, data_label(source)))
