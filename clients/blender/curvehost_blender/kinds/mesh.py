"""Meshes: vertices, edges, faces, UV layers, material slots and smooth flags, as raw arrays.

arrays: co f32 ×3 per vertex, edges i32 ×2 per edge, loops i32 (a vertex per face corner),
sizes i32 (corners per face; the starts are their running sum), material_index i32 and
smooth u8 per face, and uv<i> f32 ×2 per corner for each UV layer desc["uv"] names.

A mesh whose vertices alone moved travels as a delta part: desc {"patch": "co", "ranges":
[[first, count], …]} (in floats of co) and one array "co" of the new values, range after range.
"""
import array
import struct
from itertools import accumulate

import bpy

from .. import layout
from ..layout import LayoutError, expect, index_bound, new_array
from .slots import apply_materials

# Vertices are compared in runs of this many bytes: a delta carries whole runs.
RUN = 4096

KIND = "Mesh"
RANK = 2


def encode(mesh, refs):
    nv, ne, nl, nf = len(mesh.vertices), len(mesh.edges), len(mesh.loops), len(mesh.polygons)
    arrays = {}

    def grab(name, collection, attribute, type_name, count):
        values = new_array(type_name, count)
        collection.foreach_get(attribute, values)
        arrays[name] = (type_name, values)

    grab("co", mesh.vertices, "co", "f32", nv * 3)
    grab("edges", mesh.edges, "vertices", "i32", ne * 2)
    grab("loops", mesh.loops, "vertex_index", "i32", nl)
    grab("sizes", mesh.polygons, "loop_total", "i32", nf)
    grab("material_index", mesh.polygons, "material_index", "i32", nf)
    flags = [False] * nf
    mesh.polygons.foreach_get("use_smooth", flags)
    arrays["smooth"] = ("u8", array.array("B", flags))
    uv_names = []
    for index, layer in enumerate(mesh.uv_layers):
        grab(f"uv{index}", layer.data, "uv", "f32", nl * 2)
        uv_names.append(layer.name)
    desc = {
        "name": mesh.name,
        "counts": [nv, ne, nl, nf],
        "uv": uv_names,
        "uv_active": mesh.uv_layers.active_index if uv_names else 0,
        "materials": [refs.ref(material) for material in mesh.materials],
        "auto_smooth": [mesh.use_auto_smooth, mesh.auto_smooth_angle],
    }
    return desc, arrays


def create(desc):
    return bpy.data.meshes.new(str(desc.get("name", "Mesh")))


def apply(mesh, desc, arrays, links, problems):
    counts = desc.get("counts")
    if not (isinstance(counts, list) and len(counts) == 4 and all(isinstance(n, int) and n >= 0 for n in counts)):
        raise LayoutError("mesh counts are not four whole numbers")
    nv, ne, nl, nf = counts
    co = expect(arrays, "co", "f32", nv * 3)
    edges = expect(arrays, "edges", "i32", ne * 2)
    loops = expect(arrays, "loops", "i32", nl)
    sizes = expect(arrays, "sizes", "i32", nf)
    material_index = expect(arrays, "material_index", "i32", nf)
    smooth = expect(arrays, "smooth", "u8", nf)
    uv_names = desc.get("uv", [])
    if not isinstance(uv_names, list) or not all(isinstance(n, str) for n in uv_names):
        raise LayoutError("mesh uv is not a list of names")
    uvs = [expect(arrays, f"uv{i}", "f32", nl * 2) for i in range(len(uv_names))]
    index_bound(edges, nv, "edge vertex")
    index_bound(loops, nv, "face corner vertex")
    if nf and (min(sizes) < 3 or sum(sizes) != nl):
        raise LayoutError("face sizes do not add up to the corners")

    if _topology_same(mesh, counts, edges, loops, sizes):
        mesh.vertices.foreach_set("co", co)
    else:
        mesh.clear_geometry()
        mesh.vertices.add(nv)
        mesh.vertices.foreach_set("co", co)
        mesh.edges.add(ne)
        mesh.edges.foreach_set("vertices", edges)
        mesh.loops.add(nl)
        mesh.loops.foreach_set("vertex_index", loops)
        mesh.polygons.add(nf)
        starts = array.array("i", accumulate(sizes, initial=0))
        starts.pop()
        mesh.polygons.foreach_set("loop_start", starts)
        mesh.polygons.foreach_set("loop_total", sizes)
        mesh.update(calc_edges=True)  # links corners to their edges (and adds any a face lacks)
    apply_materials(mesh, desc.get("materials", []), links, problems)
    mesh.polygons.foreach_set("material_index", material_index)
    mesh.polygons.foreach_set("use_smooth", smooth)
    _apply_uvs(mesh, uv_names, uvs, desc.get("uv_active", 0))
    auto = desc.get("auto_smooth")
    if isinstance(auto, list) and len(auto) == 2:
        mesh.use_auto_smooth, mesh.auto_smooth_angle = bool(auto[0]), float(auto[1])
    if str(desc.get("name", mesh.name)) != mesh.name:
        mesh.name = str(desc["name"])
    mesh.update()
    return mesh


