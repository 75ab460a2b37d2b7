"""Other artists in the viewport: their view as a camera frustum and their selection as
boxes, each in the user's colour, with their name beside the frustum."""
import math

import blf
import bpy
import gpu
from bpy_extras import view3d_utils
from gpu_extras.batch import batch_for_shader
from mathutils import Matrix, Vector

DEPTH = 1.5  # how far the drawn frustum reaches, in scene units
BOX_EDGES = ((0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7))
_handles = []


def install(session_of):
    """Draws for the session `session_of()` returns (None: nothing) in every 3D view."""
    if _handles:
        return
    space = bpy.types.SpaceView3D
    _handles.append(space.draw_handler_add(_draw_view, (session_of,), "WINDOW", "POST_VIEW"))
    _handles.append(space.draw_handler_add(_draw_names, (session_of,), "WINDOW", "POST_PIXEL"))


def uninstall():
    while _handles:
        bpy.types.SpaceView3D.draw_handler_remove(_handles.pop(), "WINDOW")


def _others(session_of):
    session = session_of()
    if session is None or session.closed:
        return None, {}
    return session, {name: data for name, data in session.presence.items() if isinstance(data, dict)}


def _colour(data):
    colour = data.get("colour")
    if isinstance(colour, list) and len(colour) == 3 and all(isinstance(c, (int, float)) for c in colour):
        return (*[min(max(float(c), 0.0), 1.0) for c in colour], 1.0)
    return (1.0, 0.6, 0.1, 1.0)


def _camera(data):
    """The world matrix of a user's viewpoint and its lens, or None."""
    view = data.get("view")
    if not isinstance(view, dict):
        return None
    values = view.get("matrix")
    if not (isinstance(values, list) and len(values) == 16 and all(isinstance(x, (int, float)) for x in values)):
        return None
    try:
        world = Matrix([values[i : i + 4] for i in range(0, 16, 4)]).inverted()
    except ValueError:
        return None
    lens = view.get("lens") if isinstance(view.get("lens"), (int, float)) and view.get("lens") > 0 else 50.0
    return world, float(lens)


def _frustum(world, lens):
    half = DEPTH * 18.0 / lens  # a 36 mm sensor, as Blender's viewport
    corners = [world @ Vector((x * half, y * half * 0.6, -DEPTH)) for x, y in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
    apex = world.translation
    lines = []
    for i, corner in enumerate(corners):
        lines += [apex, corner, corner, corners[(i + 1) % 4]]
    up = world @ Vector((0, half * 0.6 + half * 0.3, -DEPTH))  # a triangle on top says which way is up
    lines += [corners[2], up, up, corners[3]]
    return lines


def _boxes(session, ids):
    lines = []
    for nid in ids[:100] if isinstance(ids, list) else ():
        obj = session.registry.get(nid) if isinstance(nid, str) else None
        if not isinstance(obj, bpy.types.Object):
            continue
        box = [Vector(corner) for corner in obj.bound_box]
        if (box[6] - box[0]).length < 1e-6:  # lights, cameras, empties: no extent of their own
            box = [Vector(((i >> 2 & 1) - 0.5, (i >> 1 & 1) - 0.5, (i & 1) - 0.5)) for i in range(8)]
            box = [box[i] for i in (0, 1, 3, 2, 4, 5, 7, 6)]
        corners = [obj.matrix_world @ corner for corner in box]
        for a, b in BOX_EDGES:
            lines += [corners[a], corners[b]]
    return lines


def _draw_view(session_of):
    session, others = _others(session_of)
    if not others:
        return
    shader = gpu.shader.from_builtin("3D_UNIFORM_COLOR")
    gpu.state.line_width_set(2.0)
    gpu.state.blend_set("ALPHA")
    for data in others.values():
        lines = _boxes(session, data.get("selection"))
        camera = _camera(data)
        if camera is not None:
            lines += _frustum(*camera)
        if lines:
            shader.uniform_float("color", _colour(data))
            batch_for_shader(shader, "LINES", {"pos": lines}).draw(shader)
    gpu.state.line_width_set(1.0)
    gpu.state.blend_set("NONE")


def _draw_names(session_of):
    session, others = _others(session_of)
    region, view = bpy.context.region, bpy.context.region_data
    if not others or region is None or view is None:
        return
    font = 0
    blf.size(font, 14, 72)
    for name, data in others.items():
        camera = _camera(data)
        if camera is None:
            continue
        point = view3d_utils.location_3d_to_region_2d(region, view, camera[0].translation)
        if point is None or math.isnan(point.x):
            continue
        blf.color(font, *_colour(data))
        blf.position(font, point.x + 8, point.y + 8, 0)
        frame = data.get("frame")
        blf.draw(font, f"{name[:32]} · frame {frame}" if isinstance(frame, int) else name[:32])
