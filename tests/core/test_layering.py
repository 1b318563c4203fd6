"""Nothing in diffog imports upward: each package imports only the packages below it (README's layout table).
Every import counts, including those inside functions and under TYPE_CHECKING."""
import ast
import pathlib

import diffog

CORE = pathlib.Path(diffog.__file__).parent
# package -> the diffog packages it may import (besides itself and the top-level `diffog` module)
ALLOWED = {
    "robot": set(),
    "refine": set(),
    "data": {"robot"},
    "hardware": {"robot"},
    "policy": {"robot", "refine", "data"},
    "sim": {"robot", "data", "hardware"},
    "deploy": {"robot", "refine", "data", "policy", "hardware"},
    "rostools": {"robot", "data", "policy", "deploy"},
    "evaluation": {"robot", "refine", "data", "policy", "hardware", "sim", "deploy"},
    "training": {"robot", "refine", "data", "policy", "deploy", "evaluation"},
}


def imported_packages(path: pathlib.Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
        out |= {n.split(".")[1] for n in names if n.startswith("diffog.")}
        if isinstance(node, ast.ImportFrom) and node.level > 1:  # `from ..x import y` leaves the package
            out.add(f"relative import {'.' * node.level}{node.module}")
    return out


def test_every_package_is_in_the_rules():
    packages = {p.name for p in CORE.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(ALLOWED), "a package was added or removed: give it a rule here and in the README"
    assert not [p.name for p in CORE.glob("*.py") if p.name != "__init__.py"], "modules belong in a package"


def test_no_package_imports_upward():
    bad = []
    for package, allowed in ALLOWED.items():
        for path in (CORE / package).rglob("*.py"):
            for target in imported_packages(path) - allowed - {package}:
                bad.append(f"{path.relative_to(CORE)} imports diffog.{target}")
    assert not bad, "\n".join(bad)


def test_rules_catch_an_upward_import(tmp_path):
    f = tmp_path / "x.py"
    f.write_text("def f():\n    from diffog.deploy.controller import Execution\n")
    assert imported_packages(f) == {"deploy"}


def test_every_package_says_what_it_holds_and_may_import():
    for package in ALLOWED:
        doc = ast.get_docstring(ast.parse((CORE / package / "__init__.py").read_text())) or ""
        assert "May import:" in doc, f"diffog/{package}/__init__.py must say what it holds and may import"
