"""What each profile downloads and trains on is what the docs say: docs/datasets.md's tables (archives, image counts,
splits, caps) and docs/scale.md's T-FAKE sizes against the params that `make profile` composes."""

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from thermbench.tools.measure import scale
from thermbench.tools.pipeline.profiles import render

ROOT = Path(__file__).resolve().parents[2]
DATASETS = (ROOT / "docs" / "datasets.md").read_text()
SCALE = (ROOT / "docs" / "scale.md").read_text()
FACESYNTHETICS = re.compile(r"dataset_(\d+)\.zip")  # FaceSynthetics names each archive by its number of renders
SPLIT = re.compile(r"([\d,]+)(?: train)? / ([\d,]+)(?: val)? / ([\d,]+)")  # train / val / test


def table(text: str, first_header: str) -> list[dict]:
    """The rows of the markdown table whose first header cell is `first_header`, as {header: cell}."""
    rows = []
    for line in text[text.index(f"| {first_header} |"):].splitlines():
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return [dict(zip(rows[0], row)) for row in rows[2:]]  # rows[1] is the |---| line


def number(text: str) -> int:
    return int(text.replace(",", ""))


def composed(cell: str) -> dict:
    """The params of a table's profile cell: `name`, optionally with `SET="key=value ..."`."""
    name = re.match(r"`([\w-]+)`", cell)[1]
    assignments = re.search(r'SET="([^"]*)"', cell)
    return yaml.safe_load(render(name, ROOT, tuple(assignments[1].split()) if assignments else ()))


def basenames(urls: list[str]) -> set[str]:
    return {Path(urlparse(url).path).name for url in urls}


def tfake_counts(params: dict) -> dict:
    """Renders, pairs and split sizes of T-FAKE as prepare@tfake and the students take them (datasets/tfake.py:
    fractions of the renders, rounded, each render in every condition; a synthetic set has one condition)."""
    if params["data"]["source"]["tfake"] == "synthetic":
        renders, conditions = params["synth"]["tfake"]["num_images"], 1
    else:
        renders = sum(int(FACESYNTHETICS.search(name)[1]) for name in basenames(params["fetch"]["tfake"]["urls"]))
        conditions = len(params["prepare"]["tfake"]["conditions"])
    split, cap = params["prepare"]["tfake"]["split"], params["train"]["max_train_samples"]
    train, val = round(renders * split["train"]), round(renders * split["val"])
    counts = {"renders": renders, "pairs": renders * conditions, "train": train * conditions,
              "val": val * conditions, "test": (renders - train - val) * conditions}
    return counts | {"trained": counts["train"] if cap is None else min(cap, counts["train"])}


def profile_problems(row: dict) -> list[str]:
    """Where a row of the T-FAKE-per-profile table differs from what its profile composes to."""
    params, where = composed(row["profile"]), f"docs/datasets.md, T-FAKE row {row['profile']}"
    counts, problems = tfake_counts(params), []
    if params["data"]["source"]["tfake"] == "synthetic":
        if not row["T-FAKE from"].startswith("synthetic"):
            problems.append(f"{where}: the profile's T-FAKE is synthetic, the docs say {row['T-FAKE from']}")
    elif set(re.findall(r"`([^`]+\.zip)`", row["T-FAKE from"])) != basenames(params["fetch"]["tfake"]["urls"]):
        problems.append(f"{where}: the profile fetches {sorted(basenames(params['fetch']['tfake']['urls']))}, the "
                        f"docs say {row['T-FAKE from']}")
    stated = dict(zip(("train", "val", "test"), map(number, SPLIT.search(row["train / val / test pairs"]).groups())))
    stated |= {key: number(row[column]) for key, column in
               (("renders", "renders"), ("pairs", "pairs"), ("trained", "trained on"))}
    problems += [f"{where}: {key} {stated[key]:,} in the docs, {counts[key]:,} in the profile"
                 for key in counts if stated[key] != counts[key]]
    return problems


@pytest.mark.parametrize("row", table(DATASETS, "profile"), ids=lambda row: row["profile"])
def test_each_profiles_tfake_sizes_are_the_ones_the_docs_state(row):
    problems = profile_problems(row)
    assert not problems, "\n".join(problems)


def test_the_check_catches_the_paper_profile_on_the_100_render_sample():
    """The issue's case: the paper profile fetching dataset_100.zip while its docs say the full set."""
    paper = next(row for row in table(DATASETS, "profile") if row["profile"] == "`paper`")
    sample = "https://facesyntheticspubwedata.blob.core.windows.net/iccv-2021/dataset_100.zip"
    problems = profile_problems({**paper, "profile": f'`paper` with `SET="fetch.tfake.urls=[{sample}]"`'})
    assert any("fetches ['dataset_100.zip']" in p for p in problems)
    assert any("renders 100,000 in the docs, 100 in the profile" in p for p in problems)
    assert any("pairs 200,000 in the docs, 200 in the profile" in p for p in problems)


