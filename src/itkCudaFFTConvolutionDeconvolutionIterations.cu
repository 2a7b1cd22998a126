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
// The deconvolution run's device steps: blurs by the transfer function, the initial estimate,
// the iterations of Richardson-Lucy (accelerated, total variation) and Landweber, their
// statistics and stopping rules, and the direct methods (Inverse, Tikhonov, Wiener).
#include "itkCudaFFTConvolutionDeconvolutionRun.cuh"

namespace itk
{
template <typename T>
void
CudaFFTConvolutionEngine::DeconvolutionRun<T>::Blur(bool                               adjoint,
                                                    const CudaFFTConvolutionFFT::Box * zeroOutside,
                                                    const CudaFFTConvolutionFFT::Box * neededInside)
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

template <typename T>
void
CudaFFTConvolutionEngine::DeconvolutionRun<T>::PadData()
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

template <typename T>
void
CudaFFTConvolutionEngine::DeconvolutionRun<T>::CopyGrid(void * to, const void * from)
{
  CUDAFFT_CHECK(cudaMemcpyAsync(
    to, from, static_cast<std::uint64_t>(m_SpectrumElements) * 2 * sizeof(T), cudaMemcpyDeviceToDevice, m_Stream));
}

template <typename T>
void
CudaFFTConvolutionEngine::DeconvolutionRun<T>::ZeroStatistics()
{
  CUDAFFT_CHECK(cudaMemsetAsync(m_Statistics, 0, StatisticSlots * NumberOfStatistics * sizeof(double), m_Stream));
}

template <typename T>
void
CudaFFTConvolutionEngine::DeconvolutionRun<T>::FoldStatistics()
{
  CudaFFTConvolutionDeconvolutionKernels::FoldStatistics<<<1, StatisticSlots, 0, m_Stream>>>(m_Statistics);
  CheckLaunch("FoldStatistics");
}

template <typename T>
void
CudaFFTConvolutionEngine::DeconvolutionRun<T>::Initialize()
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

template <typename T>
void
CudaFFTConvolutionEngine::DeconvolutionRun<T>::RichardsonLucyIteration(bool measure)
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

template <typename T>
template <bool TotalVariation>
void
CudaFFTConvolutionEngine::DeconvolutionRun<T>::Update(const RowLaunch & launch, const T * weights, T lambda)
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

template <typename T>
void
CudaFFTConvolutionEngine::DeconvolutionRun<T>::LandweberIteration()
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

template <typename T>
void
CudaFFTConvolutionEngine::DeconvolutionRun<T>::ReadStatistics(IterationReport & report)
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

template <typename T>
bool
CudaFFTConvolutionEngine::DeconvolutionRun<T>::Converged(const IterationReport & report,
                                                         double                  previousDivergence) const
{
  if (m_Settings.relativeChangeTolerance > 0 && report.relativeChange < m_Settings.relativeChangeTolerance)
  {
    return true;
  }
  return m_Settings.divergenceTolerance > 0 && std::isfinite(previousDivergence) && previousDivergence > 0 &&
         (previousDivergence - report.divergence) / previousDivergence < m_Settings.divergenceTolerance;
}

template <typename T>
void
CudaFFTConvolutionEngine::DeconvolutionRun<T>::Iterate()
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

template <typename T>
void
CudaFFTConvolutionEngine::DeconvolutionRun<T>::Direct()
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

#define CUDAFFT_INSTANTIATE_DECONVOLUTION_ITERATIONS(T)                      \
  template void CudaFFTConvolutionEngine::DeconvolutionRun<T>::Initialize(); \
  template void CudaFFTConvolutionEngine::DeconvolutionRun<T>::Iterate();    \
  template void CudaFFTConvolutionEngine::DeconvolutionRun<T>::Direct()

CUDAFFT_INSTANTIATE_DECONVOLUTION_ITERATIONS(float);
CUDAFFT_INSTANTIATE_DECONVOLUTION_ITERATIONS(double);
} // namespace itk
