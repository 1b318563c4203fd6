"""MJCF scenes: gym-aloha's bimanual vx300s model (its assets, its actuators) plus each task's objects.

A scene starts from gym-aloha's joint-space transfer-cube file with its box and keyframe removed, so the robot,
table, cameras and position actuators are exactly ACT's; tasks append their own bodies. Everything compiles from
memory (MuJoCo's asset dict resolves the includes), nothing is written into site-packages.
"""
from __future__ import annotations

import functools
import math
import pathlib
import xml.etree.ElementTree as ET

import gym_aloha
import mujoco

ASSETS_DIR = pathlib.Path(gym_aloha.__file__).parent / "assets"
ARMS = ("left", "right")
# Grasp point between the finger pads, in the gripper_link frame (pads span x = 0.064..0.154 m).
GRASP_SITE_POS = (0.12, 0.0, 0.0)
SPOON_HALF_THICKNESS = 0.0025


@functools.cache
def _asset_files() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in ASSETS_DIR.iterdir() if p.is_file()}


def gym_aloha_file(name: str) -> ET.Element:
    """The root element of one of gym-aloha's scene files."""
    return ET.fromstring(_asset_files()[name])


def robot_scene() -> ET.Element:
    """The bimanual robot on its table, no objects, with a `<arm>/grasp` site between each arm's fingers."""
    root = gym_aloha_file("bimanual_viperx_transfer_cube.xml")
    worldbody = root.find("worldbody")
    worldbody.remove(worldbody.find("body[@name='box']"))
    root.remove(root.find("keyframe"))
    for i, child in enumerate(list(worldbody)):  # inline the arms so sites can be added to their bodies
        if child.tag == "include" and child.get("file", "").startswith("vx300s_"):
            worldbody.remove(child)
            for j, body in enumerate(gym_aloha_file(child.get("file"))):
                worldbody.insert(i + j, body)
    # Semi-implicit Euler (gym-aloha's default) lets light objects struck hard by a flailing policy diverge;
    # implicitfast (MuJoCo's recommended integrator) keeps them finite at the same step cost.
    ET.SubElement(root, "option", integrator="implicitfast")
    # gym-aloha counts only geom groups 4-5 for inertia (its links all declare theirs); objects use their geoms.
    ET.SubElement(root, "compiler", inertiagrouprange="0 5")
    # gym-aloha's scene leaves MuJoCo's default 0.002 s timestep; ACT steps 10 of them per 50 Hz action.
    return root


def add_grasp_sites(root: ET.Element) -> None:
    """Give each gripper a site at its grasp point (the target of the demonstrators' IK)."""
    for arm in ARMS:
        for body in root.iter("body"):
            if body.get("name") == f"vx300s_{arm}/gripper_link":
                ET.SubElement(body, "site", name=f"{arm}/grasp", pos=" ".join(map(str, GRASP_SITE_POS)),
                              size="0.004", rgba="0 1 0 0", group="4")


def compile_scene(root: ET.Element) -> mujoco.MjModel:
    """Compile a scene element (its includes resolved from gym-aloha's assets)."""
    return mujoco.MjModel.from_xml_string(ET.tostring(root, encoding="unicode"), _asset_files())


def _fmt(*values: float) -> str:
    return " ".join(f"{v:.6g}" for v in values)


def free_body(parent: ET.Element, name: str) -> ET.Element:
    body = ET.SubElement(parent, "body", name=name)
    ET.SubElement(body, "freejoint", name=f"{name}_joint")
    return body


def vessel(parent: ET.Element, name: str, radius: float, height: float, wall: float = 0.004, base: float = 0.004,
           rgba: str = "0.8 0.9 1 0.6", friction: float = 1.0, torsion: float = 0.01, density: float = 600.0,
           segments: int = 16) -> ET.Element:
    """A cup or bowl: an open cylinder (a ring of boxes on a disc), origin at the centre of its base.

    Boxes instead of a mesh: MuJoCo collides meshes by their convex hull, which would close the opening.
    """
    body = free_body(parent, name)
    common = dict(condim="4", friction=_fmt(friction, torsion, 0.0001), density=str(density), rgba=rgba)
    ET.SubElement(body, "geom", name=f"{name}/base", type="cylinder", size=_fmt(radius, base / 2),
                  pos=_fmt(0, 0, base / 2), **common)
    half_width = (radius - wall / 2) * math.tan(math.pi / segments) + wall / 2
    for i in range(segments):
        a = 2 * math.pi * i / segments
        r = radius - wall / 2
        # walls stand on the base disc, so only the disc touches what the vessel stands on (few contacts)
        ET.SubElement(body, "geom", name=f"{name}/wall{i}", type="box",
                      size=_fmt(wall / 2, half_width, (height - base) / 2),
                      pos=_fmt(r * math.cos(a), r * math.sin(a), (height + base) / 2), euler=_fmt(0, 0, a), **common)
    return body


def coaster(parent: ET.Element, name: str, radius: float = 0.05, thickness: float = 0.004,
            rgba: str = "0.55 0.35 0.2 1") -> ET.Element:
    """A disc fixed to the table, moved per episode as a mocap body (no recompilation for a new pose)."""
    body = ET.SubElement(parent, "body", name=name, mocap="true")
    ET.SubElement(body, "geom", name=f"{name}/disc", type="cylinder", size=_fmt(radius, thickness / 2),
                  pos=_fmt(0, 0, thickness / 2), rgba=rgba, condim="3")
    return body


def spoon(parent: ET.Element, name: str, friction: float, rgba: str = "0.75 0.75 0.78 1") -> ET.Element:
    """A flat steel spoon along its x axis: handle towards -x, bowl towards +x, origin at mid-thickness. Flat, so
    it cannot roll off what it rests on, only slide; its friction wins every contact (priority), so how easily
    it slides is set here alone."""
    body = free_body(parent, name)
    common = dict(condim="3", friction=_fmt(friction, 0.005, 0.0001), priority="1", density="7800", rgba=rgba)
    # 15 mm wide: a narrower handle spins so fast about its long axis when thrown that the physics diverges
    ET.SubElement(body, "geom", name=f"{name}/handle", type="box", pos=_fmt(-0.0175, 0, 0),
                  size=_fmt(0.0525, 0.0075, SPOON_HALF_THICKNESS), **common)
    ET.SubElement(body, "geom", name=f"{name}/bowl", type="ellipsoid", pos=_fmt(0.055, 0, 0),
                  size=_fmt(0.022, 0.014, SPOON_HALF_THICKNESS), **common)
    return body
