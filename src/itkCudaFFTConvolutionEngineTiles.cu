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
// One tile on the engine's device core: its axis maps (sent per tile, or all at once for a
// device-resident run), its pad / transform / multiply / crop, and its moves through staging.
#include "itkCudaFFTConvolutionEngineImpl.cuh"

namespace itk
{
void
CudaFFTConvolutionEngine::Impl::SendMaps(const Plan & plan, const Planner::Tile & tile, unsigned int slot)
{
  // Tile t - slots has finished reading this slot's maps and source block.
  CUDAFFT_CHECK(cudaEventSynchronize(m_ComputeDone[slot]));
  auto *      maps = static_cast<long long *>(m_HostMaps[slot].pointer);
  std::size_t at = 0;
  for (unsigned int axis = 0; axis < 3; ++axis)
  {
    for (const std::int64_t value : Planner::AxisSourceMap(plan, tile, axis))
    {
      maps[at++] = value;
    }
  }
  CUDAFFT_CHECK(cudaMemcpyAsync(m_Maps[slot].pointer, maps, at * sizeof(long long), cudaMemcpyHostToDevice, m_Upload));
}

const long long *
CudaFFTConvolutionEngine::Impl::FillAllMaps(const Plan & plan)
{
  const std::uint64_t mapValues = MapBytes(plan) / sizeof(long long);
  AllocatePinned(m_HostMaps[0], std::max<std::uint64_t>(plan.tiles.size() * MapBytes(plan), 1));
  auto * maps = static_cast<long long *>(m_HostMaps[0].pointer);
  for (std::size_t t = 0; t < plan.tiles.size(); ++t)
  {
    long long * at = maps + t * mapValues;
    for (unsigned int axis = 0; axis < 3; ++axis)
    {
      for (const std::int64_t value : Planner::AxisSourceMap(plan, plan.tiles[t], axis))
      {
        *at++ = value;
      }
    }
  }
  return maps;
}

bool
CudaFFTConvolutionEngine::Impl::HasDeviceMaps(const Plan & plan) const
{
  if (!m_DeviceMapsValid || m_DeviceMapsPlan.fftSize != plan.fftSize || m_DeviceMapsPlan.boundary != plan.boundary ||
      m_DeviceMapsPlan.kernelSize != plan.kernelSize || m_DeviceMapsPlan.inputLargest != plan.inputLargest ||
      m_DeviceMapsPlan.tiles.size() != plan.tiles.size())
  {
    return false;
  }
  for (std::size_t t = 0; t < plan.tiles.size(); ++t)
  {
    const Planner::Tile & a = m_DeviceMapsPlan.tiles[t];
    const Planner::Tile & b = plan.tiles[t];
    if (a.output != b.output || a.source != b.source || a.windowIndex != b.windowIndex)
    {
      return false;
    }
  }
  return true;
}

const long long *
CudaFFTConvolutionEngine::Impl::EnsureDeviceMaps(const Plan & plan, cudaStream_t stream)
{
  if (HasDeviceMaps(plan))
  {
    return static_cast<const long long *>(m_Maps[0].pointer);
  }
  WaitForDeviceRuns(); // the page-locked maps are about to be rewritten
  m_DeviceMapsValid = false;
  const std::uint64_t bytes = std::max<std::size_t>(plan.tiles.size(), 1) * MapBytes(plan);
  Allocate(m_Maps[0], bytes, "axis maps");
  const long long * hostMaps = FillAllMaps(plan);
  CUDAFFT_CHECK(
    cudaMemcpyAsync(m_Maps[0].pointer, hostMaps, plan.tiles.size() * MapBytes(plan), cudaMemcpyHostToDevice, stream));
  m_DeviceMapsPlan.fftSize = plan.fftSize;
  m_DeviceMapsPlan.boundary = plan.boundary;
  m_DeviceMapsPlan.kernelSize = plan.kernelSize;
  m_DeviceMapsPlan.inputLargest = plan.inputLargest;
  m_DeviceMapsPlan.tiles = plan.tiles;
  m_DeviceMapsValid = true;
  return static_cast<const long long *>(m_Maps[0].pointer);
}

bool
CudaFFTConvolutionEngine::Impl::NonZeroBox(const Plan &                 plan,
                                           const Planner::Tile &        tile,
                                           double                       constant,
                                           CudaFFTConvolutionFFT::Box & box)
{
  if (plan.boundary != Planner::Boundary::Constant || constant != 0)
  {
    return false;
  }
  for (unsigned int axis = 0; axis < Planner::MaximumDimension; ++axis)
  {
    const std::vector<std::int64_t> map = Planner::AxisSourceMap(plan, tile, axis);
    const auto                      first = std::find_if(map.begin(), map.end(), [](std::int64_t i) { return i >= 0; });
    const auto last = std::find_if(map.rbegin(), map.rend(), [](std::int64_t i) { return i >= 0; });
    if (first == map.end())
    {
      return false;
    }
    box.index[axis] = static_cast<std::uint64_t>(first - map.begin());
    box.size[axis] = static_cast<std::uint64_t>(map.rend() - last) - box.index[axis];
  }
  return true;
}

template <typename T>
void
CudaFFTConvolutionEngine::Impl::ComputeTile(const Plan &          plan,
                                            const Planner::Tile & tile,
                                            const TileEnds<T> &   ends,
                                            T                     constant,
                                            cudaStream_t          stream)
{
  using Complex = typename FFTTraits<T>::Complex;
  const FFTLayout     layout = Layout(plan.fftSize);
  const std::uint64_t spectrumElements = Planner::NumberOfSpectrumElements(plan.fftSize);
  T *                 fft = static_cast<T *>(m_FFTBuffer.pointer);
  const RowLaunch     pad = RowsOf(layout.pitch, layout.f1, layout.f2);
  PadTile<T><<<pad.grid, pad.block, 0, stream>>>(
    fft, layout, ends.source, ends.sourceRow, ends.sourceRows, ends.maps, constant);
  CheckLaunch("PadTile");
  CudaFFTConvolutionFFT::Box nonZero;
  const bool                 zeroOutside = NonZeroBox(plan, tile, static_cast<double>(constant), nonZero);
  m_FFT.Forward(fft, zeroOutside ? &nonZero : nullptr);
  MultiplySpectra<Complex>
    <<<BlocksFor(spectrumElements), ThreadsPerBlock, 0, stream>>>(reinterpret_cast<Complex *>(fft),
                                                                  static_cast<const Complex *>(m_Spectrum.pointer),
                                                                  static_cast<long long>(spectrumElements));
  CheckLaunch("MultiplySpectra");
  const auto                 crop = Planner::CropOffset(plan.kernelSize);
  CudaFFTConvolutionFFT::Box cropped;
  for (unsigned int axis = 0; axis < Planner::MaximumDimension; ++axis)
  {
    cropped.index[axis] = static_cast<std::uint64_t>(crop[axis]);
    cropped.size[axis] = tile.output.size[axis];
  }
  m_FFT.Inverse(fft, &cropped);
  const RowLaunch cropLaunch = RowsOf(static_cast<long long>(tile.output.size[0]),
                                      static_cast<long long>(tile.output.size[1]),
                                      static_cast<long long>(tile.output.size[2]));
  CropTile<T><<<cropLaunch.grid, cropLaunch.block, 0, stream>>>(fft,
                                                                layout,
                                                                crop[0],
                                                                crop[1],
                                                                crop[2],
                                                                ends.destination,
                                                                static_cast<long long>(tile.output.size[0]),
                                                                static_cast<long long>(tile.output.size[1]),
                                                                static_cast<long long>(tile.output.size[2]),
                                                                ends.destinationRow,
                                                                ends.destinationRows);
  CheckLaunch("CropTile");
}

template <typename T>
void
CudaFFTConvolutionEngine::Impl::EnqueueCompute(const Plan &          plan,
                                               const Planner::Tile & tile,
                                               unsigned int          slot,
                                               T                     constant)
{
  CUDAFFT_CHECK(cudaEventRecord(m_InputReady[slot], m_Upload));
  CUDAFFT_CHECK(cudaStreamWaitEvent(m_Compute, m_InputReady[slot], 0));
  CUDAFFT_CHECK(cudaStreamWaitEvent(m_Compute, m_Downloaded[slot], 0));
  TileEnds<T> ends;
  ends.source = static_cast<const T *>(m_Source[slot].pointer);
  ends.sourceRow = static_cast<long long>(tile.source.size[0]);
  ends.sourceRows = static_cast<long long>(tile.source.size[1]);
  ends.maps = static_cast<const long long *>(m_Maps[slot].pointer);
  ends.destination = static_cast<T *>(m_Tile[slot].pointer);
  ends.destinationRow = static_cast<long long>(tile.output.size[0]);
  ends.destinationRows = static_cast<long long>(tile.output.size[1]);
  ComputeTile<T>(plan, tile, ends, constant, m_Compute);
  CUDAFFT_CHECK(cudaEventRecord(m_ComputeDone[slot], m_Compute));
}

template <typename T>
void
CudaFFTConvolutionEngine::Impl::MoveTiles(const HostBuffer<const T> & input,
                                          const HostBuffer<T> &       output,
                                          const Planner::Tile *       up,
                                          unsigned int                upSlot,
                                          const Planner::Tile *       down,
                                          unsigned int                downSlot)
{
  CudaFFTConvolutionStaging::Transfer upload;
  CudaFFTConvolutionStaging::Transfer download;
  const bool                          uploading = up != nullptr && !up->source.IsEmpty();
  if (uploading)
  {
    upload = { const_cast<T *>(input.data), input.region, up->source, sizeof(T), m_Source[upSlot].pointer };
  }
  if (down != nullptr)
  {
    download = { output.data, output.region, down->output, sizeof(T), m_Tile[downSlot].pointer };
    CUDAFFT_CHECK(cudaStreamWaitEvent(m_Download, m_ComputeDone[downSlot], 0));
  }
  m_Staging.Move(
    uploading ? &upload : nullptr, m_Upload, down != nullptr ? &download : nullptr, m_Download, *m_Workers);
  if (down != nullptr)
  {
    CUDAFFT_CHECK(cudaEventRecord(m_Downloaded[downSlot], m_Download));
  }
}

#define CUDAFFT_INSTANTIATE_TILES(T)                                                      \
  template void CudaFFTConvolutionEngine::Impl::ComputeTile<T>(                           \
    const Plan &, const Planner::Tile &, const TileEnds<T> &, T, cudaStream_t);           \
  template void CudaFFTConvolutionEngine::Impl::EnqueueCompute<T>(                        \
    const Plan &, const Planner::Tile &, unsigned int, T);                                \
  template void CudaFFTConvolutionEngine::Impl::MoveTiles<T>(const HostBuffer<const T> &, \
                                                             const HostBuffer<T> &,       \
                                                             const Planner::Tile *,       \
                                                             unsigned int,                \
                                                             const Planner::Tile *,       \
                                                             unsigned int)

CUDAFFT_INSTANTIATE_TILES(float);
CUDAFFT_INSTANTIATE_TILES(double);
} // namespace itk
