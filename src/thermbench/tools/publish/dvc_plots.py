"""dvc.yaml's top-level `plots:`, the charts `dvc plots show` and `dvc plots diff` draw, made from params.yaml: DVC
templates over the CSV files the stages already write (the matplotlib figures of the post come from the same files).
A top-level plot names each file it draws, so the list follows the profile's seeds and runs:

    learning_<family>     validation NME per epoch of every run of a training stage family (teacher, pretrain,
                          supervised, ktl, mcl), every run and seed one line; a family the profile does not train
                          (no pretrained sizes) has none
    tinyhead_learning     the TinyHead's validation mean error per epoch, a line per seed (one file, a seed column)
    table1_ced            the CED on T-FAKE of each trained Table I method at the first seed, one line each
    zeroshot_pck          PCK against the threshold, a line per zero-shot model and protocol (one file, model and
                          protocol columns)
    breath_bland_altman   each window's ridge rate against the true rate as Bland-Altman (mean of the two, their
                          difference), every source
    breath_rate_error     each window's |ridge rate - true rate| against the true rate, every source

DVC's built-in `linear` template draws a line per file; where one file holds several series, or a chart needs a
computed axis, the project's Vega-Lite templates in .dvc/plots/ draw it from the same file: `by_seed` and `by_model`
(a line per value of the seed, or the model and protocol, column; a panel per revision), `bland_altman` and
`abs_error` (a calculate step of the file's x and y columns).
`dvc plots diff` draws each chart once with every revision in it, so two experiments sit side by side.

    python -m thermbench.tools.publish.dvc_plots --check   # exit 1 where dvc.yaml's plots differ from params.yaml's
    python -m thermbench.tools.publish.dvc_plots --write   # rewrite them (`make profile` does, after params.yaml)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from thermbench.core.io import InputError, write_text
from thermbench.core.stage import run as run_tool
from thermbench.models.run_layout import run_name, run_path

CURVES = Path("plots/curves/mlcmkd")
WINDOWS = "plots/breath/windows.csv"
MARK = "# top-level plots: written by `python -m thermbench.tools.publish.dvc_plots --write` from params.yaml"


def _curve(name: str, suffix: str = ".csv") -> str:
    return run_path(CURVES, name, suffix).as_posix()


def runs(params: dict) -> dict[str, list[str]]:
    """{family: run names}, in the order the stages make them."""
    seeds, rtm, train = params["train"]["seeds"], params["rtmpose"], params["train"]
    return {"teacher": ["teacher"], "pretrain": [f"pretrain-{a}" for a in rtm["pretrain_archs"]],
            "supervised": [run_name("supervised", a, s) for a in rtm["supervised_archs"] for s in seeds],
            "ktl": [run_name("ktl", v, s) for v in train["ktl"]["runs"] for s in seeds],
            "mcl": [run_name("mcl", v, s) for v in train["mcl"]["variants"] for s in seeds]}


def _line(title: str, x: str, y: dict[str, str], template: str = "linear", y_label: str | None = None) -> dict:
    return {"title": title, "template": template, "x": x, "y": y, **({"y_label": y_label} if y_label else {})}


def plots(params: dict) -> list[dict]:
    """The top-level plots of the profile `params` (params.yaml)."""
    out = []
    for family, names in runs(params).items():
        if names:
            out.append({f"learning_{family}": _line(f"{family}: validation NME per epoch, every run and seed", "epoch",
                                                    {_curve(n): "val_nme" for n in names})})
    out.append({"tinyhead_learning": _line("TinyHead: validation mean error (px) per epoch, every seed", "epoch",
                                           {"plots/curves/head.csv": "val_mean_px"}, "by_seed")})
    first = params["train"]["seeds"][0]
    methods = ["teacher", *(n for names in runs(params).values() for n in names if n.endswith(f"-seed{first}"))]
    out.append({"table1_ced": _line(f"CED on T-FAKE (NME-IO), Table I's trained methods at seed {first}", "nme",
                                    {_curve(n, "_ced.csv"): "tfake" for n in methods}, y_label="share of test crops")})
    out.append({"zeroshot_pck": _line("zero-shot models: PCK against the threshold (px), every model and protocol",
                                      "threshold_px", {"plots/zeroshot_pck.csv": "pck"}, "by_model")})
    out.append({"breath_bland_altman": _line("breath: Bland-Altman of the window rates (ridge) against the truth, "
                                             "every source (bpm)", "true_bpm", {WINDOWS: "ridge_bpm"},
                                             "bland_altman")})
    out.append({"breath_rate_error": _line("breath: |window rate (ridge) - true rate| against the true rate, every "
                                           "source (bpm)", "true_bpm", {WINDOWS: "ridge_bpm"}, "abs_error")})
    return out


def render(dvc_yaml: str, params: dict) -> str:
    """`dvc_yaml` with its top-level plots (from `MARK` to the end) made from `params`."""
    head = dvc_yaml.split(MARK)[0].rstrip("\n")
    body = yaml.safe_dump({"plots": plots(params)}, sort_keys=False, width=120)
    return f"{head}\n{MARK}\n{body}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true")
    mode.add_argument("--write", action="store_true")
    parser.add_argument("--dvc-yaml", type=Path, default=Path("dvc.yaml"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args(argv)
    if not args.dvc_yaml.is_file():
        raise InputError(f"{args.dvc_yaml}: not found")
    text = args.dvc_yaml.read_text()
    new = render(text, yaml.safe_load(args.params.read_text()))
    if args.write:
        if new != text:
            write_text(args.dvc_yaml, new)
        return
    if new != text:
        print(f"{args.dvc_yaml}: its top-level plots differ from {args.params} "
              "(`python -m thermbench.tools.publish.dvc_plots --write`)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    run_tool(main)
