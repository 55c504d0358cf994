"""The blog post's story as data: its sections in reading order, and each figure and table with its caption.

`thermbench.tools.publish.post` renders this catalog into two pages; nothing else decides order or wording. The post
(index) is a few screens long: QUESTION, then each section that has a `question`, with the items whose `post` names
it, then its findings. The appendix holds every section and every item in full. A caption says what the
figure or table shows and on which data, restating the figure's own title (set in the report writer that draws it)
and filling in facts read from `metrics/`: `{thermeval}`, `{tfake}`, `{charlotte}`, `{breath}` are each dataset's
data label ("SYNTHETIC data" or "real data"), `{tfake+charlotte}` the label of both (one when they agree),
`{<dataset>_<split>}` its sample count in that split
(`metrics/datasets/<dataset>.json`), `{breath_sequences}` and `{breath_window_s}` come from
`metrics/breath/rates.json`, `{breath_estimator}` is the rate estimator the breath figures plot (the constant their
titles print, `breath.ranking.ESTIMATOR`), so a caption cannot name another.

An item's `path` is relative to `plots/`. A report table (kind "report") is one `##` part of a report file, named by
the start of its heading (`part=""`: the text before the first `##`); the part's heading is shown one level below
the section's, or replaced by `title`. A part with a table needs a caption; a part of prose only ("text") has none.
In the post a report item shows only the first table of its part: the prose around it stays in the appendix.
"""

from __future__ import annotations

from dataclasses import dataclass

# Every dataset the post draws on, in story order, with the name a reader knows it by.
DATASETS = {"thermeval": "ThermEval-D", "tfake": "T-FAKE", "charlotte": "CHARLOTTE-ThermalFace",
            "breath": "breath-rate videos"}


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    reports: tuple[str, ...]  # the `report` values of metrics/conclusions.json whose statements lead the section
    question: str = ""  # what the section asks, the post's lead for it; "" = the section is in the appendix only


@dataclass(frozen=True)
class Item:
    section: str
    kind: str  # "figure", "report" (a `##` part of a report with a table), "text" (prose part), "datasets"
    path: str = ""
    caption: str = ""
    part: str = ""
    title: str = ""
    synthetic_only: str = ""  # a dataset: the item only exists when that dataset is synthetic
    rows_optional: bool = False  # a report part that holds no table where it has no rows: left out of the post then
    post: str = ""  # the section of the post (index) that shows it too; "" = the appendix only


# The post's opening: the question the whole story answers (which data it ran on, the post says beside it).
QUESTION = ("Can face and pose models trained on RGB images find facial landmarks in thermal images, zero-shot? "
            "Where they cannot, how little does it take: a tiny head trained on a frozen backbone from a few dozen "
            "labels (the blog series' answer), or distilling an RGB landmark model into a thermal student (MLCM-KD, "
            "a paper's answer)? And does a better nostril landmark give a better breath rate? This post runs the "
            "blog's and the paper's comparisons under one protocol and says, for each, whether this run resolves it.")

SECTIONS = (
    Section("data", "The data", (),
            "Four datasets: ThermEval-D thermal frames with a Nose box per person (the blog's parts 1-3), T-FAKE RGB "
            "faces with 68 landmarks and their thermal twins and CHARLOTTE-ThermalFace thermal faces (MLCM-KD), "
            "and breath-rate videos with their true respiration."),
    Section("zeroshot", "Zero-shot bake-off (blog parts 1 and 3)", ("zeroshot",),
            "Do pretrained face and pose models find the nose in a thermal frame without any thermal training? Blog "
            "parts 1 and 3 ask it on ThermEval-D: on the full frame with several people in it, and with each "
            "person's box given."),
    Section("finetune", "A tiny head on a frozen backbone (blog part 2)", ("head",),
            "Blog part 2: a small heatmap head (TinyHead) trained on a frozen backbone from the labelled ThermEval-D "
            "train crops. How many labels does it need, and does it beat the zero-shot models on the same crops?"),
    Section("mlcmkd", "MLCM-KD: RGB-to-thermal distillation, then compression", ("mlcmkd",),
            "The MLCM-KD paper distils an RGB RTMPose teacher into a thermal student (KTL: feature and logit "
            "distillation, FD+LD, or its dual-injected DIKD), then compresses that student into a smaller one (MCL). "
            "Does distillation beat training the thermal student on its labels alone?"),
    Section("speed", "Speed", ("speed",)),
    Section("breath", "Breath rate from the nostril landmarks", ("breath",),
            "The breath rate comes from the temperature of a small region at the nostrils that each landmark source "
            "places. Does a better nostril landmark give a better breath rate? Each source against the true "
            "nostrils with growing noise added."),
    Section("leaderboard", "Leaderboard per task", ("boards",)),
)