def _topology_same(mesh, counts, edges, loops, sizes):
    """Whether the mesh has these faces already. Edges are not compared: Blender orders the
    edges it links faces to as it likes, and the faces decide them (but for loose ones)."""
    if [len(mesh.vertices), len(mesh.edges), len(mesh.loops), len(mesh.polygons)] != counts:
        return False
    current = new_array("i32", len(loops))
    mesh.loops.foreach_get("vertex_index", current)
    if current != loops:
        return False
    current = new_array("i32", len(sizes))
    mesh.polygons.foreach_get("loop_total", current)
    return current == sizes


def _apply_uvs(mesh, names, uvs, active):
    while len(mesh.uv_layers) > len(names):
        mesh.uv_layers.remove(mesh.uv_layers[-1])
    for index, name in enumerate(names):
        layer = mesh.uv_layers[index] if index < len(mesh.uv_layers) else mesh.uv_layers.new(name=name)
        if layer.name != name:
            layer.name = name
        layer.data.foreach_set("uv", uvs[index])
    if isinstance(active, int) and 0 <= active < len(names):
        mesh.uv_layers.active_index = active


def delta(old, new):
    """A delta part with the vertex positions that differ, when nothing else does; else None."""
    if len(old) != len(new) or len(new) < 4:
        return None
    (size,) = struct.unpack_from("<I", new)
    if new[: 4 + size] != old[: 4 + size]:
        return None  # counts, names or settings changed
    listed = layout.unpack_header(new)["arrays"]
    if not listed or listed[0][0] != "co":
        return None
    start = 4 + size
    end = start + listed[0][2] * 4
    if new[end:] != old[end:]:
        return None  # the topology, smoothing or UVs changed
    ranges, values = [], array.array("f")
    for offset in range(start, end, RUN):
        stop = min(offset + RUN, end)
        if new[offset:stop] == old[offset:stop]:
            continue
        first, count = (offset - start) // 4, (stop - offset) // 4
        if ranges and ranges[-1][0] + ranges[-1][1] == first:
            ranges[-1][1] += count
        else:
            ranges.append([first, count])
        values.frombytes(new[offset:stop])
    if not ranges:
        return None
    return layout.pack({"patch": "co", "ranges": ranges}, {"co": ("f32", values)})


def patch(mesh, desc, arrays):
    ranges = desc.get("ranges")
    if desc.get("patch") != "co" or not isinstance(ranges, list):
        raise LayoutError("a mesh delta must patch co")
    total = len(mesh.vertices) * 3
    expected = 0
    for entry in ranges:
        if not (isinstance(entry, list) and len(entry) == 2 and all(isinstance(n, int) and n >= 0 for n in entry)) or entry[0] + entry[1] > total:
            raise LayoutError("a mesh delta range lies outside the vertices")
        expected += entry[1]
    values = expect(arrays, "co", "f32", expected)
    co = new_array("f32", total)
    mesh.vertices.foreach_get("co", co)
    at = 0
    for first, count in ranges:
        co[first : first + count] = values[at : at + count]
        at += count
    mesh.vertices.foreach_set("co", co)
    mesh.update()
