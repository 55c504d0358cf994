"""What tools/pipeline/dvc_cli.py patches or calls inside DVC, pinned: the names and parameters it was written against
(DVC 3.67.1). A DVC upgrade that moves or reshapes one of them fails here in one line naming it, before a `make repro`
could run DVC with a patch that no longer fits."""

import importlib
import inspect

import dvc
import pytest

# DVC's internals that dvc_cli replaces (the lock's reader and writer, a stage's command, the DAG loop) or calls
# from its replacements, with the parameters the patches rely on
PINNED = {
    "dvc.dvcfile:modify_yaml": ["path", "fs"],
    "dvc.utils.strictyaml:parse_yaml": ["text", "path", "typ"],
    "dvc.utils.serialize._common:_modify_data": ["path", "parser", "dumper", "fs"],
    "dvc.stage.run:cmd_run": ["stage", "dry", "run_env"],
    "dvc.stage.run:prepare_kwargs": ["stage", "run_env"],
    "dvc.stage.run:_enforce_cmd_list": ["cmd"],
    "dvc.stage.run:_make_cmd": ["executable", "cmd"],
    "dvc.stage.run:display_command": ["cmd"],
    "dvc.stage.run:get_executable": [],
    "dvc.repo.reproduce:_reproduce": ["stages", "graph", "force_downstream", "on_error", "force", "repro_fn",
                                      "kwargs"],
    "dvc.repo.reproduce:_reproduce_stage": ["stage", "kwargs"],
    "dvc.stage.cache:RunCacheNotFoundError": ["stage"],
    "dvc.stage.exceptions:StageCmdFailedError": ["cmd", "status"],
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_what_dvc_cli_patches_is_still_there(name):
    module, attribute = name.split(":")
    found = getattr(importlib.import_module(module), attribute, None)
    assert found is not None, f"DVC {dvc.__version__} has no {module}.{attribute}, which tools/pipeline/dvc_cli.py uses"
    params = list(inspect.signature(found).parameters)
    assert params == PINNED[name], (f"DVC {dvc.__version__}: {module}.{attribute} takes ({', '.join(params)}), "
                                    f"not ({', '.join(PINNED[name])}) as tools/pipeline/dvc_cli.py expects")
