"""The sidebar panel, its operators, the add-on preferences, and the timer that ticks the session."""
import importlib
import subprocess
import sys

import bpy
from bpy.props import StringProperty

from . import dependencies, draw

TICK_SECONDS = 0.02
_session = None  # the UI's one session


def current_session():
    return _session


def _tick():
    session = _session
    if session is None:
        return None
    if session.tick():  # redrawn only when something shown may have changed, not 50 times a second
        for window in bpy.context.window_manager.windows:
            for area in window.screen.areas:
                if area.type in ("VIEW_3D", "PROPERTIES"):
                    area.tag_redraw()
    return None if session.closed else TICK_SECONDS


def _start(session):
    global _session
    _session = session
    draw.install(current_session)
    if not bpy.app.timers.is_registered(_tick):
        bpy.app.timers.register(_tick, first_interval=TICK_SECONDS, persistent=True)


def _stop():
    global _session
    if _session is not None:
        _session.close()
    _session = None
    draw.uninstall()


class CURVEHOST_OT_connect(bpy.types.Operator):
    """Join the session of the invite file: this file is replaced by the session's scene"""

    bl_idname = "curvehost.connect"
    bl_label = "Connect"
    share: bpy.props.BoolProperty(name="Share this scene", default=False)

    def execute(self, context):
        from .session import connect

        invite = bpy.path.abspath(context.window_manager.curvehost_invite)
        if not invite:
            self.report({"ERROR"}, "Choose the invite file your host sent you first")
            return {"CANCELLED"}
        _stop()
        try:
            _start(connect(invite, share=self.share))
        except Exception as error:  # MissingDependencies, SessionError, ConnectError, ServerError, InviteError: a sentence
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        return {"FINISHED"}


class CURVEHOST_OT_disconnect(bpy.types.Operator):
    """Leave the session (your locks are released)"""

    bl_idname = "curvehost.disconnect"
    bl_label = "Disconnect"

    def execute(self, context):
        _stop()
        return {"FINISHED"}


class CURVEHOST_OT_open(bpy.types.Operator):
    """Open the session so that members may edit"""

    bl_idname = "curvehost.open"
    bl_label = "Open the session"

    def execute(self, context):
        return _request(self, lambda session: session.client.open())


class CURVEHOST_OT_kick(bpy.types.Operator):
    """Remove this user from the session (their key is refused for a while)"""

    bl_idname = "curvehost.kick"
    bl_label = "Kick"
    user: StringProperty()

    def execute(self, context):
        return _request(self, lambda session: session.client.kick(self.user))


def _request(operator, call):
    if _session is None:
        return {"CANCELLED"}
    try:
        call(_session)
    except Exception as error:
        operator.report({"ERROR"}, str(error))
        return {"CANCELLED"}
    return {"FINISHED"}


class CURVEHOST_OT_install(bpy.types.Operator):
    """Install pyzmq and PyNaCl with pip into Blender's own modules folder"""

    bl_idname = "curvehost.install_dependencies"
    bl_label = "Install pyzmq and PyNaCl"

    def execute(self, context):
        # The user's scripts/modules folder is on Blender's sys.path whatever Python it bundles.
        target = bpy.utils.user_resource("SCRIPTS", path="modules", create=True)
        subprocess.run([sys.executable, "-m", "ensurepip", "--upgrade"], capture_output=True)
        result = subprocess.run([sys.executable, "-m", "pip", "install", "--target", target, *dependencies.missing()], capture_output=True, text=True)
        if result.returncode != 0:
            self.report({"ERROR"}, f"pip could not install them: {(result.stderr.strip().splitlines() or [str(result.returncode)])[-1]}")
            return {"CANCELLED"}
        importlib.invalidate_caches()
        self.report({"INFO"}, "pyzmq and PyNaCl are installed")
        return {"FINISHED"}


class CurvehostPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    def draw(self, context):
        lacking = dependencies.missing()
        if lacking:
            self.layout.label(text=f"Missing in Blender's Python: {', '.join(lacking)}", icon="ERROR")
            self.layout.operator(CURVEHOST_OT_install.bl_idname, icon="IMPORT")
        else:
            self.layout.label(text="pyzmq and PyNaCl are installed", icon="CHECKMARK")


class CURVEHOST_PT_session(bpy.types.Panel):
    bl_label = "curvehost"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "curvehost"

    def draw(self, context):
        layout = self.layout
        session = _session
        if session is None or session.closed:
            layout.prop(context.window_manager, "curvehost_invite", text="Invite")
            layout.operator(CURVEHOST_OT_connect.bl_idname, icon="LINKED").share = False
            layout.operator(CURVEHOST_OT_connect.bl_idname, text="Share this scene (admin)", icon="WORLD").share = True
            for message in list(session.messages)[-2:] if session else ():
                layout.label(text=message, icon="INFO")  # why it ended, when it was not by Disconnect
            return
        box = layout.box()
        box.label(text=f"{session.name} ({session.role}) · session {session.state}", icon="USER")
        box.label(text=session.status)
        if session.role == "admin" and session.state == "waiting":
            box.operator(CURVEHOST_OT_open.bl_idname, icon="UNLOCKED")
        users = layout.box()
        users.label(text="Users")
        for user in session.users:
            row = users.row()
            latency = user.get("latency")
            row.label(text=f"{user['name']} · {user['role']}" + (f" · {latency:.0f} ms" if isinstance(latency, (int, float)) else ""))
            if session.role == "admin" and user["name"] != session.name:
                row.operator(CURVEHOST_OT_kick.bl_idname, text="", icon="X").user = user["name"]
        active = context.active_object
        if active is not None:
            owner = session.owner(active)
            held = "nobody (common)" if owner == "common" else ("you" if owner == session.name else owner)
            layout.label(text=f"{active.name} is held by {held}", icon="LOCKED" if owner not in ("common", session.name) else "OBJECT_DATA")
        for message in list(session.messages)[-3:]:
            layout.label(text=message, icon="INFO")
        layout.operator(CURVEHOST_OT_disconnect.bl_idname, icon="UNLINKED")


CLASSES = (CURVEHOST_OT_connect, CURVEHOST_OT_disconnect, CURVEHOST_OT_open, CURVEHOST_OT_kick, CURVEHOST_OT_install, CurvehostPreferences, CURVEHOST_PT_session)


@bpy.app.handlers.persistent
def _on_load(*_):
    if _session is not None:
        _stop()  # another file was opened: this session's datablocks are gone


def register():
    bpy.types.WindowManager.curvehost_invite = StringProperty(name="Invite", subtype="FILE_PATH", description="The .invite file your host sent you")
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.app.handlers.load_pre.append(_on_load)


def unregister():
    _stop()
    if _on_load in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(_on_load)
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
    del bpy.types.WindowManager.curvehost_invite
