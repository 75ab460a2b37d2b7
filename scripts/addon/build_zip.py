"""npm run addon: the installable add-on zip, with the Python client package inside it.

    /usr/bin/python3 scripts/addon/build_zip.py [OUT.zip]    (default dist/curvehost_blender.zip)

Blender's Preferences > Add-ons > Install takes the zip as it is. The client package goes
to curvehost_blender/vendor/curvehost, where the add-on looks first.
"""
import os
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ADDON = os.path.join(ROOT, "clients", "blender", "curvehost_blender")
CLIENT = os.path.join(ROOT, "clients", "python", "curvehost")


def python_files(folder):
    for directory, subdirectories, files in os.walk(folder):
        subdirectories[:] = sorted(d for d in subdirectories if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                yield os.path.join(directory, name)


def main():
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "dist", "curvehost_blender.zip"))
    if not os.path.isfile(os.path.join(CLIENT, "__init__.py")):
        sys.exit(f"addon: the Python client package is not at {CLIENT}")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    count = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in python_files(ADDON):
            archive.write(path, os.path.join("curvehost_blender", os.path.relpath(path, ADDON)))
            count += 1
        for path in python_files(CLIENT):
            archive.write(path, os.path.join("curvehost_blender", "vendor", "curvehost", os.path.relpath(path, CLIENT)))
            count += 1
    print(f"addon: wrote {out} ({count} files, {os.path.getsize(out) // 1024} KiB); install it from Blender's Preferences > Add-ons > Install")


main()
