"""Tests of the CudaDeconvolution command-line tool as 3D Slicer and people use it.

Run by ctest: python3 -m pytest test/cli/test_deconvolution_cli.py with CUDAFFT_DECONVOLUTION_CLI
(the tool), CUDAFFT_DECONVOLUTION_XML (its kept description) and CUDAFFT_WORK (a scratch folder) in
the environment; without CUDAFFT_DECONVOLUTION_CLI every test is skipped. The CPU runs are compared
with the NumPy reference of the package (python/src/cudafftconvolution/_deconvolution_cpu.py),
which pads as ITK 5.3 and later do; the sizes here are padded alike by ITK 5.2. Tests marked gpu
skip where the tool finds no GPU.
"""
import gzip
import importlib.util
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree

import pytest

CLI = os.environ.get("CUDAFFT_DECONVOLUTION_CLI")
XML = os.environ.get("CUDAFFT_DECONVOLUTION_XML",
                     os.path.join(os.path.dirname(__file__), "..", "..", "apps", "CudaDeconvolution.xml"))
WORK = os.environ.get("CUDAFFT_WORK", "/tmp/cudafft-deconvolution-cli-test")
REFERENCE = os.path.join(os.path.dirname(__file__), "..", "..", "python", "src", "cudafftconvolution",
                         "_deconvolution_cpu.py")

if not CLI or not os.path.exists(CLI):
    pytest.skip("CUDAFFT_DECONVOLUTION_CLI does not name a built CudaDeconvolution", allow_module_level=True)

# Flags of the tool that are not Slicer parameters: TCLAP's own, Slicer's protocol, --estimate
# (it writes no output).
NOT_IN_XML = {"help", "version", "ignore_rest", "xml", "returnparameterfile", "processinformationaddress", "estimate"}


def run(*arguments, timeout=300):
    return subprocess.run([CLI, *map(str, arguments)], capture_output=True, text=True, timeout=timeout)


def progress_values(stdout):
    return [float(v) for v in re.findall(r"<filter-progress>([^<]*)</filter-progress>", stdout)]


# --- NRRD files (raw little-endian float in, ITK's gzip-compressed float out) ---------------------

def write_nrrd(path, sizes, values, directions=None, origin=None):
    """sizes in ITK order (x first); values: floats in file order, or bytes of them;
    directions: one vector per axis (spacing included)."""
    dimension = len(sizes)
    if directions is None:
        directions = [[0.5 if i == j else 0.0 for j in range(dimension)] for i in range(dimension)]
    origin = origin or [1.25] * dimension
    vector = lambda v: "(" + ",".join(repr(float(x)) for x in v) + ")"
    header = ["NRRD0004", "type: float", f"dimension: {dimension}", "sizes: " + " ".join(map(str, sizes)),
              f"space dimension: {dimension}", "space directions: " + " ".join(vector(d) for d in directions),
              "space origin: " + vector(origin), "encoding: raw", "endian: little", "", ""]
    with open(path, "wb") as f:
        f.write("\n".join(header).encode())
        f.write(values if isinstance(values, bytes) else struct.pack("<%df" % len(values), *values))


