"""blender -b --python side_by_side.py -- LEFT.png RIGHT.png OUT.png: two screenshots in one picture."""
import sys

import bpy

left_path, right_path, out = sys.argv[sys.argv.index("--") + 1 :]
left, right = bpy.data.images.load(left_path), bpy.data.images.load(right_path)
(lw, lh), (rw, rh) = left.size, right.size
gap, height = 8, max(lh, rh)
width = lw + gap + rw
pixels = [0.15, 0.15, 0.15, 1.0] * (width * height)
for image, x0 in ((left, 0), (right, lw + gap)):
    w, h = image.size
    source = image.pixels[:]
    for y in range(h):
        row = (y * width + x0) * 4
        pixels[row : row + w * 4] = source[y * w * 4 : (y + 1) * w * 4]
picture = bpy.data.images.new("two-artists", width, height)
picture.pixels[:] = pixels
picture.filepath_raw = out
picture.file_format = "PNG"
picture.save()
