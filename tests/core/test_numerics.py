"""Precision and determinism flags of a torch run (CPU)."""

import pytest
import torch

from thermbench.core.io import InputError
from thermbench.core.numerics import autocast, check_precision, inference_autocast, nondeterministic_error, numerics


def test_bf16_autocast_is_really_on_and_off_otherwise():
    x = torch.ones(2, 3)
    with autocast("bf16", "cpu"):
        assert (x @ x.T).dtype == torch.bfloat16
    for precision in ("fp32", "tf32"):
        with autocast(precision, "cpu"):
            assert (x @ x.T).dtype == torch.float32


def test_inference_autocast_keeps_a_cpu_in_float32():
    x = torch.ones(2, 3)
    with inference_autocast("bf16", "cpu"):
        assert (x @ x.T).dtype == torch.float32


def test_unknown_precision_is_one_line():
    with pytest.raises(InputError, match="'train.fit.precision' must be one of fp32, tf32, bf16, not 'fp16'"):
        check_precision("fp16", "train.fit.precision")


def test_numerics_sets_determinism_and_restores_every_flag():
    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark,
              torch.backends.cudnn.deterministic)
    with numerics("fp32", True, "cpu"):
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark,
            torch.backends.cudnn.deterministic) == before


def test_an_op_without_a_deterministic_kernel_gives_one_line_naming_it():
    err = RuntimeError("adaptive_max_pool2d_backward_cuda does not have a deterministic implementation, but you set "
                       "'torch.use_deterministic_algorithms(True)'. You can turn off determinism ...")
    named = nondeterministic_error(err, "head")
    assert isinstance(named, InputError)
    assert str(named) == ("head.deterministic: adaptive_max_pool2d_backward_cuda has no deterministic implementation "
                          "on this device (set deterministic: false to run it)")
    other = RuntimeError("shape mismatch")
    assert nondeterministic_error(other, "head") is other


def test_numerics_turns_torchs_error_into_the_one_line():
    with pytest.raises(InputError, match=r"^train.fit.deterministic: foo_cuda has no deterministic"):
        with numerics("fp32", True, "cpu"):
            raise RuntimeError("foo_cuda does not have a deterministic implementation, but you set ...")
    assert not torch.are_deterministic_algorithms_enabled()
