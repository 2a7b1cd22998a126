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
// The deconvolution run's buffers and tiles: what the plan needs allocated, a tile's data and
// axis maps on the grid, and its output block back to a host buffer.
#include "itkCudaFFTConvolutionDeconvolutionRun.cuh"

namespace itk
{
namespace
{
/** The transform geometry of a deconvolution plan, as the device core's plan carries it. */
CudaFFTConvolutionPlanner::Plan
TransformPlan(const DeconvolutionPlanner::Plan & plan)
{
  CudaFFTConvolutionPlanner::Plan transform;
  transform.dimension = plan.dimension;
  transform.fftSize = plan.gridSize;
  transform.kernelSize = plan.kernelSize;
  transform.elementSize = plan.elementSize;
  return transform;
}
} // namespace

namespace CudaFFTConvolutionDeconvolutionDetail
{
template <typename T>
void
CopyBox(const T *                                     source,
        const CudaFFTConvolutionPlanner::SizeArray &  sourceSize,
        const CudaFFTConvolutionPlanner::IndexArray & at,
        T *                                           destination,
        const CudaFFTConvolutionPlanner::SizeArray &  destinationSize,
        const CudaFFTConvolutionPlanner::SizeArray &  box,
        cudaStream_t                                  stream,
        long long                                     sourcePitch)
{
  FFTLayout layout;
  layout.f0 = static_cast<long long>(sourceSize[0]);
  layout.f1 = static_cast<long long>(sourceSize[1]);
  layout.f2 = static_cast<long long>(sourceSize[2]);
  layout.pitch = sourcePitch != 0 ? sourcePitch : layout.f0;
  const RowLaunch launch =
    RowsOf(static_cast<long long>(box[0]), static_cast<long long>(box[1]), static_cast<long long>(box[2]));
  CropTile<T><<<launch.grid, launch.block, 0, stream>>>(source,
                                                        layout,
                                                        at[0],
                                                        at[1],
                                                        at[2],
                                                        destination,
                                                        static_cast<long long>(box[0]),
                                                        static_cast<long long>(box[1]),
                                                        static_cast<long long>(box[2]),
                                                        static_cast<long long>(destinationSize[0]),
                                                        static_cast<long long>(destinationSize[1]));
  CheckLaunch("CropTile");
}
} // namespace CudaFFTConvolutionDeconvolutionDetail

template <typename T>
CudaFFTConvolutionEngine::DeconvolutionRun<T>::DeconvolutionRun(Impl &                        engine,
                                                                const DeconvolutionPlan &     plan,
                                                                const DeconvolutionSettings & settings,
                                                                const IterationFunction &     onIteration,
                                                                cudaStream_t                  stream)
  : m_Engine(engine)
  , m_Plan(plan)
  , m_Settings(settings)
  , m_OnIteration(onIteration)
  , m_Stream(stream)
  , m_Transform(TransformPlan(plan))
  , m_Layout(Layout(plan.gridSize))
  , m_SpectrumElements(static_cast<long long>(Planner::NumberOfSpectrumElements(plan.gridSize)))
  , m_Voxels(static_cast<double>(plan.gridSize[0] * plan.gridSize[1] * plan.gridSize[2]))
{
  if (plan.elementSize != sizeof(T))
  {
    throw std::invalid_argument("the deconvolution plan was made for another precision");
  }
}

template <typename T>
void
CudaFFTConvolutionEngine::DeconvolutionRun<T>::Prepare(const KernelValues<T> & kernel)
{
  m_Engine.PrepareTransform(m_Transform, sizeof(T), m_Stream);
  m_Engine.template EnsureSpectrum<T>(m_Transform, kernel, m_Settings.normalize, m_Stream);
  const std::uint64_t volume = static_cast<std::uint64_t>(m_SpectrumElements) * 2 * sizeof(T);
  const bool          richardsonLucy = m_Plan.algorithm == Algorithm::RichardsonLucy;
  const bool landweber = m_Plan.algorithm == Algorithm::Landweber || m_Plan.algorithm == Algorithm::ProjectedLandweber;
  const bool nonCirculant = m_Plan.edges == DeconvolutionPlanner::Edges::NonCirculant;
  Need(m_Engine.m_Estimate, richardsonLucy, volume, "estimate");
  Need(m_Engine.m_NextEstimate, richardsonLucy && m_Plan.totalVariation && !m_Plan.accelerate, volume, "next estimate");
  Need(m_Engine.m_DataSpectrum, landweber, volume, "data spectrum");
  Need(m_Engine.m_Weights, richardsonLucy && nonCirculant, volume, "weights");
  Need(m_Engine.m_Previous, m_Plan.accelerate, volume, "previous estimate");
  Need(m_Engine.m_Step, m_Plan.accelerate, volume, "previous step");
  Need(m_Engine.m_Data, true, std::max<std::uint64_t>(m_Plan.maxDataVoxels, 1) * sizeof(T), "data");
  m_MapValues = m_Plan.gridSize[0] + m_Plan.gridSize[1] + m_Plan.gridSize[2];
  Need(m_Engine.m_GridMaps,
       true,
       m_MapValues * sizeof(long long) + StatisticSlots * NumberOfStatistics * sizeof(double),
       "maps");
  Impl::AllocatePinned(m_Engine.m_HostMaps[0], m_MapValues * sizeof(long long));
  Impl::AllocatePinned(m_Engine.m_HostStatistics, NumberOfStatistics * sizeof(double));
  m_Statistics = reinterpret_cast<double *>(static_cast<long long *>(m_Engine.m_GridMaps.pointer) + m_MapValues);
  m_X = static_cast<T *>(m_Engine.m_Estimate.pointer);
  m_XNext = static_cast<T *>(m_Engine.m_NextEstimate.pointer);
  if (richardsonLucy && nonCirculant)
  {
    m_WeightThreshold = static_cast<T>(m_Settings.weightThreshold * std::abs(KernelSum()));
  }
}

template <typename T>
void
CudaFFTConvolutionEngine::DeconvolutionRun<T>::Need(DeviceAllocation & buffer,
                                                    bool               needed,
                                                    std::uint64_t      bytes,
                                                    const char *       what)
{
  if (needed)
  {
    m_Engine.Allocate(buffer, bytes, what);
  }
  else
  {
    m_Engine.Free(buffer);
  }
}

template <typename T>
double
CudaFFTConvolutionEngine::DeconvolutionRun<T>::KernelSum()
{
  Complex zero;
  CUDAFFT_CHECK(cudaMemcpyAsync(&zero, m_Engine.m_Spectrum.pointer, sizeof(Complex), cudaMemcpyDeviceToHost, m_Stream));
  CUDAFFT_CHECK(cudaStreamSynchronize(m_Stream));
  return static_cast<double>(zero.x) * m_Voxels;
}

template <typename T>
void
CudaFFTConvolutionEngine::DeconvolutionRun<T>::RunTile(std::size_t           t,
                                                       const LoadFunction &  load,
                                                       const StoreFunction & store)
{
  m_Tile = &m_Plan.tiles[t];
  m_TileIndex = t;
  load(*m_Tile);
  SendMaps();
  if (DeconvolutionPlanner::IsIterative(m_Plan.algorithm))
  {
    Initialize();
    Iterate();
  }
  else
  {
    Direct();
  }
  store(*m_Tile, CurrentEstimate(), OutputOffset());
}

template <typename T>
Planner::IndexArray
CudaFFTConvolutionEngine::DeconvolutionRun<T>::OutputOffset() const
{
  Planner::IndexArray offset = DeconvolutionPlanner::DataOffset(m_Plan, *m_Tile);
  for (unsigned int axis = 0; axis < 3; ++axis)
  {
    offset[axis] += m_Tile->output.index[axis] - m_Tile->data.index[axis];
  }
  return offset;
}

template <typename T>
const T *
CudaFFTConvolutionEngine::DeconvolutionRun<T>::CurrentEstimate() const
{
  if (m_Plan.algorithm != Algorithm::RichardsonLucy)
  {
    return Grid();
  }
  return m_Plan.accelerate ? static_cast<const T *>(m_Engine.m_Previous.pointer) : m_X;
}

template <typename T>
void
CudaFFTConvolutionEngine::DeconvolutionRun<T>::CopyEstimate(const HostBuffer<T> & output)
{
  if (!m_Tile->output.IsInside(output.region))
  {
    throw std::invalid_argument("the buffer for the current estimate does not hold the tile's output block");
  }
  DeviceAllocation block;
  try
  {
    m_Engine.Allocate(block, m_Tile->output.NumberOfVoxels() * sizeof(T), "current estimate");
    CopyBox<T>(CurrentEstimate(),
               m_Plan.gridSize,
               OutputOffset(),
               static_cast<T *>(block.pointer),
               m_Tile->output.size,
               m_Tile->output.size,
               m_Stream,
               m_Layout.pitch);
    CUDAFFT_CHECK(cudaStreamSynchronize(m_Stream));
    Download(output, block.pointer);
  }
  catch (...)
  {
    cudaStreamSynchronize(m_Stream);
    m_Engine.Free(block);
    throw;
  }
  m_Engine.Free(block);
}

template <typename T>
void
CudaFFTConvolutionEngine::DeconvolutionRun<T>::Download(const HostBuffer<T> & output, void * block)
{
  CudaFFTConvolutionStaging::Transfer download{ output.data, output.region, m_Tile->output, sizeof(T), block };
  m_Engine.m_Staging.Move(nullptr, m_Engine.m_Upload, &download, m_Engine.m_Download, *m_Engine.m_Workers);
  CUDAFFT_CHECK(cudaStreamSynchronize(m_Engine.m_Download));
}

template <typename T>
void
CudaFFTConvolutionEngine::DeconvolutionRun<T>::SendMaps()
{
  CUDAFFT_CHECK(cudaStreamSynchronize(m_Stream)); // the previous tile has read the maps
  auto *      maps = static_cast<long long *>(m_Engine.m_HostMaps[0].pointer);
  std::size_t at = 0;
  for (unsigned int axis = 0; axis < 3; ++axis)
  {
    for (const std::int64_t value : DeconvolutionPlanner::AxisDataMap(m_Plan, *m_Tile, axis))
    {
      maps[at++] = value;
    }
  }
  CUDAFFT_CHECK(
    cudaMemcpyAsync(m_Engine.m_GridMaps.pointer, maps, at * sizeof(long long), cudaMemcpyHostToDevice, m_Stream));
}

template <typename T>
DataOnGrid
CudaFFTConvolutionEngine::DeconvolutionRun<T>::Data() const
{
  DataOnGrid data;
  data.maps = static_cast<const long long *>(m_Engine.m_GridMaps.pointer);
  data.values = m_Engine.m_Data.pointer;
  data.n0 = static_cast<long long>(m_Tile->data.size[0]);
  data.n1 = static_cast<long long>(m_Tile->data.size[1]);
  const Planner::IndexArray offset = DeconvolutionPlanner::DataOffset(m_Plan, *m_Tile);
  for (unsigned int axis = 0; axis < 3; ++axis)
  {
    data.lo[axis] = offset[axis];
    data.hi[axis] = offset[axis] + static_cast<long long>(m_Tile->data.size[axis]);
  }
  return data;
}

template <typename T>
CudaFFTConvolutionFFT::Box
CudaFFTConvolutionEngine::DeconvolutionRun<T>::DataBox() const
{
  CudaFFTConvolutionFFT::Box box;
  const Planner::IndexArray  offset = DeconvolutionPlanner::DataOffset(m_Plan, *m_Tile);
  for (unsigned int axis = 0; axis < 3; ++axis)
  {
    box.index[axis] = static_cast<std::uint64_t>(offset[axis]);
    box.size[axis] = m_Tile->data.size[axis];
  }
  return box;
}

#define CUDAFFT_INSTANTIATE_DECONVOLUTION_TILES(T)                                                               \
  template void CudaFFTConvolutionDeconvolutionDetail::CopyBox<T>(const T *,                                     \
                                                                  const CudaFFTConvolutionPlanner::SizeArray &,  \
                                                                  const CudaFFTConvolutionPlanner::IndexArray &, \
                                                                  T *,                                           \
                                                                  const CudaFFTConvolutionPlanner::SizeArray &,  \
                                                                  const CudaFFTConvolutionPlanner::SizeArray &,  \
                                                                  cudaStream_t,                                  \
                                                                  long long);                                    \
  template CudaFFTConvolutionEngine::DeconvolutionRun<T>::DeconvolutionRun(                                      \
    Impl &, const DeconvolutionPlan &, const DeconvolutionSettings &, const IterationFunction &, cudaStream_t);  \
  template void CudaFFTConvolutionEngine::DeconvolutionRun<T>::Prepare(const KernelValues<T> &);                 \
  template void CudaFFTConvolutionEngine::DeconvolutionRun<T>::RunTile(                                          \
    std::size_t, const LoadFunction &, const StoreFunction &);                                                   \
  template void       CudaFFTConvolutionEngine::DeconvolutionRun<T>::CopyEstimate(const HostBuffer<T> &);        \
  template void       CudaFFTConvolutionEngine::DeconvolutionRun<T>::Download(const HostBuffer<T> &, void *);    \
  template DataOnGrid CudaFFTConvolutionEngine::DeconvolutionRun<T>::Data() const;                               \
  template CudaFFTConvolutionFFT::Box CudaFFTConvolutionEngine::DeconvolutionRun<T>::DataBox() const

CUDAFFT_INSTANTIATE_DECONVOLUTION_TILES(float);
CUDAFFT_INSTANTIATE_DECONVOLUTION_TILES(double);
} // namespace itk
