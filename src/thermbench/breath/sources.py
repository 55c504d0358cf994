"""The landmark sources of the breath benchmark, in one registry: name -> `Source` (the dataclass of its params section
under `breath.track`, the factory of its predictor and crop, and a check of its weight files).

A factory takes its own params section and the run's `SourceInputs` and returns (a function making a new predictor,
or None for the oracle, which reads the ground truth; the `CropConfig` its crops are cut by). It raises
`SourceUnavailable` where its model or weights are absent. Model sources use the runners in `thermbench.models`,
trained students and TinyHeads only through their saved files.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable

import torch

from thermbench.breath.crops import PersonCrop, SquareCrop
from thermbench.breath.predictors import (
    DlibPredictor,
    FaceBoxPredictor,
    MediaPipePredictor,
    StudentPredictor,
    TinyHeadPredictor,
    ZeroShotPredictor,
)
from thermbench.breath.tracking import CropConfig, Predictor
from thermbench.breath.unavailable import SourceUnavailable
from thermbench.core.io import InputError
from thermbench.models.sapiens2_pose import Sapiens2Pose
from thermbench.models.tfan_landmarker import TFANLandmarker, resolve_weights
from thermbench.models.tinyhead import BackboneConfig
from thermbench.models.weights import WeightsUnavailable, resolve_sapiens2


@dataclass
class MediaPipeTrack:
    crop_scale: float
    crop_px: int
    min_detection_confidence: float
    min_tracking_confidence: float


@dataclass
class StudentTrack:
    crop_scale: float  # as the students' training crops: square landmark box x 1.25
    window_c: tuple[float, float]  # as their training images (T-FAKE thermal encoding)
    chunk: int  # model frames per batch sharing one crop box
    stride: int  # the model runs on every stride-th frame, the track is interpolated in between (CPU budget)


@dataclass
class ZeroShotTrack:
    crop_scale: float  # body models want context around the face
    crop_px: int


@dataclass
class TFANTrack:
    crop_scale: float  # TFAN gets the crop's centre half as its face box and widens it as its package does
    crop_px: int


@dataclass
class TinyHeadTrack:
    """The Person-like box the head's crop is cut about (`sources.PersonCrop`), in face box widths."""

    person_width: float
    person_top: float
    person_height: float  # least box height; a frame that ends sooner is set on a canvas (PersonCrop)
    face_in_crop: tuple[float, float]  # face box width / crop width where the head applies
    chunk: int
    stride: int


@dataclass
class DlibTrack:
    crop_scale: float  # the face fills half the crop: above the detectors' ~80 px face at 256 px
    crop_px: int
    upsample: int  # detector upsampling (each doubles the crop side it searches)
    stride: int


@dataclass
class TrackConfig:
    mediapipe: MediaPipeTrack
    students: StudentTrack
    zeroshot: ZeroShotTrack
    tinyhead: TinyHeadTrack
    tfan: TFANTrack
    dlib_hog: DlibTrack
    dlib_mmod: DlibTrack  # the CNN: ~0.2 s a 256 px crop
    threads: int  # torch threads of a model source, per worker
    workers: int  # sequences tracked at once, one process each (tracks do not depend on it)
    skip: list[str]  # sources not run in this profile (their track file says so)


@dataclass
class TinyHeadInputs:
    """Where the TinyHead source finds its trained head (one seed's head file), its features' backbone info and the
    teacher backbone, and how its training crops were cut."""

    head: Path
    features: Path
    teacher: Path
    backbone: BackboneConfig  # params head.backbone
    sapiens2: dict  # params zeroshot.sapiens2
    thermeval: dict  # params prepare.thermeval (crop_geometry, box_scale: `thermeval.crop_pair`)


@dataclass(frozen=True)
class SourceInputs:
    """What a tracking run gives its source besides the source's params section."""

    threads: int  # torch threads of a model source, per worker
    model_dir: Path | None = None  # student: the directory with its model.safetensors
    zeroshot: dict | None = None  # dwpose, sapiens2, tfan: their params zeroshot.<name>
    tinyhead: TinyHeadInputs | None = None


Setup = tuple[Callable[[], Predictor] | None, CropConfig | None]


@dataclass(frozen=True)
class Source:
    """A landmark source: the dataclass of its params section (`TrackConfig.<section>`; None: nothing to set), the
    factory of its predictor and crop, and `check_weights`, which looks for its weight files without loading them
    (params zeroshot.<name> -> raises `WeightsUnavailable`; None: nothing to look for)."""

    config: type | None
    section: str | None
    factory: Callable[[Any, SourceInputs], Setup]
    check_weights: Callable[[dict], None] | None = None


def make_oracle(cfg: None, inputs: SourceInputs) -> Setup:
    return None, None


def make_mediapipe(cfg: MediaPipeTrack, inputs: SourceInputs) -> Setup:
    return (lambda: MediaPipePredictor(cfg.min_detection_confidence, cfg.min_tracking_confidence),
            CropConfig(SquareCrop(cfg.crop_scale, cfg.crop_px)))


