"""Tests of the CudaFFTConvolution command-line tool as 3D Slicer and people use it.

Run by ctest: python3 -m pytest test/cli/test_cli.py with CUDAFFT_CLI (the tool),
CUDAFFT_DRIVER (the module's test driver), CUDAFFT_XML (the kept description) and CUDAFFT_WORK
(a scratch folder) in the environment.
"""
import os
import shutil
import struct
import subprocess
import time
import xml.etree.ElementTree as ElementTree

import pytest

CLI = os.environ.get("CUDAFFT_CLI", "CudaFFTConvolution")
DRIVER = os.environ.get("CUDAFFT_DRIVER", "CudaFFTConvolutionTestDriver")
XML = os.environ.get("CUDAFFT_XML", "apps/CudaFFTConvolution.xml")
WORK = os.environ.get("CUDAFFT_WORK", "/tmp/cudafft-cli-test")


def run(*arguments, timeout=300):
    return subprocess.run([CLI, *arguments], capture_output=True, text=True, timeout=timeout)


def write_nrrd(path, sizes, values):
    """A raw little-endian float NRRD with a non-trivial geometry."""
    dimension = len(sizes)
    header = ["NRRD0004", "type: float", f"dimension: {dimension}", "sizes: " + " ".join(map(str, sizes)),
              "space dimension: %d" % dimension,
              "space directions: " + " ".join("(" + ",".join("0.5" if i == j else "0" for j in range(dimension)) + ")"
                                               for i in range(dimension)),
              "space origin: (" + ",".join("1.25" for _ in range(dimension)) + ")",
              "encoding: raw", "endian: little", "", ""]
    with open(path, "wb") as f:
        f.write("\n".join(header).encode())
        f.write(struct.pack("<%df" % len(values), *values))


@pytest.fixture(scope="module")
def work():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    # Small volumes: a pseudo-random image and a positive kernel of even and odd sizes.
    image = [((i * 7919) % 101) / 50.0 - 0.7 for i in range(20 * 18 * 11)]
    write_nrrd(os.path.join(WORK, "image.nrrd"), (20, 18, 11), image)
    write_nrrd(os.path.join(WORK, "kernel.nrrd"), (5, 4, 3), [0.2 + ((i * 31) % 7) / 7.0 for i in range(60)])
    write_nrrd(os.path.join(WORK, "zero-sum.nrrd"), (2, 1, 1), [1.0, -1.0])
    write_nrrd(os.path.join(WORK, "flat.nrrd"), (8, 8), [1.0] * 64)
    with open(os.path.join(WORK, "garbage.nrrd"), "wb") as f:
        f.write(b"NRRD0004\nthis is not a header\n\n\x00\x01")
    return WORK


def test_xml_is_the_kept_description():
    start = time.monotonic()
    result = run("--xml", timeout=5)
    assert time.monotonic() - start < 5
    assert result.returncode == 0
    assert result.stderr == ""
    assert result.stdout.startswith("<?xml")
    with open(XML) as f:
        assert result.stdout == f.read()
    root = ElementTree.fromstring(result.stdout.encode())
    assert root.tag == "executable"
    flags = {p.findtext("longflag"): p for p in root.iter() if p.find("longflag") is not None}
    assert set(flags) == {"mode", "boundary", "constant", "normalize", "precision", "budget", "cpu", "spacing",
                          "output-type", "fft-backend"}
    assert [e.text for e in flags["mode"].findall("element")] == ["same", "valid", "full"]
    assert flags["fft-backend"].tag == "string-enumeration"
    assert [e.text for e in flags["fft-backend"].findall("element")] == ["auto", "cufft", "vkfft"]
    assert flags["fft-backend"].findtext("default") == "cufft"
    returned = {p.findtext("name") for p in root.iter() if p.findtext("channel") == "output" and p.tag != "image"}
    assert returned == {"computeDevice", "elapsedSeconds", "fftBackend"}
    images = sorted((int(p.findtext("index")), p.findtext("channel")) for p in root.iter("image"))
    assert images == [(0, "input"), (1, "input"), (2, "output")]
    # The kept file is installed next to the executable, where Slicer looks first.
    beside = os.path.join(os.path.dirname(CLI), "CudaFFTConvolution.xml")
    with open(beside) as f:
        assert f.read() == result.stdout