# How a leaderboard's rank reads (the leaderboard report's "How to read the rank"), for a reader of its table alone.
RANK = "a rank range (1–3) is every place the row could take, given the pairs this run does not resolve"

ITEMS = (
    # --- the data
    Item("data", "datasets", caption="Where each dataset of this post comes from (params data.source) and its "
         "samples per split, from metrics/datasets/.", post="data"),
    Item("data", "figure", "synth_examples",
         "The synthetic thermal world as the pipeline renders it: T-FAKE RGB faces with their landmarks and their "
         "thermal twins (20-40 °C window), ThermEval-D 192x256 frames with their Person, Chest, Forehead and Nose "
         "annotations, and CHARLOTTE front (72-point) and side (43-point) images ({tfake}).",
         synthetic_only="tfake", post="data"),
    # --- zero-shot bake-off
    Item("zeroshot", "figure", "zeroshot_detection",
         "Zero-shot detection rate over the GT noses of the ThermEval-D test split, per model: full frame with "
         "several people per frame, and with the GT Person box given ({thermeval})."),
    Item("zeroshot", "figure", "zeroshot_pck",
         "Zero-shot PCK against the threshold on the ThermEval-D test split, one panel per protocol: full frame, GT "
         "Person box (frame px and 256x256 crop px), and with each model's nose-convention offset removed; a miss "
         "counts as a failure ({thermeval}).", post="zeroshot"),
    Item("zeroshot", "report", "zeroshot_table.md", part="Full frame, multi-person",
         caption="Zero-shot nose localisation on the full ThermEval-D test frames, several people per frame, in "
         "frame px: detection rate, mean and median error over matched pairs, PCK over all GT ({thermeval})."),
    Item("zeroshot", "report", "zeroshot_table.md", part="GT Person box given (frame px)",
         caption="The same models with the GT Person box given, errors in frame px ({thermeval})."),
    Item("zeroshot", "report", "zeroshot_table.md", part="GT Person box given (256x256",
         caption="The same models with the GT Person box given, errors in 256x256 crop px as the blog's part 2 "
         "reports them ({thermeval})."),
    Item("zeroshot", "report", "zeroshot_table.md", part="GT Person box, convention offset removed",
         caption="The crop protocol after removing each model's constant nose-convention offset, fitted on the "
         "{thermeval_train} train crops ({thermeval})."),
    Item("zeroshot", "report", "zeroshot_table.md", part="Convention offset",
         caption="The nose-convention offset per model (crop px), fitted on the train crops and applied to the test "
         "crops ({thermeval})."),
    Item("zeroshot", "report", "zeroshot_table.md", part="Blog part 1",
         caption="Blog part 1 re-run: its frame selection and models on ThermEval-D, full frame, with the blog's own "
         "numbers on the real ThermEval-D as reference rows ({thermeval})."),
    Item("zeroshot", "report", "zeroshot_table.md", part="Blog part 3",
         caption="Blog part 3 re-run: a face or person detector upstream of the landmark model on ThermEval-D "
         "frames, with the blog's own numbers as reference rows ({thermeval})."),
    # headed "The <data label> against the blog's real ThermEval-D": the only part of the report starting "The "
    Item("zeroshot", "report", "zeroshot_table.md", part="The ",
         caption="This run's detection rates against the blog's stored numbers on the real ThermEval-D, protocol by "
         "protocol, with their ratio and whether part 3's order holds ({thermeval})."),
    Item("zeroshot", "report", "zeroshot_table.md", part="What the synthetic scenes were calibrated to",
         caption="The rules `make calibrate` chose the synthetic scenes' setting by, each measured on the chosen "
         "setting's calibration frames: targets the scenes were made to meet, not findings ({thermeval})."),
    Item("zeroshot", "text", "zeroshot_table.md", part="Findings"),
    Item("zeroshot", "figure", "zeroshot_qualitative",
         "Zero-shot full-frame predictions on ThermEval-D test frames, one row per model: GT nose red x, "
         "prediction green dot ({thermeval})."),
    Item("zeroshot", "text", "zeroshot_table.md", part="Where the blog's code and text differ"),
    # --- finetune (blog part 2)
    Item("finetune", "report", "head/report.md", title="TinyHead against the zero-shot models",
         caption="The backbone layer the head reads, chosen on the {thermeval_val} validation crops; then TinyHead "
         "on that frozen backbone against each zero-shot model on the {thermeval_test} ThermEval-D "
         "test crops (GT Person box given), errors in crop and frame px, with the blog's head on the real "
         "ThermEval-D as the reference column ({thermeval})."),
    Item("finetune", "report", "head/report.md", part="Convergence",
         caption="Each TinyHead run's epochs, best validation epoch and whether it converged ({thermeval})."),
    Item("finetune", "text", "head/report.md", part="Training curves"),
    Item("finetune", "figure", "head/training",
         "TinyHead training per seed on the {thermeval_train} ThermEval-D train crops: heatmap MSE (train solid, "
         "validation dashed), validation mean error with the best-validation checkpoint marked, and validation "
         "PCK@10px; grey spans are the fast-descent phases of the first seed ({thermeval})."),
    Item("finetune", "report", "head/report.md", part="How little supervision",
         caption="TinyHead test mean error and PCK@10px against the number of labelled train crops, over seeds "
         "({thermeval})."),
    Item("finetune", "figure", "head/labels",
         "TinyHead test PCK@10px and mean error (crop px) against the number of labelled train crops; dots are "
         "seeds, the line their mean ({thermeval}).", post="finetune"),
    Item("finetune", "figure", "head/predictions",
         "TinyHead predictions on ThermEval-D test crops (seed 0): GT nose red x, prediction green dot, the crop's "
         "own Person box dashed (a crop from a multi-person frame holds other people too), with each crop's error "
         "in crop px ({thermeval})."),
    Item("finetune", "text", "head/report.md", part="Notes", title="Where the blog's part-2 code and text differ"),
    # --- MLCM-KD
    Item("mlcmkd", "text", "mlcmkd_tables.md"),
    Item("mlcmkd", "report", "mlcmkd_tables.md", part="Table I",
         caption="Table I of the paper: zero-shot baselines (dlib-68, the RGB teacher) and supervised thermal RTMPose "
         "against the KD students, NME on the {tfake_test} "
         "T-FAKE test crops (NME-IO) and on the {charlotte_test} CHARLOTTE images by subset (NME-diag), mean ± sd "
         "over seeds, with the paired differences ({tfake+charlotte})."),
    Item("mlcmkd", "report", "mlcmkd_tables.md", part="Table III",
         caption="Table III: distillation strategies for KTL (feature + logit distillation against DIKD), NME on "
         "T-FAKE and CHARLOTTE subsets ({tfake+charlotte})."),
    Item("mlcmkd", "report", "mlcmkd_tables.md", part="Table IV",
         caption="Table IV: DIKD ablation (forward and reverse injection added to FD+LD), NME on T-FAKE and "
         "CHARLOTTE Full, with paired differences against FD+LD ({tfake+charlotte})."),
    Item("mlcmkd", "figure", "mlcmkd_ced",
         "Cumulative error distribution up to NME 0.1, one run per model: each trained student at the first student "
         "seed, the teacher and the pretrained models their one run; T-FAKE test (NME-IO) and CHARLOTTE Full "
         "(NME-diag) ({tfake+charlotte}).", post="mlcmkd"),
    Item("mlcmkd", "report", "mlcmkd_tables.md", part="Table V",
         caption="Table V: gradient-norm stability over the logged early KTL steps, mean ± sd over seeds, with "
         "paired differences of the coefficient of variation against FD+LD ({tfake})."),
    Item("mlcmkd", "figure", "mlcmkd_gradnorm",
         "Fig. 5 of the paper: gradient L2 norm of the student and adapters over the early KTL training steps, one "
         "line per ablation variant ({tfake})."),
    Item("mlcmkd", "figure", "mlcmkd_curves",
         "MLCM-KD training curves per run: weighted training loss and validation NME-IO (thermal; RGB for the "
         "teacher) per epoch ({tfake})."),
    Item("mlcmkd", "figure", "mlcmkd_qualitative",
         "T-FAKE thermal test crops: GT (green) against the prediction (red) of the supervised, conventional-KD "
         "(FD+LD) and DIKD students ({tfake})."),
    Item("mlcmkd", "report", "mlcmkd_tables.md", part="Conclusions", title="Set-up, convergence and loss balance",
         caption="How the MLCM-KD runs were set up and converged, and the loss balance: each weighted loss term's "
         "share of the gradient at the start and at the best epoch ({tfake})."),
    # --- speed
    Item("speed", "report", "speed_table.md",
         caption="Table II of the paper: parameters, GMACs and CPU latency of the RTMPose sizes and of every trained "
         "checkpoint, detector + pose end to end, and int8 students (weights from {tfake})."),
    Item("speed", "report", "speed_submissions.md",
         caption="The ONNX models entered in submissions.yaml, timed as Table II's checkpoints: multiply-adds, the "
         "weights stored in each graph and CPU latency at batch 1 (weights from {tfake}).", rows_optional=True),
    Item("speed", "report", "speed_grid.md", part="Training compute",
         caption="What training this profile's grid costs on one GPU, on paper: per run, the forward FLOPs of the "
         "network trained (x3 for the backward) and of its frozen teacher, times the images and the epochs, at a "
         "stated share of the GPU's dense rate; at the epoch cap and at this run's median share of it ({tfake})."),
    Item("speed", "figure", "speed_fps_vs_params",
         "Fig. 4 of the paper: CPU throughput in frames per second of CPU time against parameters at the paper's "
         "input size, batch 1: the pose model alone (ONNX Runtime, PyTorch eager) and the detector + pose "
         "pipeline per runtime, architectures with fresh weights ({tfake})."),
    # --- breath rate
    Item("breath", "report", "breath/figures/summary.md",
         caption="Breath rate from each landmark source's nostril ROI on {breath_sequences} sequences, "
         "{breath_window_s} s windows: rate error (MAE, RMSE, share within ±2 breaths/min), correlation, coverage "
         "and the landmark's own error and jitter ({breath})."),
    Item("breath", "figure", "breath/figures/signals",
         "Nostril ROI temperature signal (band-passed, °C, ROI minus reference) against the true respiration "
         "waveform (unitless, drawn at the signal's standard deviation) on one sequence, one panel per landmark "
         "source, a trained source at its lowest seed only ({breath})."),
    Item("breath", "figure", "breath/figures/bland_altman",
         "Bland-Altman plots of the window breath rates ({breath_estimator} estimator) against the truth, one panel "
         "per source, one marker per scene; lines at the bias and ±1.96 SD ({breath})."),
    Item("breath", "figure", "breath/figures/mae_vs_error",
         "Breath-rate MAE ({breath_estimator}) against the mean single-frame nostril error, one point per source "
         "and scene: does "
         "a better landmark give a better breath rate? ({breath})", post="breath"),
    Item("breath", "figure", "breath/figures/coverage",
         "Coverage: the share of windows each landmark source gives a breath rate in, per scene. A source that finds "
         "no face in a window has no rate there; pairs of sources are compared only on the windows both cover "
         "({breath})."),
    # --- the leaderboard
    Item("leaderboard", "text", "leaderboard.md"),
    Item("leaderboard", "report", "leaderboard.md", part="ThermEval nose",
         caption="ThermEval nose: every built-in and submitted model by full-frame PCK@10px over all GT noses, with "
         f"its 95% Wilson interval; {RANK} ({{thermeval}}).", post="zeroshot"),
    Item("leaderboard", "report", "leaderboard.md", part="68 landmarks on T-FAKE",
         caption="68 landmarks on T-FAKE: every Table I model and submission by NME-IO, a trained model as the mean "
         f"over its seeds with the 95% t interval of that mean; {RANK} ({{tfake}}).", post="mlcmkd"),
    Item("leaderboard", "report", "leaderboard.md", part="68 landmarks on CHARLOTTE",
         caption="68 landmarks on CHARLOTTE: every Table I model and submission by NME-diag over all test crops "
         f"(Full), as T-FAKE; {RANK} ({{charlotte}})."),
    Item("leaderboard", "report", "leaderboard.md", part="Breath rate",
         caption="Breath rate per scene: every ranked landmark source and submission by the ridge estimator's MAE, "
         f"with the breath ranking's 95% bootstrap interval over sequences; {RANK} ({{breath}})."),
)

# Outputs under plots/ the post leaves out on purpose (a report, a (report, part) or a figure's stem), with the
# reason; anything else it does not place is named on stderr, so a new figure cannot drop out of the post unnoticed.
LEFT_OUT = {
    "conclusions.md": "its statements lead the sections they belong to",
    "board_pairs.md": "every pair of the leaderboards, tested: its statements lead the leaderboard section",
    ("head/report.md", "Conclusions"): "its statements lead the section",
    ("head/report.md", "Predictions"): "holds only the predictions figure, which the post captions itself",
    "scale.md": "`make scale`: this machine's memory and time on synthetic data of growing size, not a result",
    "scale": "the figure of `make scale` (scale.md)",
    "zeroshot_models.md": "the zero-shot models' licences and sources, a reference table rather than a result",
}


def main(argv: list[str] | None = None) -> None:
    from thermbench.tools import library_help

    library_help.main(__doc__, "make publish reads it (python -m thermbench.tools.publish.publish)", argv)


if __name__ == "__main__":
    from thermbench.core.stage import run

    run(main)
