"""Where this artist is (frame, selection, mode, view), looked at PER_SECOND times a second
and sent when it changed (the server allows 30).

Presence goes without waiting for the server's answer (the client's wait=False): at 10 a
second on a 100 ms link, waiting would freeze Blender about a second every second. A refusal
comes back later through the session's poll() and lands in `refused`."""
import colorsys
import hashlib
import time

import bpy

PER_SECOND = 10
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
        self.sent = None  # the data last sent, or None: the next update sends whatever it finds
        # When it last looked, sent or not: reading the selection and the view 50 times a second
        # to find nothing changed is work the ticks can skip.
        self.when = 0.0
        self.interval = 1.0 / PER_SECOND
        self.colour = (None, None)  # (user name, its colour): the hash once per name

    def update(self):
        session = self.session
        now = time.monotonic()
        if now - self.when < self.interval:
            return
        self.when = now
        if self.colour[0] != session.name:
            self.colour = (session.name, colour_of(session.name))
        registry = session.registry
        selection = [registry.id_of(obj, create=False) for obj in session.selected_objects()]
        active = session.view_layer().objects.active
        data = {
            "frame": session.home_scene.frame_current,
            "selection": [nid for nid in selection if nid][:MAX_SELECTION],
            "active": registry.id_of(active, create=False) if active else None,
            "mode": bpy.context.mode,
            "view": view_of_window(),
            "colour": self.colour[1],
        }
        if data == self.sent:
            return
        session.client.set_presence(data, wait=False)
        self.sent = data

    def refused(self, event):
        """The server refused a presence (through poll()): the others may not see the latest
        one, so it goes again at the next update. Too many a second is said no more than
        that; anything else is reported."""
        self.sent = None
        if event.get("code") != "rate_limited":
            self.session.report(f"presence refused: {event.get('message')}")

    def reset(self):
        """A new join (reconnection): the server forgot this user's presence; send it anew."""
        self.sent = None
