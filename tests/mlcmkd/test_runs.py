"""Multi-run stages: every run of a group lands where `layout` says, and a process pool changes nothing."""

import json
from dataclasses import replace

import pandas as pd
import pytest
import torch

from split_builders import dot_split
from thermbench.core.io import InputError
from thermbench.datasets.crop_store import save_splits
from thermbench.mlcmkd import groups, runs
from thermbench.mlcmkd.backbones import backbone_sources, build_student
from thermbench.mlcmkd.groups import group_jobs, group_run_names, key_jobs, longest_first, run_key
from thermbench.mlcmkd.run_outputs import GroupPaths
from thermbench.mlcmkd.runs import run_ktl, run_supervised
from thermbench.mlcmkd.settings import (
    Flags,
    KTLParams,
    MCLParams,
    RTMPoseParams,
    ScratchParams,
    Settings,
    kp_weight,
    train_params,
)
from thermbench.models import run_layout as layout
from thermbench.models.rtmpose import build_rtmpose, save_model

SIZE = 64


def _caches(root):
    save_splits(root / "tfake", {"train": dot_split(8, 0, SIZE, "same"), "val": dot_split(4, 1, SIZE),
                                     "test": dot_split(4, 2, SIZE, "same")})
    meta = pd.DataFrame({"sample_id": [f"c{i}" for i in range(6)], "width_group": ["high", "mean", "low"] * 2,
                         "view": ["front", "side"] * 3, "diag_annotated_px": [60.0] * 6})
    save_splits(root / "charlotte", {"test": dot_split(6, 3, SIZE, meta=meta)})


def _train(num_threads: int, workers: int | None, progress: bool = False) -> dict:
    return {"device": "cpu", "num_threads": num_threads, "run_threads": 1, "workers": workers, "seeds": [0, 1],
            "teacher_epochs": 1,
            "max_train_samples": None, "fit": {"epochs": 1, "batch_size": 4, "grad_norm_steps": 2,
                                               "progress": progress},
            "kp_weight": 0.1, "kp_reference_batch": None, "scratch": {}, "scratch_seeds": [0, 1],
            "ktl": {"dikd_mode": "text", "runs": [], "variants": {}, "weights": {}},
            "mcl": {"variants": [], "weights": {}}}


def _settings(num_threads: int, workers: int | None, progress: bool = False) -> Settings:
    return Settings(seed=0, rtmpose=_rtmpose(), train=train_params(_train(num_threads, workers, progress)),
                    data={"tfake": "synthetic", "charlotte": "synthetic"})


def _rtmpose(student_backbone: str | None = None, pretrain_archs: tuple = (), mcl_arch: str = "t",
             supervised_archs: tuple = ("t",), checkpoints: dict | None = None, cache: str = "unused") -> RTMPoseParams:
    """Teacher and KTL student RTMPose-t at SIZE px, no teacher_init."""
    return RTMPoseParams(SIZE, "t", None, student_backbone, pretrain_archs, "t", mcl_arch, supervised_archs,
                         checkpoints or {}, cache)


def _run(root, cache, settings) -> GroupPaths:
    paths = GroupPaths(root / "models/supervised", root / "curves/supervised", root / "metrics/supervised",
                       root / "predictions/supervised", cache / "tfake", cache / "charlotte")
    run_key(settings, "supervised", "t", paths, [])  # student_backbone None: no backbone sources
    return paths


def test_layout_puts_runs_in_their_group_and_key_folders(tmp_path):
    assert layout.run_path(tmp_path, "ktl-dikd-seed0", ".json") == tmp_path / "ktl/dikd/ktl-dikd-seed0.json"
    assert layout.run_path(tmp_path, "supervised-t-seed2") == tmp_path / "supervised/t/supervised-t-seed2"
    assert layout.run_path(tmp_path, "mcl-dikd-seed1", "_ced.csv") == tmp_path / "mcl/dikd/mcl-dikd-seed1_ced.csv"
    assert layout.run_path(tmp_path, "ktl-fdld_ri-seed4") == tmp_path / "ktl/fdld_ri/ktl-fdld_ri-seed4"
    assert (layout.run_path(tmp_path, "supervised-s-scratch-seed1")
            == tmp_path / "supervised/s/supervised-s-scratch-seed1")
    assert layout.run_path(tmp_path, "pretrain-t") == tmp_path / "pretrain/pretrain-t"
    assert layout.run_path(tmp_path, "teacher") == tmp_path / "teacher"
    assert layout.run_name("ktl", "fdld_ri", 2) == "ktl-fdld_ri-seed2"
    assert layout.run_name("ktl", "dikd", 3, scratch=True) == "ktl-dikd-scratch-seed3"
    assert layout.group_of(layout.run_name("supervised", "t", 0)) == "supervised"
    assert layout.group_of("teacher") is None


