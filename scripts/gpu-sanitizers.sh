#!/usr/bin/env bash
# Runs the GPU tests under compute-sanitizer's memcheck (with leak checking), racecheck,
# initcheck and synccheck, on the GPU machine. Prints one summary line per tool and test.
#   scripts/gpu-sanitizers.sh TEST_DRIVER
set -uo pipefail
driver=${1:?the module test driver}
status=0
for tool in memcheck racecheck initcheck synccheck; do
  extra=()
  # memcheck runs every GPU test; the slower tools the small-volume ones (racecheck instruments
  # every shared-memory access of cuFFT's kernels too).
  tests=(itkCudaFFTConvolutionImageFilterTest itkCudaFFTConvolutionExceptionTest)
  if [ "$tool" = memcheck ]; then
    extra=(--leak-check full)
    tests+=(itkCudaFFTConvolutionStreamingTest itkCudaFFTConvolutionReliabilityTest itkCudaFFTConvolutionTransfersTest itkCudaFFTConvolutionDeviceTest)
  fi
  for test in "${tests[@]}"; do
    log=$(mktemp)
    api=()
    # The reliability test makes allocations fail on purpose (memory taken by another allocation).
    case "$test" in *Reliability* | *Transfers* | *Device*) api=(--report-api-errors no) ;; esac
    compute-sanitizer --tool "$tool" "${extra[@]}" "${api[@]}" --error-exitcode 99 "$driver" "$test" gpu > "$log" 2>&1
    rc=$?
    summary=$(grep -E "ERROR SUMMARY|RACECHECK SUMMARY|LEAK SUMMARY" "$log" | tr '\n' ' ')
    echo "$tool $test: exit $rc; $summary"
    [ $rc -eq 0 ] || { status=1; grep -m 20 "=========" "$log"; }
    rm -f "$log"
  done
done
exit $status
