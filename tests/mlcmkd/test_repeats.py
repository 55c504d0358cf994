"""Seed repeats: params checks, mean/sd aggregation and the report section, on hand-computed numbers."""

import pytest

from thermbench.core.io import InputError
from thermbench.mlcmkd import repeats
from thermbench.mlcmkd import report as report_mlcmkd
from thermbench.mlcmkd.runs import RTMPoseParams, Settings, TrainParams

# Hand-picked NMEs. FD+LD T-FAKE 0.10/0.12/0.14 -> mean 0.12, sd sqrt((0.02^2 + 0 + 0.02^2) / 2) = 0.02;
# DIKD T-FAKE 0.20/0.16/0.18 -> 0.18 ± 0.02: difference +0.06 > 0.02 + 0.02, beyond the seed spread.
# CHARLOTTE Full: FD+LD 0.05/0.06/0.07 -> 0.06 ± 0.01; DIKD 0.06/0.08/0.07 -> 0.07 ± 0.01: +0.01 < 0.02, within it.
RUNS = {
    "ktl-fdld": {0: {"tfake_nme": 0.10, "charlotte_full_nme": 0.05}, 1: {"tfake_nme": 0.12, "charlotte_full_nme": 0.06},
                 2: {"tfake_nme": 0.14, "charlotte_full_nme": 0.07}},
    "ktl-dikd": {0: {"tfake_nme": 0.20, "charlotte_full_nme": 0.06}, 1: {"tfake_nme": 0.16, "charlotte_full_nme": 0.08},
                 2: {"tfake_nme": 0.18, "charlotte_full_nme": 0.07}},
}


def _params(seeds, variants=("fdld", "dikd"), supervised=("s",)) -> Settings:
    rtmpose = RTMPoseParams(input_size=64, teacher_arch="s", teacher_init=None, ktl_arch="s", mcl_arch="t",
                            supervised_archs=("s",))
    train = TrainParams(device="cpu", num_threads=1, teacher_epochs=1, fit={}, mcl={},
                        ktl={"variants": {"fdld": {}, "dikd": {}}},
                        repeats={"seeds": list(seeds), "variants": list(variants), "supervised": list(supervised)})
    return Settings(seed=0, rtmpose=rtmpose, train=train)


def test_aggregate_mean_and_sample_sd():
    out = repeats.aggregate(RUNS)
    assert out["ktl-fdld"]["seeds"] == [0, 1, 2]
    assert out["ktl-fdld"]["tfake_nme"]["mean"] == pytest.approx(0.12)
    assert out["ktl-fdld"]["tfake_nme"]["sd"] == pytest.approx(0.02)
    assert out["ktl-dikd"]["tfake_nme"]["mean"] == pytest.approx(0.18)
    assert out["ktl-dikd"]["charlotte_full_nme"]["mean"] == pytest.approx(0.07)
    assert out["ktl-dikd"]["charlotte_full_nme"]["sd"] == pytest.approx(0.01)
    single = repeats.aggregate({"supervised-s": {3: {"tfake_nme": 0.1, "charlotte_full_nme": 0.2}}})
    assert single["supervised-s"]["tfake_nme"] == {"mean": pytest.approx(0.1), "sd": None}


def test_run_numbers_reads_the_evaluate_nme_layout():
    result = {"tfake": {"nme": 0.11, "n": 100}, "charlotte": {"full": {"nme": 0.05}, "side": {"nme": 0.07}}}
    assert repeats.run_numbers(result) == {"tfake_nme": 0.11, "charlotte_full_nme": 0.05}


def test_params_checks():
    assert repeats.run_names(_params([1])) == ["ktl-fdld", "ktl-dikd", "supervised-s"]
    assert repeats.repeat_seeds(_params([])) == []
    assert repeats.repeat_seeds(_params([2, 1])) == [2, 1]
    with pytest.raises(InputError, match="base seed 0"):
        repeats.repeat_seeds(_params([0, 1]))
    with pytest.raises(InputError, match="'fi' is not in train.ktl.variants"):
        repeats.run_names(_params([1], variants=["fi"]))
    with pytest.raises(InputError, match="unknown arch 'q'"):
        repeats.run_names(_params([1], supervised=["q"]))


def test_report_section_and_sentence():
    md = report_mlcmkd.seed_repeats({"status": "ran", "summary": repeats.aggregate(RUNS)})
    assert "| ktl-fdld | 0, 1, 2 | 0.1200 ± 0.0200 | 0.0600 ± 0.0100 |" in md
    assert "| ktl-dikd | 0, 1, 2 | 0.1800 ± 0.0200 | 0.0700 ± 0.0100 |" in md
    assert ("DIKD minus FD+LD, mean NME over seeds 0, 1, 2: T-FAKE +0.0600 (DIKD worse), which exceeds the seed "
            "spread (0.0400); CHARLOTTE Full +0.0100 (DIKD worse), which does not exceed the seed spread "
            "(0.0200).") in md


def test_report_says_when_repeats_were_not_run():
    md = report_mlcmkd.seed_repeats({"status": "not run (train.repeats.seeds is empty); run them with `x`",
                                     "seeds": []})
    assert md == "Seed repeats: not run (train.repeats.seeds is empty); run them with `x`.\n"