def read_nrrd(path):
    """(header fields, float values in file order)."""
    with open(path, "rb") as f:
        content = f.read()
    end = content.index(b"\n\n")
    fields = {}
    for line in content[:end].decode().splitlines()[1:]:
        if ": " in line and not line.startswith("#"):
            key, value = line.split(": ", 1)
            fields[key] = value
    data = content[end + 2:]
    if fields.get("encoding") == "gzip":
        data = gzip.decompress(data)
    assert fields["type"] == "float" and fields.get("endian", "little") == "little", fields
    return fields, struct.unpack("<%df" % (len(data) // 4), data)


def vectors(text):
    return [[float(x) for x in group.split(",")] for group in re.findall(r"\(([^)]*)\)", text)]


# --- data ------------------------------------------------------------------------------------------

def gaussian(sizes, sigmas):
    """Values of a positive Gaussian centred at floor(K/2), in file order (x fastest)."""
    import itertools
    import math
    values = []
    for index in itertools.product(*[range(n) for n in reversed(sizes)]):
        r2 = sum(((i - n // 2) / s) ** 2 for i, n, s in zip(reversed(index), sizes, sigmas))
        values.append(math.exp(-0.5 * r2))
    return values


def blurred_objects(sizes):
    """A positive image: a smooth background and bright blocks, in file order."""
    import itertools
    values = []
    for index in itertools.product(*[range(n) for n in reversed(sizes)]):
        position = list(reversed(index))
        inside = all(n // 4 <= i < n // 2 for i, n in zip(position, sizes))
        noise = ((sum(i * (7 + 3 * a) for a, i in enumerate(position)) * 7919) % 101) / 101.0
        values.append(0.2 + 0.1 * noise + (2.0 if inside else 0.0))
    return values


# A rotation about z with spacing 0.5, 0.75, 1.5: geometry the output must keep.
DIRECTIONS_3D = [[0.0, 0.5, 0.0], [-0.75, 0.0, 0.0], [0.0, 0.0, 1.5]]
ORIGIN_3D = [1.25, -2.5, 3.0]
# ITK 5.2 pads these (with odd PSFs) onto the grid of ITK 5.3+ and the engine; along x the grid
# depends on the greatest prime factor (33 + 4 voxels: 39 with 13, 40 with 7).
IMAGE_3D, PSF_3D = (33, 19, 17), (5, 5, 3)
IMAGE_2D, PSF_2D = (43, 34), (5, 5)


@pytest.fixture(scope="module")
def work():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    write_nrrd(os.path.join(WORK, "image.nrrd"), IMAGE_3D, blurred_objects(IMAGE_3D), DIRECTIONS_3D, ORIGIN_3D)
    write_nrrd(os.path.join(WORK, "psf.nrrd"), PSF_3D, gaussian(PSF_3D, (1.2, 1.0, 0.8)))
    write_nrrd(os.path.join(WORK, "image2d.nrrd"), IMAGE_2D, blurred_objects(IMAGE_2D))
    write_nrrd(os.path.join(WORK, "psf2d.nrrd"), PSF_2D, gaussian(PSF_2D, (1.0, 1.3)))
    # Large enough for its data to outweigh the plan's fixed device memory (cuFFT plans, granularity).
    large = (192, 160, 96)
    write_nrrd(os.path.join(WORK, "large.nrrd"), large, struct.pack("<f", 1.0) * (large[0] * large[1] * large[2]))
    return WORK


@pytest.fixture(scope="module")
def gpu(work):
    """True when the tool finds a CUDA device (its --estimate says so)."""
    result = run("--estimate", os.path.join(work, "image.nrrd"), os.path.join(work, "psf.nrrd"))
    assert result.returncode == 0, result.stderr
    return "no GPU" not in result.stdout


@pytest.fixture
def needs_gpu(gpu):
    if not gpu:
        pytest.skip("no CUDA device: the GPU-only options cannot run here")


def reference():
    """NumPy and the reference module, loaded from its file (the package needs not be installed)."""
    numpy = pytest.importorskip("numpy")
    name = "cudafft_deconvolution_reference"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REFERENCE)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
    return numpy, sys.modules[name]


# --- the description -------------------------------------------------------------------------------

def test_xml_is_the_kept_description_and_lists_every_flag():
    start = time.monotonic()
    result = run("--xml", timeout=5)
    assert time.monotonic() - start < 5
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith("<?xml")
    with open(XML) as f:
        assert result.stdout == f.read()
    root = ElementTree.fromstring(result.stdout.encode())
    assert root.tag == "executable"
    in_xml = {p.findtext("longflag") for p in root.iter() if p.find("longflag") is not None}
    usage = run("--help").stdout
    in_parser = set(re.findall(r"^\s+(?:-\w,\s+)?--([A-Za-z][\w-]*)", usage, re.MULTILINE))
    assert in_xml == in_parser - NOT_IN_XML
    assert in_xml >= {"algorithm", "iterations", "edges", "boundary", "constant", "normalize", "accelerate",
                      "background", "totalVariation", "tolerance", "alpha", "regularization", "noiseVariance",
                      "threshold", "mode", "precision", "gpuMemoryBudget", "cpu", "divergenceFile", "fft-backend"}
    backends = [p for p in root.iter("string-enumeration") if p.findtext("longflag") == "fft-backend"]
    assert len(backends) == 1 and backends[0].findtext("default") == "cufft"
    assert [e.text for e in backends[0].findall("element")] == ["auto", "cufft", "vkfft"]
    assert "fftBackend" in {p.findtext("name") for p in root.iter() if p.findtext("channel") == "output"}
    images = sorted((int(p.findtext("index")), p.findtext("name"), p.findtext("channel")) for p in root.iter("image"))
    assert images == [(0, "inputVolume", "input"), (1, "psfVolume", "input"), (2, "outputVolume", "output")]
    algorithms = [e.text for p in root.iter("string-enumeration") if p.findtext("name") == "algorithm"
                  for e in p.findall("element")]
    assert algorithms == ["richardson-lucy", "landweber", "projected-landweber", "inverse", "tikhonov", "wiener"]
    beside = os.path.join(os.path.dirname(CLI), "CudaDeconvolution.xml")
    with open(beside) as f:
        assert f.read() == result.stdout


# --- CPU runs against the reference ----------------------------------------------------------------

CASES = {
    "richardson-lucy 3D": dict(image="image", psf="psf", algorithm="richardson-lucy", iterations=10, mode="same",
                               arguments=[], reference={}),
    "richardson-lucy 3D constant normalized valid": dict(
        image="image", psf="psf", algorithm="richardson-lucy", iterations=4, mode="valid",
        arguments=["--boundary", "constant", "--constant", "0.3", "--normalize"],
        reference=dict(boundary="constant", constant=0.3, normalize=True)),
    "projected-landweber 2D": dict(image="image2d", psf="psf2d", algorithm="projected-landweber", iterations=6,
                                   mode="same", arguments=["--alpha", "0.2"], reference=dict(alpha=0.2)),
    "tikhonov 3D double": dict(image="image", psf="psf", algorithm="tikhonov", iterations=0, mode="same",
                               arguments=["--regularization", "0.01", "--precision", "double", "--normalize"],
                               reference=dict(regularization_constant=0.01, normalize=True)),
}


def summary_value(stdout, pattern):
    match = re.search(pattern, stdout)
    assert match, stdout
    return match.group(1)


@pytest.mark.parametrize("case", list(CASES))
def test_cpu_run_matches_the_reference(work, case):
    numpy, module = reference()
    c = CASES[case]
    output = os.path.join(work, f"out-{case.replace(' ', '-')}.nrrd")
    parameters = os.path.join(work, "return.params")
    arguments = ["--returnparameterfile", parameters, "--processinformationaddress", "0x1234", "--cpu",
                 "--algorithm", c["algorithm"], "--mode", c["mode"], *c["arguments"]]
    if c["iterations"]:
        arguments += ["--iterations", c["iterations"]]
    result = run(*arguments, os.path.join(work, c["image"] + ".nrrd"), os.path.join(work, c["psf"] + ".nrrd"), output)
    assert result.returncode == 0, result.stderr
    with open(parameters) as f:
        returned = dict(line.split(" = ") for line in f.read().splitlines())
    assert returned["computeDevice"] == "CPU"
    assert float(returned["elapsedSeconds"]) >= 0
    assert int(returned["iterationsDone"]) == c["iterations"]
    # ITK's FFT decides the padding (FFTW: 13); the tool says which it used.
    greatest_prime_factor = int(summary_value(result.stdout, r"greatest prime factor (\d+)"))

    def load(name):
        fields, values = read_nrrd(os.path.join(work, name + ".nrrd"))
        return numpy.array(values, dtype=numpy.float64).reshape([int(s) for s in fields["sizes"].split()][::-1])

    data, psf = load(c["image"]), load(c["psf"])
    expected = module.deconvolve_block(data, psf, algorithm=c["algorithm"], iterations=c["iterations"],
                                       edges="boundary", greatest_prime_factor=greatest_prime_factor,
                                       **c["reference"])
    if c["mode"] == "valid":
        start, shape = module.valid_region(data.shape, psf.shape)
    else:
        start, shape = (0,) * data.ndim, data.shape
    expected = module.crop(expected, start, shape)
    fields, values = read_nrrd(output)
    actual = numpy.array(values, dtype=numpy.float64).reshape(expected.shape)
    scale = numpy.abs(expected).max()
    assert numpy.abs(actual - expected).max() <= 1e-4 * scale, (numpy.abs(actual - expected).max(), scale)


def test_geometry_and_progress(work):
    output = os.path.join(work, "geometry.nrrd")
    result = run("--cpu", "--iterations", 7, os.path.join(work, "image.nrrd"), os.path.join(work, "psf.nrrd"), output)
    assert result.returncode == 0, result.stderr
    # One line per iteration, the last one 1.
    progress = progress_values(result.stdout)
    assert len(progress) == 7, result.stdout
    assert progress == sorted(progress) and progress[-1] == 1.0 and progress[0] > 0
    fields, _ = read_nrrd(output)
    assert fields["sizes"].split() == [str(s) for s in IMAGE_3D]
    for actual, expected in zip(vectors(fields["space directions"]), DIRECTIONS_3D):
        assert actual == pytest.approx(expected, abs=1e-9)
    assert vectors(fields["space origin"])[0] == pytest.approx(ORIGIN_3D, abs=1e-9)


@pytest.mark.parametrize("device", ["cpu", "gpu"])
def test_zero_iterations_write_the_initial_estimate(work, gpu, device):
    # As ITK's filters, the C ABI and Python: 0 iterations are the initial estimate, the image.
    numpy = pytest.importorskip("numpy")
    if device == "gpu" and not gpu:
        pytest.skip("no CUDA device")
    output = os.path.join(work, f"zero-{device}.nrrd")
    result = run(*(["--cpu"] if device == "cpu" else []), "--iterations", 0, os.path.join(work, "image.nrrd"),
                 os.path.join(work, "psf.nrrd"), output)
    assert result.returncode == 0, result.stderr
    _, expected = read_nrrd(os.path.join(work, "image.nrrd"))
    _, actual = read_nrrd(output)
    numpy.testing.assert_allclose(numpy.array(actual, numpy.float64), numpy.array(expected, numpy.float64), rtol=1e-6)


def test_direct_method_prints_one_progress_line(work):
    result = run("--cpu", "--algorithm", "wiener", "--noiseVariance", "0.01", os.path.join(work, "image2d.nrrd"),
                 os.path.join(work, "psf2d.nrrd"), os.path.join(work, "wiener.nrrd"))
    assert result.returncode == 0, result.stderr
    assert progress_values(result.stdout) == [1.0]


# --- the plan --------------------------------------------------------------------------------------

def estimate(work, *arguments):
    result = run("--estimate", *arguments, os.path.join(work, "large.nrrd"), os.path.join(work, "psf.nrrd"))
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
    buffers = [int(n) for n in re.findall(r"(\d+)(?:,|$)", lines["buffers"])]
    return int(lines["estimate"].split()[0]), int(lines["tiles"].split()[0]), sum(buffers), lines


@pytest.mark.parametrize("arguments", [[], ["--algorithm", "landweber", "--precision", "double"],
                                       ["--edges", "non-circulant", "--accelerate", "--totalVariation", "0.01"]])
def test_estimate_prints_bytes_and_tiles(work, arguments):
    single, tiles, buffers, lines = estimate(work, "--gpuMemoryBudget", "16GiB", *arguments)
    assert single > 0 and tiles == 1
    assert buffers == single  # the printed plan is the filter's
    limited, tiles, buffers, lines = estimate(work, "--gpuMemoryBudget", int(single * 0.6), *arguments)
    assert tiles > 1 and limited <= single * 0.6 and buffers == limited


def test_estimate_with_a_budget_too_small_fails_cleanly(work):
    result = run("--estimate", "--gpuMemoryBudget", "1KiB", os.path.join(work, "image.nrrd"),
                 os.path.join(work, "psf.nrrd"))
    assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1, result.stderr


# --- errors ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("case,arguments,message", [
    ("missing file", ["{w}/nothing.nrrd", "{w}/psf.nrrd", "{w}/bad.nrrd"], "does not exist"),
    ("PSF of another dimension", ["{w}/image.nrrd", "{w}/psf2d.nrrd", "{w}/bad.nrrd"], "the PSF has 2"),
    ("accelerate on the CPU", ["--cpu", "--accelerate", "{w}/image.nrrd", "{w}/psf.nrrd", "{w}/bad.nrrd"],
     "--accelerate needs an NVIDIA GPU"),
    ("non-circulant on the CPU", ["--cpu", "--edges", "non-circulant", "{w}/image.nrrd", "{w}/psf.nrrd",
                                  "{w}/bad.nrrd"], "--edges non-circulant needs an NVIDIA GPU"),
    ("divergence on the CPU", ["--cpu", "--divergenceFile", "{w}/bad.csv", "{w}/image.nrrd", "{w}/psf.nrrd",
                               "{w}/bad.nrrd"], "--divergenceFile needs an NVIDIA GPU"),
    ("unknown algorithm", ["--algorithm", "magic", "{w}/image.nrrd", "{w}/psf.nrrd", "{w}/bad.nrrd"], "magic"),
    ("unknown edges", ["--edges", "mirror", "{w}/image.nrrd", "{w}/psf.nrrd", "{w}/bad.nrrd"], "mirror"),
    ("full mode", ["--mode", "full", "{w}/image.nrrd", "{w}/psf.nrrd", "{w}/bad.nrrd"], "same or valid"),
    ("accelerate with landweber", ["--algorithm", "landweber", "--accelerate", "{w}/image.nrrd", "{w}/psf.nrrd",
                                   "{w}/bad.nrrd"], "richardson-lucy only"),
    ("too many iterations", ["--iterations", "100001", "{w}/image.nrrd", "{w}/psf.nrrd", "{w}/bad.nrrd"], "--iterations"),
    ("negative weight", ["--totalVariation", "-1", "{w}/image.nrrd", "{w}/psf.nrrd", "{w}/bad.nrrd"], "negative"),
    ("budget 0", ["--gpuMemoryBudget", "0", "{w}/image.nrrd", "{w}/psf.nrrd", "{w}/bad.nrrd"], "budget"),
    ("output folder missing", ["{w}/image.nrrd", "{w}/psf.nrrd", "{w}/nowhere/bad.nrrd"], "does not exist"),
    ("missing output", ["{w}/image.nrrd", "{w}/psf.nrrd"], "output file"),
    ("unknown FFT backend", ["--fft-backend", "fftw", "{w}/image.nrrd", "{w}/psf.nrrd", "{w}/bad.nrrd"],
     "unknown FFT backend 'fftw': use auto, cufft or vkfft"),
])
def test_bad_arguments_fail_cleanly(work, case, arguments, message):
    result = run(*[a.format(w=work) for a in arguments])
    assert result.returncode != 0, case
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("CudaDeconvolution: ") and message in lines[0], lines[0]
    assert not os.path.exists(os.path.join(work, "bad.nrrd"))
    assert not os.path.exists(os.path.join(work, "bad.csv"))
    assert not [name for name in os.listdir(work) if name.startswith(".partial")]


def test_gpu_only_option_without_a_gpu_names_the_flag(work, gpu):
    if gpu:
        pytest.skip("a CUDA device is present")
    result = run("--tolerance", "0.01", os.path.join(work, "image.nrrd"), os.path.join(work, "psf.nrrd"),
                 os.path.join(work, "bad.nrrd"))
    assert result.returncode != 0
    assert "--tolerance needs an NVIDIA GPU" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not os.path.exists(os.path.join(work, "bad.nrrd"))


# --- GPU -------------------------------------------------------------------------------------------

def read_return_parameters(path):
    with open(path) as f:
        return dict(line.split(" = ") for line in f.read().splitlines())


def test_gpu_non_circulant_accelerated_writes_decreasing_divergence(work, needs_gpu):
    output = os.path.join(work, "gpu-non-circulant.nrrd")
    divergence = os.path.join(work, "divergence.csv")
    parameters = os.path.join(work, "gpu.params")
    iterations = 12
    result = run("--returnparameterfile", parameters, "--edges", "non-circulant", "--accelerate",
                 "--iterations", iterations, "--divergenceFile", divergence, os.path.join(work, "image.nrrd"),
                 os.path.join(work, "psf.nrrd"), output)
    assert result.returncode == 0, result.stderr
    assert read_return_parameters(parameters)["computeDevice"] == "GPU"
    assert len(progress_values(result.stdout)) == iterations
    with open(divergence) as f:
        rows = [line.split(",") for line in f.read().splitlines()]
    assert rows[0] == ["iteration", "divergence"]
    values = [float(v) for _, v in rows[1:]]
    assert [int(i) for i, _ in rows[1:]] == list(range(iterations - 1))  # the last estimate is not measured
    assert values[-1] < values[0]
    for before, after in zip(values, values[1:]):
        assert after <= before * (1 + 1e-3), values
    fields, _ = read_nrrd(output)
    assert fields["sizes"].split() == [str(s) for s in IMAGE_3D]


def test_gpu_matches_the_cpu(work, needs_gpu):
    numpy = pytest.importorskip("numpy")
    outputs = {}
    for device in ("gpu", "cpu"):
        outputs[device] = os.path.join(work, f"parity-{device}.nrrd")
        result = run(*(["--cpu"] if device == "cpu" else []), "--iterations", 8, os.path.join(work, "image.nrrd"),
                     os.path.join(work, "psf.nrrd"), outputs[device])
        assert result.returncode == 0, result.stderr
        assert f"on the {device.upper()}" in result.stdout
    gpu_values = numpy.array(read_nrrd(outputs["gpu"])[1])
    cpu_values = numpy.array(read_nrrd(outputs["cpu"])[1])
    assert numpy.abs(gpu_values - cpu_values).max() <= 1e-4 * numpy.abs(cpu_values).max()


def test_gpu_tolerance_stops_early(work, needs_gpu):
    parameters = os.path.join(work, "tolerance.params")
    result = run("--returnparameterfile", parameters, "--iterations", 50, "--tolerance", "0.5",
                 os.path.join(work, "image.nrrd"), os.path.join(work, "psf.nrrd"), os.path.join(work, "tol.nrrd"))
    assert result.returncode == 0, result.stderr
    done = int(read_return_parameters(parameters)["iterationsDone"])
    assert 1 <= done < 50
    assert len(progress_values(result.stdout)) == done


def test_gpu_tiles_under_a_small_budget(work, needs_gpu):
    single, _, _, _ = estimate(work)
    iterations = 3
    result = run("--gpuMemoryBudget", int(single * 0.6), "--iterations", iterations, os.path.join(work, "large.nrrd"),
                 os.path.join(work, "psf.nrrd"), os.path.join(work, "tiled.nrrd"))
    assert result.returncode == 0, result.stderr
    tiles = int(summary_value(result.stdout, r"(\d+) tile\(s\)"))
    assert tiles > 1
    progress = progress_values(result.stdout)
    assert len(progress) == tiles * iterations and progress == sorted(progress) and progress[-1] == 1.0


@pytest.mark.parametrize("edges", ["boundary", "non-circulant"])
def test_fft_backends_agree_and_are_reported(work, gpu, edges):
    """cuFFT and VkFFT give one Richardson-Lucy result; the return parameters say which ran (cuFFT
    in place of VkFFT only with the library's warning); on the CPU, none."""
    numpy = pytest.importorskip("numpy")
    if not gpu and edges == "non-circulant":
        pytest.skip("non-circulant edges need a GPU")
    values, used = {}, {}
    for backend in ("cufft", "vkfft"):
        output = os.path.join(work, f"backend-{edges}-{backend}.nrrd")
        parameters = os.path.join(work, f"backend-{backend}.params")
        result = run("--returnparameterfile", parameters, "--fft-backend", backend, "--edges", edges,
                     "--iterations", 6, os.path.join(work, "image.nrrd"), os.path.join(work, "psf.nrrd"), output)
        assert result.returncode == 0, result.stderr
        returned = read_return_parameters(parameters)
        used[backend] = returned["fftBackend"]
        if not gpu:
            assert returned["computeDevice"] == "CPU" and used[backend] == "none"
        elif backend == "vkfft" and used[backend] == "cufft":
            assert "cuFFT does these transforms" in result.stderr, result.stderr
        else:
            assert used[backend] == backend
        values[backend] = numpy.array(read_nrrd(output)[1])
    assert numpy.abs(values["cufft"] - values["vkfft"]).max() <= 1e-4 * numpy.abs(values["cufft"]).max()
