# Two commands on a fresh machine:  `make repro`  and  `make test`  (see README.md).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
DVC := $(VENV)/bin/dvc
STAMP := $(VENV)/.installed
P ?= default
# Stage commands call `python`: make it the venv's.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
DEST ?= publish

.PHONY: setup quick check-submissions repair-lock repro test unit regression baseline conclusions calibrate crop-geometry profile publish publish-check parity scale readme gpu-check speed-family clean-venv

# torch first and pinned, from pip's configured index (empty TORCH_INDEX): on Linux x86-64 PyPI's build is the CUDA
# one (GBs). TORCH_INDEX picks another build of the same torch from PyTorch's own index (docs/gpu.md, "Setting up a
# GPU machine"): https://download.pytorch.org/whl/cpu the CPU build, https://download.pytorch.org/whl/cu130 a CUDA one.
TORCH_INDEX ?=
# src/thermbench_tree.pth: a python started in a thermbench tree imports that tree's src/ (a queued DVC experiment runs
# in a copy of the workspace and must run the copy's code, not the workspace's that the editable install points at).
$(STAMP): pyproject.toml requirements.lock src/thermbench_tree.pth
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	cp src/thermbench_tree.pth "$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/"
	touch $(STAMP)

setup: $(STAMP)

# The smoke profile end to end in a copy beside the clone (QUICK, default <clone>-quick), in minutes: `make repro` and
# `make publish DEST=post` there, then `cd` there for `make exp-show` and `dvc exp run -S`. This clone stays as it is.
QUICK ?=
quick: setup
	$(PY) -m thermbench.tools.pipeline.quick $(if $(QUICK),--dest "$(QUICK)")

# `make repro` reproduces what params.yaml holds; TARGETS="report_breath" only those stages and what they need.
# A dvc.lock an interrupt left unreadable is restored from git HEAD first, in one line (tools/pipeline/repair_lock.py).
# DVC runs through tools/pipeline/dvc_cli.py: dvc.lock through libyaml, OpenMP threads waiting passively, the stages
# forked from one warm interpreter that has imported their modules (tools/pipeline/warm_stages.py), a second ready stage
# beside the one DVC runs where the DAG allows (--beside; a stage that measures time runs alone; no number changes), and
# each stage's wall and CPU seconds and load written to metrics/timing/stages.json (`make readme`: docs/timings.md).
TARGETS ?=
repro: setup repair-lock check-submissions
	$(PY) -m thermbench.tools.pipeline.dvc_cli --warm --beside repro $(TARGETS)

repair-lock: setup
	$(PY) -m thermbench.tools.pipeline.repair_lock

# Every entry of submissions.yaml read and checked before DVC runs a stage (DVC deletes a stage's outputs before it runs
# it, so a bad file found by a scoring stage would cost the good results): one line and exit 2, nothing changed.
check-submissions: setup
	$(PY) -m thermbench.tools.submissions.check_submissions

# The unit tests on every core (pytest-xdist: whole test files per worker, the long ones first, see tests/conftest.py),
# naming the 15 slowest; WORKERS=1 runs them in this process, one after another.
WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
UNIT := $(PY) -m pytest --durations=15 $(if $(filter-out 0 1,$(WORKERS)),-n $(WORKERS) --dist loadfile --no-loadscope-reorder)
unit: setup
	$(UNIT)

# Runs the smoke profile of the whole DAG in a temporary copy and compares its metrics with the calibrated baseline
# tests/baseline/smoke_baseline.json under the rules of tests/baseline/tolerances.yaml.
REGRESSION := $(PY) tests/support/warm_regression.py check
regression: setup
	$(REGRESSION)

