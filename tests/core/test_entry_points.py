"""The console entry points in pyproject.toml name real functions, each answering --help."""
import importlib
import pathlib
import tomllib

import pytest

import diffog

SCRIPTS = tomllib.loads((pathlib.Path(diffog.REPO_ROOT) / "pyproject.toml").read_text())["project"]["scripts"]


def test_the_jobs_have_entry_points():
    assert {"diffog-train", "diffog-eval", "diffog-record", "diffog-make-dataset", "diffog-run-graph"} <= set(SCRIPTS)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_entry_point_answers_help(name, capsys):
    module, _, func = SCRIPTS[name].partition(":")
    main = getattr(importlib.import_module(module), func)
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0 and "usage:" in capsys.readouterr().out
