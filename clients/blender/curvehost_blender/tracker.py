"""Which datablocks changed locally: Blender's depsgraph says so after each evaluation.

In the GUI Blender evaluates after every edit; a headless script calls
`view_layer.update()` before `Session.tick()`.
"""
import bpy

from .ids import kind_of


class Tracker:
    def __init__(self):
        self._changed = []
        # A scene or collection was evaluated: objects may have been deleted.
        self.structure = False

    def start(self):
        for handlers, handler in self._handlers():
            if handler not in handlers:
                handlers.append(handler)

    def stop(self):
        for handlers, handler in self._handlers():
            if handler in handlers:
                handlers.remove(handler)

    def _handlers(self):
        app = bpy.app.handlers
        return [(app.depsgraph_update_post, self._on_update), (app.undo_post, self._on_undo), (app.redo_post, self._on_undo)]

    def _on_undo(self, *_):
        self.structure = True  # undo may bring back or take away any datablock

    def _on_update(self, scene, depsgraph):
        for update in depsgraph.updates:
            block = update.id.original
            self._changed.append(block)
            if isinstance(block, (bpy.types.Scene, bpy.types.Collection)):
                self.structure = True

    def take(self):
        """The shared-kind datablocks changed since the last call (a material for its node tree)."""
        changed, self._changed = self._changed, []
        blocks = {}
        trees = None
        for block in changed:
            try:
                if isinstance(block, bpy.types.ShaderNodeTree):
                    if trees is None:
                        trees = {m.node_tree.as_pointer(): m for m in bpy.data.materials if m.node_tree}
                    block = trees.get(block.as_pointer())
                if block is not None and kind_of(block) is not None:
                    blocks[block.as_pointer()] = block
            except ReferenceError:  # removed since: the registry's scan finds it gone
                continue
        return list(blocks.values())
