"""Plain RNA properties to JSON values and back, for the settings a kind shares as they are."""
import mathutils

SIMPLE = (bool, int, float, str)


def to_json(value):
    """A JSON value for an RNA value: numbers, strings, and vectors, colours and matrices as lists."""
    if isinstance(value, SIMPLE) or value is None:
        return value
    if isinstance(value, mathutils.Matrix):
        return [x for row in value for x in row]
    if isinstance(value, set):  # enum flags
        return sorted(value)
    return [to_json(x) for x in value]


def read(block, names):
    """{name: value} of the properties in `names` that `block` has."""
    return {name: to_json(getattr(block, name)) for name in names if hasattr(block, name)}


def write(block, values, names, problems):
    """Sets the properties in `names` that `values` holds; a value Blender refuses is noted in `problems`."""
    for name in names:
        if name not in values or not hasattr(block, name):
            continue
        value = values[name]
        try:
            current = getattr(block, name)
            if isinstance(current, mathutils.Matrix):
                size = len(current)
                value = mathutils.Matrix([value[i * size : (i + 1) * size] for i in range(size)])
            elif isinstance(current, set):
                value = set(value)
            if to_json(current) != to_json(value):
                setattr(block, name, value)
        except (TypeError, ValueError, AttributeError) as error:
            problems.append(f"{name}: {error}")
