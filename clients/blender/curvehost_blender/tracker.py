"""Which datablocks changed locally: Blender's depsgraph says so after each evaluation.

In the GUI Blender evaluates after every edit; a headless script calls
`view_layer.update()` before `Session.tick()`.
"""
import bpy

from .ids import kind_of


class Tracker:
    def __init__(self):
        self._changed = []
        self.something = False  # anything at all was evaluated: worth looking for deletions

    def start(self):
        if self._on_update not in bpy.app.handlers.depsgraph_update_post:
            bpy.app.handlers.depsgraph_update_post.append(self._on_update)

    def stop(self):
        if self._on_update in bpy.app.handlers.depsgraph_update_post:
            bpy.app.handlers.depsgraph_update_post.remove(self._on_update)

    def _on_update(self, scene, depsgraph):
        self.something = True
        for update in depsgraph.updates:
            self._changed.append(update.id.original)

    def take(self):
        """The shared-kind datablocks changed since the last call (a material for its node tree)."""
        changed, self._changed, self.something = self._changed, [], False
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
