"""The Python client package: from the add-on's zip (its vendor/ folder), or wherever Python finds it.

Blender builds for Windows and macOS bundle a Python without pyzmq and PyNaCl; the add-on's
preferences install them (`python -m pip install pyzmq pynacl`)."""
import importlib.util
import os
import sys

HERE = os.path.join(os.path.dirname(__file__), "vendor")
NATIVE = {"zmq": "pyzmq", "nacl": "pynacl"}


class MissingDependencies(RuntimeError):
    pass


def missing():
    """The pip names of the native packages this Python lacks."""
    return [pip for module, pip in NATIVE.items() if importlib.util.find_spec(module) is None]


def curvehost():
    """The curvehost client package, or MissingDependencies saying what to install."""
    lacking = missing()
    if lacking:
        raise MissingDependencies(
            f"{' and '.join(lacking)} {'is' if len(lacking) == 1 else 'are'} not installed in Blender's Python: "
            "install them from the curvehost add-on's preferences"
        )
    if os.path.isdir(HERE) and HERE not in sys.path:
        sys.path.insert(0, HERE)
    import curvehost

    return curvehost
