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
// The engine's FFT plans (cached per FFT size), their shared work area, and the buffers every
// run needs.
#include "itkCudaFFTConvolutionEngineImpl.cuh"

namespace itk
{
void
CudaFFTConvolutionEngine::Impl::DestroyPlans()
{
  if (m_FFT.Valid())
  {
    WaitForDeviceRuns();
    m_FFT.Destroy();
  }
  Free(m_WorkArea);
}

std::uint64_t
CudaFFTConvolutionEngine::Impl::EnsurePlans(const SizeArray & fft, unsigned int dimension, unsigned int elementSize)
{
  if (m_FFT.Has(fft, dimension, elementSize, m_FFTBackend))
  {
    return m_FFT.WorkAreaBytes();
  }
  DestroyPlans();
  EnsureStreams();
  const std::uint64_t bytes = m_FFT.Make(fft, dimension, elementSize, m_FFTBackend);
  m_LastFFTBackend = m_FFT.UsedBackend();
  return bytes;
}

void
CudaFFTConvolutionEngine::Impl::AttachWorkArea()
{
  Allocate(m_WorkArea, std::max<std::uint64_t>(m_FFT.WorkAreaBytes(), 1), "FFT work area");
  m_FFT.AttachWorkArea(m_WorkArea.pointer);
}

void
CudaFFTConvolutionEngine::Impl::PrepareTransform(const Plan & plan, unsigned int elementSize, cudaStream_t stream)
{
  EnsurePlans(plan.fftSize, plan.dimension, elementSize);
  SetPlanStream(stream);
  AttachWorkArea();
  Allocate(m_FFTBuffer, Planner::NumberOfSpectrumElements(plan.fftSize) * 2 * elementSize, "FFT buffer");
}

void
CudaFFTConvolutionEngine::Impl::PrepareBuffers(const Plan & plan, unsigned int elementSize)
{
  EnsureStreams();
  PrepareTransform(plan, elementSize, m_Compute);
  const std::uint64_t mapBytes = MapBytes(plan);
  for (unsigned int slot = 0; slot < plan.stagingSlots; ++slot)
  {
    Allocate(m_Source[slot], std::max<std::uint64_t>(plan.maxSourceVoxels, 1) * elementSize, "input tile");
    Allocate(m_Tile[slot], std::max<std::uint64_t>(plan.maxTileVoxels, 1) * elementSize, "output tile");
    Allocate(m_Maps[slot], mapBytes, "axis maps");
    AllocatePinned(m_HostMaps[slot], mapBytes);
  }
}
} // namespace itk
