"""TIFF stacks in and out of both command-line tools, as microscopists have them.

Run by ctest: python3 -m pytest test/cli/test_tiff_cli.py with CUDAFFT_CLI and
CUDAFFT_DECONVOLUTION_CLI (the tools), CUDAFFT_DRIVER (the module's test driver, whose "convert"
writes a TIFF stack through ITK's own writer) and CUDAFFT_WORK (a scratch folder). The stacks are
written by tifffile (Debian's python3-tifffile) and by ITK; every result is compared with the same
run on a NRRD file of the same voxels. The tools run on the CPU (--cpu), so these tests are real
without a GPU.
"""
import gzip
import os
import re
import shutil
import subprocess

import pytest

numpy = pytest.importorskip("numpy")
tifffile = pytest.importorskip("tifffile")

CONVOLUTION = os.environ.get("CUDAFFT_CLI")
DECONVOLUTION = os.environ.get("CUDAFFT_DECONVOLUTION_CLI")
DRIVER = os.environ.get("CUDAFFT_DRIVER")
WORK = os.environ.get("CUDAFFT_WORK", "/tmp/cudafft-tiff-test")

if not CONVOLUTION or not DECONVOLUTION:
    pytest.skip("CUDAFFT_CLI and CUDAFFT_DECONVOLUTION_CLI must name the built tools", allow_module_level=True)

TOOLS = {"convolution": [CONVOLUTION, "--cpu"], "deconvolution": [DECONVOLUTION, "--cpu", "--iterations", "3"]}


def run(tool, *arguments):
    return subprocess.run([*TOOLS[tool], *map(str, arguments)], capture_output=True, text=True, timeout=300)


def path(name):
    return os.path.join(WORK, name)


# --- NRRD, the reference format --------------------------------------------------------------------

def write_nrrd(name, array, spacing=None):
    """array in z, y, x order; raw little-endian float."""
    sizes = array.shape[::-1]
    spacing = spacing or [1.0] * len(sizes)
    directions = " ".join("(" + ",".join(repr(spacing[i] if i == j else 0.0) for j in range(len(sizes))) + ")"
                          for i in range(len(sizes)))
    header = ["NRRD0004", "type: float", f"dimension: {len(sizes)}", "sizes: " + " ".join(map(str, sizes)),
              f"space dimension: {len(sizes)}", "space directions: " + directions,
              "space origin: (" + ",".join("0" for _ in sizes) + ")", "encoding: raw", "endian: little", "", ""]
    with open(path(name), "wb") as f:
        f.write("\n".join(header).encode())
        f.write(numpy.ascontiguousarray(array, dtype="<f4").tobytes())


NRRD_TYPES = {"float": "<f4", "double": "<f8", "unsigned short": "<u2", "ushort": "<u2", "unsigned char": "u1",
              "uchar": "u1", "short": "<i2"}


def read_nrrd(name):
    """(array in z, y, x order, spacing in x, y, z order)."""
    with open(path(name), "rb") as f:
        content = f.read()
    end = content.index(b"\n\n")
    fields = dict(line.split(": ", 1) for line in content[:end].decode().splitlines()[1:]
                  if ": " in line and not line.startswith("#"))
    data = content[end + 2:]
    if fields.get("encoding") == "gzip":
        data = gzip.decompress(data)
    sizes = [int(s) for s in fields["sizes"].split()]
    array = numpy.frombuffer(data, dtype=NRRD_TYPES[fields["type"]]).reshape(sizes[::-1])
    vectors = [[float(x) for x in v.split(",")] for v in re.findall(r"\(([^)]*)\)", fields["space directions"])]
    return array, [float(numpy.linalg.norm(v)) for v in vectors]


# --- data ------------------------------------------------------------------------------------------

SHAPE = (12, 22, 19)  # z, y, x
SPACING = (0.2, 0.25, 0.8)  # x, y, z, micrometres
PSF_SHAPE = (3, 5, 5)


def objects(scale):
    """A positive volume: a background, bright blocks and a deterministic texture, in z, y, x order."""
    z, y, x = numpy.indices(SHAPE)
    values = 0.2 + 0.1 * (((x * 7 + y * 13 + z * 29) * 7919) % 101) / 101.0
    values = values + 2.0 * ((x >= 5) & (x < 11) & (y >= 6) & (y < 15) & (z >= 3) & (z < 8))
    return values * scale


