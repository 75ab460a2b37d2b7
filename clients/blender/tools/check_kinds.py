"""Every shared kind through encode → bytes → apply in a fresh file, and hostile bytes refused.

    blender -b --factory-startup --python check_kinds.py -- ADDON_DIR

Prints one JSON line prefixed "@@ ": {"roundtrip": {...what the rebuilt file holds...},
"refused": {case: error sentence or null if it was taken}, "skipped": [...]}. The test
(test/clients/blender-kinds.test.ts) judges it; no server is involved.
"""
import array
import json
import os
import struct
import sys
import tempfile

import bpy

sys.path.insert(0, sys.argv[sys.argv.index("--") + 1])

from curvehost_blender import kinds, layout, local  # noqa: E402
from curvehost_blender.ids import Registry, kind_of  # noqa: E402
from curvehost_blender.incoming import Applier  # noqa: E402


def build_scene():
    """The default scene, plus one of each kind and a few references between them."""
    cube = bpy.data.objects["Cube"]
    cube.data.polygons[0].use_smooth = True
    cube.data.vertices[0].co.x = 1.5
    material = bpy.data.materials["Material"]
    tree = material.node_tree
    image = bpy.data.images.new("painted", 4, 2, alpha=True)
    image.pixels[:] = [i / 32 for i in range(32)]
    path = os.path.join(tempfile.mkdtemp(), "file.png")
    image.filepath_raw, image.file_format = path, "PNG"
    image.save()
    on_disk = bpy.data.images.load(path)
    on_disk.name, on_disk.colorspace_settings.name = "on disk", "Non-Color"  # as a normal map is
    texture = tree.nodes.new("ShaderNodeTexImage")
    texture.name, texture.image, texture.interpolation = "Texture", image, "Closest"
    tree.links.new(texture.outputs["Color"], tree.nodes["Principled BSDF"].inputs["Base Color"])
    second = bpy.data.materials.new("Second")
    second.use_nodes = True
    second.node_tree.nodes.new("ShaderNodeTexImage").image = on_disk
    baked = bpy.data.images.new("baked", 4, 2, alpha=True, float_buffer=True)
    baked.colorspace_settings.name = "Non-Color"
    baked.pixels[:] = [i / 32 for i in range(32)]
    second.node_tree.nodes.new("ShaderNodeTexImage").image = baked
    cube.data.materials.append(second)
    bpy.ops.object.text_add(location=(0, 0, 3))
    text = bpy.context.object
    text.name, text.data.body, text.data.extrude = "Title", "hello curvehost", 0.1
    bpy.ops.object.empty_add(location=(2, 0, 0))
    empty = bpy.context.object
    empty.name, empty.parent, empty.empty_display_type = "Handle", cube, "CUBE"
    light = bpy.data.objects["Light"]
    light.data.type = "SPOT"
    bpy.data.lights[light.data.name].spot_size = 0.5
    bpy.data.cameras["Camera"].lens = 85
    group = bpy.data.collections.new("Props")
    bpy.context.scene.collection.children.link(group)
    bpy.ops.mesh.primitive_uv_sphere_add(location=(0, 4, 0))
    sphere = bpy.context.object
    sphere.name = "Ball"
    for collection in sphere.users_collection:
        collection.objects.unlink(sphere)
    group.objects.link(sphere)
    bpy.ops.curve.primitive_bezier_curve_add()  # not shared yet: reported, left out
    bpy.context.scene.frame_end = 120
    cube.name = "Box"  # a rename before sharing changes nothing but the name


def encode_all(registry):
    registry.scan()
    nodes, work, unshared = {}, [registry.id_of(bpy.context.scene)], []
    while work:
        nid = work.pop()
        if nid in nodes:
            continue
        block = registry.get(nid)
        data, deps = kinds.encode(block, registry, unshared)
        nodes[nid] = {"kind": kind_of(block), "deps": deps, "data": data}
        work += deps
    return nodes, sorted({b.name for b in unshared})


class Node:
    def __init__(self, nid, entry):
        self.id, self.kind, self.deps, self.parts, self.owner = nid, entry["kind"], entry["deps"], [entry["data"]], "common"


class Stub:
    """What Applier needs of a session: a registry, a replica, reports."""

    def __init__(self, nodes):
        self.registry = Registry()
        self.home_scene = bpy.context.scene
        self.client = type("Client", (), {})()
        self.client.replica = type("Replica", (), {"nodes": {nid: Node(nid, e) for nid, e in nodes.items()}})()
        self.reports = []

    def report(self, message):
        self.reports.append(message)

    def agreed(self, *_, **__):
        pass

    def forget(self, _):
        pass


def describe():
    scene = bpy.context.scene
    r = lambda v: [round(x, 4) for x in v]  # noqa: E731
    mesh = bpy.data.objects["Box"].data
    tree = mesh.materials[0].node_tree
    return {
        "objects": sorted((o.name, o.type, o.parent.name if o.parent else None) for o in scene.objects),
        "props": sorted(o.name for o in bpy.data.collections["Props"].objects),
        "box": {"vertex0": r(mesh.vertices[0].co), "faces": len(mesh.polygons), "smooth": [p.use_smooth for p in mesh.polygons][:2],
                "uv": mesh.uv_layers.keys(), "materials": [m.name for m in mesh.materials]},
        "texture": {"image": tree.nodes["Texture"].image.name, "interpolation": tree.nodes["Texture"].interpolation,
                    "linked": tree.nodes["Principled BSDF"].inputs["Base Color"].is_linked},
        "painted": r(bpy.data.images["painted"].pixels[:8]),
        "on disk": list(bpy.data.images["on disk"].size),
        "baked": r(bpy.data.images["baked"].pixels[:8]),
        "colorspace": {name: bpy.data.images[name].colorspace_settings.name for name in ("painted", "on disk", "baked")},
        "text": [bpy.data.objects["Title"].data.body, round(bpy.data.objects["Title"].data.extrude, 4)],
        "light": [bpy.data.objects["Light"].data.type, round(bpy.data.objects["Light"].data.spot_size, 4)],
        "lens": bpy.data.objects["Camera"].data.lens,
        "camera": scene.camera.name if scene.camera else None,
        "frame_end": scene.frame_end,
        "handle": bpy.data.objects["Handle"].empty_display_type,
    }


