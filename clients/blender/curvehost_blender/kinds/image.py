"""Images: a packed or on-disk image travels as its file's bytes; a generated or painted one as float pixels.

desc "source" is "file" (array "file", u8, with desc "ext" its file extension) or "pixels"
(array "pixels", f32, width × height × channels).
"""
import array
import os
import tempfile

import bpy

from ..layout import LayoutError, expect, new_array

KIND = "Image"
RANK = 0
EXTENSIONS = {".png", ".jpg", ".jpeg", ".exr", ".hdr", ".tif", ".tiff", ".bmp", ".tga", ".webp"}
MAX_PIXELS = 1 << 26


def encode(image, refs):
    desc = {"name": image.name, "width": image.size[0], "height": image.size[1], "alpha_mode": image.alpha_mode,
            "colorspace": image.colorspace_settings.name}
    if image.packed_file is not None or (image.source == "FILE" and os.path.isfile(bpy.path.abspath(image.filepath))):
        data = image.packed_file.data if image.packed_file is not None else open(bpy.path.abspath(image.filepath), "rb").read()
        ext = os.path.splitext(image.filepath)[1].lower()
        desc.update(source="file", ext=ext if ext in EXTENSIONS else ".png")
        return desc, {"file": ("u8", array.array("B", data))}
    channels = image.channels
    pixels = new_array("f32", image.size[0] * image.size[1] * channels)
    if len(pixels):
        image.pixels.foreach_get(pixels)
    desc.update(source="pixels", channels=channels, float=image.is_float)
    return desc, {"pixels": ("f32", pixels)}


def create(desc):
    return None  # made in apply, from its bytes


def apply(image, desc, arrays, links, problems):
    name = str(desc.get("name", "Image"))
    if desc.get("source") == "file":
        fresh = _load_file(name, desc, arrays, problems)
    elif desc.get("source") == "pixels":
        fresh = _from_pixels(name, desc, arrays, problems)
    else:
        raise LayoutError("image source is neither file nor pixels")
    if image is not None:
        image.user_remap(fresh)
        bpy.data.images.remove(image)
        fresh.name = name
    return fresh


def _settle(image, desc, problems):
    """Sets the alpha mode and the colour space (a normal map is Non-Color, not sRGB); a value
    Blender refuses is noted in `problems`. Blender reloads an image whose setting changes,
    converting a float image's pixels anew: so a changed one only, and before any pixels."""
    for setting, owner, attribute in (("alpha_mode", image, "alpha_mode"), ("colorspace", image.colorspace_settings, "name")):
        value = desc.get(setting)
        if isinstance(value, str) and getattr(owner, attribute) != value:
            try:
                setattr(owner, attribute, value)
            except TypeError as error:
                problems.append(f"{setting}: {error}")


def _load_file(name, desc, arrays, problems):
    data = arrays.get("file")
    if data is None or data.typecode != "B":
        raise LayoutError("image file bytes are missing")
    ext = desc.get("ext") if desc.get("ext") in EXTENSIONS else ".png"
    handle, path = tempfile.mkstemp(suffix=ext)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data.tobytes())
        image = bpy.data.images.load(path)
        image.pack()
    except RuntimeError as error:
        raise LayoutError(f"Blender cannot read the image: {error}") from None
    finally:
        os.unlink(path)
    image.name = name
    image.filepath_raw = "//" + bpy.path.clean_name(name) + ext
    _settle(image, desc, problems)
    return image


def _from_pixels(name, desc, arrays, problems):
    width, height, channels = desc.get("width"), desc.get("height"), desc.get("channels")
    if not all(isinstance(n, int) and n >= 0 for n in (width, height, channels)) or channels not in (1, 3, 4) or width * height > MAX_PIXELS:
        raise LayoutError("image size or channels out of range")
    pixels = expect(arrays, "pixels", "f32", width * height * channels)
    image = bpy.data.images.new(name, max(width, 1), max(height, 1), alpha=channels == 4, float_buffer=bool(desc.get("float")))
    _settle(image, desc, problems)
    if len(pixels) and image.channels == channels:
        image.pixels.foreach_set(pixels)
        image.pack()
    return image