def psf():
    z, y, x = numpy.indices(PSF_SHAPE)
    values = numpy.exp(-0.5 * (((x - 2) / 1.1) ** 2 + ((y - 2) / 0.9) ** 2 + ((z - 1) / 0.8) ** 2))
    return (values / values.sum()).astype(numpy.float32)


@pytest.fixture(scope="module")
def work():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    kernel = psf()
    # tifffile stores an array of 3 or 4 planes as RGB(A) unless told otherwise.
    tifffile.imwrite(path("psf.tif"), kernel, photometric="minisblack")
    write_nrrd("psf.nrrd", kernel)
    for name, dtype, scale in (("float32", numpy.float32, 1.0), ("uint16", numpy.uint16, 1000.0),
                               ("uint8", numpy.uint8, 60.0)):
        array = objects(scale).astype(dtype)
        tifffile.imwrite(path(f"image-{name}.tif"), array)
        write_nrrd(f"image-{name}.nrrd", array.astype(numpy.float32))
    tifffile.imwrite(path("imagej.tif"), objects(1.0).astype(numpy.float32), imagej=True,
                     resolution=(1 / SPACING[0], 1 / SPACING[1]),
                     metadata={"spacing": SPACING[2], "unit": "um", "axes": "ZYX"})
    return WORK


def read_tiff(name):
    with tifffile.TiffFile(path(name)) as tiff:
        return tiff.asarray(), tiff


def assert_same(actual, expected):
    scale = float(numpy.abs(expected).max())
    assert actual.shape == expected.shape
    assert float(numpy.abs(actual.astype(numpy.float64) - expected).max()) <= 1e-6 * scale


def run_both(tool, image, output, *arguments):
    """Runs \a tool on image.tif and on image.nrrd; returns the TIFF output and the NRRD one."""
    for kind in ("tif", "nrrd"):
        result = run(tool, *arguments, path(f"{image}.{kind}"), path(f"psf.{kind}"), path(f"{output}.{kind}"))
        assert result.returncode == 0, result.stderr
    return read_tiff(f"{output}.tif")[0], read_nrrd(f"{output}.nrrd")[0]


# --- voxels ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("tool", list(TOOLS))
@pytest.mark.parametrize("image", ["float32", "uint16", "uint8"])
def test_tifffile_stack_gives_what_nrrd_gives_as_float(work, tool, image):
    from_tiff, from_nrrd = run_both(tool, f"image-{image}", f"out-{tool}-{image}")
    assert from_tiff.dtype == numpy.float32  # 8- and 16-bit input: a float result unless asked otherwise
    assert from_tiff.shape == SHAPE
    assert_same(from_tiff, from_nrrd)
    # Not the input: the tool did compute.
    assert numpy.abs(from_tiff - tifffile.imread(path(f"image-{image}.tif"))).max() > 1e-3 * from_tiff.max()


@pytest.mark.parametrize("tool", list(TOOLS))
@pytest.mark.parametrize("requested,dtype", [("uint16", numpy.uint16), ("input", numpy.uint16),
                                             ("int16", numpy.int16), ("double", numpy.float64)])
def test_requested_output_type_is_rounded_and_clamped(work, tool, requested, dtype):
    result = run(tool, "--output-type", requested, path("image-uint16.tif"), path("psf.tif"),
                 path(f"typed-{tool}-{requested}.tif"))
    assert result.returncode == 0, result.stderr
    actual, _ = read_tiff(f"typed-{tool}-{requested}.tif")
    assert actual.dtype == dtype
    result = run(tool, path("image-uint16.tif"), path("psf.tif"), path(f"typed-{tool}-{requested}-float.tif"))
    assert result.returncode == 0, result.stderr
    reference, _ = read_tiff(f"typed-{tool}-{requested}-float.tif")  # the default: float
    if numpy.issubdtype(dtype, numpy.integer):
        limits = numpy.iinfo(dtype)
        expected = numpy.clip(numpy.rint(reference.astype(numpy.float64)), limits.min, limits.max)
        numpy.testing.assert_array_equal(actual, expected.astype(dtype))
    else:
        numpy.testing.assert_array_equal(actual, reference.astype(dtype))


