"""Lights: type, colour, power and the settings of their type."""
import bpy

from .. import rna

KIND = "Light"
RANK = 2
SETTINGS = (
    "color", "energy", "specular_factor", "diffuse_factor", "volume_factor", "use_shadow",
    "shadow_soft_size", "spot_size", "spot_blend", "show_cone", "shape", "size", "size_y", "angle",
    "use_custom_distance", "cutoff_distance",
)
TYPES = ("POINT", "SUN", "SPOT", "AREA")


def encode(light, refs):
    return {"name": light.name, "type": light.type, **rna.read(light, SETTINGS)}, {}


def create(desc):
    return bpy.data.lights.new(str(desc.get("name", "Light")), _type(desc))


def apply(light, desc, arrays, links, problems):
    if light.type != _type(desc):
        light.type = _type(desc)
        light = bpy.data.lights[light.name]  # the Python object of a light is typed: fetch it again
    if light.name != str(desc.get("name", light.name)):
        light.name = str(desc["name"])
    rna.write(light, desc, SETTINGS, problems)
    return light


def _type(desc):
    return desc.get("type") if desc.get("type") in TYPES else "POINT"
