import os
from glob import glob

from setuptools import setup

package_name = "aloha_bringup"
# The repository's launch/ folder (graphs.yaml, the launch files, graph_launch.py, parameters and Interbotix mode
# configs) is installed with this package: share/aloha_bringup/launch and share/aloha_bringup/launch/config, found
# by FindPackageShare('aloha_bringup') / $(find-pkg-share aloha_bringup). Paths relative to the working directory,
# as setuptools' data_files want them, wherever the build runs setup.py from.
LAUNCH = os.path.relpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "launch"))


def launch_files(*parts: str) -> list[str]:
    return sorted(glob(os.path.join(LAUNCH, *parts)))


setup(
    name=package_name,
    version="0.1.0",
    packages=[package_name],
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
        (f"share/{package_name}/config", glob("config/*.yaml")),
        (f"share/{package_name}/launch", launch_files("*.launch.py") + launch_files("graph_launch.py")
         + launch_files("graphs.yaml")),
        (f"share/{package_name}/launch/config", launch_files("config", "*.yaml")),
        (f"share/{package_name}/launch/config/interbotix", launch_files("config", "interbotix", "*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    description="ALOHA robot description, bringup (the launch graphs) and the sim node",
    license="MIT",
    entry_points={"console_scripts": [
        "sim_node = aloha_bringup.sim_node:main",
    ]},
)
