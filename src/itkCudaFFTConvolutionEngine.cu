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
#include "itkCudaFFTConvolutionEngineImpl.cuh"

namespace itk
{
CudaFFTConvolutionEngine::CudaFFTConvolutionEngine()
  : m_Impl(new Impl)
{}

CudaFFTConvolutionEngine::~CudaFFTConvolutionEngine() = default;

bool
CudaFFTConvolutionEngine::DeviceAvailable(std::string * reason, int device)
{
  int                count = 0;
  const cudaError_t  result = cudaGetDeviceCount(&count);
  std::ostringstream why;
  if (result != cudaSuccess)
  {
    cudaGetLastError();
    why << "no usable CUDA device: " << cudaGetErrorName(result) << ": " << cudaGetErrorString(result);
  }
  else if (count == 0)
  {
    why << "no CUDA device is present";
  }
  else if (device >= count)
  {
    why << "CUDA device " << device << " was asked for, but this machine has " << count << " device(s)";
  }
  if (reason != nullptr)
  {
    *reason = why.str();
  }
  return why.str().empty();
}

void
CudaFFTConvolutionEngine::DeviceMemory(std::uint64_t & freeBytes, std::uint64_t & totalBytes, int device)
{
  DeviceScope scope(device);
  std::size_t freeMemory = 0;
  std::size_t totalMemory = 0;
  CUDAFFT_CHECK(cudaMemGetInfo(&freeMemory, &totalMemory));
  freeBytes = freeMemory;
  totalBytes = totalMemory;
}

std::uint64_t
CudaFFTConvolutionEngine::StagingHostBytes()
{
  return CudaFFTConvolutionStaging::HostBytes();
}

std::uint64_t
CudaFFTConvolutionEngine::StagingChunkBytes()
{
  return CudaFFTConvolutionStaging::ChunkBytes;
}

void
CudaFFTConvolutionEngine::SetDevice(int device)
{
  m_Impl->m_Device = device < 0 ? -1 : device;
}

int
CudaFFTConvolutionEngine::GetDevice() const
{
  return m_Impl->m_Device;
}

int
CudaFFTConvolutionEngine::GetLastDevice() const
{
  return m_Impl->m_LastDevice;
}

void
CudaFFTConvolutionEngine::SetNumberOfThreads(unsigned int threads)
{
  threads = std::max(1u, threads);
  if (threads != m_Impl->m_Workers->NumberOfThreads())
  {
    m_Impl->m_Workers.reset(new CudaFFTConvolutionHostWorkers(threads));
  }
}

std::uint64_t
CudaFFTConvolutionEngine::WorkAreaBytes(const SizeArray & fftSize, unsigned int dimension, unsigned int elementSize)
{
  return WorkAreaBytes(fftSize, dimension, elementSize, DefaultFFTBackend());
}

std::uint64_t
CudaFFTConvolutionEngine::WorkAreaBytes(const SizeArray & fftSize,
                                        unsigned int      dimension,
                                        unsigned int      elementSize,
                                        FFTBackend        backend)
{
  return CudaFFTConvolutionFFT::EstimateWorkAreaBytes(fftSize, dimension, elementSize, backend);
}

void
CudaFFTConvolutionEngine::SetFFTBackend(FFTBackend backend)
{
  m_Impl->m_FFTBackend = backend;
}

CudaFFTConvolutionEngine::FFTBackend
CudaFFTConvolutionEngine::GetFFTBackend() const
{
  return m_Impl->m_FFTBackend;
}

CudaFFTConvolutionEngine::FFTBackend
CudaFFTConvolutionEngine::GetLastFFTBackend() const
{
  return m_Impl->m_LastFFTBackend;
}

CudaFFTConvolutionEngine::FFTBackend
CudaFFTConvolutionEngine::DefaultFFTBackend()
{
  return CudaFFTConvolutionFFT::DefaultBackend();
}

const char *
CudaFFTConvolutionEngine::FFTBackendName(FFTBackend backend)
{
  return CudaFFTConvolutionFFT::BackendName(backend);
}

void *
CudaFFTConvolutionEngine::AllocatePinnedHost(std::uint64_t bytes)
{
  void * pointer = nullptr;
  if (cudaMallocHost(&pointer, bytes) != cudaSuccess)
  {
    cudaGetLastError();
    return nullptr;
  }
  return pointer;
}

bool
CudaFFTConvolutionEngine::FreePinnedHost(void * pointer)
{
  if (pointer != nullptr && cudaFreeHost(pointer) != cudaSuccess)
  {
    cudaGetLastError(); // at process exit the runtime may already be gone
    return false;
  }
  return true;
}

bool
CudaFFTConvolutionEngine::IsPinnedHost(const void * pointer)
{
  return CudaFFTConvolutionStaging::IsPageLocked(pointer, 1);
}

std::uint64_t
CudaFFTConvolutionEngine::PreparePlans(const SizeArray & fftSize, unsigned int dimension, unsigned int elementSize)
{
  std::unique_ptr<DeviceScope> scope;
  m_Impl->Enter(scope);
  return m_Impl->EnsurePlans(fftSize, dimension, elementSize);
}

template <typename TValue>
bool
CudaFFTConvolutionEngine::Run(const Plan &                     plan,
                              const HostBuffer<const TValue> & input,
                              const HostBuffer<TValue> &       output,
                              const TValue *                   kernel,
                              bool                             normalize,
                              TValue                           constant,
                              const ProgressFunction &         progress)
{
  try
  {
    return m_Impl->Run<TValue>(plan, input, output, kernel, normalize, constant, progress);
  }
  catch (...)
  {
    m_Impl->Drain();
    throw;
  }
}

template <typename TValue>
void
CudaFFTConvolutionEngine::RunOnDevice(const Plan &                       plan,
                                      const DeviceBuffer<const TValue> & input,
                                      const DeviceBuffer<TValue> &       output,
                                      const KernelValues<TValue> &       kernel,
                                      bool                               normalize,
                                      TValue                             constant,
                                      StreamHandle                       stream)
{
  try
  {
    m_Impl->RunOnDevice<TValue>(plan, input, output, kernel, normalize, constant, static_cast<cudaStream_t>(stream));
  }
  catch (...)
  {
    // Tiles enqueued before the failure may still use the engine's buffers.
    cudaStreamSynchronize(static_cast<cudaStream_t>(stream));
    m_Impl->Drain();
    throw;
  }
}

bool
CudaFFTConvolutionEngine::LastRunReusedSpectrum() const
{
  return m_Impl->m_ReusedSpectrum;
}

double
CudaFFTConvolutionEngine::LastKernelCheckMilliseconds() const
{
  return m_Impl->m_KernelCheckMilliseconds;
}

void
CudaFFTConvolutionEngine::ReleaseResources()
{
  m_Impl->ReleaseOnResidentDevice();
}

std::uint64_t
CudaFFTConvolutionEngine::AllocatedDeviceBytes() const
{
  return m_Impl->m_Allocated;
}

template CudaFFTConvolution_EXPORT bool
CudaFFTConvolutionEngine::Run<float>(const Plan &,
                                     const HostBuffer<const float> &,
                                     const HostBuffer<float> &,
                                     const float *,
                                     bool,
                                     float,
                                     const ProgressFunction &);
template CudaFFTConvolution_EXPORT bool
CudaFFTConvolutionEngine::Run<double>(const Plan &,
                                      const HostBuffer<const double> &,
                                      const HostBuffer<double> &,
                                      const double *,
                                      bool,
                                      double,
                                      const ProgressFunction &);
template CudaFFTConvolution_EXPORT void
CudaFFTConvolutionEngine::RunOnDevice<float>(const Plan &,
                                             const DeviceBuffer<const float> &,
                                             const DeviceBuffer<float> &,
                                             const KernelValues<float> &,
                                             bool,
                                             float,
                                             StreamHandle);
template CudaFFTConvolution_EXPORT void
CudaFFTConvolutionEngine::RunOnDevice<double>(const Plan &,
                                              const DeviceBuffer<const double> &,
                                              const DeviceBuffer<double> &,
                                              const KernelValues<double> &,
                                              bool,
                                              double,
                                              StreamHandle);
} // namespace itk