def make_dlib(detector: str, cfg: DlibTrack, inputs: SourceInputs) -> Setup:
    dlib = DlibPredictor(detector, cfg.upsample)  # stateless: serves every track
    return (lambda: dlib), CropConfig(SquareCrop(cfg.crop_scale, cfg.crop_px), stride=cfg.stride)


def make_student(cfg: StudentTrack, inputs: SourceInputs) -> Setup:
    torch.set_num_threads(inputs.threads)
    if inputs.model_dir is None:
        raise InputError("breath track: a student source needs --model <dir with model.safetensors>")
    student = StudentPredictor(inputs.model_dir)  # stateless: one instance serves every track
    return (lambda: student), CropConfig(SquareCrop(cfg.crop_scale, student.input_px), cfg.window_c, cfg.chunk,
                                         cfg.stride)


def make_tinyhead(cfg: TinyHeadTrack, inputs: SourceInputs) -> Setup:
    torch.set_num_threads(inputs.threads)
    th = inputs.tinyhead
    if th is None:
        raise InputError("breath track: the tinyhead source needs --heads, --features and --teacher")
    head = TinyHeadPredictor(th.head, th.features, th.teacher, th.backbone, th.sapiens2)
    crop = PersonCrop(cfg.person_width, cfg.person_top, cfg.person_height, cfg.face_in_crop,
                      {**th.thermeval, "crop_size": head.input_px})
    return (lambda: head), CropConfig(crop, chunk=cfg.chunk, stride=cfg.stride)


def make_dwpose(cfg: ZeroShotTrack, inputs: SourceInputs) -> Setup:
    torch.set_num_threads(inputs.threads)
    from thermbench.models.dwpose import DWPose  # imports onnxruntime: only this source needs it

    adapter = _available(lambda: DWPose.from_params(inputs.zeroshot or {}, allow_download=False,
                                                    threads=inputs.threads))
    return (lambda: ZeroShotPredictor(adapter)), CropConfig(SquareCrop(cfg.crop_scale, cfg.crop_px))


def make_sapiens2(cfg: ZeroShotTrack, inputs: SourceInputs) -> Setup:
    torch.set_num_threads(inputs.threads)
    adapter = _available(lambda: Sapiens2Pose.from_params(inputs.zeroshot or {}, allow_download=False))
    return (lambda: ZeroShotPredictor(adapter)), CropConfig(SquareCrop(cfg.crop_scale, cfg.crop_px))


def make_tfan(cfg: TFANTrack, inputs: SourceInputs) -> Setup:
    torch.set_num_threads(inputs.threads)
    tfan = _available(lambda: TFANLandmarker.from_params(inputs.zeroshot or {}))
    return (lambda: FaceBoxPredictor(tfan, cfg.crop_scale)), CropConfig(SquareCrop(cfg.crop_scale, cfg.crop_px))


def dwpose_weights(cfg: dict) -> None:
    from thermbench.models.dwpose import resolve_onnx  # imports onnxruntime: only this source needs it

    for key in ("det", "pose"):
        resolve_onnx(cfg[key], allow_download=False, param=f"zeroshot.dwpose.{key}")


SOURCES: dict[str, Source] = {
    "oracle": Source(None, None, make_oracle),  # the ground truth: nothing to set
    "mediapipe": Source(MediaPipeTrack, "mediapipe", make_mediapipe),
    "dwpose": Source(ZeroShotTrack, "zeroshot", make_dwpose, dwpose_weights),
    "sapiens2": Source(ZeroShotTrack, "zeroshot", make_sapiens2, partial(resolve_sapiens2, allow_download=False)),
    "tfan": Source(TFANTrack, "tfan", make_tfan, resolve_weights),
    "dlib_hog": Source(DlibTrack, "dlib_hog", partial(make_dlib, "hog")),
    "dlib_mmod": Source(DlibTrack, "dlib_mmod", partial(make_dlib, "mmod")),
    "student": Source(StudentTrack, "students", make_student),
    "tinyhead": Source(TinyHeadTrack, "tinyhead", make_tinyhead),
}


def source(name: str) -> Source:
    """The registered source `name`; an unknown name is one line listing the known ones."""
    if name not in SOURCES:
        raise InputError(f"breath track: unknown source '{name}' ({', '.join(SOURCES)})")
    return SOURCES[name]


def setup(name: str, cfg: TrackConfig, inputs: SourceInputs) -> Setup:
    """(predictor factory, crop config) of source `name` with its params section of `cfg`."""
    spec = source(name)
    return spec.factory(None if spec.section is None else getattr(cfg, spec.section), inputs)


def require_weights(name: str, zeroshot: dict) -> None:
    """Raises `SourceUnavailable` when the weight files of source `name` are not here; looks for the files only (never
    downloads, loads nothing), so a stage can say so before starting its workers."""
    check = source(name).check_weights
    if check is not None:
        _available(lambda: check(zeroshot))


def _available(load: Callable[[], Any]) -> Any:
    """`load()`, with absent weights turned into `SourceUnavailable` (the one line instead of numbers)."""
    try:
        return load()
    except WeightsUnavailable as err:
        raise SourceUnavailable(str(err)) from None
