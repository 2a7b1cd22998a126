"""cudafftconvolution.psf: computed PSFs against independent values.

The Airy pattern's closed form (SciPy's J1), the axis order of shape and spacing, symmetry,
normalisation, the focal shift of a water sample under an oil objective, the validation, and
MicroscPSF-Py (MIT; Li, Xue and Blu's Bessel-series approximation of Gibson-Lanni, an independent
implementation of the same model) where it is installed.
"""
import warnings

import numpy as np
import pytest
import scipy.special

import cudafftconvolution as cfc
from cudafftconvolution import _native

pytestmark = pytest.mark.skipif(_native.LIBRARY is None, reason=f"no native library: {_native.LOAD_ERROR}")

OIL = dict(na=1.4, wavelength=0.53, immersion_index=1.515)


def test_in_focus_plane_is_the_airy_pattern():
    na, wavelength, dx = 1.2, 0.5, 0.04
    plane = cfc.psf.born_wolf((65, 65), (dx, dx), na=na, wavelength=wavelength, immersion_index=1.33,
                              dtype=np.float64)
    y, x = np.mgrid[-32:33, -32:33] * dx
    v = 2 * np.pi / wavelength * na * np.hypot(x, y)
    with np.errstate(invalid="ignore", divide="ignore"):
        airy = np.where(v == 0, 1.0, (2 * scipy.special.j1(v) / v) ** 2)
    np.testing.assert_allclose(plane / plane[32, 32], airy, atol=1e-9)
    assert plane.sum() == pytest.approx(1.0, abs=1e-12)


def test_first_zero_at_0_61_wavelength_over_na():
    na, wavelength = 0.9, 0.6
    step = 0.061 * wavelength / na  # ten voxels to the first dark ring
    plane = cfc.psf.born_wolf((41, 41), (step, step), na=na, wavelength=wavelength, immersion_index=1.0)
    profile = plane[20, 20:] / plane[20, 20]
    assert profile[10] < 1e-6
    assert profile[9] > 1e-3 and profile[11] > profile[10]


def test_axes_follow_numpy_order():
    # Anisotropic lateral voxels: x at 0.05, y at 0.1; two x voxels are one y voxel away.
    psf = cfc.psf.born_wolf((9, 33, 33), (0.3, 0.1, 0.05), na=1.0, wavelength=0.5, immersion_index=1.33,
                            dtype=np.float64)
    assert psf.shape == (9, 33, 33) and psf.dtype == np.float64
    assert np.unravel_index(np.argmax(psf), psf.shape) == (4, 16, 16)
    np.testing.assert_allclose(psf[4, 16, 18], psf[4, 17, 16], rtol=1e-12)
    np.testing.assert_allclose(psf[:, 16, 16], psf[::-1, 16, 16], rtol=1e-12)  # even in z
    np.testing.assert_allclose(psf, psf[:, ::-1, :], rtol=1e-12)


def test_float32_default_and_confocal_is_widefield_squared():
    widefield = cfc.psf.gibson_lanni((8, 16, 16), (0.2, 0.1, 0.1), sample_index=1.515, **OIL, dtype=np.float64)
    confocal = cfc.psf.gibson_lanni((8, 16, 16), (0.2, 0.1, 0.1), sample_index=1.515, **OIL, confocal=True)
    assert confocal.dtype == np.float32
    assert np.unravel_index(np.argmax(widefield), widefield.shape) == (4, 8, 8)  # even sizes: shape // 2
    np.testing.assert_allclose(confocal, widefield**2 / np.sum(widefield**2), rtol=1e-5, atol=1e-12)


def test_gibson_lanni_matched_equals_born_wolf_in_focus():
    gl = cfc.psf.gibson_lanni((33, 33), (0.05, 0.05), sample_index=1.515, **OIL)
    bw = cfc.psf.born_wolf((33, 33), (0.05, 0.05), **OIL)
    np.testing.assert_allclose(gl, bw, rtol=1e-5)


def test_focal_shift_of_a_water_sample_under_oil():
    psf = cfc.psf.gibson_lanni((81, 9, 9), (0.1, 0.1, 0.1), sample_index=1.33, particle_depth=10, **OIL)
    peak = (np.argmax(psf[:, 4, 4]) - 40) * 0.1
    paraxial = -10 * (1.515 / 1.33 - 1)
    assert 2.5 * paraxial < peak <= paraxial
    assert not np.allclose(psf, psf[::-1], atol=0.05 * psf.max())  # aberrated: no longer even in z


