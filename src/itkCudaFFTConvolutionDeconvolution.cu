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
// The engine's deconvolution layer: a tile's data go to the device once, every iteration runs
// there on the device core's plans and transfer function, the output block comes back once.
#include "itkCudaFFTConvolutionDeconvolutionKernels.cuh"
#include "itkCudaFFTConvolutionEngineImpl.cuh"

#include <limits>

namespace itk
{
namespace
{
using DeconvolutionPlanner = CudaDeconvolutionPlanner;
using Algorithm = DeconvolutionPlanner::Algorithm;
using namespace CudaFFTConvolutionDeconvolutionKernels;

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

/** Copies a t0 x t1 x t2 box between pitched buffers (CropTile with a source layout). */
template <typename T>
void
CopyBox(const T *                                     source,
        const CudaFFTConvolutionPlanner::SizeArray &  sourceSize,
        const CudaFFTConvolutionPlanner::IndexArray & at,
        T *                                           destination,
        const CudaFFTConvolutionPlanner::SizeArray &  destinationSize,
        const CudaFFTConvolutionPlanner::SizeArray &  box,
        cudaStream_t                                  stream,
        long long                                     sourcePitch = 0)
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
} // namespace

/** One deconvolution on the engine's device core: its plan, settings, stream and the current
 * tile; the buffers are the engine's (kept between runs). */
template <typename T>
class CudaFFTConvolutionEngine::DeconvolutionRun
{
public:
  using Complex = typename FFTTraits<T>::Complex;
  using Tile = DeconvolutionPlanner::Tile;
  /** Puts a tile's data into the compact data buffer, ordered before the run's stream. */
  using LoadFunction = std::function<void(const Tile &)>;
  /** Writes a tile's output block from the estimate buffer (grid layout, at an offset). */
  using StoreFunction = std::function<void(const Tile &, const T * estimate, const Planner::IndexArray & offset)>;

