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
#include "itkCudaFFTConvolutionCudaSupport.h"

#include <sstream>

namespace itk
{
namespace CudaFFTConvolutionCuda
{
const char *
CufftErrorText(cufftResult result)
{
  switch (result)
  {
    case CUFFT_SUCCESS:
      return "CUFFT_SUCCESS";
    case CUFFT_INVALID_PLAN:
      return "CUFFT_INVALID_PLAN";
    case CUFFT_ALLOC_FAILED:
      return "CUFFT_ALLOC_FAILED: cuFFT failed to allocate GPU or CPU memory";
    case CUFFT_INVALID_VALUE:
      return "CUFFT_INVALID_VALUE";
    case CUFFT_INTERNAL_ERROR:
      return "CUFFT_INTERNAL_ERROR";
    case CUFFT_EXEC_FAILED:
      return "CUFFT_EXEC_FAILED: cuFFT failed to execute an FFT on the GPU";
    case CUFFT_SETUP_FAILED:
      return "CUFFT_SETUP_FAILED: the cuFFT library failed to initialize";
    case CUFFT_INVALID_SIZE:
      return "CUFFT_INVALID_SIZE";
    case CUFFT_INVALID_DEVICE:
      return "CUFFT_INVALID_DEVICE";
    case CUFFT_NO_WORKSPACE:
      return "CUFFT_NO_WORKSPACE";
    case CUFFT_NOT_IMPLEMENTED:
      return "CUFFT_NOT_IMPLEMENTED";
    case CUFFT_NOT_SUPPORTED:
      return "CUFFT_NOT_SUPPORTED";
    default:
      return "unknown cuFFT error";
  }
}

void
Check(cudaError_t result, const char * call)
{
  if (result != cudaSuccess)
  {
    cudaGetLastError(); // clear a non-sticky error so later calls are not blamed
    std::ostringstream message;
    message << call << " failed: " << cudaGetErrorName(result) << ": " << cudaGetErrorString(result);
    throw CudaFFTConvolutionEngineError(message.str(), result == cudaErrorMemoryAllocation);
  }
}

void
Check(cufftResult result, const char * call)
{
  if (result != CUFFT_SUCCESS)
  {
    std::ostringstream message;
    message << call << " failed: " << CufftErrorText(result);
    throw CudaFFTConvolutionEngineError(message.str(), result == CUFFT_ALLOC_FAILED);
  }
}

DeviceScope::DeviceScope(int device)
{
  CUDAFFT_CHECK(cudaGetDevice(&m_Previous));
  m_Device = device < 0 ? m_Previous : device;
  if (m_Device != m_Previous)
  {
    int count = 0;
    CUDAFFT_CHECK(cudaGetDeviceCount(&count));
    if (m_Device >= count)
    {
      std::ostringstream message;
      message << "CUDA device " << m_Device << " was asked for, but this machine has " << count
              << " device(s) (ordinals 0 to " << count - 1 << ")";
      throw CudaFFTConvolutionEngineError(message.str(), false);
    }
    CUDAFFT_CHECK(cudaSetDevice(m_Device));
  }
}

DeviceScope::~DeviceScope()
{
  if (m_Device != m_Previous && cudaSetDevice(m_Previous) != cudaSuccess)
  {
    cudaGetLastError();
  }
}
} // namespace CudaFFTConvolutionCuda
} // namespace itk