@pytest.mark.parametrize("change, message", [
    (dict(na=1.6), "numerical aperture"),
    (dict(wavelength=0), "wavelength"),
    (dict(particle_depth=-1), "depth"),
    (dict(shape=(4, 0, 4)), "shape"),
    (dict(shape=(4,)), "2 or 3 dimensions"),
    (dict(spacing=(0.1, 0.1)), "voxel size per axis"),
    (dict(spacing=(0.1, -0.1, 0.1)), "voxel size"),
    (dict(dtype=np.int32), "dtype"),
])
def test_bad_parameters_are_value_errors(change, message):
    arguments = dict(shape=(4, 8, 8), spacing=(0.2, 0.1, 0.1), sample_index=1.33, **OIL)
    arguments.update(change)
    with pytest.raises(ValueError, match=message):
        cfc.psf.gibson_lanni(**arguments)


# (NA, sample index, depth, immersion index, coverslip thickness, coverslip index) against the
# design 1.515 / 170 um / 150 um: water and air samples, a wrong immersion oil, a thick coverslip.
# Its Bessel series (gLZRFocalScan) up to NA 1.2; beyond, where that series fits the steep pupil
# phase to a few percent only, its direct quadrature (gLZRFocalScanSlow, scipy.integrate.quad).
MICROSCPSF_CASES = [
    ("series", 1.2, 1.33, 0.5, 1.515, 170, 1.515, 1e-6),
    ("series", 1.2, 1.33, 10.0, 1.515, 170, 1.515, 1e-6),
    ("series", 1.2, 1.33, 3.0, 1.52, 170, 1.515, 1e-6),
    ("series", 1.2, 1.33, 3.0, 1.515, 175, 1.52, 1e-6),
    ("series", 0.8, 1.0, 5.0, 1.515, 160, 1.515, 1e-6),
    ("quadrature", 1.4, 1.45, 3.0, 1.515, 170, 1.515, 1e-6),
    ("quadrature", 1.49, 1.515, 2.0, 1.515, 170, 1.515, 1e-6),
    # A water sample under NA 1.4: its pupil stops at the critical angle, ours keeps the evanescent
    # rays beyond it, 6.7e-4 of the peak here (a direct quadrature of each pupil, scipy's quad to
    # 1e-12, reproduces both: ours within 3e-14, the cut pupil's difference to 1e-9).
    ("quadrature", 1.4, 1.33, 10.0, 1.515, 170, 1.515, 1e-3),
]


@pytest.mark.parametrize("method, na, ns, depth, ni, tg, ng, tolerance", MICROSCPSF_CASES)
def test_gibson_lanni_agrees_with_microscpsf_py(method, na, ns, depth, ni, tg, ng, tolerance):
    microscpsf = pytest.importorskip("microscPSF.microscPSF")
    planes, pixels = (21, 21) if method == "series" else (11, 11)  # its quadrature is slow
    dz, dxy, wavelength = 0.2, 0.05, 0.53
    psf = cfc.psf.gibson_lanni((planes, 2 * pixels - 1, 2 * pixels - 1), (dz, dxy, dxy), na=na, wavelength=wavelength,
                               immersion_index=ni, immersion_design_index=1.515, sample_index=ns,
                               particle_depth=depth, coverslip_index=ng, coverslip_design_index=1.515,
                               coverslip_thickness=tg, coverslip_design_thickness=170, working_distance=150,
                               dtype=np.float64)
    # Its lateral scale has M / sqrt(M^2 + NA^2) for the tube: a large M makes that 1, as ours.
    params = dict(microscpsf.m_params, M=1e4, NA=na, ni=ni, ni0=1.515, ns=ns, ng=ng, ng0=1.515, tg=tg, tg0=170, ti0=150)
    # Its focus coordinate is the stage's offset from focusing on the coverslip: ours minus the depth.
    z = (np.arange(planes) - planes // 2) * dz
    radii = np.arange(pixels) * dxy
    scan = microscpsf.gLZRFocalScan if method == "series" else microscpsf.gLZRFocalScanSlow
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its lstsq call's rcond, quad's accuracy notes
        theirs = scan(params, radii, z - depth, normalize=False, pz=depth, wvl=wavelength)
    ours = psf[:, pixels - 1, pixels - 1:]
    difference = np.abs(ours / ours.max() - theirs / theirs.max()).max()
    assert difference < tolerance, difference
