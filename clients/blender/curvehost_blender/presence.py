"""Where this artist is (frame, selection, mode, view), sent at most PER_SECOND times a second
when it changed (the server allows 30), less often on a slow link."""
import colorsys
import hashlib
import time

import bpy

PER_SECOND = 10
# The client waits for the server's answer to each presence: on a slow link presence goes
# less often, so that waiting takes at most this share of Blender's time.
WAITING_SHARE = 0.1
MAX_SELECTION = 100  # ids of ~40 characters: well under the 8 KiB presence limit


def colour_of(name):
    """A bright colour of its own for each user name."""
    hue = hashlib.blake2b(name.encode(), digest_size=2).digest()
    return [round(c, 3) for c in colorsys.hsv_to_rgb(int.from_bytes(hue, "little") / 65536, 0.75, 1.0)]


def view_of_window():
    """The first 3D view's view matrix, lens and projection, or None (headless)."""
    window_manager = bpy.context.window_manager
    for window in window_manager.windows if window_manager else ():
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                space = area.spaces.active
                view = space.region_3d
                return {"matrix": [round(x, 5) for row in view.view_matrix for x in row], "lens": space.lens,
                        "perspective": view.view_perspective, "distance": view.view_distance}
    return None


class Presence:
    def __init__(self, session):
        self.session = session
        self.sent = None
        self.when = 0.0
        self.interval = 1.0 / PER_SECOND

    def update(self):
        session = self.session
        now = time.monotonic()
        if now - self.when < self.interval:
            return
        registry = session.registry
        selection = [registry.id_of(obj, create=False) for obj in session.selected_objects()]
        active = session.view_layer().objects.active
        data = {
            "frame": session.home_scene.frame_current,
            "selection": [nid for nid in selection if nid][:MAX_SELECTION],
            "active": registry.id_of(active, create=False) if active else None,
            "mode": bpy.context.mode,
            "view": view_of_window(),
            "colour": colour_of(session.name),
        }
        if data == self.sent:
            return
        try:
            session.client.set_presence(data)
        except session.ServerError as error:
            if error.code != "rate_limited":
                session.report(f"presence refused: {error.message}")
            return
        waited = time.monotonic() - now
        self.sent, self.when = data, now
        self.interval = max(1.0 / PER_SECOND, waited / WAITING_SHARE)
