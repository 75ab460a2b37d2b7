"""Text curves: the text, its layout and geometry settings, and material slots (the font is Blender's own)."""
import bpy

from .. import rna
from ..layout import LayoutError
from .slots import apply_materials

KIND = "TextCurve"
RANK = 2
MAX_BODY = 65536
SETTINGS = (
    "body", "size", "shear", "offset_x", "offset_y", "space_character", "space_word", "space_line",
    "align_x", "align_y", "extrude", "offset", "bevel_depth", "bevel_resolution", "resolution_u",
    "fill_mode",
)


def encode(text, refs):
    desc = {"name": text.name, **rna.read(text, SETTINGS), "materials": [refs.ref(m) for m in text.materials]}
    return desc, {}


def create(desc):
    return bpy.data.curves.new(str(desc.get("name", "Text")), "FONT")


def apply(text, desc, arrays, links, problems):
    if len(str(desc.get("body", ""))) > MAX_BODY:
        raise LayoutError(f"text longer than {MAX_BODY} characters")
    if text.name != str(desc.get("name", text.name)):
        text.name = str(desc["name"])
    rna.write(text, desc, SETTINGS, problems)
    apply_materials(text, desc.get("materials", []), links, problems)
    return text
