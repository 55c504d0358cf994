"""One way to build an onnxruntime CPU session: fixed thread count, sequential execution, no spinning, quiet logs.

Used by the speed benchmark and the DWPose adapter, so every ONNX number is measured under the same settings.
Spinning is off: with more than one intra-op thread, ONNX Runtime's workers otherwise busy-wait between operators,
which on a shared machine takes cores from other jobs and from its own workers (a frame measured 2.97x slower with
two threads; https://onnxruntime.ai/docs/performance/tune-performance/threading.html). With one thread there is no
pool, and the setting changes nothing; it never changes a result.
"""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort


def cpu_session(onnx_path: str | Path, threads: int, profile_prefix: str | Path | None = None) -> ort.InferenceSession:
    """`profile_prefix`: ONNX Runtime's profiler on, its trace written under that prefix when the session's
    `end_profiling` is called (speed/op_profile.py)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    if profile_prefix is not None:
        options.enable_profiling, options.profile_file_prefix = True, str(profile_prefix)
    return ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
