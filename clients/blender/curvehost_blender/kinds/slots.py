"""Material slots, which meshes and text curves fill alike."""


def apply_materials(data, ids, links, problems):
    """Fills the material slots of `data` (a mesh or a text curve) with the materials `ids`
    names, in order. Bytes from another user may hold anything there: a value that is not a
    list is noted in `problems` and taken as no materials, never an error."""
    if not isinstance(ids, list):
        problems.append("materials: not a list; taken as none")
        ids = []
    wanted = [links.block(node_id, "Material") for node_id in ids]
    if list(data.materials) == wanted:
        return
    data.materials.clear()
    for material in wanted:
        data.materials.append(material)