@pytest.mark.parametrize("mode,boundary,constant,normalize", [
    ("same", "zero-flux-neumann", 0, False), ("valid", "constant", 0, True),
    ("full", "constant", 0.5, True), ("same", "periodic", 0, False)])
def test_slicer_invocation_equals_the_filter(work, mode, boundary, constant, normalize):
    output = os.path.join(work, f"out-{mode}-{boundary}.nrrd")
    parameters = os.path.join(work, "return.params")
    arguments = ["--returnparameterfile", parameters, "--processinformationaddress", "0x1234",
                 "--mode", mode, "--boundary", boundary, "--constant", str(constant), "--precision", "float",
                 "--budget", "auto"]
    if normalize:
        arguments.append("--normalize")
    result = run(*arguments, os.path.join(work, "image.nrrd"), os.path.join(work, "kernel.nrrd"), output)
    assert result.returncode == 0, result.stderr
    assert "<filter-progress>1</filter-progress>" in result.stdout
    with open(parameters) as f:
        returned = dict(line.split(" = ") for line in f.read().splitlines())
    assert returned["computeDevice"] in ("GPU", "CPU")
    assert float(returned["elapsedSeconds"]) >= 0
    check = subprocess.run([DRIVER, "itkCudaFFTConvolutionCLICompareTest", "compare", os.path.join(work, "image.nrrd"),
                            os.path.join(work, "kernel.nrrd"), output, mode, boundary, str(constant),
                            "1" if normalize else "0"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("mode,budget", [("same", "auto"), ("full", "64MiB"), ("valid", "100000000")])
def test_estimate_agrees_with_the_filter(work, mode, budget):
    result = run("--estimate", "--mode", mode, "--budget", budget, os.path.join(work, "image.nrrd"),
                 os.path.join(work, "kernel.nrrd"))
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
    printed = int(lines["estimate"].split()[0])
    assert int(lines["tiles"].split()[0]) >= 1
    budget_bytes = {"auto": None, "64MiB": 64 << 20}.get(budget, None)
    if budget_bytes is None:
        budget_bytes = int(budget) if budget != "auto" else int(lines["budget"].split()[0]) if lines["budget"][0].isdigit() else 0
    expected = subprocess.run([DRIVER, "itkCudaFFTConvolutionCLICompareTest", "estimate", os.path.join(work, "image.nrrd"),
                               os.path.join(work, "kernel.nrrd"), mode, str(budget_bytes)], capture_output=True, text=True)
    assert expected.returncode == 0, expected.stderr
    assert printed == int(expected.stdout.split()[-1])


@pytest.mark.parametrize("case,arguments,message", [
    ("missing file", ["{w}/nothing.nrrd", "{w}/kernel.nrrd", "{w}/bad.nrrd"], "does not exist"),
    ("unreadable file", ["{w}/garbage.nrrd", "{w}/kernel.nrrd", "{w}/bad.nrrd"], "garbage.nrrd"),
    ("different dimensions", ["{w}/image.nrrd", "{w}/flat.nrrd", "{w}/bad.nrrd"], "dimensions"),
    ("unknown mode", ["--mode", "diagonal", "{w}/image.nrrd", "{w}/kernel.nrrd", "{w}/bad.nrrd"], "diagonal"),
    ("zero-sum kernel", ["--normalize", "{w}/image.nrrd", "{w}/zero-sum.nrrd", "{w}/bad.nrrd"], "cannot be normalized"),
    ("budget 0", ["--budget", "0", "{w}/image.nrrd", "{w}/kernel.nrrd", "{w}/bad.nrrd"], "budget"),
    ("budget of 2^64 bytes", ["--budget", "18446744073709551616", "{w}/image.nrrd", "{w}/kernel.nrrd", "{w}/bad.nrrd"],
     "below 2^64"),
    ("infinite budget", ["--budget", "infGiB", "{w}/image.nrrd", "{w}/kernel.nrrd", "{w}/bad.nrrd"], "below 2^64"),
    ("budget too small", ["--budget", "1KiB", "{w}/image.nrrd", "{w}/kernel.nrrd", "{w}/bad.nrrd"], "too small"),
    ("unknown boundary", ["--boundary", "mirror", "{w}/image.nrrd", "{w}/kernel.nrrd", "{w}/bad.nrrd"], "mirror"),
    ("missing output", ["{w}/image.nrrd", "{w}/kernel.nrrd"], "output file"),
])
def test_bad_arguments_fail_cleanly(work, case, arguments, message):
    result = run(*[a.format(w=work) for a in arguments])
    assert result.returncode != 0, case
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0], lines[0]
    assert not os.path.exists(os.path.join(work, "bad.nrrd"))
    assert not [name for name in os.listdir(work) if name.startswith(".partial")]


@pytest.mark.parametrize("name", ["fftw", "cufft13", "vk"])
def test_an_unknown_fft_backend_is_refused_naming_the_choices(work, name):
    bad = os.path.join(work, "bad.nrrd")
    result = run("--fft-backend", name, os.path.join(work, "image.nrrd"), os.path.join(work, "kernel.nrrd"), bad)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"'{name}'" in lines[0] and "auto, cufft or vkfft" in lines[0], result.stderr
    assert not os.path.exists(bad)


@pytest.mark.parametrize("backend", ["cufft", "vkfft", "auto", "VkFFT"])
def test_every_fft_backend_gives_the_filters_result_and_is_reported(work, backend):
    """On the GPU: the forced backend ran (cuFFT where VkFFT cannot be loaded, with the library's
    warning) and the result is the filter's (cuFFT's) within float tolerance; on the CPU: none."""
    output = os.path.join(work, f"out-{backend}.nrrd")
    parameters = os.path.join(work, f"{backend}.params")
    result = run("--returnparameterfile", parameters, "--fft-backend", backend, "--mode", "full", "--boundary",
                 "constant", os.path.join(work, "image.nrrd"), os.path.join(work, "kernel.nrrd"), output)
    assert result.returncode == 0, result.stderr
    with open(parameters) as f:
        returned = dict(line.split(" = ") for line in f.read().splitlines())
    used = returned["fftBackend"]
    if returned["computeDevice"] == "CPU":
        assert used == "none"
    elif backend.lower() == "vkfft":
        assert used == "vkfft" or (used == "cufft" and "cuFFT does these transforms" in result.stderr), result.stderr
    else:
        assert used == backend if backend != "auto" else used in ("cufft", "vkfft")
    if used != "none":
        assert f"on the GPU ({used})" in result.stdout
    check = subprocess.run([DRIVER, "itkCudaFFTConvolutionCLICompareTest", "compare", os.path.join(work, "image.nrrd"),
                            os.path.join(work, "kernel.nrrd"), output, "full", "constant", "0", "0"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_demo_writes_volumes_and_pictures(work):
    folder = os.path.join(work, "demo")
    result = run("--demo", folder, "--demo-scale", "8")
    assert result.returncode == 0, result.stderr
    assert "on the GPU" in result.stdout or "no GPU was used" in result.stdout
    for name in ("phantom", "psf", "convolved-same", "convolved-valid", "convolved-full"):
        assert os.path.getsize(os.path.join(folder, name + ".nrrd")) > 0
        with open(os.path.join(folder, name + ".png"), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
