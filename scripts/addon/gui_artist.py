"""One artist's GUI Blender for the screenshot (scripts/addon/screenshot.py runs two).

    blender --factory-startup -p 0 0 W H --python gui_artist.py -- INVITE share|join VIEW OUT.png READY

Registers the add-on, connects through the panel's operator (share: the admin shares the
default scene), opens the sidebar on the curvehost tab, turns the view
to VIEW ("front" or "side"), selects an object, and once the other artist's presence has
arrived and been drawn, saves a screenshot of its window to OUT.png and quits. READY is a
file it writes once connected, for the other artist to wait on.
"""
import math
import os
import sys
import time

import bpy
from mathutils import Euler

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path[:0] = [os.path.join(ROOT, "clients", "blender"), os.path.join(ROOT, "clients", "python")]

import curvehost_blender  # noqa: E402
from curvehost_blender import ui  # noqa: E402

invite, mode, view, out, ready = sys.argv[sys.argv.index("--") + 1 :]
bpy.context.preferences.view.show_splash = False
# bob looks from behind alice, so his picture shows her view as a frustum; hers shows his selection.
VIEWS = {"front": (Euler((math.radians(62), 0, math.radians(40))), 22.0), "behind": (Euler((math.radians(66), 0, math.radians(28))), 42.0)}
started = time.monotonic()
seen_other_at = None


def view3d():
    for area in bpy.context.window_manager.windows[0].screen.areas:
        if area.type == "VIEW_3D":
            return area
    return None


def connect():
    curvehost_blender.register()
    # Blender 3.4 has no way to pick a sidebar tab from Python: for the picture, the panel
    # moves to the tab the sidebar opens on.
    bpy.utils.unregister_class(ui.CURVEHOST_PT_session)
    ui.CURVEHOST_PT_session.bl_category = "Item"
    ui.CURVEHOST_PT_session.bl_order = -1
    bpy.utils.register_class(ui.CURVEHOST_PT_session)
    # As the panel's buttons do: the invite field, then Connect or Share this scene.
    bpy.context.window_manager.curvehost_invite = invite
    window = bpy.context.window_manager.windows[0]
    with bpy.context.temp_override(window=window, area=view3d()):
        if bpy.ops.curvehost.connect(share=mode == "share") != {"FINISHED"}:
            print("gui_artist: connecting failed", file=sys.stderr)
            bpy.ops.wm.quit_blender()
    area = view3d()
    space = area.spaces.active
    space.show_region_ui = True
    rotation, distance = VIEWS[view]
    space.region_3d.view_rotation = rotation.to_quaternion()
    space.region_3d.view_distance = distance
    objects = bpy.data.objects
    for obj in objects:
        obj.select_set(False)
    chosen = objects.get("Cube" if mode == "share" else "Light")
    if chosen is not None:
        chosen.select_set(True)
        bpy.context.view_layer.objects.active = chosen
    bpy.context.scene.frame_set(12 if mode == "share" else 30)
    open(ready, "w").close()
    return None


def shoot():
    global seen_other_at
    session = ui.current_session()
    if session is not None and session.presence and seen_other_at is None:
        seen_other_at = time.monotonic()
    if seen_other_at is not None and time.monotonic() - seen_other_at > 2.0 or time.monotonic() - started > 60:
        window = bpy.context.window_manager.windows[0]
        with bpy.context.temp_override(window=window, area=window.screen.areas[0]):
            bpy.ops.screen.screenshot(filepath=out)
        session.close() if session else None
        bpy.ops.wm.quit_blender()
        return None
    return 0.25


bpy.app.timers.register(connect, first_interval=1.0)
bpy.app.timers.register(shoot, first_interval=3.0)
