import subprocess

import pytest

from thermbench.core.io import InputError
from thermbench.tools.pipeline import timings


def test_in_place_refuses_a_checkout_with_a_dvc_cache(tmp_path):
    (tmp_path / ".dvc" / "cache" / "files").mkdir(parents=True)
    with open(tmp_path / "log", "w") as log, pytest.raises(InputError, match="has a DVC cache"):
        timings.measure_repro(tmp_path, "smoke", tmp_path / "scratch", log, in_place=True)
    assert not (tmp_path / "scratch").exists()


def test_a_fresh_copy_starts_without_the_lock_and_the_stage_timings_of_earlier_runs(tmp_path):
    repo = tmp_path / "repo"
    for name in ("dvc.yaml", "dvc.lock", str(timings.STAGE_TIMINGS), "metrics/timing/make.json"):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text("{}\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    work = timings.fresh_copy(repo, tmp_path / "scratch" / "project")
    assert sorted(p.relative_to(work).as_posix() for p in work.rglob("*") if p.is_file()) == [
        "dvc.yaml", "metrics/timing/make.json"]
    assert (repo / timings.STAGE_TIMINGS).is_file() and (repo / "dvc.lock").is_file()  # the repository untouched


def test_in_place_is_for_the_repro_kinds_only(tmp_path):
    with pytest.raises(InputError, match="only for smoke and default"):
        timings.main(["measure", "test", "--in-place", "--repo", str(tmp_path)])
    assert not (tmp_path / timings.TIMINGS).exists()


def test_the_workers_model_fits_fixed_and_per_round_seconds_to_the_counts_measured():
    # 5 runs: 5 rounds at 1 worker, 3 at 2; 260 s and 160 s give 50 s a round and 10 s fixed
    model = timings.workers_model(5, [{"workers": 2, "wall_s": 160.0}, {"workers": 1, "wall_s": 260.0}])
    assert model == {"fixed_s": 10.0, "per_round_s": 50.0,
                     "predicted": {"1": 260.0, "2": 160.0, "3": 110.0, "4": 110.0, "5": 60.0}}


def test_the_workers_model_needs_counts_that_differ_in_rounds():
    with pytest.raises(InputError, match="same number of rounds"):
        timings.workers_model(2, [{"workers": 2, "wall_s": 10.0}, {"workers": 3, "wall_s": 9.0}])


def test_workers_refuses_a_stage_the_lock_lacks(tmp_path):
    (tmp_path / "params.yaml").write_text("train: {workers: null}\n")
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "dvc.lock").write_text("schema: '2.0'\nstages: {}\n")
    with open(tmp_path / "log", "w") as log, pytest.raises(InputError, match="run `make repro` first"):
        timings.measure_workers(tmp_path, "supervised@t", [1, 2], log)
    assert (tmp_path / "params.yaml").read_text() == "train: {workers: null}\n"


def test_the_readme_renders_the_workers_measured_and_the_model_beyond_them(tmp_path):
    from thermbench.core.io import write_json
    from thermbench.tools.publish import readme_blocks

    measured = [{"workers": 1, "wall_s": 260.0, "cpu_s": 255.0, "load_1m": 1.0},
                {"workers": 2, "wall_s": 160.0, "cpu_s": 270.0, "load_1m": 2.0}]
    write_json(tmp_path / timings.WORKERS, {
        "stage": "supervised@t", "runs": 5, "measured": measured, "outputs_identical": True,
        "machine": {"cpu": "CPU", "cores": 2, "memory_gb": 8}, "commit": "abc", "date": "2026-11-28",
        "model": timings.workers_model(5, measured)})
    text = readme_blocks.workers_model(tmp_path / "metrics")
    assert "1 worker: 4 min 20 s (CPU 4 min 15 s); 2 workers: 2 min 40 s (CPU 4 min 30 s)" in text
    assert "identical at every count" in text and "10 s + 50 s x ceil(runs / workers)" in text
    assert "3 workers 1 min 50 s, 4 workers 1 min 50 s, 5 workers 1 min 00 s" in text


@pytest.mark.parametrize("counts", ["1,x", "2", "0,1", "1,,2"])
def test_worker_counts_that_are_not_two_whole_numbers_of_at_least_1_are_one_line(tmp_path, counts):
    with pytest.raises(InputError, match=f"--counts: two or more worker counts of at least 1 \\(got {counts}\\)"):
        timings.main(["workers", "--counts", counts, "--repo", str(tmp_path)])
    assert list(tmp_path.iterdir()) == []
