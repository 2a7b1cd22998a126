"""Point spread functions computed from the acquisition's parameters, for when none was measured.

The models (itk::MicroscopePSF, include/itkMicroscopePSF.h, computed by the package's native
library through the C ABI, on the CPU; no GPU needed):

- born_wolf: scalar diffraction with the paraxial (Fresnel) defocus of Born and Wolf; in focus the
  Airy pattern (first zero at 0.61 wavelength / NA), symmetric in z.
- gibson_lanni: the optical path differences of sample, immersion layer and coverslip against the
  objective's design (Gibson and Lanni 1991, in the form of Li, Xue and Blu 2017), for a particle
  at particle_depth below the coverslip: the spherical aberration and focal shift of a sample whose
  index differs from the immersion's.

Both integrate over the pupil by Gauss-Legendre quadrature. The arrays are NumPy-ordered ((z,) y, x),
with the focus at index shape // 2 (the centre for odd sizes; ITK's kernel centre for even ones),
sampled at voxel centres and normalised to sum 1; a 2D shape gives the in-focus plane. Lengths
(wavelength, spacing, depth, thicknesses) share one unit, micrometres for the default thicknesses.

    psf = cudafftconvolution.psf.gibson_lanni((32, 64, 64), (0.2, 0.065, 0.065), na=1.4, wavelength=0.52,
                                              immersion_index=1.515, sample_index=1.33, particle_depth=5)
"""
import ctypes

import numpy as np

from . import _native

__all__ = ["born_wolf", "gibson_lanni"]


def _grid(shape, spacing):
    """(dimension, size x-first, spacing x-first) from NumPy-ordered shape and spacing."""
    shape = tuple(shape) if np.ndim(shape) else (shape,)
    if len(shape) not in (2, 3):
        raise ValueError(f"a PSF has 2 or 3 dimensions: shape {shape}")
    if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1 for n in shape):
        raise ValueError(f"the PSF shape must hold positive integers: {shape}")
    spacing = tuple(float(s) for s in np.atleast_1d(np.asarray(spacing, dtype=float)))
    if len(spacing) != len(shape):
        raise ValueError(f"give one voxel size per axis of the shape {shape}: spacing {spacing}")
    return len(shape), tuple(int(n) for n in reversed(shape)), tuple(reversed(spacing))


def _compute(model, shape, spacing, dtype, confocal, **optics):
    if _native.LIBRARY is None:
        raise RuntimeError("cudafftconvolution.psf computes through the package's native library, which could not "
                           f"be loaded: {_native.LOAD_ERROR}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"the PSF's dtype must be float32 or float64, not {dtype}")
    dimension, size, voxel = _grid(shape, spacing)
    psf = _native.psf_defaults()
    psf.model = model
    psf.confocal = int(bool(confocal))
    psf.dimension = dimension
    for axis in range(dimension):
        psf.size[axis] = size[axis]
        psf.spacing[axis] = voxel[axis]
    for name, value in optics.items():
        if value is not None:
            setattr(psf, name, float(value))
    output = np.empty(tuple(reversed(size)), dtype=np.float64)
    _native.psf_compute(psf, output.ctypes.data_as(ctypes.c_void_p))
    return output.astype(dtype, copy=False)


def born_wolf(shape, spacing, *, na, wavelength, immersion_index, confocal=False, dtype=np.float32):
    """The Born and Wolf PSF on a grid of shape ((z,) y, x) and voxel sizes spacing ((dz,) dy, dx).

    na: numerical aperture (at most immersion_index); wavelength: emission, in vacuum;
    confocal: the widefield intensity squared. Returns a NumPy array summing to 1.
    """
    return _compute(_native_model("born-wolf"), shape, spacing, dtype, confocal, numerical_aperture=na,
                    wavelength=wavelength, immersion_index=immersion_index)


def gibson_lanni(shape, spacing, *, na, wavelength, immersion_index, sample_index, particle_depth=0.0,
                 coverslip_index=1.515, coverslip_thickness=170.0, working_distance=150.0,
                 immersion_design_index=None, coverslip_design_index=None, coverslip_design_thickness=None,
                 confocal=False, dtype=np.float32):
    """The Gibson and Lanni PSF on a grid of shape ((z,) y, x) and voxel sizes spacing ((dz,) dy, dx).

    particle_depth: below the coverslip (>= 0). The design values (None: the actual ones) are what
    the objective was corrected for. z = 0 is the nominal focus on the particle; with mismatched
    indices the intensity peak moves from it (focal shift), as in the instrument.
    """
    return _compute(_native_model("gibson-lanni"), shape, spacing, dtype, confocal, numerical_aperture=na,
                    wavelength=wavelength, immersion_index=immersion_index, sample_index=sample_index,
                    particle_depth=particle_depth, coverslip_index=coverslip_index,
                    coverslip_thickness=coverslip_thickness, working_distance=working_distance,
                    immersion_design_index=immersion_design_index, coverslip_design_index=coverslip_design_index,
                    coverslip_design_thickness=coverslip_design_thickness)


def _native_model(name):
    return {"born-wolf": 0, "gibson-lanni": 1}[name]
