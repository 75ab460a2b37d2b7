"""Cameras: projection, lens, sensor, clipping and shift."""
import bpy

from .. import rna

KIND = "Camera"
RANK = 2
SETTINGS = (
    "type", "lens", "lens_unit", "angle", "ortho_scale", "sensor_fit", "sensor_width",
    "sensor_height", "clip_start", "clip_end", "shift_x", "shift_y", "display_size",
)


def encode(camera, refs):
    return {"name": camera.name, **rna.read(camera, SETTINGS)}, {}


def create(desc):
    return bpy.data.cameras.new(str(desc.get("name", "Camera")))


def apply(camera, desc, arrays, links, problems):
    if camera.name != str(desc.get("name", camera.name)):
        camera.name = str(desc["name"])
    rna.write(camera, desc, SETTINGS, problems)
    return camera
