"""The paper's route end to end, offline: tiny downloads in each dataset's real on-disk format (tests/real_downloads.py)
go through `dvc repro` of the `real-smoke` profile (every data.source real, toy sizes) from the download stages to
every report, in a scratch copy of the working tree."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from real_downloads import build_downloads
from thermbench.tools.gates.regression import MEASURED_APART, clear_generated_metrics, copy_worktree, stage_env
from thermbench.tools.pipeline import timings
from thermbench.tools.pipeline.warm_stages import warm_stages

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    repo = tmp_path_factory.mktemp("real-route")
    copy_worktree(ROOT, repo)
    clear_generated_metrics(repo / "metrics")  # only what this run writes is checked
    subprocess.run(["rm", "-rf", str(repo / "plots"), str(repo / "dvc.lock")], check=True)
    build_downloads(repo)
    home = tmp_path_factory.mktemp("home")
    env = stage_env(repo, {"HOME": str(home), "HF_HUB_OFFLINE": "1", "HF_HOME": str(home / "hf"),
                           "TORCH_HOME": str(home / "torch"),
                           "KAGGLE_CONFIG_DIR": str(home / "kaggle")})  # no credentials: the zip must be enough
    log = repo / "real_route.log"

    def run(*cmd, env=env):
        python = shutil.which("python", path=env["PATH"])  # the warm one starts DVC with a quick lock file
        with open(log, "a") as out:
            done = subprocess.run([python, *cmd], cwd=repo, env=env, stdout=out, stderr=subprocess.STDOUT)
        assert done.returncode == 0, f"`{' '.join(cmd)}` failed:\n" + log.read_text()[-6000:]

    run("-m", "thermbench.tools.pipeline.profiles", "real-smoke", "--force")
    run("-m", "dvc", "config", "core.no_scm", "true")
    with warm_stages(env, repo) as warm:  # the stages forked from one interpreter that imported their modules once
        run("-m", "thermbench.tools.pipeline.dvc_cli", "--beside", "repro", env=warm)
    return repo, log.read_text()


def test_every_stage_ran(real_run):
    repo, _ = real_run
    listed = subprocess.run([sys.executable, "-m", "dvc", "stage", "list", "--name-only"], cwd=repo,
                            capture_output=True, text=True, check=True).stdout.split()
    locked = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    assert sorted(listed) == sorted(locked)


def test_no_synthetic_data_entered(real_run):
    """No dataset, no video: the synthetic writers leave synth_meta.csv (T-FAKE, CHARLOTTE) and mark their videos.
    The synthetic RGB pretraining set (stage rgbpretrain) is still written, but unused: see the next test."""
    repo, _ = real_run
    assert not list((repo / "data/raw").rglob("synth_meta.csv"))
    metas = [json.loads(p.read_text()) for p in (repo / "data/raw/breath").glob("*/meta.json")]
    assert len(metas) == 3 and not any(m.get("synthetic", False) for m in metas)
    labels = {str(path.relative_to(repo)): json.loads(path.read_text()).get("data")
              for path in (repo / "metrics").rglob("*.json")
              if path.relative_to(repo / "metrics").parts[0] not in MEASURED_APART  # the GPU's, not the data's
              and path.relative_to(repo) != timings.STAGE_TIMINGS}  # the DAG run's own clock, no stage's output
    assert labels and not [path for path, label in labels.items() if label is None]  # every metrics JSON labelled
    kinds = {kind for label in labels.values() for kind in (label.values() if isinstance(label, dict) else [label])}
    assert kinds == {"real"}, labels
    qa = json.loads((repo / "metrics/synth_qa.json").read_text())
    assert qa["status"].endswith("measures the synthetic world, so there is nothing to measure")


def test_teacher_pretrains_on_the_real_rgb_sets(real_run):
    """COCO-WholeBody face + 300W (docs/sources.md) each counted on its own, their union cached for
    the teacher in place of the synthetic set."""
    repo, _ = real_run
    for name, counts in (("cocowholebody", {"train": 3, "val": 2}), ("300w", {"train": 3, "val": 3})):
        assert json.loads((repo / f"metrics/datasets/{name}.json").read_text())["samples"] == counts
    union = (repo / "data/prepared/rgbsets/samples.csv").read_text()
    assert union.count(",cocowholebody\n") == 5 and union.count(",300w\n") == 6
    crops = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]["crops_mlcmkd"]
    assert "--rgbpretrain data/prepared/rgbsets " in crops["cmd"]


def test_weights_that_cannot_be_downloaded_are_one_status_line(real_run):
    """Under a real source the zero-shot stages may download; with no network that is one line naming the model, the
    URL or hub id and the params key of a local file, and a status row, never a stopped DAG (loopback port 9 refuses
    at once, HF_HUB_OFFLINE)."""
    repo, log = real_run
    expected = {"dwpose": ["DWPose model http://127.0.0.1:9/yolox_m_8xb8-300e_humanart-c2c7a14a.zip could not be "
                           "downloaded", "zeroshot.dwpose.det"],
                "sapiens2": ["Sapiens2 facebook/sapiens2-pose-0.4b/", "zeroshot.sapiens2.local_path"]}
    for model, parts in expected.items():
        lines = [line for line in log.splitlines() if line.startswith(f"zeroshot@{model}:")]
        assert len(lines) == 1 and all(part in lines[0] for part in parts), lines
        metrics = json.loads((repo / f"metrics/zeroshot/{model}.json").read_text())
        assert metrics["data"] == "real" and metrics["status"].startswith("weights not available")


def test_every_table_has_a_row_per_model(real_run):
    repo, _ = real_run
    zeroshot = (repo / "plots/zeroshot_table.md").read_text()
    for model in ("DWPose", "Sapiens2", "MediaPipe", "dlib"):
        assert model in zeroshot
    assert "weights not available: DWPose model http://127.0.0.1:9/" in zeroshot
    assert "zeroshot.dwpose.det" in zeroshot and "zeroshot.sapiens2.local_path" in zeroshot
    for table in ("plots/head/report.md", "plots/mlcmkd_tables.md", "plots/speed_table.md", "plots/speed_grid.md",
                  "plots/breath/figures/summary.md", "plots/conclusions.md"):
        assert (repo / table).stat().st_size > 0, table
    breath = (repo / "plots/breath/figures/summary.md").read_text()
    assert "- rec_none: no truth.csv" in breath and "- rec_short: subject p has no rate_bpm" in breath
    assert "real data" in breath and "SYNTHETIC" not in breath
