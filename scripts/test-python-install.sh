#!/usr/bin/env bash
# `pip install cudafftconvolution[cuda]` as a user with only an NVIDIA driver meets it: the wheel
# and its [cuda] extra (cuFFT and NVRTC from PyPI) go into a fresh virtual environment, and
# scripts/check-python-install.py checks there that cuFFT and NVRTC come from those wheels and
# work, that nothing else is needed, and that a convolution runs (on the CPU without a GPU).
# CUDA_HOME, CUDA_PATH and LD_LIBRARY_PATH are cleared for it, and the toolkit hidden where it
# can be (below). The downloads (about 320 MB) are kept in ~/.cache/CudaFFTConvolution/wheelhouse:
# `pip download` skips the files already there.
# Skipped, saying so, only when PyPI cannot be reached.
#   scripts/test-python-install.sh WHEEL [WORKDIR]      default WORKDIR: the wheel's folder/..
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
wheel=$(realpath "$1")
work=${2:-$(dirname "$wheel")/..}
python=${CUDAFFT_PYTHON:-/usr/bin/python3}
wheelhouse=${CUDAFFT_WHEELHOUSE:-$HOME/.cache/CudaFFTConvolution/wheelhouse}
venv="$work/venv-install"
started=$(date +%s)

if ! "$python" -c 'import urllib.request; urllib.request.urlopen("https://pypi.org/simple/", timeout=15)' 2>/dev/null; then
  echo "SKIPPED: the [cuda] install test needs PyPI, which cannot be reached from here"
  exit 0
fi

echo "--- installing $(basename "$wheel")[cuda] into a fresh virtual environment ($(date +%T))"
rm -rf "$venv"
"$python" -m venv "$venv"
mkdir -p "$wheelhouse"
# The extra's requirements, read from the wheel (so that this test follows pyproject.toml).
mapfile -t extra < <("$venv/bin/python" - "$wheel" <<'PY'
import sys, zipfile, email.parser
with zipfile.ZipFile(sys.argv[1]) as wheel:
    name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    metadata = email.parser.Parser().parsestr(wheel.read(name).decode())
for requirement in metadata.get_all("Requires-Dist"):
    if "extra ==" not in requirement or 'extra == "cuda"' in requirement:
        print(requirement.split(";")[0].strip())
PY
)
echo "requirements: ${extra[*]}"
"$venv/bin/pip" download -q -d "$wheelhouse" "${extra[@]}"
"$venv/bin/pip" install -q --no-index --find-links "$wheelhouse" "$wheel[cuda]"

echo "--- checking it ($(date +%T))"
# A machine with only a driver: the CUDA toolkit's folders (those holding cuFFT or NVRTC on the
# loader path, and /usr/local/cuda, CUDA_HOME) are hidden behind empty mounts in a private mount
# namespace (as root, or in a user namespace), so that nothing can come from them.
toolkit=$( { { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null || true; } |
               awk '/libcufft\.so|libnvrtc/ {print $NF}' | xargs -r -n1 dirname
             for d in /usr/local/cuda "${CUDA_HOME:-}" "${CUDA_PATH:-}"; do [ -z "$d" ] || readlink -f "$d" || true; done
           } | sort -u | while read -r d; do if [ -d "$d" ]; then echo "$d"; fi; done )
namespace=()
for candidate in "unshare -m --propagation private" "unshare -r -m --propagation private"; do
  if [ -n "$toolkit" ] && $candidate true 2>/dev/null; then read -ra namespace <<<"$candidate"; break; fi
done
if [ ${#namespace[@]} -gt 0 ]; then
  echo "the toolkit hidden: $(echo $toolkit)"
else
  echo "note: no private mount namespace here (or no toolkit): the check runs with the toolkit visible"
fi
cd "$work"   # not the source tree: the installed package is imported
env -u CUDA_HOME -u CUDA_PATH -u LD_LIBRARY_PATH -u CUDAFFTCONVOLUTION_LIBRARY "${namespace[@]}" bash -c '
  for d in $1; do mount -t tmpfs -o size=1m,ro none "$d" 2>/dev/null || true; done
  for d in $1; do [ -z "$(ls -A "$d" 2>/dev/null)" ] || { echo "FAILED: $d could not be hidden"; exit 1; }; done
  exec "$2" -u "$3"' _ "$([ ${#namespace[@]} -gt 0 ] && echo $toolkit)" "$venv/bin/python" "$repo/scripts/check-python-install.py"
echo "--- the [cuda] install test took $(( $(date +%s) - started )) s"
