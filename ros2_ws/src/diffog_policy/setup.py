from setuptools import setup

package_name = "diffog_policy"

setup(
    name=package_name,
    version="0.1.0",
    packages=[package_name],
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    description="ROS 2 nodes of the DiffOG stack over the ROS-free diffog core",
    license="MIT",
    entry_points={"console_scripts": [
        "policy_node = diffog_policy.policy_node:main",
        "recorder_node = diffog_policy.recorder_node:main",
        "teleop_node = diffog_policy.teleop_node:main",
        "camera_node = diffog_policy.camera_node:main",
        "bag_recorder = diffog_policy.bag_tools:record_main",
        "bag_player = diffog_policy.bag_tools:play_main",
        "episode_runner = diffog_policy.episode_runner:main",
    ]},
)