def hostile(valid_mesh):
    """Bytes another user might send, each of which must be refused with a sentence."""
    desc, arrays = layout.unpack(valid_mesh)
    header = json.dumps({"v": 1, "desc": desc, "arrays": [[n, "f32" if n in ("co",) or n.startswith("uv") else ("u8" if n == "smooth" else "i32"), len(a)] for n, a in arrays.items()]}).encode()

    def with_desc(**changes):
        return layout.pack({**desc, **changes}, {n: ({"f": "f32", "i": "i32", "B": "u8"}[a.typecode], a) for n, a in arrays.items()})

    def with_array(name, values):
        swapped = dict(arrays, **{name: values})
        return layout.pack(desc, {n: ({"f": "f32", "i": "i32", "B": "u8"}[a.typecode], a) for n, a in swapped.items()})

    loops = array.array("i", arrays["loops"])
    loops[0] = 10**6
    negative = array.array("i", arrays["edges"])
    negative[1] = -1
    return {
        "empty": b"",
        "header longer than the data": struct.pack("<I", 1 << 30) + b"{}",
        "header not JSON": struct.pack("<I", 4) + b"\xff\xfe{[",
        "header not an object": struct.pack("<I", 2) + b"[]",
        "array beyond the end": struct.pack("<I", len(header)) + header,
        "bytes after the arrays": valid_mesh + b"\0\0\0\0",
        "counts larger than the arrays": with_desc(counts=[d * 2 for d in desc["counts"]]),
        "counts not numbers": with_desc(counts=["8", 12, 24, 6]),
        "a corner's vertex out of range": with_array("loops", loops),
        "a negative edge vertex": with_array("edges", negative),
        "face sizes that do not add up": with_array("sizes", array.array("i", [3] * len(arrays["sizes"]))),
        "a pickle": b"\x80\x04\x95" + b"cos\nsystem\n(S'echo pwned'\ntR.",
    }


def delta_roundtrip(registry):
    """A mesh whose vertices moved travels as a delta that another mesh takes; a delta that
    reaches past the vertices is refused."""
    source = bpy.data.objects["Ball"].data
    before = kinds.encode(source, registry)[0]
    source.vertices[3].co.z += 1
    source.vertices[400].co.x = 7
    after = kinds.encode(source, registry)[0]
    part = kinds.delta("Mesh", before, after)
    copy = bpy.data.meshes.new("copy")
    kinds.apply("Mesh", copy, [before, part], registry, [])
    outside = layout.pack({"patch": "co", "ranges": [[len(copy.vertices) * 3 - 2, 4]]}, {"co": ("f32", array.array("f", [0] * 4))})
    try:
        kinds.patch("Mesh", copy, outside)
        refused = None
    except layout.LayoutError as error:
        refused = str(error)
    (desc, arrays), (copy_desc, copy_arrays) = layout.unpack(after), layout.unpack(kinds.encode(copy, registry)[0])
    edges = lambda a: sorted(tuple(sorted(a["edges"][i : i + 2])) for i in range(0, len(a["edges"]), 2))  # noqa: E731
    same = edges(arrays) == edges(copy_arrays) and {**arrays, "edges": None} == {**copy_arrays, "edges": None} and {**desc, "name": None} == {**copy_desc, "name": None}
    return {"size": [len(part), len(after)], "same": same,
            "vertex400": list(copy.vertices[400].co), "no change": kinds.delta("Mesh", after, after), "outside": refused}


def main():
    build_scene()
    registry = Registry()
    nodes, unshared = encode_all(registry)
    mesh_data = next(e["data"] for e in nodes.values() if e["kind"] == "Mesh" and layout.unpack(e["data"])[0]["name"] == "Cube")
    local.empty_file(bpy.context.scene)
    stub = Stub(nodes)
    # Objects first: every reference is missing when it is applied, and is resolved when its target comes.
    order = sorted(nodes, key=lambda nid: -kinds.rank(nodes[nid]["kind"]))
    applier = Applier(stub)
    for nid in order:
        applier.apply([nid])
    result = {"roundtrip": describe(), "unshared": unshared, "reports": list(stub.reports), "refused": {}}
    for case, data in hostile(mesh_data).items():
        mesh = bpy.data.meshes.new("target")
        try:
            kinds.apply("Mesh", mesh, [data], registry, [])
            result["refused"][case] = None
        except layout.LayoutError as error:
            result["refused"][case] = str(error)
    result["delta"] = delta_roundtrip(registry)
    stub.client.replica.nodes["Mesh/bad"] = Node("Mesh/bad", {"kind": "Mesh", "deps": [], "data": b"\x01\x00\x00\x00{"})
    stub.client.replica.nodes["Thing/odd"] = Node("Thing/odd", {"kind": "Armature", "deps": [], "data": layout.pack({})})
    Applier(stub).apply(["Mesh/bad", "Thing/odd"])
    result["skipped"] = stub.reports[len(result["reports"]):]
    print("@@ " + json.dumps(result), flush=True)


main()
