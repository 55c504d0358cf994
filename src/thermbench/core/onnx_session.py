"""One way to build an onnxruntime CPU session: fixed thread count, sequential execution, quiet logs.

Used by the speed benchmark and the DWPose adapter, so every ONNX number is measured under the same settings.
"""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort


def cpu_session(onnx_path: str | Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    return ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
