"""Each ROS package's package.xml declares exactly what it needs at run time: every package its Python sources
import (a ROS package by its name, a system Python package by its rosdep key) and, for aloha_bringup, which
installs launch/, every package its launch graphs start or read; and nothing else. Interface packages declare
the packages their field types come from."""
import ast
import pathlib
import re
import sys
import xml.etree.ElementTree as ET

import pytest

from diffog.rostools.graphs import GRAPHS, LAUNCH_DIR, load_graphs

SRC = LAUNCH_DIR.parent / "ros2_ws" / "src"
# import name -> rosdep key (rosdistro rosdep/python.yaml); imports neither here, nor stdlib, nor a ROS package
# fail the test until they are mapped
SYSTEM_KEYS = {"numpy": "python3-numpy", "cv2": "python3-opencv", "yaml": "python3-yaml"}
NOT_ROSDEP = {"diffog"}  # this repository's core, installed by pip (pyproject.toml), no rosdep key
PYTHON_PACKAGES = {  # package -> its Python sources (setup.py, a build-time script, excluded)
    "aloha_bringup": [SRC / "aloha_bringup" / "aloha_bringup", LAUNCH_DIR],  # setup.py installs launch/
    "diffog_policy": [SRC / "diffog_policy" / "diffog_policy"],
}
INTERFACE_PACKAGES = ["diffog_msgs", "interbotix_xs_msgs"]
DEPEND_TAGS = ("depend", "exec_depend", "build_export_depend")
SUBSTITUTED = re.compile(r"\$\((find-pkg-share|find-exec)\s+([\w-]+)\)")


def declared(package: str, tags=DEPEND_TAGS) -> set[str]:
    root = ET.parse(SRC / package / "package.xml").getroot()
    assert root.findtext("name") == package
    return {e.text.strip() for tag in tags for e in root.findall(tag)}


def optional_modules(tree: ast.Module) -> set[str]:
    """Modules probed inside `try: ... except ImportError`: used only where they import (declared or not)."""
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Try):
            continue
        caught = {n.id for h in node.handlers for n in ast.walk(h.type or ast.Name("")) if isinstance(n, ast.Name)}
        if not caught & {"ImportError", "ModuleNotFoundError"}:
            continue
        for inner in (n for stmt in node.body for n in ast.walk(stmt)):
            if isinstance(inner, ast.Import):
                found |= {a.name.split(".")[0] for a in inner.names}
            elif isinstance(inner, ast.ImportFrom) and inner.module and not inner.level:
                found.add(inner.module.split(".")[0])
            elif (isinstance(inner, ast.Call) and getattr(inner.func, "attr", "") == "import_module"
                  and inner.args and isinstance(inner.args[0], ast.Constant)):
                found.add(str(inner.args[0].value).split(".")[0])
    return found


def imports(paths: list[pathlib.Path]) -> tuple[set[str], set[str]]:
    """Top-level module names the sources import (any scope), and those only probed (optional_modules)."""
    names, optional = set(), set()
    for path in paths:
        for file in sorted(path.glob("*.py")):
            tree = ast.parse(file.read_text(), str(file))
            optional |= optional_modules(tree)
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names.add(node.module.split(".")[0])
    return names, optional


def needed_by_imports(package: str) -> set[str]:
    names, optional = imports(PYTHON_PACKAGES[package])
    keys = set()
    for name in sorted(names - optional - set(sys.stdlib_module_names) - NOT_ROSDEP - {package}):
        keys.add(SYSTEM_KEYS.get(name, name))  # otherwise a ROS package, its rosdep key its name
    return keys


def needed_by_launch_graphs() -> set[str]:
    """What aloha_bringup's installed launch files start (node packages) or read ($(find-pkg-share PKG), an
    executable of $(find-exec NAME), whose rosdep key is its package's: xacro)."""
    needed = set()
    for graph in load_graphs(GRAPHS).values():
        for node in graph.nodes:
            needed.add(node.package)
            for value in [*node.overrides.values(), *node.arguments]:
                needed |= {name for _, name in SUBSTITUTED.findall(value)}
    return needed - {"aloha_bringup"}


def expected(package: str) -> set[str]:
    return needed_by_imports(package) | (needed_by_launch_graphs() if package == "aloha_bringup" else set())


@pytest.mark.parametrize("package", sorted(PYTHON_PACKAGES))
def test_every_import_and_launched_package_is_declared_and_nothing_else(package):
    need, have = expected(package), declared(package)
    assert not need - have, f"{package}/package.xml lacks <exec_depend> for {sorted(need - have)}"
    assert not have - need, f"{package}/package.xml declares unused {sorted(have - need)}"


def test_the_check_sees_what_it_should():
    """The scan finds the imports named in the issue, maps system packages to rosdep keys and leaves optional
    Interbotix library imports out."""
    policy = needed_by_imports("diffog_policy")
    assert {"rosgraph_msgs", "rcl_interfaces", "python3-numpy", "python3-opencv"} <= policy
    assert not {"trajectory_msgs", "interbotix_xs_modules", "interbotix_common_modules", "cv2", "diffog"} & policy
    bringup = expected("aloha_bringup")
    assert {"rcl_interfaces", "python3-numpy", "launch", "launch_ros", "robot_state_publisher", "xacro",
            "interbotix_xsarm_descriptions", "interbotix_xsarm_control", "interbotix_xs_sdk", "tf2_ros",
            "diffog_policy"} <= bringup


@pytest.mark.parametrize("package", INTERFACE_PACKAGES)
def test_interface_packages_declare_the_packages_of_their_field_types(package):
    used = set()
    for file in sorted((SRC / package).glob("*/*.*")):
        if file.suffix in (".msg", ".srv", ".action"):
            used |= set(re.findall(r"^\s*([a-z]\w*)/\w+", file.read_text(), re.M)) - {package}
    assert used == declared(package, ("depend", "build_depend")) - {"rosidl_default_generators"}
    assert "rosidl_default_runtime" in declared(package)
