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
// The engine's convolution runs: tiles staged through host buffers with uploads, computation
// and downloads overlapped, and device-resident runs enqueued on the caller's stream.
#include "itkCudaFFTConvolutionEngineImpl.cuh"

namespace itk
{
template <typename T>
bool
CudaFFTConvolutionEngine::Impl::Run(const Plan &                plan,
                                    const HostBuffer<const T> & input,
                                    const HostBuffer<T> &       output,
                                    const T *                   kernel,
                                    bool                        normalize,
                                    T                           constant,
                                    const ProgressFunction &    progress)
{
  if (plan.tiles.empty())
  {
    return true;
  }
  if (plan.elementSize != sizeof(T))
  {
    throw std::invalid_argument("the plan was made for another precision");
  }
  if (!plan.output.IsInside(output.region))
  {
    throw std::invalid_argument("the output buffer does not hold the planned output region");
  }
  if (plan.stagingSlots < 1 || plan.stagingSlots > 2)
  {
    throw std::invalid_argument("the plan asks for an unsupported number of staging slots");
  }
  std::unique_ptr<DeviceScope> scope;
  m_LastDevice = Enter(scope);
  WaitForDeviceRuns();
  m_DeviceMapsValid = false; // the slots' maps overwrite them
  PrepareBuffers(plan, sizeof(T));
  EnsureSpectrum<T>(plan, KernelValues<T>{ kernel, false, 0 }, normalize, m_Compute);
  const unsigned int slots = plan.stagingSlots;
  // Tile t is uploaded while tile t - 1 is computed (or downloaded, with one slot).
  bool completed = true;
  for (std::size_t t = 0; t < plan.tiles.size() && completed; ++t)
  {
    const unsigned int slot = static_cast<unsigned int>(t % slots);
    SendMaps(plan, plan.tiles[t], slot);
    const Planner::Tile * previous = t > 0 ? &plan.tiles[t - 1] : nullptr;
    MoveTiles<T>(input, output, &plan.tiles[t], slot, previous, static_cast<unsigned int>((t + slots - 1) % slots));
    EnqueueCompute<T>(plan, plan.tiles[t], slot, constant);
    if (t > 0 && progress)
    {
      completed = progress(static_cast<double>(t) / static_cast<double>(plan.tiles.size()));
    }
  }
  if (completed)
  {
    const std::size_t last = plan.tiles.size() - 1;
    MoveTiles<T>(input, output, nullptr, 0, &plan.tiles[last], static_cast<unsigned int>(last % slots));
  }
  CUDAFFT_CHECK(cudaStreamSynchronize(m_Compute));
  CUDAFFT_CHECK(cudaStreamSynchronize(m_Upload));
  CUDAFFT_CHECK(cudaStreamSynchronize(m_Download));
  return completed && (!progress || progress(1.0));
}

template <typename T>
void
CudaFFTConvolutionEngine::Impl::CheckDevicePlan(const Plan &                  plan,
                                                const DeviceBuffer<const T> & input,
                                                const DeviceBuffer<T> &       output)
{
  if (plan.elementSize != sizeof(T))
  {
    throw std::invalid_argument("the plan was made for another precision");
  }
  if (!plan.output.IsInside(output.region) || (!plan.tiles.empty() && output.data == nullptr))
  {
    throw std::invalid_argument("the output buffer does not hold the planned output region");
  }
  for (const Planner::Tile & tile : plan.tiles)
  {
    if (!tile.source.IsEmpty() && (!tile.source.IsInside(input.region) || input.data == nullptr))
    {
      throw std::invalid_argument("the input buffer does not hold the input region the plan reads");
    }
  }
}

template <typename T>
void
CudaFFTConvolutionEngine::Impl::RunOnDevice(const Plan &                  plan,
                                            const DeviceBuffer<const T> & input,
                                            const DeviceBuffer<T> &       output,
                                            const KernelValues<T> &       kernel,
                                            bool                          normalize,
                                            T                             constant,
                                            cudaStream_t                  stream)
{
  CheckDevicePlan<T>(plan, input, output);
  if (plan.tiles.empty())
  {
    return;
  }
  std::unique_ptr<DeviceScope> scope;
  m_LastDevice = Enter(scope);
  EnsureStreams();
  // The previous device run (perhaps on another stream) uses the same buffers: the device
  // orders this run after it; the host does not wait (a buffer that must be reallocated is
  // freed only after a host wait, in Free).
  if (m_DeviceRunPending)
  {
    CUDAFFT_CHECK(cudaStreamWaitEvent(stream, m_DeviceRunDone, 0));
  }
  PrepareTransform(plan, sizeof(T), stream);
  EnsureSpectrum<T>(plan, kernel, normalize, stream);
  const long long *   maps = EnsureDeviceMaps(plan, stream);
  const std::uint64_t mapValues = MapBytes(plan) / sizeof(long long);
  for (std::size_t t = 0; t < plan.tiles.size(); ++t)
  {
    const Planner::Tile & tile = plan.tiles[t];
    TileEnds<T>           ends;
    ends.source = tile.source.IsEmpty() ? input.data : input.data + Offset(input.region, tile.source.index);
    ends.sourceRow = static_cast<long long>(input.region.size[0]);
    ends.sourceRows = static_cast<long long>(input.region.size[1]);
    ends.maps = maps + t * mapValues;
    ends.destination = output.data + Offset(output.region, tile.output.index);
    ends.destinationRow = static_cast<long long>(output.region.size[0]);
    ends.destinationRows = static_cast<long long>(output.region.size[1]);
    ComputeTile<T>(plan, tile, ends, constant, stream);
  }
  CUDAFFT_CHECK(cudaEventRecord(m_DeviceRunDone, stream));
  m_DeviceRunPending = true;
}

#define CUDAFFT_INSTANTIATE_RUNS(T)                                                                                  \
  template bool CudaFFTConvolutionEngine::Impl::Run<T>(                                                              \
    const Plan &, const HostBuffer<const T> &, const HostBuffer<T> &, const T *, bool, T, const ProgressFunction &); \
  template void CudaFFTConvolutionEngine::Impl::RunOnDevice<T>(const Plan &,                                         \
                                                               const DeviceBuffer<const T> &,                        \
                                                               const DeviceBuffer<T> &,                              \
                                                               const KernelValues<T> &,                              \
                                                               bool,                                                 \
                                                               T,                                                    \
                                                               cudaStream_t)

CUDAFFT_INSTANTIATE_RUNS(float);
CUDAFFT_INSTANTIATE_RUNS(double);
} // namespace itk
