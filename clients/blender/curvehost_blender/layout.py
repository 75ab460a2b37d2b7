"""The bytes of one node's data: how every datablock travels, in one place.

    data  = u32 LE header length H, H bytes of JSON header, then the arrays back to back
    header = {"v": 1, "desc": {...}, "arrays": [[name, type, count], ...]}

`desc` is the datablock's small JSON description (names, settings, references as node
ids); each array is raw little-endian numbers of `type` f32, i32 or u8, `count` items, in
the order the header lists them. Nothing is pickled or evaluated: a payload from another
user is parsed as JSON and numbers, and `unpack` checks every length against the bytes
that are really there before anything reads them. A node's base part is laid out so;
a mesh whose vertices alone moved may follow it with delta parts (kinds/mesh.py).
"""
import array
import json
import struct
import sys

VERSION = 1
TYPES = {"f32": "f", "i32": "i", "u8": "B"}
MAX_HEADER = 1 << 20
_LITTLE = sys.byteorder == "little"


class LayoutError(ValueError):
    """The data is not a node this add-on can read."""


def new_array(type_name, count):
    """A zeroed array of `count` items, ready for `foreach_get`."""
    return array.array(TYPES[type_name], bytes(count * array.array(TYPES[type_name]).itemsize))


def pack(desc, arrays=None):
    """Bytes for `desc` (JSON-able) and `arrays` ({name: (type name, array.array)})."""
    arrays = arrays or {}
    listed, blobs = [], []
    for name, (type_name, values) in arrays.items():
        if values.typecode != TYPES[type_name]:
            raise TypeError(f"array {name} is {values.typecode}, not {type_name}")
        listed.append([name, type_name, len(values)])
        if not _LITTLE:
            values = array.array(values.typecode, values)
            values.byteswap()
        blobs.append(memoryview(values).cast("B"))
    header = json.dumps({"v": VERSION, "desc": desc, "arrays": listed}, separators=(",", ":"), sort_keys=True).encode()
    return b"".join([struct.pack("<I", len(header)), header, *blobs])


def unpack_header(data):
    """The JSON header of node data, checked to be a version 1 header that fits."""
    view = memoryview(data)
    if len(view) < 4:
        raise LayoutError("node data is shorter than its header length")
    (size,) = struct.unpack_from("<I", view)
    if size > MAX_HEADER or 4 + size > len(view):
        raise LayoutError(f"header length {size} does not fit in {len(view)} bytes")
    try:
        header = json.loads(bytes(view[4 : 4 + size]))
    except (UnicodeDecodeError, ValueError) as error:
        raise LayoutError(f"header is not JSON: {error}") from None
    if not isinstance(header, dict) or header.get("v") != VERSION:
        raise LayoutError("header is not a version 1 node")
    if not isinstance(header.get("desc"), dict) or not isinstance(header.get("arrays"), list):
        raise LayoutError("header lacks desc or arrays")
    header["size"] = size
    return header


def unpack(data):
    """(desc, {name: array.array}) from node data, or LayoutError saying what is wrong."""
    view = memoryview(data)
    header = unpack_header(view)
    desc, listed = header["desc"], header["arrays"]
    offset, arrays = 4 + header["size"], {}
    for entry in listed:
        if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str) and entry[1] in TYPES):
            raise LayoutError(f"bad array entry {str(entry)[:80]}")
        name, type_name, count = entry
        if not isinstance(count, int) or count < 0 or name in arrays:
            raise LayoutError(f"bad count or repeated name for array {name[:40]}")
        values = array.array(TYPES[type_name])
        end = offset + count * values.itemsize
        if end > len(view):
            raise LayoutError(f"array {name[:40]} declares {count} items beyond the data's end")
        values.frombytes(view[offset:end])
        if not _LITTLE:
            values.byteswap()
        arrays[name] = values
        offset = end
    if offset != len(view):
        raise LayoutError(f"{len(view) - offset} bytes after the last array")
    return desc, arrays


def expect(arrays, name, type_name, count):
    """The array `name`, checked to hold `count` items of `type_name`."""
    values = arrays.get(name)
    if values is None or values.typecode != TYPES[type_name] or len(values) != count:
        got = "missing" if values is None else f"{len(values)} {values.typecode}"
        raise LayoutError(f"array {name} should hold {count} {type_name}, got {got}")
    return values


def index_bound(values, limit, what):
    """Raises unless every index in `values` (i32) is in [0, limit)."""
    # Read as unsigned, a negative index is above any limit: one pass finds both.
    if len(values) and max(memoryview(values).cast("B").cast("I")) >= limit:
        raise LayoutError(f"{what} index out of range 0..{limit - 1}")