def test_integer_output_saturates(work):
    """Values above 255 become 255, below 0 become 0."""
    bright = (objects(1.0) * 200 - 60).astype(numpy.float32)  # from below 0 to above 255
    tifffile.imwrite(path("bright.tif"), bright)
    result = run("convolution", "--output-type", "uint8", path("bright.tif"), path("psf.tif"), path("bright-u8.tif"))
    assert result.returncode == 0, result.stderr
    actual = tifffile.imread(path("bright-u8.tif"))
    result = run("convolution", path("bright.tif"), path("psf.tif"), path("bright-float.tif"))
    assert result.returncode == 0, result.stderr
    reference = tifffile.imread(path("bright-float.tif")).astype(numpy.float64)
    assert reference.max() > 255 and reference.min() < 0
    assert actual.dtype == numpy.uint8
    numpy.testing.assert_array_equal(actual, numpy.clip(numpy.rint(reference), 0, 255).astype(numpy.uint8))


def test_two_dimensional_tiff(work):
    image = objects(1.0)[5].astype(numpy.float32)
    kernel = psf()[1] / psf()[1].sum()
    tifffile.imwrite(path("plane.tif"), image)
    tifffile.imwrite(path("psf2d.tif"), kernel)
    write_nrrd("plane.nrrd", image)
    write_nrrd("psf2d.nrrd", kernel)
    for kind in ("tif", "nrrd"):
        result = run("convolution", path(f"plane.{kind}"), path(f"psf2d.{kind}"), path(f"plane-out.{kind}"))
        assert result.returncode == 0, result.stderr
    assert_same(tifffile.imread(path("plane-out.tif")), read_nrrd("plane-out.nrrd")[0])


# --- spacing ---------------------------------------------------------------------------------------

def imagej_spacing(tiff):
    page = tiff.pages[0]
    x = page.tags["XResolution"].value
    y = page.tags["YResolution"].value
    metadata = tiff.imagej_metadata
    return (x[1] / x[0], y[1] / y[0], metadata["spacing"]), metadata.get("unit")


@pytest.mark.parametrize("tool", list(TOOLS))
def test_imagej_hyperstack_spacing_round_trip(work, tool):
    for output in ("imagej-out.tif", "imagej-out.nrrd"):
        result = run(tool, path("imagej.tif"), path("psf.tif"), path(f"{tool}-{output}"))
        assert result.returncode == 0, result.stderr
        # A PSF stack without calibration is taken to be sampled like the image: no spacing warning.
        assert result.stderr == "", result.stderr
    with tifffile.TiffFile(path(f"{tool}-imagej-out.tif")) as tiff:
        spacing, unit = imagej_spacing(tiff)
        actual = tiff.asarray()
    assert spacing == pytest.approx(SPACING, rel=1e-6)
    assert unit == "micron"
    assert actual.shape == SHAPE
    from_nrrd, nrrd_spacing = read_nrrd(f"{tool}-imagej-out.nrrd")
    assert nrrd_spacing == pytest.approx(SPACING, rel=1e-6)
    assert_same(actual, from_nrrd)
    # The tool's own TIFF reads back with the same spacing.
    result = run(tool, path(f"{tool}-imagej-out.tif"), path("psf.tif"), path(f"{tool}-imagej-again.nrrd"))
    assert result.returncode == 0, result.stderr
    assert read_nrrd(f"{tool}-imagej-again.nrrd")[1] == pytest.approx(SPACING, rel=1e-6)