def published_problems(params: dict) -> list[str]:
    """Where the published-size table differs from the routes, archive sizes and splits `params` fetch and use."""
    rows, problems = table(DATASETS, "dataset"), []
    for key in sorted({row["params"].strip("`") for row in rows}):
        cfg = params["fetch"][key.split(".")[1]]
        mine = [row for row in rows if row["params"] == f"`{key}`"]
        routes = " ".join(row["archives or route"] for row in mine)
        documented = {name for row in mine if "over HTTP" in row["archives or route"]
                      for name in re.findall(r"`([^`]+)`", row["archives or route"].split("over HTTP")[0])}
        if documented != basenames(cfg.get("urls", [])):
            problems.append(f"docs/datasets.md, {key}: the docs name {sorted(documented)} over HTTP, the profile "
                            f"fetches {sorted(basenames(cfg.get('urls', [])))}")
        for name in documented & basenames(cfg.get("urls", [])):
            renders = FACESYNTHETICS.fullmatch(name)
            row = next(row for row in mine if f"`{name}`" in row["archives or route"])
            if renders and number(re.match(r"[\d,]+", row["images"])[0]) != int(renders[1]):
                problems.append(f"docs/datasets.md, {key}: {name} holds {int(renders[1]):,} renders, the docs say "
                                f"{row['images']}")
        for source in ([cfg["manual"]["url"].split()[0]] if "manual" in cfg else []) + \
                      ([f"`{cfg['kaggle']}`"] if "kaggle" in cfg else []):
            if source not in routes:
                problems.append(f"docs/datasets.md, {key}: the profile's route {source} is not in the table")
    tfake = tfake_counts(params)
    uses = next(row["the paper profile uses"] for row in rows if "pairs:" in row["the paper profile uses"])
    stated = [number(n) for n in [re.match(r"[\d,]+", uses)[0], *SPLIT.search(uses).groups()]]
    if stated != [tfake[k] for k in ("pairs", "train", "val", "test")] or \
            ("every training pair" in uses) != (tfake["trained"] == tfake["train"]):
        problems.append(f"docs/datasets.md, T-FAKE thermal: the docs say {uses!r}, the profile gives {tfake}")
    thermeval = next(row["the paper profile uses"] for row in rows if row["params"] == "`fetch.thermeval`")
    quotas = params["prepare"]["thermeval"]
    if [number(n) for n in SPLIT.search(thermeval).groups()] != [quotas[k] for k in ("n_train", "n_val", "n_test")]:
        problems.append(f"docs/datasets.md, ThermEval-D: the docs say {thermeval!r}, the profile takes {quotas}")
    return problems


def test_the_paper_profile_fetches_and_uses_the_published_sizes_its_docs_state():
    problems = published_problems(composed("`paper`"))
    assert not problems, "\n".join(problems)


def test_the_published_size_check_catches_a_changed_archive_route_or_split():
    problems = published_problems(composed('`paper` SET="fetch.cocowholebody.urls=[http://x/val2017.zip] '
                                           'prepare.tfake.split.train=0.7 prepare.thermeval.n_test=60 '
                                           'fetch.300w.manual.url=https://example.org/300w"'))
    assert len(problems) == 4
    assert "fetch.cocowholebody: the docs name ['train2017.zip', 'val2017.zip'] over HTTP" in problems[1]
    assert "route https://example.org/300w is not in the table" in problems[0]
    assert "T-FAKE thermal" in problems[2] and "ThermEval-D" in problems[3]


def test_scale_docs_and_tools_use_the_paper_profiles_tfake_sizes():
    tfake = tfake_counts(composed("`paper`"))
    assert scale.PAPER_PAIRS == tfake["pairs"]
    prepares = re.search(r"The paper profile prepares T-FAKE's ([\d,]+) pairs .*? trains on its ([\d,]+) training",
                         SCALE, re.S)
    assert prepares, "docs/scale.md no longer opens with the paper profile's T-FAKE sizes"
    assert [number(n) for n in prepares.groups()] == [tfake["pairs"], tfake["trained"]]
    grid = re.search(r"T-FAKE: ([\d,]+) training and\s+([\d,]+) validation crops", SCALE)
    assert [number(n) for n in grid.groups()] == [tfake["train"], tfake["val"]]
