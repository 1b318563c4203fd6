from glob import glob

from setuptools import setup

package_name = "aloha_bringup"

setup(
    name=package_name,
    version="0.1.0",
    packages=[package_name],
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
        (f"share/{package_name}/config", glob("config/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    description="ALOHA robot description and bringup",
    license="MIT",
    entry_points={"console_scripts": [
        "sim_node = aloha_bringup.sim_node:main",
    ]},
)
