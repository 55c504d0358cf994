"""The README's results block says what metrics/ holds: the committed block against the committed metrics, a
tampered number caught and named, and the cells of a tiny metrics folder computed by hand."""

from pathlib import Path

import pytest

from thermbench.core.io import InputError, write_json
from thermbench.tools import readme

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_block_matches_the_committed_metrics():
    _, block, _ = readme.split((ROOT / "README.md").read_text(), ROOT / "README.md")
    assert readme.differences(block, readme.render(ROOT / "metrics")) == []


def test_a_tampered_number_fails_the_check_and_is_named(tmp_path, capsys):
    text = (ROOT / "README.md").read_text()
    _, block, _ = readme.split(text, ROOT / "README.md")
    line = next(line for line in block.splitlines() if line.startswith("| RTMPose-s (supervised) |"))
    cells = line.split(" | ")
    cells[2] = "0.0001 ± 0.0027"  # the T-FAKE NME-IO cell
    tampered = " | ".join(cells)
    (tmp_path / "README.md").write_text(text.replace(line, tampered))
    with pytest.raises(SystemExit) as exit_:
        readme.main(["--check", "--readme", str(tmp_path / "README.md"), "--metrics", str(ROOT / "metrics")])
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert f"- {tampered}" in err and f"+ {line}" in err
    readme.main(["--write", "--readme", str(tmp_path / "README.md"), "--metrics", str(ROOT / "metrics")])
    assert (tmp_path / "README.md").read_text() == text


def _tiny_metrics(root: Path) -> Path:
    m = root / "metrics"
    box = {"frame_px": {"detection_rate": 0.25, "median_px": 6.04, "mean_px": 9.0, "n_gt": 8,
                        "pck": {"10px": 0.125}}}
    write_json(m / "zeroshot" / "dlib68.json", {"data": "synthetic", "status": "ok", "crop": box,
                                               "full_frame": {"detection_rate": 0.5, "n_gt": 10, "pck": {"10px": 0.3}}})
    write_json(m / "zeroshot" / "dwpose.json", {"data": "synthetic", "status": "weights not available: get them"})
    over = {"frame_px": {"median_px": {"mean": 4.0, "sd": 1.0}, "pck": {"10px": {"mean": 0.5, "sd": 0.25}}}}
    write_json(m / "head" / "thermeval.json", {"data": "synthetic", "n_train_labels": 40, "seeds": {"0": {}, "1": {}},
                                              "frame_px": {"detection_rate": 1.0, "n_gt": 8}, "over_seeds": over})
    for seed, nme in ((0, 0.06), (1, 0.08)):  # mean 0.07, sd (ddof 1) 0.0141
        write_json(m / "mlcmkd" / "supervised" / "s" / f"supervised-s-seed{seed}.json",
                   {"kind": "supervised", "arch": "s", "seed": seed, "model": f"supervised-s-seed{seed}",
                    "tfake": {"nme": nme}, "charlotte": {"full": {"nme": nme / 2}},
                    "training": {"convergence": {"converged": seed == 0}}})
    write_json(m / "mlcmkd_summary.json", {"data": {"tfake": "synthetic", "charlotte": "synthetic"},
                                           "mean_shape_test_nme": 0.33})
    ridge = {"near": {"ridge": {"mae_bpm": 1.0}}, "far": {"ridge": {"mae_bpm": 2.0}}}
    write_json(m / "breath" / "rates.json", {
        "data": "synthetic", "sequences": 4, "unavailable": {"tfan": "weights not available: get them"},
        "runs": {f"ktl-dikd-seed{s}": {"source": "ktl-dikd", "seed": s} for s in (0, 1)},
        "sources": {"oracle": ridge, "oracle+2px": ridge, "ktl-dikd-seed0": ridge,
                    "ktl-dikd-seed1": {"near": {"ridge": {"mae_bpm": 3.0}}, "far": {"ridge": {"mae_bpm": 2.0}}}}})
    cover = {"windows": 3, "of_windows": 4, "ranked": True}
    write_json(m / "conclusions" / "breath.json", {"statements": [], "scores": {
        "near": {"oracle": {**cover, "windows": 4}, "ktl-dikd": {**cover, "ranked": False}}, "far": {}}})
    return m


def test_the_cells_of_a_tiny_metrics_folder(tmp_path):
    lines = readme.render(_tiny_metrics(tmp_path)).splitlines()
    assert "| dlib-68 (HOG) | 50% | 30% | 25% | 6.0 px | 12% |" in lines
    assert "| DWPose (rtmlib) | weights not available |  |  |  |  |" in lines
    assert "| TinyHead (40 labels; mean ± sd over 2 seeds) | – | – | 100% | 4.0 ± 1.0 px | 50 ± 25% |" in lines
    assert "| RTMPose-s (supervised) | 1 of 2 | 0.0700 ± 0.0141 | 0.0350 ± 0.0071 |" in lines
    assert "| mean shape of the training crops (no model) | – | 0.3300 |  |" in lines
    assert "1 of the 2 student runs converged (not: supervised-s-seed1)." in lines
    assert "| oracle | – | 1.00 (4/4) | – | 2.00 |" in lines  # far: no coverage recorded, none shown
    assert "| ktl-dikd | 2 | 2.00 ± 1.41 (3/4, not ranked) | – | 2.00 ± 0.00 |" in lines
    assert "| tfan | weights not available |  |  |  |" in lines
    assert not any(line.startswith("| oracle+2px") for line in lines)  # the noise series stays in the report
    assert sum("(SYNTHETIC data;" in line for line in lines) == 3


def test_a_readme_without_the_block_is_refused(tmp_path):
    with pytest.raises(InputError, match="results block"):
        readme.split("# no block\n", tmp_path / "README.md")