def test_ome_tiff_spacing_round_trip(work):
    array = objects(1.0).astype(numpy.float32)
    tifffile.imwrite(path("stack.ome.tif"), array, metadata={"axes": "ZYX", "PhysicalSizeX": SPACING[0],
                                                            "PhysicalSizeY": SPACING[1], "PhysicalSizeZ": SPACING[2]})
    result = run("deconvolution", path("stack.ome.tif"), path("psf.tif"), path("stack-out.ome.tif"))
    assert result.returncode == 0, result.stderr
    with tifffile.TiffFile(path("stack-out.ome.tif")) as tiff:
        assert tiff.is_ome
        pixels = tifffile.xml2dict(tiff.ome_metadata)["OME"]["Image"]["Pixels"]
        actual = tiff.asarray()
    assert (pixels["SizeX"], pixels["SizeY"], pixels["SizeZ"], pixels["SizeC"], pixels["SizeT"]) == (19, 22, 12, 1, 1)
    assert (pixels["PhysicalSizeX"], pixels["PhysicalSizeY"], pixels["PhysicalSizeZ"]) == pytest.approx(SPACING)
    assert pixels["PhysicalSizeXUnit"] == "\u00b5m" and pixels["Type"] == "float"
    write_nrrd("stack.nrrd", array)
    result = run("deconvolution", path("stack.nrrd"), path("psf.nrrd"), path("stack-out.nrrd"))
    assert result.returncode == 0, result.stderr
    assert_same(actual, read_nrrd("stack-out.nrrd")[0])


@pytest.mark.parametrize("output", ["override.nrrd", "override.tif"])
def test_spacing_option_overrides_the_file(work, output):
    result = run("convolution", "--spacing", "0.1,0.15,0.5", path("imagej.tif"), path("psf.tif"), path(output))
    assert result.returncode == 0, result.stderr
    if output.endswith(".nrrd"):
        spacing = read_nrrd(output)[1]
    else:
        with tifffile.TiffFile(path(output)) as tiff:
            spacing = imagej_spacing(tiff)[0]
    assert spacing == pytest.approx((0.1, 0.15, 0.5), rel=1e-6)


def test_plain_tifffile_stack_has_unit_spacing(work):
    result = run("convolution", path("image-float32.tif"), path("psf.tif"), path("plain-spacing.nrrd"))
    assert result.returncode == 0, result.stderr
    assert read_nrrd("plain-spacing.nrrd")[1] == pytest.approx((1.0, 1.0, 1.0))


def test_stack_written_by_itk(work):
    """ITK's TIFF writer stores x/y spacing as dots per inch: read back in millimetres, as ITK does."""
    if not DRIVER or not os.path.exists(DRIVER):
        pytest.skip("CUDAFFT_DRIVER does not name the built test driver")
    write_nrrd("for-itk.nrrd", objects(1.0).astype(numpy.float32), spacing=[0.5, 0.25, 2.0])
    converted = subprocess.run([DRIVER, "itkCudaFFTConvolutionCLICompareTest", "convert", path("for-itk.nrrd"),
                                path("itk.tif")], capture_output=True, text=True)
    assert converted.returncode == 0, converted.stdout + converted.stderr
    with tifffile.TiffFile(path("itk.tif")) as tiff:
        assert len(tiff.pages) == SHAPE[0]
        assert tiff.pages[0].tags["ResolutionUnit"].value == 2  # inch
    for source, output in (("itk.tif", "itk-out.nrrd"), ("for-itk.nrrd", "itk-reference.nrrd")):
        result = run("deconvolution", path(source), path("psf.tif"), path(output))
        assert result.returncode == 0, result.stderr
    from_tiff, spacing = read_nrrd("itk-out.nrrd")
    from_nrrd, _ = read_nrrd("itk-reference.nrrd")
    assert_same(from_tiff, from_nrrd)
    assert spacing[:2] == pytest.approx([0.5, 0.25], rel=1e-5)  # z: ITK's TIFF holds none


# --- what a tool refuses ---------------------------------------------------------------------------

def multi_channel_files():
    stack = numpy.ones((4, 3, 8, 8), numpy.uint16)
    tifffile.imwrite(path("channels-imagej.tif"), stack, imagej=True, metadata={"axes": "ZCYX"})
    tifffile.imwrite(path("channels.ome.tif"), numpy.ones((2, 4, 8, 8), numpy.uint16), metadata={"axes": "CZYX"})
    tifffile.imwrite(path("rgb.tif"), numpy.ones((8, 8, 3), numpy.uint8), photometric="rgb")
    tifffile.imwrite(path("frames-imagej.tif"), numpy.ones((5, 4, 8, 8), numpy.float32), imagej=True,
                     metadata={"axes": "TZYX"})
    tifffile.imwrite(path("four-d.tif"), numpy.ones((2, 5, 8, 8), numpy.float32))
    # What tifffile up to 2023 writes for an array of 3 planes by default: float RGB planes.
    tifffile.imwrite(path("three-planes.tif"), numpy.ones((3, 8, 8), numpy.float32), photometric="rgb",
                     planarconfig="separate")