def test_group_jobs_are_keys_times_seeds_in_table_order_then_the_scratch_pair():
    settings = _settings(1, 1)
    assert group_jobs(settings, "supervised") == [("t", 0, False), ("t", 1, False)]
    # Every size trains every seed (supervised-t is MCL's comparison); the from-scratch pair comes last.
    two_sizes = replace(settings, rtmpose=replace(settings.rtmpose, ktl_arch="s", supervised_archs=("t", "s")),
                        train=replace(settings.train, ktl=replace(settings.train.ktl, runs=("fdld", "dikd")),
                                      mcl=MCLParams(("dikd",), {}), scratch=ScratchParams(("s",), ("dikd",))))
    assert group_run_names(two_sizes, "supervised") == [
        "supervised-t-seed0", "supervised-t-seed1", "supervised-s-seed0", "supervised-s-seed1",
        "supervised-s-scratch-seed0", "supervised-s-scratch-seed1"]
    assert group_run_names(two_sizes, "ktl") == ["ktl-fdld-seed0", "ktl-fdld-seed1", "ktl-dikd-seed0", "ktl-dikd-seed1",
                                                 "ktl-dikd-scratch-seed0", "ktl-dikd-scratch-seed1"]
    assert group_run_names(two_sizes, "mcl") == ["mcl-dikd-seed0", "mcl-dikd-seed1"]
    with pytest.raises(ValueError, match="unknown run group"):
        group_jobs(settings, "teacher")


def test_a_key_stage_trains_only_its_own_runs_scratch_included():
    settings = _settings(1, 1)
    two = replace(settings, rtmpose=replace(settings.rtmpose, supervised_archs=("t", "s")),
                  train=replace(settings.train, ktl=replace(settings.train.ktl, runs=("fdld", "dikd")),
                                mcl=MCLParams(("dikd",), {}), scratch=ScratchParams(("s",), ("dikd",))))
    assert key_jobs(two, "supervised", "t") == [("t", 0, False), ("t", 1, False)]
    assert key_jobs(two, "supervised", "s") == [("s", 0, False), ("s", 1, False), ("s", 0, True), ("s", 1, True)]
    assert key_jobs(two, "ktl", "fdld") == [("fdld", 0, False), ("fdld", 1, False)]
    assert key_jobs(two, "ktl", "dikd") == [("dikd", 0, False), ("dikd", 1, False), ("dikd", 0, True),
                                            ("dikd", 1, True)]
    assert key_jobs(two, "mcl", "dikd") == [("dikd", 0, False), ("dikd", 1, False)]
    with pytest.raises(InputError, match="train.ktl.runs has no 'fd'"):
        key_jobs(two, "ktl", "fd")
    stray = replace(two, train=replace(two.train, scratch=ScratchParams(supervised=("l",))))
    with pytest.raises(InputError, match="train.scratch.supervised has l, not in rtmpose.supervised_archs"):
        key_jobs(stray, "supervised", "t")
    assert key_jobs(replace(stray, train=replace(stray.train, scratch_seeds=())), "supervised", "t") == [
        ("t", 0, False), ("t", 1, False)]  # no from-scratch seeds: nothing to train beside a key


def test_a_key_stage_writes_only_its_runs_into_its_folders(tmp_path):
    _caches(tmp_path)
    settings = _settings(1, 1)
    two = replace(settings, rtmpose=replace(settings.rtmpose, supervised_archs=("t", "s")),
                  train=replace(settings.train, seeds=(0,)))
    root = tmp_path / "models/supervised/s"
    paths = GroupPaths(root, tmp_path / "curves", tmp_path / "metrics", tmp_path / "predictions",
                       tmp_path / "tfake", tmp_path / "charlotte")
    run_key(two, "supervised", "s", paths, [])
    assert sorted(p.name for p in root.iterdir()) == ["supervised-s-seed0"]
    assert sorted(p.name for p in (tmp_path / "metrics").iterdir()) == ["supervised-s-seed0.json"]


