#!/usr/bin/env bash
# Runs the module's GPU tests on the GPU machine straight from a staged test driver (no ctest
# needed), with each test's time and exit status, then the command-line tools' tests when
# pytest is present.
#   scripts/gpu-tests.sh BIN_DIR      (holds CudaFFTConvolutionTestDriver, CudaFFTConvolution and
#                                      CudaDeconvolution, with their .xml descriptions)
set -uo pipefail
bin=$(realpath "${1:?the folder holding the staged test driver and tool}")
logs=${OUT:-/tmp}  # the device tool brings back what is written under $OUT
repo=$(cd "$(dirname "$0")/.." && pwd)
status=0
# Every test of the driver but the planner's (no GPU) and the CLI comparison (run by the CLI tests).
tests=$(sed -n 's/^ *\(itkCudaFFTConvolution[A-Za-z]*Test\)\.cxx/\1/p' "$repo/test/CMakeLists.txt" | grep -v 'Planner\|CLICompare\|KernelCache')
for test in $tests; do
  start=$(date +%s%N)
  "$bin/CudaFFTConvolutionTestDriver" "$test" gpu > "$logs/$test.log" 2>&1
  rc=$?
  printf '%-45s exit %3d  %6d ms\n' "$test" "$rc" "$(( ($(date +%s%N) - start) / 1000000 ))"
  if [ $rc -ne 0 ]; then status=1; grep -B2 -A3 FAILED "$logs/$test.log" | head -n 40; fi
done
if python3 -c 'import pytest' 2>/dev/null; then
  CUDAFFT_CLI="$bin/CudaFFTConvolution" CUDAFFT_DRIVER="$bin/CudaFFTConvolutionTestDriver" \
    CUDAFFT_XML="$repo/apps/CudaFFTConvolution.xml" CUDAFFT_WORK=/tmp/cudafft-cli-test \
    python3 -m pytest -q -p no:cacheprovider "$repo/test/cli/test_cli.py" 2>&1 | tail -n 15 || status=1
  # -rs lists the skipped tests: on the GPU machine none of the deconvolution tool's should skip.
  CUDAFFT_DECONVOLUTION_CLI="$bin/CudaDeconvolution" CUDAFFT_DECONVOLUTION_XML="$repo/apps/CudaDeconvolution.xml" \
    CUDAFFT_WORK=/tmp/cudafft-deconvolution-cli-test \
    python3 -m pytest -q -rs -p no:cacheprovider "$repo/test/cli/test_deconvolution_cli.py" 2>&1 | tail -n 25 || status=1
else
  echo "pytest is not installed here: the command-line tools' tests were not run"
fi
exit $status