@pytest.mark.parametrize("tool", list(TOOLS))
@pytest.mark.parametrize("name,message", [
    ("channels-imagej.tif", "holds 3 channels (ImageJ hyperstack); split the channels"),
    ("channels.ome.tif", "holds 2 channels (OME-TIFF); split the channels"),
    ("rgb.tif", "holds 3 channels"),
    ("frames-imagej.tif", "holds 5 time points (ImageJ hyperstack); split the time points"),
    ("four-d.tif", "holds an array of shape [2, 5, 8, 8]"),
    ("three-planes.tif", "holds 3 channels (samples per pixel; tifffile writes 3 or 4 planes so"),
])
def test_multi_channel_and_time_series_are_refused_naming_what_they_hold(work, tool, name, message):
    multi_channel_files()
    psf_file = "psf2d.tif" if name in ("rgb.tif", "three-planes.tif") else "psf.tif"
    if not os.path.exists(path("psf2d.tif")):
        tifffile.imwrite(path("psf2d.tif"), psf()[1])
    result = run(tool, path(name), path(psf_file), path("refused.tif"))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert name in lines[0] and message in lines[0], lines[0]
    assert not os.path.exists(path("refused.tif"))


@pytest.mark.parametrize("tool", list(TOOLS))
@pytest.mark.parametrize("arguments,message", [
    (["--spacing", "0.1,0.2"], "gives 2 values for a 3-D input"),
    (["--spacing", "0.1,-1,2"], "positive number"),
    (["--spacing", "0.1,x,2"], "positive number"),
    (["--output-type", "uint12"], "unknown output type 'uint12'"),
])
def test_bad_spacing_or_type_fails_cleanly(work, tool, arguments, message):
    result = run(tool, *arguments, path("image-float32.tif"), path("psf.tif"), path("refused.tif"))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not os.path.exists(path("refused.tif"))


def test_demo_writes_tiff_stacks(work):
    folder = path("demo")
    result = subprocess.run([CONVOLUTION, "--demo", folder, "--demo-scale", "8", "--demo-format", "tif"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    phantom = tifffile.imread(os.path.join(folder, "phantom.tif"))
    assert phantom.shape == (16, 64, 64) and phantom.dtype == numpy.float32
    assert phantom.max() == 1.0 and phantom.min() == 0.0
    assert tifffile.imread(os.path.join(folder, "convolved-full.tif")).ndim == 3


def test_tiff_to_tiff_with_a_computed_psf(work):
    """README's first deconvolution example: an ImageJ stack in micrometres, a Gibson-Lanni PSF
    computed from the optics on the stack's voxel grid, a float stack with the input's calibration
    out; the same as deconvolving with that PSF read from the file --psf-output wrote."""
    optics = ["--psf-model", "gibson-lanni", "--na", 1.4, "--wavelength", 0.52, "--immersion-index", 1.515,
              "--sample-index", 1.33, "--particle-depth", 2, "--psf-size", "9,9,7"]
    result = run("deconvolution", *optics, "--psf-output", path("gl-psf.nrrd"), path("imagej.tif"),
                 path("gl-deconvolved.tif"))
    assert result.returncode == 0, result.stderr
    with tifffile.TiffFile(path("gl-deconvolved.tif")) as tiff:
        spacing, unit = imagej_spacing(tiff)
        computed = tiff.asarray()
    assert computed.dtype == numpy.float32 and computed.shape == SHAPE
    assert spacing == pytest.approx(SPACING, rel=1e-6) and unit == "micron"
    kernel, kernel_spacing = read_nrrd("gl-psf.nrrd")
    assert kernel.shape == (7, 9, 9) and kernel_spacing == pytest.approx(SPACING, rel=1e-6)
    assert abs(float(kernel.sum()) - 1.0) < 1e-5
    result = run("deconvolution", path("imagej.tif"), path("gl-psf.nrrd"), path("gl-given.tif"))
    assert result.returncode == 0, result.stderr
    assert_same(computed, tifffile.imread(path("gl-given.tif")))
    assert numpy.abs(computed - objects(1.0)).max() > 1e-3 * computed.max()  # it did deconvolve
