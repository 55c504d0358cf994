"""docs/dag.md's drawings (readme_blocks `dag` and `_dag_of`) on a hand-made pipeline whose ASCII `dvc dag` is wider
than a screen: DVC's Mermaid block, each foreach stage one node, every line within 200 columns."""

import subprocess
import sys

from thermbench.tools.publish import readme_blocks

ITEMS = [f"variant_{i:02d}_with_a_long_name" for i in range(12)]
DVC_YAML = """stages:
  raw:
    cmd: echo raw > raw.txt
    outs: [raw.txt]
  ktl:
    foreach: [{items}]
    do:
      cmd: echo ${{item}} > ktl_${{item}}.txt
      deps: [raw.txt]
      outs:
        - ktl_${{item}}.txt
  report_mlcmkd:
    cmd: cat {outs} > report.txt
    deps: [{outs}]
    outs: [report.txt]
  speed:
    cmd: echo speed > speed.txt
    deps: [ktl_{first}.txt]
    outs: [speed.txt]
""".format(items=", ".join(ITEMS), outs=", ".join(f"ktl_{i}.txt" for i in ITEMS), first=ITEMS[0])


def _project(tmp_path):
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    (tmp_path / "metrics").mkdir()
    return tmp_path / "metrics"


def test_an_area_is_a_mermaid_block_with_each_foreach_stage_one_node_within_200_columns(tmp_path):
    metrics = _project(tmp_path)
    ascii_dag = subprocess.run([sys.executable, "-m", "dvc", "dag", "report_mlcmkd"], cwd=tmp_path,
                               capture_output=True, text=True, check=True).stdout
    assert max(map(len, ascii_dag.splitlines())) > 200  # what the drawing replaces: wider than a screen

    area = readme_blocks._dag_of("report_mlcmkd")(metrics)
    lines = area.strip().splitlines()
    assert lines[0] == "```mermaid" and lines[1] == "flowchart TD" and lines[-1] == "```"
    assert max(map(len, lines)) <= 200
    nodes = [line.split('"')[1] for line in lines if '["' in line]
    assert sorted(nodes) == ["ktl", "raw", "report_mlcmkd"]  # ktl@variant_00..11: one node; speed not upstream
    assert not any("ktl@" in line for line in lines)
    ids = {line.split('"')[1]: line.strip().split("[")[0] for line in lines if '["' in line}
    edges = {line.strip() for line in lines if "-->" in line}
    assert edges == {f"{ids['raw']}-->{ids['ktl']}", f"{ids['ktl']}-->{ids['report_mlcmkd']}"}


def test_the_whole_pipeline_is_one_block_with_every_stage(tmp_path):
    whole = readme_blocks.dag(_project(tmp_path))
    lines = whole.strip().splitlines()
    assert max(map(len, lines)) <= 200
    assert sorted(line.split('"')[1] for line in lines if '["' in line) == ["ktl", "raw", "report_mlcmkd", "speed"]


def test_the_params_check_and_its_edges_are_left_out_of_a_drawing():
    drawn = ('flowchart TD\n\tnode1["check_params"]\n\tnode2["prepare"]\n\tnode3["raw"]\n'
             '\tnode1-->node2\n\tnode1-->node3\n\tnode3-->node2\n')
    assert readme_blocks.without_node(drawn, "check_params") == (
        'flowchart TD\n\tnode2["prepare"]\n\tnode3["raw"]\n\tnode3-->node2\n')
    assert readme_blocks.without_node(drawn, "speed") == drawn


def test_glance_renders_the_headline_numbers_and_names_the_models_without_weights(tmp_path):
    import json

    for folder in ("headline", "zeroshot", "head"):
        (tmp_path / folder).mkdir()
    (tmp_path / "head" / "thermeval.json").write_text(json.dumps({"n_train_labels": 4}))  # the smoke profile's
    heads = {"nose": {"tinyhead.gt_box.pck10.mean": 0.5, "tinyhead.gt_box.pck10.sd": 0.04, "tinyhead.seeds": 3,
                      "dlib68.gt_box.pck10": 0.125, "mediapipe.gt_box.pck10": 0.0},
             "mlcmkd": {"tfake.nme.ktl_dikd.mean": 0.05, "tfake.nme.ktl_dikd.sd": 0.001, "runs.ktl_dikd": 5,
                        "tfake.nme.supervised_s.mean": 0.06, "tfake.nme.supervised_s.sd": 0.002, "runs.supervised_s": 4,
                        "tfake.nme.teacher.mean": 0.4, "tfake.nme.zeroshot_dlib68.mean": 0.3},
             "breath": {"near.oracle.mae.mean": 0.3, "near.ktl_dikd.mae.mean": 1.5, "near.ktl_dikd.mae.sd": 0.25,
                        "near.fixed_roi.mae.mean": 5.75}}
    for name, d in heads.items():
        (tmp_path / "headline" / f"{name}.json").write_text(json.dumps(d))
    (tmp_path / "zeroshot" / "dlib68.json").write_text(json.dumps({"status": "ok"}))
    (tmp_path / "zeroshot" / "tfan.json").write_text(json.dumps({"status": "weights not available: ..."}))
    text = readme_blocks.glance(tmp_path)
    assert "TinyHead from 4 labels 50 ± 4% over 3 seeds; zero-shot dlib-68 12%, MediaPipe FaceMesh 0%." in text
    assert "KTL with DIKD 0.0500 ± 0.0010, supervised RTMPose-s 0.0600 ± 0.0020 (5 and 4 seeds)" in text
    assert "the true nostrils 0.30, the KTL-DIKD student's 1.50 ± 0.25, a fixed ROI 5.75." in text
    assert "**No numbers offline** for tfan:" in text
