"""Multi-process training through DistributedDataParallel: 2 CPU processes (gloo) equal 1 process on the batch.

Each rank takes half of every batch; DDP averages the gradients. The step must equal one process on the whole batch,
which also checks the loss balance: L_kp is summed over the batch and the distillation terms are means, so without
the world-size scaling of L_kp its weight would halve under 2 processes and the parameters would differ.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from split_builders import dot_split
from thermbench.mlcmkd.augment import AugmentConfig
from thermbench.mlcmkd.distributed import init_distributed
from thermbench.mlcmkd.losses import DistillConfig, DistillTask
from thermbench.mlcmkd.optim import OptimConfig
from thermbench.mlcmkd.train import FitConfig, fit_ktl
from thermbench.models.rtmpose import build_rtmpose

SIZE = 64
WORKER = """
import sys
import numpy as np
import torch
sys.path.insert(0, {here!r})
sys.path.insert(0, {tests!r})  # split_builders
from test_ddp import train
torch.set_num_threads(1)
params = train()
if torch.distributed.get_rank() == 0:
    np.save({out!r}, params)
"""


def train() -> np.ndarray:
    """DIKD KTL, 2 epochs x 2 steps of batch 4 with augmentation and clipping; all student params, flattened."""
    init_distributed("cpu")
    torch.manual_seed(0)
    student, teacher = build_rtmpose("t", input_size=(SIZE, SIZE)), build_rtmpose("t", input_size=(SIZE, SIZE))
    task = DistillTask(student, teacher, DistillConfig(fd=True, ld=True, fi=True, ri=True))
    cfg = FitConfig(epochs=2, batch_size=4, seed=0, optim=OptimConfig(lr=1e-3, warmup_steps=1, clip_grad=1.0),
                    norm_eval=True, progress=False,
                    augment=AugmentConfig(rotate_deg=10, scale=0.1, shift=0.05, flip_prob=0.5))
    data = {"train": dot_split(8, 0, SIZE, twin="inverted"), "val": dot_split(2, 1, SIZE, twin="inverted")}
    fit_ktl(student, teacher, task, data, cfg)
    return torch.cat([p.detach().flatten() for p in student.parameters()]).numpy()


def test_two_gloo_processes_equal_one_process_on_the_whole_batch(tmp_path):
    out = tmp_path / "ddp.npy"
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(here=str(Path(__file__).parent), tests=str(Path(__file__).parents[1]),
                                    out=str(out)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                    str(script)], check=True, env=env, capture_output=True, timeout=600)
    torch.manual_seed(0)
    untrained = torch.cat([p.detach().flatten() for p in build_rtmpose("t", input_size=(SIZE, SIZE)).parameters()])
    single = train()
    two = np.load(out)
    assert np.abs(single - untrained.numpy()).max() > 1e-4  # training moved the weights
    np.testing.assert_allclose(two, single, atol=1e-5, rtol=0)
