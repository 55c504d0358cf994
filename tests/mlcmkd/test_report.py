"""MLCM-KD report tables built from hand-written metrics dicts."""

from thermbench.mlcmkd import report as report_mlcmkd

SUBSETS = ("high", "mean", "low", "front", "side", "full")


def _metrics(kind: str, arch: str, nme: float, variant: str | None = None, grad: dict | None = None) -> dict:
    return {"kind": kind, "arch": arch, "variant": variant, "teacher_arch": "s", "input_size": 96, "epochs": 8,
            "complexity": {"params_m": 6.79, "gflops": 2.04},
            "tfake": {"nme": nme, "fr@0.1": 0.0, "auc@0.1": 0.5},
            "charlotte": {s: {"nme": 2 * nme} for s in SUBSETS},
            "training": {"grad_norm": grad} if grad else {}}


def test_tables_follow_the_paper_layout():
    grad = {"steps": 100, "std": 0.5, "cv_percent": 25.0, "mean_abs_step_change": 0.1, "r2": 0.3}
    metrics = {
        "teacher": {**_metrics("teacher", "s", 0.4), "tfake_rgb": {"nme": 0.1}},
        "ktl-fdld": _metrics("ktl", "s", 0.05, "fdld", grad),
        "ktl-dikd": _metrics("ktl", "s", 0.04, "dikd", grad),
    }
    md = report_mlcmkd.markdown(metrics, "SYNTHETIC data", "text")
    assert "NME-IO 0.1000 on the RGB T-FAKE test crops and 0.4000 on their thermal twins" in md
    assert "| KTL dikd RTMPose-ss | 96x96, 8 ep | 6.79 | 1.02 | 0.0400 | 0.0800 |" in md  # GMACs = FLOPs / 2
    assert "| Baseline | ✓ | ✓ | ✓ | – | – | 0.0500 | 0.1000 |" in md
    assert "| Ours (DIKD) | ✓ | ✓ | ✓ | ✓ | ✓ | 0.0400 | 0.0800 |" in md
    assert "Baseline + RI" not in md  # runs that were not trained are left out, not invented
    assert "| Ours (L_fi + L_ri) | 100 | 0.5000 | 25.00 | 0.1000 | 0.3000 |" in md
    assert "DIKD mode: **text**" in md