def test_the_students_kp_weight_keeps_the_balance_of_the_reference_batch():
    settings = _settings(1, 1)
    assert kp_weight(settings.train) == 0.1  # no reference batch: as given
    # L_kp is summed over the batch of 4: x64/4 keeps its weight against the batch-mean terms as at batch 64
    assert kp_weight(replace(settings.train, kp_reference_batch=64)) == pytest.approx(1.6)


def test_two_worker_processes_write_what_one_process_writes(tmp_path, capsys):
    _caches(tmp_path)
    # Both at one torch thread a run (train.run_threads): two processes against one; progress bars as the profiles
    # have them (on: shown by a stage that trains its runs itself, not by a pool's workers)
    pooled = _run(tmp_path / "pooled", tmp_path, _settings(num_threads=2, workers=2, progress=True))
    serial = _run(tmp_path / "serial", tmp_path, _settings(num_threads=1, workers=1, progress=True))
    printed = capsys.readouterr().out
    for name in ("supervised-t-seed0", "supervised-t-seed1"):
        assert f"{name}: best val NME" in printed
        files = sorted(p.name for p in (pooled.models / name).iterdir())  # config.json too: DVC hashes the folder
        assert files == sorted(p.name for p in (serial.models / name).iterdir())
        for a, b in (*((pooled.models / name / f, serial.models / name / f) for f in files),
                     (pooled.metrics / f"{name}.json", serial.metrics / f"{name}.json"),
                     (pooled.predictions / f"{name}.npy", serial.predictions / f"{name}.npy"),
                     (pooled.curves / f"{name}_gradnorm.csv", serial.curves / f"{name}_gradnorm.csv")):
            assert a.read_bytes() == b.read_bytes(), a.name
        config = json.loads((pooled.models / name / "config.json").read_text())
        assert config["threads"] == 1 and config["seed"] == int(name[-1])
    # The two seeds are different runs, not one run written twice.
    assert ((pooled.models / "supervised-t-seed0/model.safetensors").read_bytes()
            != (pooled.models / "supervised-t-seed1/model.safetensors").read_bytes())


def test_runs_start_longest_first_and_seeds_keep_their_order():
    settings = _settings(1, 1)
    variants = {"fdld": Flags(fd=True, ld=True), "fdld_ri": Flags(fd=True, ld=True, ri=True),
                "dikd": Flags(fd=True, ld=True, fi=True, ri=True)}
    ktl = replace(settings, train=replace(settings.train, ktl=replace(settings.train.ktl, variants=variants)))
    jobs = [("fdld", 0, False), ("fdld", 1, False), ("fdld_ri", 0, False), ("dikd", 0, False), ("dikd", 1, False),
            ("fdld", 0, True)]
    assert longest_first(ktl, "ktl", jobs) == [("fdld", 0, True), ("dikd", 0, False), ("dikd", 1, False),
                                               ("fdld_ri", 0, False), ("fdld", 0, False), ("fdld", 1, False)]
    assert longest_first(settings, "supervised", [("t", 0, False), ("s", 0, False), ("s", 1, False),
                                                  ("l", 0, False)]) == [
        ("l", 0, False), ("s", 0, False), ("s", 1, False), ("t", 0, False)]


def _seeded(arch: str, seed: int):
    torch.manual_seed(seed)
    return build_rtmpose(arch, input_size=(SIZE, SIZE))


