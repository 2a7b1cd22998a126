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
// The engine's device resources: the device it runs on, the device and page-locked memory it
// counts, its streams and events, and their release.
#include "itkCudaFFTConvolutionEngineImpl.cuh"

namespace itk
{
int
CudaFFTConvolutionEngine::Impl::Enter(std::unique_ptr<DeviceScope> & scope)
{
  scope.reset(new DeviceScope(m_Device));
  if (m_ResidentDevice >= 0 && m_ResidentDevice != scope->Device())
  {
    ReleaseOnResidentDevice();
  }
  m_ResidentDevice = scope->Device();
  return m_ResidentDevice;
}

void
CudaFFTConvolutionEngine::Impl::ReleaseOnResidentDevice()
{
  std::unique_ptr<DeviceScope> resident;
  if (m_ResidentDevice >= 0)
  {
    try
    {
      resident.reset(new DeviceScope(m_ResidentDevice));
    }
    catch (const CudaFFTConvolutionEngineError &)
    {}
  }
  Release();
}

void
CudaFFTConvolutionEngine::Impl::Allocate(DeviceAllocation & buffer, std::uint64_t bytes, const char * what)
{
  if (buffer.bytes >= bytes && buffer.pointer != nullptr)
  {
    return;
  }
  Free(buffer);
  const cudaError_t result = cudaMalloc(&buffer.pointer, bytes);
  if (result != cudaSuccess)
  {
    buffer.pointer = nullptr;
    cudaGetLastError();
    std::ostringstream message;
    message << "cudaMalloc of " << bytes << " bytes for the " << what << " failed: " << cudaGetErrorName(result) << ": "
            << cudaGetErrorString(result);
    throw CudaFFTConvolutionEngineError(message.str(), result == cudaErrorMemoryAllocation);
  }
  buffer.bytes = bytes;
  m_Allocated += bytes;
}

void
CudaFFTConvolutionEngine::Impl::Free(DeviceAllocation & buffer)
{
  if (buffer.pointer != nullptr)
  {
    WaitForDeviceRuns();
    cudaFree(buffer.pointer);
    m_Allocated -= buffer.bytes;
  }
  buffer = DeviceAllocation{};
}

void
CudaFFTConvolutionEngine::Impl::AllocatePinned(PinnedBuffer & buffer, std::uint64_t bytes)
{
  if (buffer.bytes >= bytes && buffer.pointer != nullptr)
  {
    return;
  }
  FreePinned(buffer);
  CUDAFFT_CHECK(cudaMallocHost(&buffer.pointer, bytes));
  buffer.bytes = bytes;
}

void
CudaFFTConvolutionEngine::Impl::FreePinned(PinnedBuffer & buffer)
{
  if (buffer.pointer != nullptr)
  {
    cudaFreeHost(buffer.pointer);
  }
  buffer = PinnedBuffer{};
}

void
CudaFFTConvolutionEngine::Impl::EnsureStreams()
{
  if (m_Compute != nullptr)
  {
    return;
  }
  CUDAFFT_CHECK(cudaStreamCreateWithFlags(&m_Compute, cudaStreamNonBlocking));
  CUDAFFT_CHECK(cudaStreamCreateWithFlags(&m_Upload, cudaStreamNonBlocking));
  CUDAFFT_CHECK(cudaStreamCreateWithFlags(&m_Download, cudaStreamNonBlocking));
  for (unsigned int slot = 0; slot < 2; ++slot)
  {
    CUDAFFT_CHECK(cudaEventCreateWithFlags(&m_InputReady[slot], cudaEventDisableTiming));
    CUDAFFT_CHECK(cudaEventCreateWithFlags(&m_ComputeDone[slot], cudaEventDisableTiming));
    CUDAFFT_CHECK(cudaEventCreateWithFlags(&m_Downloaded[slot], cudaEventDisableTiming));
  }
  CUDAFFT_CHECK(cudaEventCreateWithFlags(&m_DeviceRunDone, cudaEventDisableTiming));
}

void
CudaFFTConvolutionEngine::Impl::WaitForDeviceRuns()
{
  if (m_DeviceRunPending)
  {
    m_DeviceRunPending = false;
    CUDAFFT_CHECK(cudaEventSynchronize(m_DeviceRunDone));
  }
}

void
CudaFFTConvolutionEngine::Impl::Drain()
{
  if (m_Compute != nullptr)
  {
    cudaStreamSynchronize(m_Compute);
    cudaStreamSynchronize(m_Upload);
    cudaStreamSynchronize(m_Download);
    if (m_DeviceRunPending)
    {
      cudaEventSynchronize(m_DeviceRunDone);
      m_DeviceRunPending = false;
    }
    cudaGetLastError();
  }
}

void
CudaFFTConvolutionEngine::Impl::Release()
{
  Drain();
  DestroyPlans();
  Free(m_Spectrum);
  m_SpectrumValid = false;
  m_KernelValues.clear();
  m_KernelValues.shrink_to_fit();
  Free(m_FFTBuffer);
  m_DeviceMapsValid = false;
  ReleaseDeconvolution();
  for (unsigned int slot = 0; slot < 2; ++slot)
  {
    Free(m_Source[slot]);
    Free(m_Tile[slot]);
    Free(m_Maps[slot]);
    FreePinned(m_HostMaps[slot]);
  }
  m_Staging.Release();
  if (m_Compute != nullptr)
  {
    for (unsigned int slot = 0; slot < 2; ++slot)
    {
      cudaEventDestroy(m_InputReady[slot]);
      cudaEventDestroy(m_ComputeDone[slot]);
      cudaEventDestroy(m_Downloaded[slot]);
      m_InputReady[slot] = m_ComputeDone[slot] = m_Downloaded[slot] = nullptr;
    }
    cudaEventDestroy(m_DeviceRunDone);
    m_DeviceRunDone = nullptr;
    cudaStreamDestroy(m_Compute);
    cudaStreamDestroy(m_Upload);
    cudaStreamDestroy(m_Download);
    m_Compute = m_Upload = m_Download = nullptr;
  }
  cudaGetLastError();
  m_ResidentDevice = -1;
}

void
CudaFFTConvolutionEngine::Impl::ReleaseDeconvolution()
{
  for (DeviceAllocation * buffer :
       { &m_Estimate, &m_NextEstimate, &m_Data, &m_DataSpectrum, &m_Weights, &m_Previous, &m_Step, &m_GridMaps })
  {
    Free(*buffer);
  }
  FreePinned(m_HostStatistics);
}
} // namespace itk
