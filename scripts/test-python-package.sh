#!/usr/bin/env bash
# The pip package (python/): builds its wheel once with `python -m build`, installs it into a
# fresh virtual environment as a user would (with its [dask] extra: dask, distributed and zarr;
# NumPy, SciPy, pytest, MicroscPSF-Py (MIT: the reference of the PSF tests), PyPI's itk-core,
# nbclient, ipykernel and matplotlib, all from PyPI) and runs its tests there: GPU tests where a
# CUDA device is present, the CPU path elsewhere. The example notebook and the OME-Zarr example
# run as tests. First scripts/test-python-install.sh checks the wheel with its [cuda] extra alone
# in another fresh environment (cuFFT and NVRTC from PyPI, the CPU path without a GPU).
#   scripts/test-python-package.sh [WORKDIR]      default: <repo>/build-python-package
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$repo/build-python-package}
python=${CUDAFFT_PYTHON:-/usr/bin/python3}
"$repo/scripts/install-deps.sh" >&2
mkdir -p "$work"
export CUDACXX=${CUDACXX:-/usr/local/cuda/bin/nvcc}

echo "--- building the wheel ($(date +%T))"
rm -rf "$work/venv-build" "$work/dist"
"$python" -m venv "$work/venv-build"
"$work/venv-build/bin/pip" install -q --upgrade pip build
"$work/venv-build/bin/python" -m build --wheel --outdir "$work/dist" "$repo/python"
wheel=$(ls "$work"/dist/cudafftconvolution-*.whl)
echo "built $wheel"

# As a user with only a driver installs it: the wheel with its [cuda] extra (cuFFT, NVRTC from PyPI).
"$repo/scripts/test-python-install.sh" "$wheel" "$work"

echo "--- installing it into a fresh virtual environment ($(date +%T))"
rm -rf "$work/venv"
"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install -q --upgrade pip
"$work/venv/bin/pip" install -q "$wheel[dask]" scipy pytest MicroscPSF-Py "itk-core==5.4.*" nbclient ipykernel matplotlib

echo "--- tests ($(date +%T))"
# From the tests folder, so that the installed package (not the source tree) is imported.
cd "$repo/python/tests"
"$work/venv/bin/python" -m pytest -q -p no:cacheprovider -rs .
