"""Where MLCM-KD students and the teacher start from: a size's CSPNeXt backbone checkpoint
(`rtmpose.backbone_checkpoints`, fetched once per stage and sha256-pinned by `thermbench.models.weights`) where one
is set and can be had, else the offline stand-in, an RTMPose of that size pretrained on the RGB face set here."""

from __future__ import annotations

import sys
from http.client import HTTPException
from pathlib import Path

from thermbench.core.io import InputError
from thermbench.mlcmkd.distributed import main_process_first
from thermbench.mlcmkd.settings import RTMPoseParams, Settings
from thermbench.models.rtmpose import ARCHS, RTMPose, build_rtmpose, load_backbone, load_run, read_checkpoint
from thermbench.models.weights import Checkpoint, checkpoint_of, fetch_checkpoint

STUDENT_BACKBONES = (None, "pretrained")


def check_backbone_source(source: str | None) -> None:
    if source not in STUDENT_BACKBONES:
        raise InputError(f"params.yaml: rtmpose.student_backbone must be 'pretrained' or null, got {source!r}")


def backbone_sources(dirs: list[Path]) -> dict[str, Path]:
    """The RGB-pretrained models by architecture, from their saved configs: each of `dirs` is a model folder (the
    teacher) or a folder of them (stage pretrain's)."""
    models = []
    for d in map(Path, dirs):
        is_model = (d / "model.safetensors").is_file()
        models += [d] if is_model else sorted(p.parent for p in d.glob("*/model.safetensors"))
    return {load_run(d).cfg.arch: d for d in models}


Backbones = dict[str, Path | Checkpoint]  # per size: a backbone checkpoint, or the folder of a stand-in model


def backbone_checkpoint(rtmpose: RTMPoseParams, arch: str, instead: str) -> Checkpoint | None:
    """The backbone checkpoint of size `arch` (rtmpose.backbone_checkpoints.<arch>), or None where it is null or
    cannot be had (no network, a failed download, a missing file): then one line on stderr says so and what the run
    starts from `instead`."""
    unknown = sorted(set(rtmpose.backbone_checkpoints) - set(ARCHS))
    if unknown:
        raise InputError(f"params.yaml: rtmpose.backbone_checkpoints has unknown size(s) {', '.join(unknown)} "
                         f"(expected {', '.join(ARCHS)})")
    ref, key = rtmpose.backbone_checkpoints.get(arch), f"rtmpose.backbone_checkpoints.{arch}"
    if ref is None:
        print(f"RTMPose-{arch}: no backbone checkpoint ({key}: null): {instead}", file=sys.stderr)
        return None
    with main_process_first():  # under torchrun rank 0 downloads, the other ranks then find the file
        # http_download turns URL and OS errors into InputError; a malformed URL (ValueError, InvalidURL) or a
        # response cut short (IncompleteRead) arrive as they are
        try:
            path = fetch_checkpoint(ref, Path(rtmpose.backbone_cache))
        except (InputError, ValueError, HTTPException) as err:
            print(f"RTMPose-{arch}: backbone checkpoint {ref} not available ({err}); set {key} to a local copy of "
                  f"it; {instead}", file=sys.stderr)
            return None
        checkpoint = checkpoint_of(ref, path)
    print(f"RTMPose-{arch}: backbone from {path} (sha256 {checkpoint.sha256})", file=sys.stderr)
    return checkpoint


def student_backbones(settings: Settings, archs: list[str], stand_ins: dict[str, Path]) -> Backbones:
    """What students of the sizes `archs` start from, per size: its backbone checkpoint where one is set and can be
    had, else its offline stand-in of `backbone_sources` (`stand_ins`); one line on stderr per size says which.
    Resolved once per stage, so a URL is downloaded once, before any run starts."""
    if settings.rtmpose.student_backbone is None:
        return stand_ins
    sources: Backbones = dict(stand_ins)
    for arch in dict.fromkeys(archs):
        instead = (f"its students start from the offline stand-in instead, the backbone of {stand_ins[arch]} (an "
                   f"RTMPose-{arch} pretrained on the RGB face set here)" if arch in stand_ins else
                   f"there is no offline stand-in of that size either (add '{arch}' to rtmpose.pretrain_archs)")
        checkpoint = backbone_checkpoint(settings.rtmpose, arch, instead)
        if checkpoint is not None:
            sources[arch] = checkpoint
    return sources


def build_student(settings: Settings, arch: str, backbones: Backbones,
                  scratch: bool = False) -> tuple[RTMPose, str]:
    """A student network of `arch` and how it starts: ("pretrained backbone" | `Checkpoint.init` | "random").

    RTMPose and DWPose train every model from a pretrained CSPNeXt backbone (pose-pretrained on AIC + COCO) with a
    random head. With `rtmpose.student_backbone: pretrained` the backbone of `backbones[arch]` is loaded, strict by
    key: a checkpoint (rtmpose.backbone_checkpoints) or, offline, the stand-in, an RTMPose of the same size pretrained
    on the RGB face set (the teacher for its size, `pretrain@<arch>` for the others). `scratch` (the from-scratch
    pair) and a null source start from random weights. The seeded build comes first either way, so one seed gives
    one head whatever the backbone.
    """
    source, size = settings.rtmpose.student_backbone, settings.rtmpose.input_size
    check_backbone_source(source)
    student = build_rtmpose(arch, input_size=(size, size))
    if source is None or scratch:
        return student, "random"
    if arch not in backbones:
        raise InputError(f"RTMPose-{arch}: no pretrained backbone given (have: {', '.join(sorted(backbones))}); add "
                         f"'{arch}' to rtmpose.pretrain_archs")
    backbone = backbones[arch]
    if isinstance(backbone, Checkpoint):
        load_backbone(student, read_checkpoint(backbone.path), str(backbone.path))
        return student, backbone.init
    # The stand-in is loaded as a model, which draws random numbers: after the seeded build, as always.
    load_backbone(student, load_run(backbone).state_dict(), str(backbone))
    return student, "pretrained backbone"
