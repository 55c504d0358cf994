"""`python quick_lock.py <dvc arguments>`: DVC's command line with dvc.lock parsed and written by libyaml (PyYAML's C
loader and dumper) in place of ruamel's pure-Python round trip. DVC reads and rewrites the whole lock around each stage
it runs (treeverse/dvc#10629); with this project's lock of ~370 kB that round trip costs seconds a stage, the C one a
tenth of that. The test DAG runs start DVC this way (the `python -m dvc` of tests/support/warm_stages.py's
environment). The lock holds the same data (plain DVC reads it as up to date); only its line wrapping differs."""

import sys
from collections import OrderedDict
from pathlib import Path

import dvc.dvcfile
import dvc.utils.strictyaml
import yaml
from dvc.cli import main
from dvc.utils.serialize import _common

LOCK = "dvc.lock"


class _Dumper(yaml.CSafeDumper):
    pass


_Dumper.add_representer(OrderedDict, _Dumper.represent_dict)  # DVC builds its lock entries as OrderedDicts


_modify_yaml, _parse_yaml = dvc.dvcfile.modify_yaml, dvc.utils.strictyaml.parse_yaml


def _load(text, path):
    try:
        return yaml.load(text, Loader=yaml.CSafeLoader) or {}
    except yaml.YAMLError:  # a broken lock: DVC's own parser raises the error plain DVC reports ("... is invalid")
        return _parse_yaml(text, path)


def _dump(data, stream):
    yaml.dump(data, stream, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=10**6)


def modify_yaml(path, fs=None):
    """DVC's `modify_yaml` (a context giving the file's data, written back at its end); libyaml's for dvc.lock."""
    return _common._modify_data(path, _load, _dump, fs=fs) if Path(path).name == LOCK else _modify_yaml(path, fs=fs)


def parse_yaml(text, path, typ="safe"):
    """DVC's `parse_yaml` (what validates a dvc file as it is loaded); libyaml's for dvc.lock."""
    return _load(text, path) if Path(path).name == LOCK and typ == "safe" else _parse_yaml(text, path, typ)


if __name__ == "__main__":
    dvc.dvcfile.modify_yaml, dvc.utils.strictyaml.parse_yaml = modify_yaml, parse_yaml
    sys.exit(main(sys.argv[1:]))
