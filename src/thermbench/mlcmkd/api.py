"""The MLCM-KD reproduction's public door: what its DVC stage scripts (stages/mlcmkd/) call.

Typed settings from params (`Settings`: `seed`, `rtmpose`, `train`), the crop cache, the teacher and pretrained
backbones, one architecture's or variant's supervised, KTL or MCL runs, the report (with the kernel check it reads),
and the speed benchmark (with the users' ONNX models: `speed_submissions`).
"""

from thermbench.core.conclusions import read_kernel_check
from thermbench.mlcmkd.crop_cache import cache_crops
from thermbench.mlcmkd.groups import run_key
from thermbench.mlcmkd.report import write_report
from thermbench.mlcmkd.run_outputs import GroupPaths, RunPaths
from thermbench.mlcmkd.runs import run_pretrain, run_teacher
from thermbench.mlcmkd.settings import SCORED_ON, RTMPoseParams, Settings, train_params
from thermbench.mlcmkd.speed_submissions import run as speed_submissions
from thermbench.mlcmkd.speed_table import Outputs, SpeedConfig, run_speed

__all__ = ["SCORED_ON", "GroupPaths", "Outputs", "RTMPoseParams", "RunPaths", "Settings", "SpeedConfig", "cache_crops",
           "run_key", "read_kernel_check", "run_pretrain", "run_speed", "run_teacher", "speed_submissions",
           "train_params", "write_report"]
