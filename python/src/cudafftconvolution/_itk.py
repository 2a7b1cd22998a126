"""itk.Image in, itk.Image out (PyPI's itk 5.4 or a wrapped ITK tree): the pixels through an array
view, spacing and direction kept, and the origin moved to the physical position of the first
output voxel, which is where the C++ filter's output region starts (its index shifted by
K-1-floor(K/2) for VALID and -floor(K/2) for FULL), so the result overlays the input."""
import numpy as np


def is_image(value):
    return library_module(value) == "itk" and hasattr(value, "GetLargestPossibleRegion")


def library_module(value):
    return type(value).__module__.split(".")[0]


def to_array(image):
    import itk

    if image.GetNumberOfComponentsPerPixel() != 1:
        raise ValueError("only scalar images can be convolved")
    return itk.array_view_from_image(image)


def from_array(result, like, offset):
    """An itk.Image of \\a result placed like \\a like's buffer moved by \\a offset voxels (NumPy order)."""
    import itk

    image = itk.image_from_array(result)  # owns its pixels: the result outlives any view
    dimension = like.GetImageDimension()
    spacing = np.array(like.GetSpacing(), dtype=np.float64)
    direction = itk.array_from_matrix(like.GetDirection())
    first = np.array(like.GetBufferedRegion().GetIndex(), dtype=np.float64)
    index = first + np.array(offset[::-1], dtype=np.float64)  # ITK order is x first
    origin = np.array(like.GetOrigin(), dtype=np.float64) + direction @ (spacing * index)
    image.SetSpacing(like.GetSpacing())
    image.SetDirection(like.GetDirection())
    image.SetOrigin([float(v) for v in origin[:dimension]])
    return image


def boundary_of(condition):
    """(name, constant) for a boundary given as a name or as one of ITK's boundary condition objects."""
    if isinstance(condition, str) or condition is None:
        return condition, None
    name = type(condition).__name__
    if "ConstantBoundaryCondition" in name:
        return "constant", float(condition.GetConstant())
    if "ZeroFluxNeumannBoundaryCondition" in name:
        return "zero-flux-neumann", None
    if "PeriodicBoundaryCondition" in name:
        return "periodic", None
    raise ValueError(f"unsupported boundary condition {name}: use constant, zero-flux-neumann or periodic")


def mode_of(value):
    """A mode given as a name, an int (0 SAME, 1 VALID, 2 FULL, ITK's values) or an ITK enum."""
    if isinstance(value, str) or value is None:
        return value
    names = {0: "same", 1: "valid", 2: "full"}
    try:
        return names[int(value)]
    except (KeyError, TypeError, ValueError):
        text = str(value).upper()
        for name in ("SAME", "VALID", "FULL"):
            if text.endswith(name):
                return name.lower()
    raise ValueError(f"unknown output region mode {value!r}")
