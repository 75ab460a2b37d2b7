"""Materials: viewport settings and the node tree (nodes, their settings and input values, links).

A node is [name, bl_idname, settings, inputs, outputs]: settings are the node's own plain
properties (an image is a reference), inputs and outputs [identifier, default value] for each
socket that has one. A link is [from node, from socket identifier, to node, to socket
identifier]. Node groups, colour ramps and curves inside nodes are not shared yet.
"""
import bpy

from .. import rna
from ..layout import LayoutError

KIND = "Material"
RANK = 1
SETTINGS = ("diffuse_color", "metallic", "roughness", "specular_intensity", "blend_method", "shadow_method", "use_backface_culling")
NODE_SETTINGS = ("location", "width", "label", "hide", "mute")
_BASE = set(bpy.types.ShaderNode.bl_rna.properties.keys())
_VALUE_TYPES = {"BOOLEAN", "INT", "FLOAT", "STRING", "ENUM"}
MAX_NODES = 4096


def encode(material, refs):
    desc = {"name": material.name, "use_nodes": material.use_nodes, **rna.read(material, SETTINGS)}
    tree = material.node_tree
    if tree is not None:
        desc["nodes"] = [_encode_node(node, refs) for node in tree.nodes]
        desc["links"] = [
            [link.from_node.name, link.from_socket.identifier, link.to_node.name, link.to_socket.identifier]
            for link in tree.links
        ]
    return desc, {}


def _encode_node(node, refs):
    settings = rna.read(node, NODE_SETTINGS)
    settings["parent"] = node.parent.name if node.parent else None
    for prop in node.bl_rna.properties:
        name = prop.identifier
        if name in _BASE or prop.is_readonly:
            continue
        if prop.type in _VALUE_TYPES:
            settings[name] = rna.to_json(getattr(node, name))
        elif prop.type == "POINTER" and prop.fixed_type.identifier == "Image":
            settings[name] = {"ref": refs.ref(getattr(node, name))}
    return [node.name, node.bl_idname, settings, _sockets(node.inputs), _sockets(node.outputs)]


def _sockets(sockets):
    return [[s.identifier, rna.to_json(s.default_value)] for s in sockets if hasattr(s, "default_value")]


def create(desc):
    return bpy.data.materials.new(str(desc.get("name", "Material")))


def apply(material, desc, arrays, links, problems):
    if material.name != str(desc.get("name", material.name)):
        material.name = str(desc["name"])
    use_nodes = bool(desc.get("use_nodes", False))
    if material.use_nodes != use_nodes:
        material.use_nodes = use_nodes
    rna.write(material, desc, SETTINGS, problems)
    if material.node_tree is not None and "nodes" in desc:
        _apply_tree(material.node_tree, desc.get("nodes"), desc.get("links", []), links, problems)
    return material


def _apply_tree(tree, nodes, wanted_links, links, problems):
    if not (isinstance(nodes, list) and isinstance(wanted_links, list)) or len(nodes) > MAX_NODES:
        raise LayoutError("material nodes or links is not a list (or too long)")
    for entry in nodes:
        if not (isinstance(entry, list) and len(entry) == 5 and all(isinstance(x, str) for x in entry[:2])):
            raise LayoutError("a material node is not [name, type, settings, inputs, outputs]")
    names = {entry[0]: entry for entry in nodes}
    for node in list(tree.nodes):
        if node.name not in names or node.bl_idname != names[node.name][1]:
            tree.nodes.remove(node)
    for name, type_name, settings, inputs, outputs in nodes:
        node = tree.nodes.get(name)
        if node is None:
            try:
                node = tree.nodes.new(type_name)
            except RuntimeError:
                problems.append(f"node type {type_name[:60]} is unknown here")
                continue
            node.name = name
        if isinstance(settings, dict):
            _apply_settings(node, settings, links, problems)
        _apply_sockets(node.inputs, inputs, problems)
        _apply_sockets(node.outputs, outputs, problems)
    for name, _, settings, _, _ in nodes:  # frames: once every node is there
        parent = settings.get("parent") if isinstance(settings, dict) else None
        node = tree.nodes.get(name)
        if node is not None and isinstance(parent, str) and tree.nodes.get(parent) and node.parent != tree.nodes[parent]:
            node.parent = tree.nodes[parent]
    _apply_links(tree, wanted_links, problems)


def _apply_settings(node, settings, links, problems):
    plain = {}
    for name, value in settings.items():
        if name == "parent" or not isinstance(name, str):
            continue
        if isinstance(value, dict):  # an image
            image = links.block(value.get("ref"), "Image")
            if getattr(node, name, image) != image:
                try:
                    setattr(node, name, image)
                except (AttributeError, TypeError) as error:
                    problems.append(f"{node.name}.{name}: {error}")
        else:
            plain[name] = value
    rna.write(node, plain, [name for name in plain if name in NODE_SETTINGS or name not in _BASE], problems)


def _apply_sockets(sockets, values, problems):
    if not isinstance(values, list):
        return
    by_id = {s.identifier: s for s in sockets}
    for entry in values:
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)):
            continue
        socket = by_id.get(entry[0])
        if socket is not None and hasattr(socket, "default_value"):
            rna.write(socket, {"default_value": entry[1]}, ("default_value",), problems)


def _apply_links(tree, wanted, problems):
    def key(link):
        return (link.from_node.name, link.from_socket.identifier, link.to_node.name, link.to_socket.identifier)

    wanted = {tuple(entry) for entry in wanted if isinstance(entry, list) and len(entry) == 4 and all(isinstance(x, str) for x in entry)}
    for link in list(tree.links):
        if key(link) not in wanted:
            tree.links.remove(link)
    present = {key(link) for link in tree.links}
    for from_node, from_socket, to_node, to_socket in wanted - present:
        a, b = tree.nodes.get(from_node), tree.nodes.get(to_node)
        out = next((s for s in a.outputs if s.identifier == from_socket), None) if a else None
        into = next((s for s in b.inputs if s.identifier == to_socket), None) if b else None
        if out is None or into is None:
            problems.append(f"link {from_node[:40]}:{from_socket[:40]} → {to_node[:40]}:{to_socket[:40]} has no such sockets here")
            continue
        tree.links.new(out, into)
