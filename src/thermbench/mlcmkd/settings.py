"""What the MLCM-KD stages read from params (`seed`, `rtmpose`, `train`), typed, and the values derived from it."""

from __future__ import annotations

from dataclasses import dataclass, replace

from thermbench.core.io import InputError
from thermbench.core.numerics import check_device
from thermbench.core.stage import build
from thermbench.mlcmkd.train import FitConfig


@dataclass(frozen=True)
class RTMPoseParams:
    input_size: int             # square model input, px (paper: 256)
    teacher_arch: str
    teacher_init: str | None    # optional official mmpose checkpoint
    student_backbone: str | None  # "pretrained": every student starts from the RGB-pretrained backbone of its size
    pretrain_archs: tuple       # sizes pretrained on the RGB set besides the teacher's (their backbones' source)
    ktl_arch: str
    mcl_arch: str
    supervised_archs: tuple
    backbone_checkpoints: dict[str, str | None]  # size -> CSPNeXt checkpoint (URL or path) teacher, students start from
    backbone_cache: str         # where downloaded checkpoints are kept, each with its sha256 pinned beside it

    def __post_init__(self):
        # CSPNeXt downsamples by 32: another size leaves feature maps that do not tile the input (SimCC bins)
        if not isinstance(self.input_size, int) or self.input_size < 32 or self.input_size % 32:
            raise InputError(f"params.yaml: 'rtmpose.input_size' must be a positive multiple of 32 px, "
                             f"not {self.input_size!r}")


@dataclass(frozen=True)
class Flags:
    """A KTL variant: the distillation terms it switches on besides L_kp (always on)."""
    fd: bool = False            # feature distillation L_fm
    ld: bool = False            # logit distillation L_lg
    fi: bool = False            # DIKD forward injection
    ri: bool = False            # DIKD reverse injection


@dataclass(frozen=True)
class KTLParams:
    dikd_mode: str              # text (the paper's prose) | equations (eqs. 4-5 as printed)
    weights: dict[str, float]   # fm_weight, lg_weight, fi_weight, ri_weight
    variants: dict[str, Flags]  # name -> flag set: the one place a variant is named
    runs: tuple                 # the variants trained, in table order

    def name_of(self, flags: Flags) -> str | None:
        """The variant of params with these flags, or None where params define none."""
        return next((name for name, f in self.variants.items() if f == flags), None)


@dataclass(frozen=True)
class MCLParams:
    variants: tuple             # the KTL variants compressed (ktl-<variant>-seed<k> -> mcl-<variant>-seed<k>)
    weights: dict[str, float]   # fm_weight, lg_weight


@dataclass(frozen=True)
class ScratchParams:
    """The from-scratch pair: keys of each group also trained from random weights."""
    supervised: tuple = ()
    ktl: tuple = ()


@dataclass(frozen=True)
class TrainParams:
    """The `train` section. A student stage reads only its group's keys (`STUDENT_KEYS`, all its DVC params declare);
    the keys it does not read keep their defaults here."""
    device: str                 # cpu | cuda (multi-GPU: torchrun sets WORLD_SIZE)
    run_threads: int            # torch threads of each run of a supervised/KTL/MCL stage
    workers: int | None         # runs such a stage trains at once (None: available cores // run_threads, at most its
                                # runs); no number depends on it, so it is no stage's DVC param
    seeds: tuple                # student seeds of the supervised and KTL runs
    max_train_samples: int | None  # cap on T-FAKE training crops (never on the teacher's pretraining set)
    fit: FitConfig              # every run's schedule; its `seed` is replaced by the run's
    kp_weight: float            # lambda_kp of every student (supervised, KTL, MCL)
    kp_reference_batch: int | None  # lambda_kp is scaled by this / batch: L_kp is batch-summed, distillation batch-mean
    num_threads: int | None = None  # torch threads of the teacher and pretrain stages (one run each)
    teacher_epochs: int | None = None
    scratch: ScratchParams = ScratchParams()  # the from-scratch pair
    scratch_seeds: tuple = ()   # its student seeds
    ktl: KTLParams | None = None
    mcl: MCLParams | None = None

    def __post_init__(self):
        check_device(self.device, "train.device")
        check_seeds(self.seeds, "train.seeds")
        check_seeds(self.scratch_seeds, "train.scratch_seeds", may_be_empty=True)  # the from-scratch pair is optional
        for key in ("num_threads", "run_threads", "teacher_epochs"):
            if key != "run_threads" and getattr(self, key) is None:
                continue
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                raise InputError(f"params.yaml: 'train.{key}' must be a whole number of at least 1, "
                                 f"not {getattr(self, key)!r}")
        if self.workers is not None and (not isinstance(self.workers, int) or self.workers < 1):
            raise InputError(f"params.yaml: 'train.workers' must be a whole number of at least 1 or null, "
                             f"not {self.workers!r}")


