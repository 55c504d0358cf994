import pytest

from thermbench.core.io import InputError
from thermbench.tools import timings


def test_in_place_refuses_a_checkout_with_a_dvc_cache(tmp_path):
    (tmp_path / ".dvc" / "cache" / "files").mkdir(parents=True)
    with open(tmp_path / "log", "w") as log, pytest.raises(InputError, match="has a DVC cache"):
        timings.measure_repro(tmp_path, "smoke", tmp_path / "scratch", log, in_place=True)
    assert not (tmp_path / "scratch").exists()


def test_in_place_is_for_the_repro_kinds_only(tmp_path):
    with pytest.raises(InputError, match="only for smoke and default"):
        timings.main(["measure", "test", "--in-place", "--repo", str(tmp_path)])
    assert not (tmp_path / timings.TIMINGS).exists()