  DeconvolutionRun(Impl &                        engine,
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

  /** Plans, transfer function and the buffers the plan needs (others are freed). */
  void
  Prepare(const KernelValues<T> & kernel)
  {
    m_Engine.PrepareTransform(m_Transform, sizeof(T), m_Stream);
    m_Engine.template EnsureSpectrum<T>(m_Transform, kernel, m_Settings.normalize, m_Stream);
    const std::uint64_t volume = static_cast<std::uint64_t>(m_SpectrumElements) * 2 * sizeof(T);
    const bool          richardsonLucy = m_Plan.algorithm == Algorithm::RichardsonLucy;
    const bool          landweber =
      m_Plan.algorithm == Algorithm::Landweber || m_Plan.algorithm == Algorithm::ProjectedLandweber;
    const bool nonCirculant = m_Plan.edges == DeconvolutionPlanner::Edges::NonCirculant;
    Need(m_Engine.m_Estimate, richardsonLucy, volume, "estimate");
    Need(
      m_Engine.m_NextEstimate, richardsonLucy && m_Plan.totalVariation && !m_Plan.accelerate, volume, "next estimate");
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

  /** Loads, deconvolves and stores one tile. */
  void
  RunTile(std::size_t t, const LoadFunction & load, const StoreFunction & store)
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

  /** The grid position of the tile's first output voxel. */
  Planner::IndexArray
  OutputOffset() const
  {
    Planner::IndexArray offset = DeconvolutionPlanner::DataOffset(m_Plan, *m_Tile);
    for (unsigned int axis = 0; axis < 3; ++axis)
    {
      offset[axis] += m_Tile->output.index[axis] - m_Tile->data.index[axis];
    }
    return offset;
  }

  /** Where the estimate the user sees lives now (x_k when accelerated; Landweber's in the FFT buffer). */
  const T *
  CurrentEstimate() const
  {
    if (m_Plan.algorithm != Algorithm::RichardsonLucy)
    {
      return Grid();
    }
    return m_Plan.accelerate ? static_cast<const T *>(m_Engine.m_Previous.pointer) : m_X;
  }

  /** Copies the current tile's output block of the current estimate into host memory. */
  void
  CopyEstimate(const HostBuffer<T> & output)
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

  /** Moves the tile's output block from a compact device block to a host buffer. */
  void
  Download(const HostBuffer<T> & output, void * block)
  {
    CudaFFTConvolutionStaging::Transfer download{ output.data, output.region, m_Tile->output, sizeof(T), block };
    m_Engine.m_Staging.Move(nullptr, m_Engine.m_Upload, &download, m_Engine.m_Download, *m_Engine.m_Workers);
    CUDAFFT_CHECK(cudaStreamSynchronize(m_Engine.m_Download));
  }

  cudaStream_t
  Stream() const
  {
    return m_Stream;
  }

  T *
  DataBuffer() const
  {
    return static_cast<T *>(m_Engine.m_Data.pointer);
  }

  const FFTLayout &
  GridLayout() const
  {
    return m_Layout;
  }

private:
  void
  Need(DeviceAllocation & buffer, bool needed, std::uint64_t bytes, const char * what)
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

  T *
  Grid() const
  {
    return static_cast<T *>(m_Engine.m_FFTBuffer.pointer);
  }

  /** The kernel's sum (after normalisation) from the transfer function's zero frequency. */
  double
  KernelSum()
  {
    Complex zero;
    CUDAFFT_CHECK(
      cudaMemcpyAsync(&zero, m_Engine.m_Spectrum.pointer, sizeof(Complex), cudaMemcpyDeviceToHost, m_Stream));
    CUDAFFT_CHECK(cudaStreamSynchronize(m_Stream));
    return static_cast<double>(zero.x) * m_Voxels;
  }

  void
  SendMaps()
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

  DataOnGrid
  Data() const
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

  // ---- device steps ------------------------------------------------------------------------
  /** \a live (optional): the grid is zero outside it. */
  void
  Forward(const CudaFFTConvolutionFFT::Box * live = nullptr)
  {
    m_Engine.m_FFT.Forward(Grid(), live);
  }

  /** \a live (optional): only the result inside it is read (the rest may be left undefined). */
  void
  Inverse(const CudaFFTConvolutionFFT::Box * live = nullptr)
  {
    m_Engine.m_FFT.Inverse(Grid(), live);
  }

  /** The tile's data on the grid (non-circulant edges: the only voxels compared with the data). */
  CudaFFTConvolutionFFT::Box
  DataBox() const
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

  Complex *
  Spectrum() const
  {
    return reinterpret_cast<Complex *>(Grid());
  }

  const Complex *
  TransferFunction() const
  {
    return static_cast<const Complex *>(m_Engine.m_Spectrum.pointer);
  }

  /** The grid = H * grid, or H^T * grid; \a zeroOutside: the grid is zero outside it on entry;
   * \a neededInside: only the result inside it is read afterwards. */
  void
  Blur(bool                               adjoint,
       const CudaFFTConvolutionFFT::Box * zeroOutside = nullptr,
       const CudaFFTConvolutionFFT::Box * neededInside = nullptr)
  {
    Forward(zeroOutside);
    if (adjoint)
    {
      MultiplyConjugate<Complex><<<BlocksFor(m_SpectrumElements), ThreadsPerBlock, 0, m_Stream>>>(
        Spectrum(), TransferFunction(), m_SpectrumElements);
      CheckLaunch("MultiplyConjugate");
    }
    else
    {
      MultiplySpectra<Complex><<<BlocksFor(m_SpectrumElements), ThreadsPerBlock, 0, m_Stream>>>(
        Spectrum(), TransferFunction(), m_SpectrumElements);
      CheckLaunch("MultiplySpectra");
    }
    Inverse(neededInside);
  }

  /** The data, extended to the grid as the plan says, into the FFT buffer. */
  void
  PadData()
  {
    const RowLaunch pad = RowsOf(m_Layout.pitch, m_Layout.f1, m_Layout.f2);
    PadTile<T><<<pad.grid, pad.block, 0, m_Stream>>>(Grid(),
                                                     m_Layout,
                                                     DataBuffer(),
                                                     static_cast<long long>(m_Tile->data.size[0]),
                                                     static_cast<long long>(m_Tile->data.size[1]),
                                                     static_cast<const long long *>(m_Engine.m_GridMaps.pointer),
                                                     static_cast<T>(m_Settings.constant));
    CheckLaunch("PadTile");
  }

  void
  CopyGrid(void * to, const void * from)
  {
    CUDAFFT_CHECK(cudaMemcpyAsync(
      to, from, static_cast<std::uint64_t>(m_SpectrumElements) * 2 * sizeof(T), cudaMemcpyDeviceToDevice, m_Stream));
  }

  void
  ZeroStatistics()
  {
    CUDAFFT_CHECK(cudaMemsetAsync(m_Statistics, 0, StatisticSlots * NumberOfStatistics * sizeof(double), m_Stream));
  }

  /** Sums the statistics' slots into the first (before anything reads them). */
  void
  FoldStatistics()
  {
    CudaFFTConvolutionDeconvolutionKernels::FoldStatistics<<<1, StatisticSlots, 0, m_Stream>>>(m_Statistics);
    CheckLaunch("FoldStatistics");
  }

  /** The initial estimate (and its copy in the FFT buffer), weights and data spectrum. */
  void
  Initialize()
  {
    const std::uint64_t bytes = static_cast<std::uint64_t>(m_SpectrumElements) * 2 * sizeof(T);
    ZeroStatistics();
    if (m_Plan.algorithm != Algorithm::RichardsonLucy)
    {
      // Landweber: G = FFT(padded data) once; the estimate starts as the padded data, kept in
      // the FFT buffer between iterations.
      PadData();
      Forward();
      CopyGrid(m_Engine.m_DataSpectrum.pointer, Grid());
      PadData();
      return;
    }
    if (m_Plan.edges == DeconvolutionPlanner::Edges::NonCirculant)
    {
      const long long dataVoxels = static_cast<long long>(m_Tile->data.NumberOfVoxels());
      SumValues<T><<<BlocksFor(dataVoxels), ThreadsPerBlock, 0, m_Stream>>>(DataBuffer(), dataVoxels, m_Statistics);
      CheckLaunch("SumValues");
      FoldStatistics();
      const RowLaunch launch = GridLaunch(m_Layout, LightRowsPerThread);
      CUDAFFT_CHECK(cudaMemsetAsync(Grid(), 0, bytes, m_Stream));
      DataMask<T><<<launch.grid, launch.block, 0, m_Stream>>>(
        Grid(), m_Layout, static_cast<const long long *>(m_Engine.m_GridMaps.pointer));
      CheckLaunch("DataMask");
      const CudaFFTConvolutionFFT::Box data = DataBox();
      Blur(true, &data);
      MakeWeights<T><<<launch.grid, launch.block, 0, m_Stream>>>(static_cast<T *>(m_Engine.m_Weights.pointer),
                                                                 m_X,
                                                                 Grid(),
                                                                 m_Layout,
                                                                 m_WeightThreshold,
                                                                 m_Statistics,
                                                                 static_cast<double>(dataVoxels));
      CheckLaunch("MakeWeights");
    }
    else
    {
      PadData(); // ITK: the first estimate is the padded input
      CopyGrid(m_X, Grid());
    }
    if (m_Plan.accelerate)
    {
      CopyGrid(m_Engine.m_Previous.pointer, m_X);
      CUDAFFT_CHECK(cudaMemsetAsync(m_Engine.m_Step.pointer, 0, bytes, m_Stream));
    }
  }

  /** Richardson-Lucy: the ratio of the data to the blurred estimate, blurred back, times the
   * estimate (the FFT buffer holds the estimate on entry and the new one on exit). */
  void
  RichardsonLucyIteration(bool measure)
  {
    const RowLaunch launch = GridLaunch(m_Layout);
    const RowLaunch light = GridLaunch(m_Layout, LightRowsPerThread);
    const bool      nonCirculant = m_Plan.edges == DeconvolutionPlanner::Edges::NonCirculant;
    const T         lambda = static_cast<T>(m_Plan.totalVariation ? m_Settings.totalVariation : 0.0);
    const T *       weights = nonCirculant ? static_cast<const T *>(m_Engine.m_Weights.pointer) : nullptr;
    // Non-circulant: the ratio is zero outside the data and reads the blurred estimate only there.
    const CudaFFTConvolutionFFT::Box   data = DataBox();
    const CudaFFTConvolutionFFT::Box * live = nonCirculant ? &data : nullptr;
    Blur(false, nullptr, live);
    RichardsonLucyRatio<T><<<light.grid, light.block, 0, m_Stream>>>(Grid(),
                                                                     m_Layout,
                                                                     Data(),
                                                                     static_cast<T>(m_Settings.constant),
                                                                     nonCirculant,
                                                                     static_cast<T>(m_Settings.divisionThreshold),
                                                                     static_cast<T>(m_Settings.background),
                                                                     measure ? m_Statistics : nullptr);
    CheckLaunch("RichardsonLucyRatio");
    Blur(true, live);
    if (lambda != T(0))
    {
      Update<true>(launch, weights, lambda);
    }
    else
    {
      Update<false>(launch, weights, lambda);
    }
  }

  /** The update of an iteration (Biggs-Andrews' two halves when accelerated); a stencil (total
   * variation) must not read what it writes, so then the plain update ping-pongs. */
  template <bool TotalVariation>
  void
  Update(const RowLaunch & launch, const T * weights, T lambda)
  {
    if (m_Plan.accelerate)
    {
      T * previous = static_cast<T *>(m_Engine.m_Previous.pointer);
      AcceleratedStep<T, TotalVariation><<<launch.grid, launch.block, 0, m_Stream>>>(
        m_X, previous, static_cast<T *>(m_Engine.m_Step.pointer), Grid(), weights, m_Layout, lambda, m_Statistics);
      CheckLaunch("AcceleratedStep");
      FoldStatistics();
      Extrapolate<T><<<launch.grid, launch.block, 0, m_Stream>>>(m_X, previous, Grid(), m_Layout, m_Statistics);
      CheckLaunch("Extrapolate");
      return;
    }
    T * next = TotalVariation ? m_XNext : m_X;
    RichardsonLucyUpdate<T, TotalVariation>
      <<<launch.grid, launch.block, 0, m_Stream>>>(m_X, next, Grid(), weights, m_Layout, lambda, m_Statistics);
    CheckLaunch("RichardsonLucyUpdate");
    if (TotalVariation)
    {
      std::swap(m_X, m_XNext);
    }
  }

  void
  LandweberIteration()
  {
    Forward();
    LandweberStep<Complex, T><<<BlocksFor(m_SpectrumElements), ThreadsPerBlock, 0, m_Stream>>>(
      Spectrum(),
      TransferFunction(),
      static_cast<const Complex *>(m_Engine.m_DataSpectrum.pointer),
      m_SpectrumElements,
      static_cast<T>(m_Settings.alpha),
      static_cast<T>(m_Voxels));
    CheckLaunch("LandweberStep");
    Inverse();
    if (m_Plan.algorithm == Algorithm::ProjectedLandweber)
    {
      const RowLaunch launch = GridLaunch(m_Layout, LightRowsPerThread);
      ClampNegative<T><<<launch.grid, launch.block, 0, m_Stream>>>(Grid(), m_Layout);
      CheckLaunch("ClampNegative");
    }
  }

  /** The statistics of the iteration just enqueued (waits for it). */
  void
  ReadStatistics(IterationReport & report)
  {
    auto * host = static_cast<double *>(m_Engine.m_HostStatistics.pointer);
    if (!m_Plan.accelerate)
    {
      FoldStatistics();
    }
    CUDAFFT_CHECK(
      cudaMemcpyAsync(host, m_Statistics, NumberOfStatistics * sizeof(double), cudaMemcpyDeviceToHost, m_Stream));
    CUDAFFT_CHECK(cudaStreamSynchronize(m_Stream));
    const bool richardsonLucy = m_Plan.algorithm == Algorithm::RichardsonLucy;
    report.relativeChange =
      richardsonLucy && host[Magnitude] > 0 ? host[Change] / host[Magnitude] : std::numeric_limits<double>::quiet_NaN();
    report.divergence = richardsonLucy && Measuring() ? host[Divergence] : std::numeric_limits<double>::quiet_NaN();
  }

  bool
  Measuring() const
  {
    return m_Settings.computeDivergence || m_Settings.divergenceTolerance > 0;
  }

  /** True when a tolerance says the tile has converged. */
  bool
  Converged(const IterationReport & report, double previousDivergence) const
  {
    if (m_Settings.relativeChangeTolerance > 0 && report.relativeChange < m_Settings.relativeChangeTolerance)
    {
      return true;
    }
    return m_Settings.divergenceTolerance > 0 && std::isfinite(previousDivergence) && previousDivergence > 0 &&
           (previousDivergence - report.divergence) / previousDivergence < m_Settings.divergenceTolerance;
  }

  void
  Iterate()
  {
    IterationReport report;
    report.tile = m_TileIndex;
    report.tiles = m_Plan.tiles.size();
    const bool   waits = static_cast<bool>(m_OnIteration) || m_Settings.relativeChangeTolerance > 0 || Measuring();
    unsigned int done = 0;
    for (; done < m_Settings.iterations; ++done)
    {
      report.iteration = done;
      if (m_OnIteration && !m_OnIteration(report))
      {
        break;
      }
      ZeroStatistics();
      if (m_Plan.algorithm == Algorithm::RichardsonLucy)
      {
        RichardsonLucyIteration(Measuring());
      }
      else
      {
        LandweberIteration();
      }
      if (waits)
      {
        const double previousDivergence = report.divergence;
        ReadStatistics(report);
        if (Converged(report, previousDivergence))
        {
          ++done;
          break;
        }
      }
    }
    m_Engine.m_LastIterations = done;
  }

  /** Inverse, Tikhonov, Wiener: one pass over the data's spectrum. */
  void
  Direct()
  {
    PadData();
    Forward();
    DirectMethod method = DirectMethod::Inverse;
    T            parameter = 0;
    if (m_Plan.algorithm == Algorithm::Tikhonov)
    {
      method = DirectMethod::Tikhonov;
      parameter = static_cast<T>(m_Settings.regularizationConstant);
    }
    else if (m_Plan.algorithm == Algorithm::Wiener)
    {
      method = DirectMethod::Wiener;
      parameter = static_cast<T>(m_Settings.noiseVariance);
    }
    DirectDeconvolution<Complex, T><<<BlocksFor(m_SpectrumElements), ThreadsPerBlock, 0, m_Stream>>>(
      Spectrum(),
      TransferFunction(),
      m_SpectrumElements,
      method,
      parameter,
      static_cast<T>(m_Settings.kernelZeroMagnitudeThreshold),
      static_cast<T>(m_Voxels));
    CheckLaunch("DirectDeconvolution");
    Inverse();
    m_Engine.m_LastIterations = 0;
  }

  Impl &                        m_Engine;
  const DeconvolutionPlan &     m_Plan;
  const DeconvolutionSettings & m_Settings;
  const IterationFunction &     m_OnIteration;
  cudaStream_t                  m_Stream;
  const Planner::Plan           m_Transform;
  const FFTLayout               m_Layout;
  const long long               m_SpectrumElements;
  const double                  m_Voxels;
  std::uint64_t                 m_MapValues{ 0 };
  double *                      m_Statistics{ nullptr };
  T *                           m_X{ nullptr };
  T *                           m_XNext{ nullptr };
  T                             m_WeightThreshold{ 0 };
  const Tile *                  m_Tile{ nullptr };
  std::size_t                   m_TileIndex{ 0 };
};

namespace
{
/** Marks a run as the one CopyCurrentEstimate reaches, for its lifetime. */
class ActiveRun
{
public:
  ActiveRun(void *& slot, unsigned int & elementSize, void * run, unsigned int size)
    : m_Slot(slot)
    , m_ElementSize(elementSize)
  {
    m_Slot = run;
    m_ElementSize = size;
  }
  ~ActiveRun()
  {
    m_Slot = nullptr;
    m_ElementSize = 0;
  }
  ActiveRun(const ActiveRun &) = delete;
  ActiveRun &
  operator=(const ActiveRun &) = delete;

private:
  void *&        m_Slot;
  unsigned int & m_ElementSize;
};
} // namespace

template <typename TValue>
void
CudaFFTConvolutionEngine::Deconvolve(const DeconvolutionPlan &        plan,
                                     const HostBuffer<const TValue> & input,
                                     const HostBuffer<TValue> &       output,
                                     const KernelValues<TValue> &     kernel,
                                     const DeconvolutionSettings &    settings,
                                     const IterationFunction &        onIteration)
{
  if (!plan.input.IsInside(input.region) || input.data == nullptr)
  {
    throw std::invalid_argument("the input buffer does not hold the deconvolution's input");
  }
  if (!plan.output.IsInside(output.region) || output.data == nullptr)
  {
    throw std::invalid_argument("the output buffer does not hold the deconvolution's output region");
  }
  Impl &                       engine = *m_Impl;
  std::unique_ptr<DeviceScope> scope;
  engine.m_LastDevice = engine.Enter(scope);
  engine.EnsureStreams();
  engine.WaitForDeviceRuns();
  try
  {
    DeconvolutionRun<TValue> run(engine, plan, settings, onIteration, engine.m_Compute);
    ActiveRun                active(engine.m_ActiveDeconvolution, engine.m_ActiveElementSize, &run, sizeof(TValue));
    run.Prepare(kernel);
    const auto load = [&](const CudaDeconvolutionPlanner::Tile & tile) {
      CudaFFTConvolutionStaging::Transfer upload{
        const_cast<TValue *>(input.data), input.region, tile.data, sizeof(TValue), run.DataBuffer()
      };
      engine.m_Staging.Move(&upload, engine.m_Upload, nullptr, engine.m_Download, *engine.m_Workers);
      CUDAFFT_CHECK(cudaEventRecord(engine.m_InputReady[0], engine.m_Upload));
      CUDAFFT_CHECK(cudaStreamWaitEvent(run.Stream(), engine.m_InputReady[0], 0));
    };
    const auto store =
      [&](const CudaDeconvolutionPlanner::Tile & tile, const TValue * estimate, const Planner::IndexArray & offset) {
        CopyBox<TValue>(estimate,
                        plan.gridSize,
                        offset,
                        run.DataBuffer(),
                        tile.output.size,
                        tile.output.size,
                        run.Stream(),
                        run.GridLayout().pitch);
        CUDAFFT_CHECK(cudaStreamSynchronize(run.Stream()));
        run.Download(output, run.DataBuffer());
      };
    for (std::size_t t = 0; t < plan.tiles.size(); ++t)
    {
      run.RunTile(t, load, store);
    }
  }
  catch (...)
  {
    engine.Drain();
    throw;
  }
}

template <typename TValue>
void
CudaFFTConvolutionEngine::DeconvolveOnDevice(const DeconvolutionPlan &          plan,
                                             const DeviceBuffer<const TValue> & input,
                                             const DeviceBuffer<TValue> &       output,
                                             const KernelValues<TValue> &       kernel,
                                             const DeconvolutionSettings &      settings,
                                             const IterationFunction &          onIteration,
                                             StreamHandle                       streamHandle)
{
  if (!plan.input.IsInside(input.region) || input.data == nullptr)
  {
    throw std::invalid_argument("the input buffer does not hold the deconvolution's input");
  }
  if (!plan.output.IsInside(output.region) || output.data == nullptr)
  {
    throw std::invalid_argument("the output buffer does not hold the deconvolution's output region");
  }
  Impl &                       engine = *m_Impl;
  const auto                   stream = static_cast<cudaStream_t>(streamHandle);
  std::unique_ptr<DeviceScope> scope;
  engine.m_LastDevice = engine.Enter(scope);
  engine.EnsureStreams();
  engine.WaitForDeviceRuns();
  try
  {
    DeconvolutionRun<TValue> run(engine, plan, settings, onIteration, stream);
    ActiveRun                active(engine.m_ActiveDeconvolution, engine.m_ActiveElementSize, &run, sizeof(TValue));
    run.Prepare(kernel);
    const auto load = [&](const CudaDeconvolutionPlanner::Tile & tile) {
      Planner::IndexArray at;
      for (unsigned int axis = 0; axis < 3; ++axis)
      {
        at[axis] = tile.data.index[axis] - input.region.index[axis];
      }
      CopyBox<TValue>(input.data, input.region.size, at, run.DataBuffer(), tile.data.size, tile.data.size, stream);
    };
    const auto store =
      [&](const CudaDeconvolutionPlanner::Tile & tile, const TValue * estimate, const Planner::IndexArray & offset) {
        TValue * to = output.data + Impl::Offset(output.region, tile.output.index);
        CopyBox<TValue>(
          estimate, plan.gridSize, offset, to, output.region.size, tile.output.size, stream, run.GridLayout().pitch);
      };
    for (std::size_t t = 0; t < plan.tiles.size(); ++t)
    {
      run.RunTile(t, load, store);
    }
    // The engine's buffers are reused by the next run on any stream: it waits for this one.
    CUDAFFT_CHECK(cudaEventRecord(engine.m_DeviceRunDone, stream));
    engine.m_DeviceRunPending = true;
  }
  catch (...)
  {
    cudaStreamSynchronize(stream);
    engine.Drain();
    throw;
  }
}

template <typename TValue>
void
CudaFFTConvolutionEngine::CopyCurrentEstimate(const HostBuffer<TValue> & output)
{
  if (m_Impl->m_ActiveDeconvolution == nullptr || m_Impl->m_ActiveElementSize != sizeof(TValue))
  {
    throw std::logic_error("CopyCurrentEstimate is only available during a deconvolution of this precision");
  }
  static_cast<DeconvolutionRun<TValue> *>(m_Impl->m_ActiveDeconvolution)->CopyEstimate(output);
}

unsigned int
CudaFFTConvolutionEngine::LastIterations() const
{
  return m_Impl->m_LastIterations;
}

#define CUDAFFT_INSTANTIATE_DECONVOLUTION(T)                                                                     \
  template CudaFFTConvolution_EXPORT void CudaFFTConvolutionEngine::Deconvolve<T>(const DeconvolutionPlan &,     \
                                                                                  const HostBuffer<const T> &,   \
                                                                                  const HostBuffer<T> &,         \
                                                                                  const KernelValues<T> &,       \
                                                                                  const DeconvolutionSettings &, \
                                                                                  const IterationFunction &);    \
  template CudaFFTConvolution_EXPORT void CudaFFTConvolutionEngine::DeconvolveOnDevice<T>(                       \
    const DeconvolutionPlan &,                                                                                   \
    const DeviceBuffer<const T> &,                                                                               \
    const DeviceBuffer<T> &,                                                                                     \
    const KernelValues<T> &,                                                                                     \
    const DeconvolutionSettings &,                                                                               \
    const IterationFunction &,                                                                                   \
    StreamHandle);                                                                                               \
  template CudaFFTConvolution_EXPORT void CudaFFTConvolutionEngine::CopyCurrentEstimate<T>(const HostBuffer<T> &)

CUDAFFT_INSTANTIATE_DECONVOLUTION(float);
CUDAFFT_INSTANTIATE_DECONVOLUTION(double);
} // namespace itk
