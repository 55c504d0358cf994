"""What the MLCM-KD stages read from params (`seed`, `rtmpose`, `train`), typed, and the values derived from it."""

from __future__ import annotations

from dataclasses import dataclass, replace

from thermbench.core.io import InputError
from thermbench.core.stage import build
from thermbench.mlcmkd.train import FitConfig


@dataclass(frozen=True)
class RTMPoseParams:
    input_size: int             # square model input, px (paper: 256); multiple of 32
    teacher_arch: str
    teacher_init: str | None    # optional official mmpose checkpoint
    student_backbone: str | None  # "pretrained": every student starts from the RGB-pretrained backbone of its size
    pretrain_archs: tuple       # sizes pretrained on the RGB set besides the teacher's (their backbones' source)
    ktl_arch: str
    mcl_arch: str
    supervised_archs: tuple
    backbone_checkpoints: dict[str, str | None]  # size -> CSPNeXt checkpoint (URL or path) teacher, students start from
    backbone_cache: str         # where downloaded checkpoints are kept, each with its sha256 pinned beside it


@dataclass(frozen=True)
class TrainParams:
    device: str                 # cpu | cuda (multi-GPU: torchrun sets WORLD_SIZE)
    num_threads: int            # torch threads of a stage
    workers: int                # runs a supervised/KTL stage trains at once, num_threads // workers threads each
    seeds: tuple                # student seeds of the supervised and KTL runs
    teacher_epochs: int
    max_train_samples: int | None  # cap on T-FAKE training crops (never on the teacher's pretraining set)
    fit: FitConfig              # every run's schedule; its `seed` is replaced by the run's
    kp_weight: float            # lambda_kp of every student (supervised, KTL, MCL)
    kp_reference_batch: int | None  # lambda_kp is scaled by this / batch: L_kp is batch-summed, distillation batch-mean
    scratch: dict               # the from-scratch pair: {group: [keys]} trained from random weights too
    scratch_seeds: tuple        # its student seeds
    ktl: dict                   # dikd_mode, weights, variants (flag sets), runs (the variants trained)
    mcl: dict                   # variants, weights


@dataclass(frozen=True)
class Settings:
    """What an MLCM-KD stage reads from params: `seed`, `rtmpose`, `train` and `data.source` of the datasets every
    run is scored on (`SCORED_ON`), which labels its metrics."""
    seed: int
    rtmpose: RTMPoseParams
    train: TrainParams
    data: dict[str, str]


SCORED_ON = ("tfake", "charlotte")  # every run's test sets (T-FAKE, and CHARLOTTE zero-shot)


def train_params(raw: dict) -> TrainParams:
    """`train` params -> TrainParams; train.fit becomes a FitConfig whose seed each run replaces with its own."""
    if not isinstance(raw, dict) or not isinstance(raw.get("fit"), dict):
        raise InputError("params.yaml: 'train.fit' must be a mapping")
    return build(TrainParams, {**raw, "fit": {**raw["fit"], "seed": 0}}, "train")


def kp_weight(train: TrainParams) -> float:
    """The students' lambda_kp as the loss uses it: scaled so that a batch-summed L_kp keeps, against the batch-mean
    distillation terms, the balance it has at the reference batch (the paper's 64)."""
    if train.kp_reference_batch is None:
        return train.kp_weight
    return train.kp_weight * train.kp_reference_batch / train.fit.batch_size


def fit_config(settings: Settings, seed: int, epochs: int | None = None) -> FitConfig:
    """The run's schedule: train.fit at the run's seed (and, for the teacher and backbones, their epoch cap)."""
    cfg = replace(settings.train.fit, seed=seed)
    return cfg if epochs is None else replace(cfg, epochs=epochs)
