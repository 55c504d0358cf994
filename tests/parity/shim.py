"""Import stand-ins that let the official packages import in the parity environment (.venv-parity).

- mmcv-lite ships mmcv without its compiled ops, yet mmdet and mmpose import `mmcv.ops` names (NMS, RoI and
  deformable-conv layers) at module level. The compared models never call them, so each such name is a class that
  raises when built or called.
- The torchvision wheel on PyPI is a CUDA build whose compiled ops cannot load beside the project's CPU torch, and
  torchvision 0.28 still registers fake kernels for `torchvision::nms` and `qnms` on import: their schemas are
  declared here (no kernel), which timm and the TFAN package need only to import.
"""

import importlib.abc
import importlib.util
import sys
import types

import torch


class CompiledOpMissing:
    def __init__(self, *args, **kwargs):
        raise RuntimeError(f"{type(self).__name__} is a compiled mmcv op, absent from mmcv-lite")


class _StubModule(types.ModuleType):
    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return type(name, (CompiledOpMissing,), {})


class _MmcvOpsFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name == "mmcv.ops" or name.startswith("mmcv.ops."):
            return importlib.util.spec_from_loader(name, self, is_package=True)
        return None

    def create_module(self, spec):
        return _StubModule(spec.name)

    def exec_module(self, module):
        pass


def install() -> None:
    sys.meta_path.insert(0, _MmcvOpsFinder())
    for op in ("nms", "qnms"):
        torch.library.define(f"torchvision::{op}", "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
