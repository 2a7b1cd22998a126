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
// The engine's kernel spectrum: made on the device (1/N and the normalisation folded in) and
// cached by the kernel's identity or values.
#include "itkCudaFFTConvolutionEngineImpl.cuh"

namespace itk
{
bool
CudaFFTConvolutionEngine::Impl::SameKernelValues(const void * kernel, std::uint64_t bytes)
{
  if (m_KernelValues.size() != bytes)
  {
    return false;
  }
  std::atomic<bool> same{ true };
  m_Workers->ParallelFor(bytes, 1u << 20, [&](std::uint64_t begin, std::uint64_t end) {
    if (same && std::memcmp(m_KernelValues.data() + begin, static_cast<const char *>(kernel) + begin, end - begin) != 0)
    {
      same = false;
    }
  });
  return same;
}

template <typename T>
void
CudaFFTConvolutionEngine::Impl::EnsureSpectrum(const Plan &            plan,
                                               const KernelValues<T> & kernel,
                                               bool                    normalize,
                                               cudaStream_t            stream)
{
  if (kernel.data == nullptr)
  {
    throw std::invalid_argument("no kernel values were given");
  }
  SpectrumKey key;
  key.fftSize = plan.fftSize;
  key.kernelSize = plan.kernelSize;
  key.dimension = plan.dimension;
  key.elementSize = sizeof(T);
  key.normalize = normalize;
  const std::uint64_t bytes = plan.kernelSize[0] * plan.kernelSize[1] * plan.kernelSize[2] * sizeof(T);
  const auto          start = std::chrono::steady_clock::now();
  const bool          sameKernel = m_SpectrumValid && m_SpectrumKey == key && m_KernelIdentity == kernel.identity;
  if (kernel.identity != 0)
  {
    m_ReusedSpectrum = sameKernel;
  }
  else
  {
    m_ReusedSpectrum = sameKernel && !kernel.onDevice && SameKernelValues(kernel.data, bytes);
  }
  m_KernelCheckMilliseconds = Milliseconds(start);
  if (!m_ReusedSpectrum)
  {
    m_SpectrumValid = false;
    m_KernelValues.clear();
    MakeSpectrum<T>(plan, kernel, normalize, stream);
    if (kernel.identity == 0 && !kernel.onDevice)
    {
      const char * values = reinterpret_cast<const char *>(kernel.data);
      m_KernelValues.assign(values, values + bytes);
    }
    m_KernelIdentity = kernel.identity;
    m_SpectrumKey = key;
    m_SpectrumValid = true;
  }
}

void
CudaFFTConvolutionEngine::Impl::CheckNormalizable(const double * deviceSums, cudaStream_t stream)
{
  double sums[2] = { 0, 0 };
  CUDAFFT_CHECK(cudaMemcpyAsync(sums, deviceSums, sizeof(sums), cudaMemcpyDeviceToHost, stream));
  CUDAFFT_CHECK(cudaStreamSynchronize(stream));
  if (sums[0] == 0.0 || !std::isfinite(sums[0]) || std::abs(sums[0]) <= 1e-12 * sums[1])
  {
    std::ostringstream message;
    message << "the kernel sums to " << sums[0] << " (sum of magnitudes " << sums[1] << "), so it cannot be normalized";
    throw std::invalid_argument(message.str());
  }
}

template <typename T>
void
CudaFFTConvolutionEngine::Impl::MakeSpectrum(const Plan &            plan,
                                             const KernelValues<T> & kernel,
                                             bool                    normalize,
                                             cudaStream_t            stream)
{
  const std::uint64_t bufferBytes = Planner::NumberOfSpectrumElements(plan.fftSize) * 2 * sizeof(T);
  Allocate(m_Spectrum, bufferBytes, "kernel spectrum");
  const std::uint64_t kernelVoxels = plan.kernelSize[0] * plan.kernelSize[1] * plan.kernelSize[2];
  DeviceAllocation    upload;
  try
  {
    // Two doubles for the sums first, then a host kernel's values (16 bytes keep both aligned).
    Allocate(upload, 2 * sizeof(double) + (kernel.onDevice ? 0 : kernelVoxels * sizeof(T)), "kernel");
    double *  sums = static_cast<double *>(upload.pointer);
    const T * deviceKernel = kernel.data;
    if (!kernel.onDevice)
    {
      T * values = reinterpret_cast<T *>(static_cast<char *>(upload.pointer) + 2 * sizeof(double));
      CUDAFFT_CHECK(cudaMemcpyAsync(values, kernel.data, kernelVoxels * sizeof(T), cudaMemcpyHostToDevice, stream));
      deviceKernel = values;
    }
    if (normalize)
    {
      CUDAFFT_CHECK(cudaMemsetAsync(sums, 0, 2 * sizeof(double), stream));
      SumKernel<T><<<BlocksFor(kernelVoxels), ThreadsPerBlock, 0, stream>>>(
        deviceKernel, static_cast<long long>(kernelVoxels), sums);
      CheckLaunch("SumKernel");
      CheckNormalizable(sums, stream);
    }
    CUDAFFT_CHECK(cudaMemsetAsync(m_Spectrum.pointer, 0, bufferBytes, stream));
    const double fftVoxels = static_cast<double>(plan.fftSize[0] * plan.fftSize[1] * plan.fftSize[2]);
    ScatterKernel<T>
      <<<BlocksFor(kernelVoxels), ThreadsPerBlock, 0, stream>>>(static_cast<T *>(m_Spectrum.pointer),
                                                                Layout(plan.fftSize),
                                                                deviceKernel,
                                                                static_cast<long long>(plan.kernelSize[0]),
                                                                static_cast<long long>(plan.kernelSize[1]),
                                                                static_cast<long long>(plan.kernelSize[2]),
                                                                sums,
                                                                1.0 / fftVoxels,
                                                                normalize);
    CheckLaunch("ScatterKernel");
    m_FFT.Forward(m_Spectrum.pointer);
    CUDAFFT_CHECK(cudaStreamSynchronize(stream)); // the upload buffer is freed next
  }
  catch (...)
  {
    cudaStreamSynchronize(stream);
    Free(upload);
    throw;
  }
  Free(upload);
}

#define CUDAFFT_INSTANTIATE_SPECTRUM(T)                            \
  template void CudaFFTConvolutionEngine::Impl::EnsureSpectrum<T>( \
    const Plan &, const KernelValues<T> &, bool, cudaStream_t)

CUDAFFT_INSTANTIATE_SPECTRUM(float);
CUDAFFT_INSTANTIATE_SPECTRUM(double);
} // namespace itk
