"""The datasets' registry drives the raw, prepare and stats stages: every registered dataset has its stages in
dvc.yaml, its params sections, and an adapter and synthetic twin with what the stages read from them."""

from pathlib import Path

import yaml

from thermbench.datasets.registry import DATASETS, RGB_ADAPTERS, layout

ROOT = Path(__file__).resolve().parents[2]


def test_dvc_yaml_runs_the_registered_datasets():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert stages["raw"]["foreach"] == list(DATASETS)
    assert stages["prepare"]["foreach"] == list(DATASETS)
    assert list(stages["stats"]["foreach"]) == list(DATASETS)


def test_every_dataset_has_its_params_and_module_contract():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for name, entry in DATASETS.items():
        assert name in params["data"]["source"] and name in params["prepare"] and name in params["synth"]
        assert {"sample_id", "split", "crop_path"} <= set(entry.adapter.COLUMNS)
        assert callable(entry.adapter.prepare) and callable(entry.synth.write)
        assert set(entry.synth.REQUIRED) <= set(params["synth"][name])
        assert layout(name) == entry.adapter.LAYOUT
    assert layout("300w") == RGB_ADAPTERS["300w"].LAYOUT and layout("lfw") is None