def test_every_student_size_starts_from_its_pretrained_backbone_with_the_seeded_head(tmp_path):
    teacher, small = _seeded("t", 7), _seeded("s", 8)
    save_model(teacher, tmp_path / "teacher/model.safetensors")
    save_model(small, tmp_path / "pretrain/pretrain-s/model.safetensors")
    backbones = backbone_sources([tmp_path / "teacher", tmp_path / "pretrain"])
    assert backbones == {"t": tmp_path / "teacher", "s": tmp_path / "pretrain/pretrain-s"}
    settings = replace(_settings(1, 1), rtmpose=_rtmpose("pretrained", ("s",), "s", ("t", "s")))
    for arch, source in (("t", teacher.state_dict()), ("s", small.state_dict())):
        torch.manual_seed(0)
        student, init = build_student(settings, arch, backbones)
        fresh = _seeded(arch, 0).state_dict()
        assert init == "pretrained backbone"
        for key, value in student.state_dict().items():
            assert torch.equal(value, source[key] if key.startswith("backbone.") else fresh[key]), key
        assert not torch.equal(fresh["backbone.stem.0.conv.weight"], source["backbone.stem.0.conv.weight"])
    # The from-scratch pair: the seeded build alone.
    torch.manual_seed(0)
    scratch, init = build_student(settings, "s", backbones, scratch=True)
    fresh = _seeded("s", 0).state_dict()
    assert init == "random" and all(torch.equal(v, fresh[k]) for k, v in scratch.state_dict().items())
    with pytest.raises(InputError, match="RTMPose-m: no pretrained backbone given"):
        build_student(settings, "m", backbones)


def test_an_unknown_student_backbone_is_refused(tmp_path):
    settings = replace(_settings(1, 1), rtmpose=_rtmpose("imagenet"))
    with pytest.raises(InputError, match="student_backbone must be 'pretrained' or null"):
        build_student(settings, "t", {})


class _Started(Exception):
    """Raised by a stand-in fit function: the student as training would have started from it."""


def test_a_ktl_student_starts_from_the_supervised_students_weights_of_its_seed(tmp_path, monkeypatch):
    # The paired comparisons of the report rest on it: loading the frozen teacher (which builds, so draws random
    # numbers) must come after the student's seeded build, or the KTL head differs from the supervised one.
    _caches(tmp_path)
    save_model(_seeded("t", 7), tmp_path / "teacher/model.safetensors")

    def started(model, *args, **kwargs):
        raise _Started({k: v.clone() for k, v in model.state_dict().items()})

    monkeypatch.setattr(runs, "fit_supervised", started)
    monkeypatch.setattr(runs, "fit_ktl", started)
    ktl = KTLParams("text", {}, {"fdld": Flags(fd=True, ld=True)}, ("fdld",))
    settings = replace(_settings(1, 1), rtmpose=_rtmpose("pretrained"))
    settings = replace(settings, train=replace(settings.train, ktl=ktl))
    backbones = backbone_sources([tmp_path / "teacher"])
    paths = GroupPaths(tmp_path / "m", tmp_path / "c", tmp_path / "j", tmp_path / "p", tmp_path / "tfake",
                       tmp_path / "charlotte")
    for seed in (0, 1):
        with pytest.raises(_Started) as sup:
            run_supervised(settings, "t", seed, backbones, paths.of(f"supervised-t-seed{seed}"))
        with pytest.raises(_Started) as kd:
            run_ktl(settings, "fdld", seed, tmp_path / "teacher", backbones, paths.of(f"ktl-fdld-seed{seed}"))
        (a,), (b,) = sup.value.args, kd.value.args
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), seed
        assert not torch.equal(a["head.cls_x.weight"], _seeded("t", 7).state_dict()["head.cls_x.weight"])


@pytest.mark.parametrize("workers, run_threads, cores, runs, world, expected", [
    (None, 1, 2, 5, "1", 2),    # every core, one thread a run
    (None, 2, 16, 5, "1", 5),   # 16 cores hold 8 two-thread runs; the stage has 5
    (None, 4, 2, 5, "1", 1),    # fewer cores than one run's threads: still one
    (3, 1, 2, 5, "1", 3),       # as set, whatever the cores
    (None, 1, 16, 5, "2", 1),   # under torchrun every rank trains the runs together, one after another
])
def test_pool_size_fills_the_cores_a_run_at_a_time(monkeypatch, workers, run_threads, cores, runs, world, expected):
    monkeypatch.setattr(groups, "available_cores", lambda: cores)
    monkeypatch.setenv("WORLD_SIZE", world)
    train = replace(_settings(1, 1).train, workers=workers, run_threads=run_threads)
    assert groups.pool_size(train, runs) == expected


@pytest.mark.parametrize("key, value", [("run_threads", 0), ("num_threads", 0), ("workers", 0)])
def test_thread_and_worker_counts_below_one_are_refused_in_one_line(key, value):
    with pytest.raises(InputError, match=f"'train.{key}' must be a whole number of at least 1"):
        train_params({**_train(1, None), key: value})
