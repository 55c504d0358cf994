"""Shared core: stage runner and params, atomic deterministic files, crops, keypoint schemas, metrics, plotting,
ONNX sessions."""
