"""No Docker engine runs here, so the robot-PC Dockerfile is checked as text: it installs requirements.txt
itself, pins nothing of its own, and uses the Python that the pinned ROS wheels and scripts/setup.sh need."""
import re

import pytest


@pytest.fixture(scope="module")
def dockerfile(repo_root) -> str:
    text = (repo_root / "docker" / "Dockerfile").read_text()
    return re.sub(r"\\\n", " ", text)  # join continued lines


def pins(text: str) -> dict[str, str]:
    return {m.group(1).lower(): m.group(2) for m in re.finditer(r"(?<![\w.-])([A-Za-z][\w.-]*)==([\w.+!-]+)", text)}


def test_installs_the_requirements_file_without_dependency_resolution(dockerfile):
    assert re.search(r"^COPY requirements\.txt ", dockerfile, re.M)
    install = re.search(r"pip install[^&]*--no-deps[^&]*-r requirements\.txt", dockerfile)
    assert install, "the Dockerfile must install requirements.txt with --no-deps (the complete frozen set)"
    assert "scripts/setup.sh" in dockerfile  # the same workspace build and env.sh as `make setup`


def test_pins_nothing_that_differs_from_requirements(dockerfile, repo_root):
    project = pins((repo_root / "requirements.txt").read_text())
    own = pins("\n".join(line for line in dockerfile.splitlines() if not line.lstrip().startswith("#")))
    assert {k: v for k, v in own.items() if project.get(k) != v} == {}
    assert not re.search(r"pip install(?![^&]*(-r requirements\.txt|\$\(grep))", dockerfile), \
        "every pip install in the Dockerfile must take its versions from requirements.txt"


def test_uses_the_python_the_ros_wheels_and_setup_need(dockerfile, repo_root):
    setup = (repo_root / "scripts" / "setup.sh").read_text()
    want = re.search(r"version_info\[:2\] == \((\d+), (\d+)\)", setup).groups()
    assert f"python{want[0]}.{want[1]}" in dockerfile



def test_the_ros_base_image_is_the_distro_of_the_pinned_ros_wheels(dockerfile, repo_root):
    distro = re.search(r"ROS 2 distro of the ros-\* wheels: (\w+)", (repo_root / "requirements.txt").read_text())
    assert distro, "requirements.txt names the distro of its ros-* wheels"
    assert re.search(rf"^ARG ROS_DISTRO={distro.group(1)}$", dockerfile, re.M)
    assert re.search(r"^FROM ros:\$\{ROS_DISTRO\}-ros-base", dockerfile, re.M)  # ros2 launch, ros2 bag
