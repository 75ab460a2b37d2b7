"""Short fingerprints of node data, to tell whether two versions are the same.

A node's data is a base part and the delta parts appended since; its stamp chains them, so
that appending a delta updates a stamp without reading the base again."""
import hashlib


def digest(data):
    return hashlib.blake2b(data, digest_size=16).digest()


def chained(stamp, part):
    """The stamp of a node's data once `part` is appended to data stamped `stamp`."""
    h = hashlib.blake2b(stamp, digest_size=16)
    h.update(part)
    return h.digest()


def stamp_of(parts):
    """The stamp of a node's data given as its parts, base first."""
    stamp = digest(parts[0] if parts else b"")
    for part in parts[1:]:
        stamp = chained(stamp, part)
    return stamp
