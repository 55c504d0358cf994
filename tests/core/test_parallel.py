"""ordered_map: results in input order whatever the number of workers, the same as a plain map."""

import os
from concurrent.futures.process import BrokenProcessPool
from functools import partial

import pytest

from thermbench.core.parallel import available_cores, ordered_map


def _affine(x: int, a: int) -> int:
    return a * x + 1


def _dies_on_three(x: int) -> int:
    if x == 3:
        os._exit(1)  # a crashed worker, as a segfault or the OOM killer leaves it
    return x


def test_a_worker_that_dies_fails_the_map_instead_of_hanging_it():
    with pytest.raises(BrokenProcessPool):
        list(ordered_map(_dies_on_three, [1, 2, 3, 4], "test", workers=2))


def test_ordered_map_keeps_input_order_across_workers():
    items = [5, 3, 9, 0, 7, 2, 8]
    expected = [11, 7, 19, 1, 15, 5, 17]  # 2x + 1, by hand
    for workers in (1, 2, 3):
        assert list(ordered_map(partial(_affine, a=2), items, "test", workers)) == expected


def test_ordered_map_handles_empty_and_single_item_inputs():
    assert list(ordered_map(partial(_affine, a=3), [], "test", workers=2)) == []
    assert list(ordered_map(partial(_affine, a=3), [4], "test", workers=2)) == [13]
    assert available_cores() >= 1
