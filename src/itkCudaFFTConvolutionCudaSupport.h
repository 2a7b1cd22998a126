/*=========================================================================
 *
 *  Copyright NumFOCUS
 *
 *  Licensed under the Apache License, Version 2.0 (the "License");
 *  you may not use this file except in compliance with the License.
 *  You may obtain a copy of the License at
 *
 *         https://www.apache.org/licenses/LICENSE-2.0.txt
 *
 *  Unless required by applicable law or agreed to in writing, software
 *  distributed under the License is distributed on an "AS IS" BASIS,
 *  WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 *  See the License for the specific language governing permissions and
 *  limitations under the License.
 *
 *=========================================================================*/
#ifndef itkCudaFFTConvolutionCudaSupport_h
#define itkCudaFFTConvolutionCudaSupport_h

// Internal to the engine (compiled by nvcc only): CUDA and cuFFT error checks that throw
// CudaFFTConvolutionEngineError with the error text, and a scoped device selection.

#include "itkCudaFFTConvolutionEngineError.h"

#include <cuda_runtime.h>
#include <cufft.h>

namespace itk
{
namespace CudaFFTConvolutionCuda
{
const char *
CufftErrorText(cufftResult result);

/** Throws CudaFFTConvolutionEngineError naming the call and the CUDA error; clears the error. */
void
Check(cudaError_t result, const char * call);
void
Check(cufftResult result, const char * call);

/** Checks the launch of a kernel just enqueued. */
inline void
CheckLaunch(const char * kernelName)
{
  Check(cudaGetLastError(), kernelName);
}

/** Makes a device current for a scope and restores the caller's current device after it:
 * the engine must not change which device the calling thread uses. -1: the current device. */
class DeviceScope
{
public:
  explicit DeviceScope(int device);
  ~DeviceScope();
  DeviceScope(const DeviceScope &) = delete;
  DeviceScope &
  operator=(const DeviceScope &) = delete;

  int
  Device() const
  {
    return m_Device;
  }

private:
  int m_Previous{ -1 };
  int m_Device{ -1 };
};
} // namespace CudaFFTConvolutionCuda
} // namespace itk

#define CUDAFFT_CHECK(call) ::itk::CudaFFTConvolutionCuda::Check((call), #call)

#endif
