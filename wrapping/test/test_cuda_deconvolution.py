"""The wrapped deconvolution filters (itk.CudaRichardsonLucyDeconvolutionImageFilter etc.) and
itk.MicroscopePSFImageSource from Python.

On the CPU the filters run ITK's own deconvolution filters, so their results are compared with
ITK's wrapped filters (itk.richardson_lucy_deconvolution_image_filter etc.) on the same image and
PSF. ITK's wrapped filters compute in double; ours compute in the image's precision, hence the
float tolerance. The GPU cases compare the GPU's result with ITK's and skip without a GPU.
"""
import numpy as np
import pytest
import scipy.signal
import scipy.special

import itk

Enums = itk.CudaFFTConvolutionImageFilterEnums
Edges = itk.CudaDeconvolutionImageFilterEnums

# (our functional form, ITK's, the parameters both take)
ALGORITHMS = {
    "richardson_lucy": (itk.cuda_richardson_lucy_deconvolution_image_filter,
                        itk.richardson_lucy_deconvolution_image_filter, dict(number_of_iterations=5)),
    "landweber": (itk.cuda_landweber_deconvolution_image_filter,
                  itk.landweber_deconvolution_image_filter, dict(number_of_iterations=5, alpha=0.5)),
    "projected_landweber": (itk.cuda_projected_landweber_deconvolution_image_filter,
                            itk.projected_landweber_deconvolution_image_filter,
                            dict(number_of_iterations=5, alpha=0.5)),
    "inverse": (itk.cuda_inverse_deconvolution_image_filter,
                itk.inverse_deconvolution_image_filter, dict(kernel_zero_magnitude_threshold=1e-3)),
    "tikhonov": (itk.cuda_tikhonov_deconvolution_image_filter,
                 itk.tikhonov_deconvolution_image_filter, dict(regularization_constant=0.01)),
    "wiener": (itk.cuda_wiener_deconvolution_image_filter,
               itk.wiener_deconvolution_image_filter, dict(noise_variance=0.01)),
}
TOLERANCE = {np.float32: 2e-5, np.float64: 1e-11}  # of the result's largest magnitude


def blurred_volume(shape, dtype, seed=0):
    """A positive random object blurred by a Gaussian PSF (both arrays of dtype, z-y-x order)."""
    rng = np.random.default_rng(seed)
    obj = rng.random(shape) + 0.1
    axes = np.meshgrid(*[np.arange(5) - 2.0] * len(shape), indexing="ij")
    psf = np.exp(-sum(a * a for a in axes) / 2.0)
    psf /= psf.sum()
    blurred = scipy.signal.fftconvolve(obj, psf, mode="same")
    return blurred.astype(dtype), psf.astype(dtype)


def images(shape, dtype):
    blurred, psf = blurred_volume(shape, dtype)
    return itk.image_from_array(blurred), itk.image_from_array(psf)


def assert_close(result, expected, dtype):
    result, expected = itk.array_from_image(result), itk.array_from_image(expected)
    assert result.dtype == expected.dtype == dtype
    assert result.shape == expected.shape
    assert np.isfinite(expected).all()
    assert np.abs(result - expected).max() <= TOLERANCE[dtype] * np.abs(expected).max()


def gpu_present():
    image, psf = images((6, 7, 8), np.float32)
    probe = itk.CudaRichardsonLucyDeconvolutionImageFilter[type(image), type(image), type(image), itk.F].New(
        Input=image, KernelImage=psf, NumberOfIterations=1)
    probe.Update()
    return probe.GetLastComputeDevice() == Enums.ComputeDevice_GPU