# `make regression` in the background (its own process group, stopped if make is interrupted), then the DVC experiment
# workflow on the regression's warm smoke copy (one `dvc exp run -S`, exp show, metrics and plots diff against the
# committed run), their verdicts and logs in a temporary folder, while `make unit` runs; then the regression's verdict
# (the log's end if the run broke), the workflow's, and, as the closing line, pytest's summary again (CI reads it).
# Fails if any failed; then the folder is kept.
test: setup
	@out=$$(mktemp -d -t thermbench-test.XXXXXX); set -m; \
	( $(REGRESSION) --keep >$$out/regression.md 2>$$out/regression.log; echo $$? >$$out/regression.rc; \
	  kept=$$(sed -n 's/^scratch copy kept at //p' $$out/regression.log); \
	  if [ "$$(cat $$out/regression.rc)" = 0 ] && [ -n "$$kept" ]; then \
	    THERMBENCH_WARM_SMOKE=$$kept/project $(PY) -m pytest -p no:xdist tests/test_exp_workflow.py \
	      tests/test_own_model_route.py >$$out/exp.log 2>&1; \
	    echo $$? >$$out/exp.rc; fi; \
	  [ -z "$$kept" ] || rm -rf "$$kept" ) & gate=$$!; set +m; \
	trap 'kill -- -$$gate 2>/dev/null; exit 130' INT TERM; \
	$(UNIT) 2>&1 | tee $$out/unit.log; unit=$${PIPESTATUS[0]}; \
	echo "unit tests done; waiting for the smoke regression and the experiment workflow on its copy"; \
	wait $$gate; regression=$$(cat $$out/regression.rc 2>/dev/null || echo 1); exp=$$(cat $$out/exp.rc 2>/dev/null || echo 1); \
	cat $$out/regression.md; \
	[ -s $$out/regression.md ] || { tail -n 20 $$out/regression.log; echo "regression: BROKE (exit $$regression)"; }; \
	if [ -f $$out/exp.log ]; then echo "the DVC experiment workflow and a user's own models on the regression's smoke copy" \
	    "(tests/test_exp_workflow.py, tests/test_own_model_route.py):"; \
	  tail -n 3 $$out/exp.log; fi; \
	summary=$$(tail -n 1 $$out/unit.log); \
	if [ $$unit -eq 0 ] && [ $$regression -eq 0 ] && [ $$exp -eq 0 ]; then rm -rf $$out; else echo "logs kept in $$out"; fi; \
	echo "$$summary"; \
	[ $$unit -eq 0 ] && [ $$regression -eq 0 ] && [ $$exp -eq 0 ]

# The MLCM-KD data path (prepare, crops, KTL-l steps at 256 px, batch 64) on synthetic T-FAKE-format sets of
# SIZES pairs: peak memory, time, disk and loader images/s per size, extrapolated to the paper's 200,000 pairs ->
# metrics/scale.json, plots/scale.md, plots/scale.png. Not part of the DAG; the RAM and scratch disk it needs are in
# docs/scale.md; SCRATCH: where the sets are written (default: the system's temporary folder), deleted size by size.
SIZES ?= 1000,4000,16000
SCRATCH ?=
scale: setup
	$(PY) -m thermbench.tools.measure.scale --sizes $(SIZES) $(if $(SCRATCH),--scratch $(SCRATCH))

# What one GPU does with the training at the paper profile's setting (its precision and the alternative, its
# deterministic mode): images/s per step form and end to end, reserved memory, host waits, loader workers needed,
# determinism, Sapiens2 bf16, the precision-vs-NME table that picks the paper profile's setting ->
# metrics/gpu/<gpu>.json; its measuring ends within --budget-s (540 s). For a bare GPU machine: no venv, no DVC,
# python3 with PyTorch, numpy, OpenCV, pandas and PyYAML. Without CUDA it says so and exits 0 (docs/gpu.md).
gpu-check:
	PYTHONPATH=src python3 -m thermbench.speed.gpu_check

# The speed stage's deploy rows on this machine at 1 thread and at every core (its own command from dvc.yaml, params.yaml's
# speed.threads set to each, its outputs in a temporary folder: the workspace's stay as DVC made them), written
# to metrics/timing/speed_family/<family>-<cpu>.json, this CPU family's file (avx2, vnni or
# amx; another family's or machine's file is kept). Needs the stage's inputs: `make repro TARGETS=speed` first. Then
# `make readme` renders docs/speed.md's "Which runtime on your CPU" from every file there; commit both. NOTE="..." is
# written into the file's provenance: what else a reader of its numbers needs to know (whose trained models, say).
NOTE ?=
speed-family: setup
	$(PY) -m thermbench.speed.families measure $(if $(NOTE),--note "$(NOTE)")

# Re-measures the baseline: the smoke DAG under 3 training seeds x every CPU kernel setting of
# tests/baseline/tolerances.yaml (native, avx2, aten_default, mkl_compatible, default), three settings at a time.
# KERNELS=native,default calibrates a subset. Review the diff, then commit it.
KERNELS ?=
SCOPE ?=
baseline: setup
	$(PY) -m thermbench.tools.gates.regression calibrate $(if $(KERNELS),--kernels $(KERNELS))

# Re-makes every trained model of the current params under other CPU kernel settings (tests/baseline/tolerances.yaml;
# default: every setting but native that conclusions/kernel_check.json lacks for the current params and code, one
# after another) and fails, with a table, where a statement that metrics/conclusions.json states as resolved comes out
# otherwise. Rewrites conclusions/kernel_check.json after each setting: then `dvc repro` (the reports fold it in) and
# commit. KERNELS=aten_default re-makes that setting. An interrupted setting's copy stays (in the system's temporary
# folder, or SCRATCH) and the next `make conclusions` for the same params and code resumes it; a finished setting's
# lock stays there, so its next make, for other code or params, re-makes only what they changed. SCOPE=untrained
# re-makes only what the statements on untrained sources rest on (minutes a setting; the trained models kept).
conclusions: setup
	$(PY) -m thermbench.tools.gates.conclusions check $(if $(KERNELS),--kernels $(KERNELS)) $(if $(SCRATCH),--scratch $(SCRATCH)) $(if $(SCOPE),--scope $(SCOPE))

