#!/usr/bin/env bash
# On the GPU machine (Python with NumPy, SciPy, CuPy, PyTorch and pytest; no network): installs a
# built wheel into a fresh virtual environment that sees the system's packages, then runs the
# package's tests (GPU tests included) and, with --benchmark, its benchmark.
#   scripts/gpu-python.sh WHEEL_DIR [--benchmark ARGS...]
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
wheels=$(realpath "${1:?the folder holding the wheel}"); shift
venv=/tmp/cudafft-venv
rm -rf "$venv"
python3 -m venv --system-site-packages "$venv"
# The machine's python3 may itself live in a virtual environment: see its packages too.
parent=$(python3 -c 'import site; print(site.getsitepackages()[0])')
echo "$parent" > "$("$venv/bin/python" -c 'import site; print(site.getsitepackages()[0])')/parent-environment.pth"
"$venv/bin/pip" install -q --no-index --no-deps "$wheels"/cudafftconvolution-*.whl || exit 1
extra=$(ls "$wheels"/itk_core-*.whl 2>/dev/null)
[ -z "$extra" ] || "$venv/bin/pip" install -q --no-index --no-deps $extra
cd "$repo/python/tests"
"$venv/bin/python" -c 'import cudafftconvolution as c; print("GPU:", c.gpu_available(), c.gpu_unavailable_reason(), "cuFFT from", c.CUFFT_SOURCE)'
if [ "${1:-}" = --benchmark ]; then
  shift
  exec "$venv/bin/python" "$repo/python/benchmarks/benchmark.py" "$@"
fi
"$venv/bin/python" -m pytest -q -p no:cacheprovider -rs . 2>&1 | tail -n 40