needs_gpu = pytest.mark.skipif(not gpu_present(), reason="no CUDA device")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_cpu_path_equals_itk(name, dtype):
    ours, itks, parameters = ALGORITHMS[name]
    image, psf = images((10, 12, 14), dtype)
    result = ours(image, kernel_image=psf, compute_device=Enums.ComputeDevice_CPU, **parameters)
    assert_close(result, itks(image, kernel_image=psf, **parameters), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_2d_and_the_template_the_input_picks(dtype):
    image, psf = images((20, 24), dtype)
    pixel = itk.F if dtype == np.float32 else itk.D
    FilterType = itk.CudaRichardsonLucyDeconvolutionImageFilter[type(image), type(image), type(image), pixel]
    deconvolution = FilterType.New(Input=image, KernelImage=psf, NumberOfIterations=4,
                                   ComputeDevice=Enums.ComputeDevice_CPU)
    deconvolution.Update()
    expected = itk.richardson_lucy_deconvolution_image_filter(image, kernel_image=psf, number_of_iterations=4)
    assert_close(deconvolution.GetOutput(), expected, dtype)
    functional = itk.cuda_richardson_lucy_deconvolution_image_filter(
        image, kernel_image=psf, number_of_iterations=4, compute_device=Enums.ComputeDevice_CPU)
    assert np.array_equal(itk.array_from_image(functional), itk.array_from_image(deconvolution.GetOutput()))


def test_iteration_events_reach_python():
    image, psf = images((8, 9, 10), np.float64)
    deconvolution = itk.CudaLandweberDeconvolutionImageFilter[type(image), type(image), type(image), itk.D].New(
        Input=image, KernelImage=psf, NumberOfIterations=6, Alpha=0.5)
    seen, estimates = [], []

    def on_iteration():
        seen.append(deconvolution.GetIteration())
        estimates.append(itk.array_from_image(deconvolution.GetCurrentEstimate()).copy())

    deconvolution.AddObserver(itk.IterationEvent(), on_iteration)
    deconvolution.Update()
    assert len(seen) == 6
    assert deconvolution.GetIteration() == 6
    assert deconvolution.GetCurrentEstimate() is None  # outside an iteration
    output = itk.array_from_image(deconvolution.GetOutput())
    assert all(estimate.shape == output.shape for estimate in estimates)
    assert np.abs(estimates[-1] - output).max() <= 1e-12 * np.abs(output).max()
    assert np.abs(estimates[0] - output).max() > 1e-6 * np.abs(output).max()


def test_gpu_only_settings_exist_and_the_cpu_path_refuses_them():
    image, psf = images((8, 9, 10), np.float32)
    FilterType = itk.CudaRichardsonLucyDeconvolutionImageFilter[type(image), type(image), type(image), itk.F]
    settings = [("Acceleration", True), ("TotalVariation", 0.002), ("Background", 0.5),
                ("RelativeChangeTolerance", 1e-3), ("DivergenceTolerance", 0.1),
                ("Edges", Edges.Edges_NonCirculant)]
    for name, value in settings:
        deconvolution = FilterType.New(Input=image, KernelImage=psf, NumberOfIterations=3,
                                       ComputeDevice=Enums.ComputeDevice_CPU)
        getattr(deconvolution, "Set" + name)(value)
        got = getattr(deconvolution, "Get" + name)()
        assert got == (pytest.approx(value) if isinstance(value, float) else value)
        with pytest.raises(RuntimeError, match=f"{name}.* needs a CUDA device"):
            deconvolution.Update()
    deconvolution = FilterType.New()
    deconvolution.SetGPUMemoryBudget(1 << 20)
    assert deconvolution.GetGPUMemoryBudget() == 1 << 20
    deconvolution.SetHalo([4, 5, 6])
    assert tuple(deconvolution.GetHalo()) == (4, 5, 6)
    deconvolution.SetFFTBackend(Enums.FFTBackend_CUFFT)
    assert deconvolution.GetFFTBackend() == Enums.FFTBackend_CUFFT
    deconvolution.SetComputeDivergence(True)
    assert deconvolution.GetComputeDivergence()


def test_bad_kernel_raises_with_the_itk_message():
    image, psf = images((8, 9, 10), np.float64)
    kernel = itk.array_from_image(psf)
    kernel[1, 2, 3] = np.nan
    with pytest.raises(RuntimeError, match="the kernel image is nan at"):
        itk.cuda_wiener_deconvolution_image_filter(image, kernel_image=itk.image_from_array(kernel))


@needs_gpu
@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_gpu_equals_itk(name):
    ours, itks, parameters = ALGORITHMS[name]
    image, psf = images((10, 12, 14), np.float64)
    result = ours(image, kernel_image=psf, compute_device=Enums.ComputeDevice_GPU, **parameters)
    assert_close(result, itks(image, kernel_image=psf, **parameters), np.float64)


@needs_gpu
def test_gpu_only_settings_run_on_the_gpu():
    blurred, psf = blurred_volume((16, 20, 24), np.float32)
    image = itk.image_from_array(blurred)
    result = itk.cuda_richardson_lucy_deconvolution_image_filter(
        image, kernel_image=itk.image_from_array(psf), number_of_iterations=10, acceleration=True,
        edges=Edges.Edges_NonCirculant, compute_device=Enums.ComputeDevice_GPU)
    array = itk.array_from_image(result)
    assert array.shape == blurred.shape and np.isfinite(array).all() and array.min() >= 0
    # Deconvolution sharpens: re-blurring the result gives back the measured image more closely
    # than re-blurring the measured image does.
    reblurred = scipy.signal.fftconvolve(array.astype(np.float64), psf, mode="same")
    twice = scipy.signal.fftconvolve(blurred.astype(np.float64), psf, mode="same")
    inner = (slice(3, -3),) * 3
    assert np.abs(reblurred - blurred)[inner].mean() < np.abs(twice - blurred)[inner].mean()


def test_psf_source_in_focus_plane_is_the_airy_pattern():
    na, wavelength, dx = 1.2, 0.5, 0.04
    source = itk.MicroscopePSFImageSource[itk.Image[itk.D, 2]].New()
    source.SetModel(itk.MicroscopePSF.Model_BornWolf)
    source.SetNumericalAperture(na)
    source.SetWavelength(wavelength)
    source.SetImmersionRefractiveIndex(1.33)
    source.SetSize([65, 65])
    source.SetSpacing([dx, dx])
    source.Update()
    plane = itk.array_from_image(source.GetOutput())
    y, x = np.mgrid[-32:33, -32:33] * dx
    v = 2 * np.pi / wavelength * na * np.hypot(x, y)
    with np.errstate(invalid="ignore", divide="ignore"):
        airy = np.where(v == 0, 1.0, (2 * scipy.special.j1(v) / v) ** 2)
    np.testing.assert_allclose(plane / plane[32, 32], airy, atol=1e-9)
    assert plane.sum() == pytest.approx(1.0, abs=1e-12)
    assert tuple(source.GetOutput().GetSpacing()) == pytest.approx((dx, dx))


def test_computed_psf_deconvolves_like_itk():
    source = itk.MicroscopePSFImageSource[itk.Image[itk.F, 3]].New()
    source.SetSize([9, 9, 7])
    source.SetSpacing([0.1, 0.1, 0.25])
    source.Update()
    psf = source.GetOutput()
    assert itk.array_from_image(psf).sum() == pytest.approx(1.0, abs=1e-5)
    blurred, _ = blurred_volume((12, 16, 16), np.float32, seed=4)
    image = itk.image_from_array(blurred)
    result = itk.cuda_richardson_lucy_deconvolution_image_filter(
        image, kernel_image=psf, number_of_iterations=5, compute_device=Enums.ComputeDevice_CPU)
    expected = itk.richardson_lucy_deconvolution_image_filter(image, kernel_image=psf, number_of_iterations=5)
    assert_close(result, expected, np.float32)


def test_bad_psf_parameters_raise():
    source = itk.MicroscopePSFImageSource[itk.Image[itk.F, 3]].New()
    source.SetNumericalAperture(1.6)  # above the default immersion index, 1.515
    with pytest.raises(RuntimeError, match="numerical aperture"):
        source.Update()
