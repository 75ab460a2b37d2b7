"""Scenes: frame range, frame rate, resolution, the active camera, and their own collection's members."""
import bpy

from .. import rna
from .collection import apply_members, members

KIND = "Scene"
RANK = 9
SETTINGS = ("frame_start", "frame_end", "frame_step")
RENDER = ("fps", "fps_base", "resolution_x", "resolution_y", "resolution_percentage")


def encode(scene, refs):
    desc = {
        "name": scene.name,
        "camera": refs.ref(scene.camera),
        "render": rna.read(scene.render, RENDER),
        **members(scene.collection, refs),
        **rna.read(scene, SETTINGS),
    }
    return desc, {}


def create(desc):
    return bpy.data.scenes.new(str(desc.get("name", "Scene")))


def apply(scene, desc, arrays, links, problems):
    if scene.name != str(desc.get("name", scene.name)):
        scene.name = str(desc["name"])
    apply_members(scene.collection, desc, links)
    camera = links.block(desc.get("camera"), "Object")
    if scene.camera != camera:
        scene.camera = camera
    rna.write(scene, desc, SETTINGS, problems)
    if isinstance(desc.get("render"), dict):
        rna.write(scene.render, desc["render"], RENDER, problems)
    return scene
