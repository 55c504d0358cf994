"""Download, unpack and layout checks against a loopback HTTP server; Kaggle without credentials."""

import functools
import http.server
import io
import json
import os
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest
import yaml

from thermbench.core.io import InputError
from thermbench.datasets.fetch import MARKER, fetch, validate_layout

ROOT = Path(__file__).resolve().parents[2]
THERMEVAL_FILES = ["Annotations/annotations_1.json", "Annotations/annotations_2.json", "images/f1_000.png"]


def make_zip(path: Path, names: list[str], wrapper: str = "ThermEval_KDD/") -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in names:
            zf.writestr(wrapper + name, "{}")
    path.write_bytes(buffer.getvalue())


@pytest.fixture
def server(tmp_path):
    """Serve tmp_path/www on 127.0.0.1; yields (base_url, list of requested paths)."""
    www = tmp_path / "www"
    www.mkdir()
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", requests
    httpd.shutdown()
    httpd.server_close()


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def contents(root: Path) -> dict[str, bytes]:
    """Every file under `root` by its relative path, with its bytes; the completion marker parsed, under MARKER."""
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    if MARKER in files:
        files[MARKER] = json.loads(files[MARKER])
    return files


def test_download_unpack_validate_then_skip(tmp_path, server):
    base, requests = server
    make_zip(tmp_path / "www/thermeval.zip", THERMEVAL_FILES)
    cfg = {"urls": [f"{base}/thermeval.zip"], "download_dir": str(tmp_path / "dl")}
    out = tmp_path / "data/raw/thermeval"
    fetch("thermeval", out, cfg)
    assert contents(out) == {MARKER: cfg, **{name: b"{}" for name in THERMEVAL_FILES}}  # wrapper folder removed
    assert leftovers(out.parent) == []
    assert (tmp_path / "dl/thermeval.zip").read_bytes() == (tmp_path / "www/thermeval.zip").read_bytes()
    fetch("thermeval", out, cfg)
    assert requests == ["/thermeval.zip"]  # second run: marker found, nothing downloaded


def test_cached_archive_is_reused_after_a_failed_unpack(tmp_path, server):
    base, requests = server
    make_zip(tmp_path / "www/thermeval.zip", THERMEVAL_FILES[:2])
    cfg = {"urls": [f"{base}/thermeval.zip"], "download_dir": str(tmp_path / "dl")}
    out = tmp_path / "data/raw/thermeval"
    with pytest.raises(InputError, match=r"thermeval.zip: not a thermeval layout, nothing matches images/\*.png"):
        fetch("thermeval", out, cfg)
    assert not out.exists() and leftovers(out.parent) == []
    with pytest.raises(InputError):
        fetch("thermeval", out, cfg)
    assert requests == ["/thermeval.zip"]


def test_http_errors_leave_nothing(tmp_path, server):
    base, _ = server
    (tmp_path / "www/broken.zip").write_bytes(b"this is not a zip")
    out = tmp_path / "data/raw/thermeval"
    with pytest.raises(InputError, match="missing.zip: download failed"):
        fetch("thermeval", out, {"urls": [f"{base}/missing.zip"], "download_dir": str(tmp_path / "dl")})
    assert leftovers(tmp_path / "dl") == []
    with pytest.raises(InputError, match="broken.zip: not a valid zip archive"):
        fetch("thermeval", out, {"urls": [f"{base}/broken.zip"], "download_dir": str(tmp_path / "dl")})
    assert not out.exists() and leftovers(out.parent) == []


def test_manual_folder_instructions_and_copy(tmp_path):
    manual = {"what": "CHARLOTTE (a Drive folder)", "url": "https://drive.example/folder", "dir": str(tmp_path / "dl")}
    out = tmp_path / "data/raw/charlotte"
    with pytest.raises(InputError, match="cannot be downloaded automatically: get it from https://drive.example/f"):
        fetch("charlotte", out, {"manual": manual})
    (tmp_path / "dl/UNCC/S1").mkdir(parents=True)
    (tmp_path / "dl/UNCC/S1.csv").write_text("ID\n")
    (tmp_path / "dl/UNCC/S1/R10001.tiff").write_bytes(b"II*\x00")
    fetch("charlotte", out, {"manual": manual})
    # The UNCC/ wrapper is dropped, the files arrive byte for byte, the marker records the sources; the hand-made
    # folder is copied, not moved.
    assert contents(out) == {MARKER: {"manual": manual}, "S1.csv": b"ID\n", "S1/R10001.tiff": b"II*\x00"}
    assert contents(tmp_path / "dl") == {"UNCC/S1.csv": b"ID\n", "UNCC/S1/R10001.tiff": b"II*\x00"}
    assert leftovers(out.parent) == []