def check_seeds(seeds: tuple, where: str, may_be_empty: bool = False) -> None:
    """Refuse a seed list the runs could not be named by (not whole numbers of at least 0, or repeated) or, unless
    `may_be_empty`, an empty one: every compared method trains on it."""
    whole = all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
    if not whole or len(set(seeds)) < len(seeds):
        raise InputError(f"params.yaml: '{where}' must be distinct whole numbers of at least 0, not {list(seeds)}")
    if not seeds and not may_be_empty:
        raise InputError(f"params.yaml: '{where}' is empty: at least one seed to train")


@dataclass(frozen=True)
class TeacherTrainParams:
    """The `train` keys the teacher and the pretrained backbones read, all that stages teacher and pretrain declare:
    the student grid (seeds, runs, distillation weights) never re-trains them."""
    device: str
    num_threads: int
    teacher_epochs: int
    fit: FitConfig

    def __post_init__(self):
        check_device(self.device, "train.device")


@dataclass(frozen=True)
class Settings:
    """What an MLCM-KD stage reads from params: `seed`, `rtmpose`, `train` and `data.source` of the datasets every
    run is scored on (`SCORED_ON`), which labels its metrics. The teacher's stages read `TeacherTrainParams` only."""
    seed: int
    rtmpose: RTMPoseParams
    train: TrainParams | TeacherTrainParams
    data: dict[str, str]


# The `train` keys each student group reads (`stage.value(args, "train", keys=...)` spells them out in its stage).
STUDENT_KEYS = {
    "supervised": ("device", "run_threads", "workers", "seeds", "max_train_samples", "fit", "kp_weight",
                   "kp_reference_batch", "scratch", "scratch_seeds"),
    "ktl": ("device", "run_threads", "workers", "seeds", "max_train_samples", "fit", "kp_weight", "kp_reference_batch",
            "scratch", "scratch_seeds", "ktl"),
    "mcl": ("device", "run_threads", "workers", "seeds", "max_train_samples", "fit", "kp_weight", "kp_reference_batch",
            "mcl"),
}

# params.yaml keys that change how a stage schedules its work, never a number it writes: no stage declares them as
# DVC params, so changing one re-runs nothing (a stage reading their section declares every other key of it).
SCHEDULING = ("train.workers",)

SCORED_ON = ("tfake", "charlotte")  # every run's test sets (T-FAKE, and CHARLOTTE zero-shot)

# The paper's ablations as flag sets: a report row shows the variant of params with that flag set (`name_of`).
FD = Flags(fd=True, ld=False, fi=False, ri=False)
LD = Flags(fd=False, ld=True, fi=False, ri=False)
FD_LD = Flags(fd=True, ld=True, fi=False, ri=False)  # conventional KD: the baseline of Tables IV and V
FD_LD_RI = Flags(fd=True, ld=True, fi=False, ri=True)
FD_LD_FI = Flags(fd=True, ld=True, fi=True, ri=False)
DIKD = Flags(fd=True, ld=True, fi=True, ri=True)
SHORT = {FD: "FD", LD: "LD", FD_LD: "FD+LD", FD_LD_RI: "+RI", FD_LD_FI: "+FI", DIKD: "DIKD"}  # statements' names
TABLE_III = (("Feature Distillation", FD), ("Logits Distillation", LD), ("FD + LD", FD_LD), ("DIKD (Ours)", DIKD))
TABLE_IV = (("Baseline", FD_LD), ("Baseline + RI", FD_LD_RI), ("Baseline + FI", FD_LD_FI), ("Ours (DIKD)", DIKD))
TABLE_V = (("Baseline (FD+LD)", FD_LD), ("+ L_ri", FD_LD_RI), ("+ L_fi", FD_LD_FI), ("Ours (L_fi + L_ri)", DIKD))


def train_params(raw: dict, cls: type = TrainParams) -> TrainParams | TeacherTrainParams:
    """`train` params (or, for `TeacherTrainParams`, the teacher's keys of it) -> `cls`; train.fit becomes a FitConfig
    whose seed each run replaces with its own."""
    if not isinstance(raw, dict) or not isinstance(raw.get("fit"), dict):
        raise InputError("params.yaml: 'train.fit' must be a mapping")
    return build(cls, {**raw, "fit": {**raw["fit"], "seed": 0}}, "train")


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