# The synthetic ThermEval scenes (face width, blur) against the blog's real detection rates, on frames of their own
# seeds (no test frame): writes conclusions/synth_calibration.json; put its choice into profiles/default.yaml.
calibrate: setup
	$(PY) -m thermbench.tools.measure.calibrate_synth

# The TinyHead breath source's crop geometry from the head's train and val crops (data/prepared/thermeval, after
# `make repro TARGETS=prepare@thermeval`): writes conclusions/head_crop_geometry.json; put its values into
# profiles/default.yaml's breath.track.tinyhead.
crop-geometry: setup
	$(PY) -m thermbench.tools.measure.head_crop_geometry

# The README's results block and every number docs/ quotes from metrics/, the timings table and docs/dag.md (after a
# `make repro` that changed them; the tests check them).
readme: setup
	$(PY) -m thermbench.tools.publish.readme --write

# The experiments of `dvc exp run -S key=value` side by side within 200 columns (docs/results.md, "Comparing runs"):
# the params that differ between the rows shown, then the headline metrics (metrics/headline/) that differ; no deps'
# hashes, no other metrics file, no timings (tools/pipeline/exp_table.py reads `dvc exp show --json`; a wider table
# breaks long names after their dots, then splits into a params and a metrics table). No experiment yet: one line saying
# so. ARGS= passes more options, e.g. ARGS="--md", ARGS="--width 120", or ARGS="-n 2" (one it does not know goes to dvc
# exp show).
ARGS ?=
.PHONY: exp-show
exp-show: setup
	$(PY) -m thermbench.tools.pipeline.exp_table --dvc '$(DVC)' $(ARGS)

# `make profile P=paper`; SET="data.source.breath=real ..." changes keys of that profile (one real dataset, say).
# It refuses, in one line, to overwrite a value changed in params.yaml since it was composed; FORCE=1 discards it.
SET ?=
FORCE ?=
profile: setup
	$(PY) -m thermbench.tools.pipeline.profiles $(P) $(foreach s,$(SET),--set $(s)) $(if $(FORCE),--force)

# A Quarto post folder from plots/ and metrics/ (docs/results.md, "Publishing"): DEST/index.qmd, DEST/figures/, and the same
# post as plain Markdown in DEST/_markdown/.
publish: setup repair-lock
	$(PY) -m thermbench.tools.publish.publish "$(DEST)"

# The post in a real browser, outside `make test` (pandoc and Chromium are system packages, apt-installed here when
# missing; about 20 s once installed): publishes plots/ into a temporary folder, renders the post and its appendix
# (index and appendix, .qmd and _markdown/*.md) with pandoc, loads each in headless Chromium; fails unless every
# figure loads and every caption shows.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
publish-check: setup
	@{ command -v pandoc && { command -v chromium || command -v chromium-browser; }; } >/dev/null || \
		{ $(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q pandoc chromium; }
	THERMBENCH_BROWSER=1 $(PY) -m pytest -q -s tests/tools/test_publish_browser.py

# Parity with the official code (docs/parity.md): tests/parity in a side environment,
# .venv-parity. A .pth file puts the project's .venv on its path, so it reuses that CPU torch and never pulls a CUDA
# build; the official packages of tests/parity/requirements.txt go in with --no-deps. SAPIENS2=<a checkout of
# facebookresearch/sapiens2> adds Sapiens2 against its own code.
PARITY := .venv-parity
PARITY_STAMP := $(PARITY)/.installed
SAPIENS2 ?=
$(PARITY_STAMP): $(STAMP) tests/parity/requirements.txt
	test -x $(PARITY)/bin/python || $(PY) -m venv $(PARITY)
	echo "import site; site.addsitedir('$$($(PY) -c 'import site; print(site.getsitepackages()[0])')')" \
		> "$$($(PARITY)/bin/python -c 'import site; print(site.getsitepackages()[0])')/project-venv.pth"
	$(PARITY)/bin/python -m pip install -q --no-deps -r tests/parity/requirements.txt
	touch $(PARITY_STAMP)

parity: $(PARITY_STAMP)
	$(if $(SAPIENS2),SAPIENS2_SRC="$(SAPIENS2)") $(PARITY)/bin/python -m pytest -rs --disable-warnings tests/parity

clean-venv:
	rm -rf $(VENV)