def test_kaggle_without_credentials_is_one_line(tmp_path):
    params = tmp_path / "params.yaml"
    cfg = {"kaggle": "shriayush/thermeval", "download_dir": str(tmp_path / "dl")}
    params.write_text(yaml.safe_dump({"seed": 0, "data": {"source": {"thermeval": "real"}}, "synth": {"thermeval": {}},
                                      "fetch": {"thermeval": cfg}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE_")}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / ".config"))
    cmd = [sys.executable, "stages/datasets/raw.py", "--dataset", "thermeval", "--out", str(tmp_path / "raw")]
    cmd += ["--params", str(params)]
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "KAGGLE_USERNAME and KAGGLE_KEY" in lines[0] and "kaggle.json" in lines[0]
    assert result.stdout == "" and not (tmp_path / "raw").exists()


def test_tfake_layout_takes_a_flat_or_a_per_condition_thermal_folder(tmp_path):
    for thermal in ("thermal/000000.png", "thermal/warm/000000.png"):
        root = tmp_path / thermal.replace("/", "_")
        (root / thermal).parent.mkdir(parents=True)
        for name in ("000000_ldmks.txt", "000000.png", thermal):
            (root / name).write_text("")
        validate_layout("tfake", root, str(root))
    (tmp_path / "no_thermal").mkdir()
    for name in ("000000_ldmks.txt", "000000.png"):
        (tmp_path / "no_thermal" / name).write_text("")
    with pytest.raises(InputError, match=r"x: not a tfake layout, nothing matches thermal/\*\*/\*.png"):
        validate_layout("tfake", tmp_path / "no_thermal", "x")


def test_cocowholebody_images_downloaded_annotations_by_hand(tmp_path, server):
    """COCO's image zips come over HTTP; the annotations (Google Drive) are checked before any download."""
    base, requests = server
    for split in ("train2017", "val2017"):
        with zipfile.ZipFile(tmp_path / f"www/{split}.zip", "w") as zf:
            zf.writestr(f"{split}/000000000001.jpg", f"jpeg of {split}".encode())
    manual = {"what": "the COCO-WholeBody annotations", "url": "https://github.com/jin-s13/COCO-WholeBody",
              "dir": str(tmp_path / "dl_ann"), "into": "annotations"}
    cfg = {"urls": [f"{base}/val2017.zip", f"{base}/train2017.zip"], "download_dir": str(tmp_path / "dl"),
           "manual": manual}
    out = tmp_path / "data/raw/cocowholebody"
    with pytest.raises(InputError, match=f"{tmp_path / 'dl_ann'}: not found or empty; the COCO-WholeBody annotations "
                                         "cannot be downloaded automatically: get it from https://github.com/jin-s13"):
        fetch("cocowholebody", out, cfg)
    assert requests == []
    (tmp_path / "dl_ann").mkdir()
    for split in ("train", "val"):
        (tmp_path / f"dl_ann/coco_wholebody_{split}_v1.0.json").write_text(f'{{"split": "{split}"}}')
    fetch("cocowholebody", out, cfg)
    # Both image zips unpacked side by side, the annotations copied into annotations/ (manual "into").
    assert contents(out) == {
        MARKER: cfg,
        "annotations/coco_wholebody_train_v1.0.json": b'{"split": "train"}',
        "annotations/coco_wholebody_val_v1.0.json": b'{"split": "val"}',
        "train2017/000000000001.jpg": b"jpeg of train2017",
        "val2017/000000000001.jpg": b"jpeg of val2017",
    }
    assert sorted(requests) == ["/train2017.zip", "/val2017.zip"] and leftovers(out.parent) == []


def test_300w_parts_by_hand_one_line_then_layout_checked(tmp_path):
    manual = {"what": "300W", "url": "https://ibug.doc.ic.ac.uk/resources/300-W/", "dir": str(tmp_path / "dl")}
    out = tmp_path / "data/raw/300w"
    with pytest.raises(InputError, match="get it from https://ibug.doc.ic.ac.uk/resources/300-W/ and unpack it into"):
        fetch("300w", out, {"manual": manual})
    for part in ("afw", "helen/trainset", "lfpw/trainset", "helen/testset", "lfpw/testset"):
        (tmp_path / "dl" / part).mkdir(parents=True)
        (tmp_path / "dl" / part / "a.pts").write_text("")
    with pytest.raises(InputError, match="not a 300w layout, nothing matches ibug/\\*.pts"):
        fetch("300w", out, {"manual": manual})
    (tmp_path / "dl/ibug").mkdir()
    (tmp_path / "dl/ibug/a.pts").write_text("ibug")
    fetch("300w", out, {"manual": manual})
    parts = ("afw", "helen/trainset", "lfpw/trainset", "helen/testset", "lfpw/testset")
    assert contents(out) == {MARKER: {"manual": manual}, "ibug/a.pts": b"ibug", **{f"{p}/a.pts": b"" for p in parts}}
