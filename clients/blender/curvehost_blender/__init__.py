"""curvehost for Blender: edit one scene together through a curvehost server.

Headless use (scripts, render farms, tests):

    import curvehost_blender
    s = curvehost_blender.connect("alice.invite", share=False)
    s.tick()      # after bpy.context.view_layer.update(), in the script's own loop
    s.users, s.owner(bpy.data.objects["Cube"]), s.presence
    s.close()
"""
bl_info = {
    "name": "curvehost",
    "author": "curvehost",
    "version": (0, 2, 0),
    "blender": (3, 4, 0),
    "location": "3D Viewport > Sidebar > curvehost",
    "description": "Edit a scene together through an encrypted curvehost session server",
    "category": "Collaboration",
}


def connect(invite, share=False, timeout=10.0, scene=None):
    """Joins the session of `invite`; see session.connect."""
    from .session import connect as _connect

    return _connect(invite, share=share, timeout=timeout, scene=scene)


def register():
    from . import ui

    ui.register()


def unregister():
    from . import ui

    ui.unregister()
