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
#ifndef itkCudaFFTConvolutionDeconvolutionKernels_cuh
#define itkCudaFFTConvolutionDeconvolutionKernels_cuh

// Internal to the engine: the fused elementwise steps of the deconvolution layer. Real-valued
// steps run over the grid's voxels (x < F0 of each row of the in-place FFT layout); spectral
// steps over the half-complex spectrum. The transfer function S is H / N (H the unnormalised
// FFT of the shifted kernel, N the grid's voxels), so an unnormalised inverse FFT of X * S is the
// convolution. Sums go to double statistics, one atomic per block.

#include "itkCudaFFTConvolutionKernels.cuh"

namespace itk
{
namespace CudaFFTConvolutionDeconvolutionKernels
{
using CudaFFTConvolutionKernels::FFTLayout;
using CudaFFTConvolutionKernels::RowLaunch;
using CudaFFTConvolutionKernels::ThreadsPerBlock;

/** Slots of the statistics a deconvolution iteration accumulates on the device. */
enum Statistic
{
  Divergence = 0,  //!< I-divergence of the data from the blurred estimate
  Change = 1,      //!< sum |x_k+1 - x_k|
  Magnitude = 2,   //!< sum |x_k|
  StepProduct = 3, //!< Biggs-Andrews: sum g_k g_k-1
  StepSquare = 4,  //!< Biggs-Andrews: sum g_k-1 g_k-1
  DataSum = 5,     //!< sum of the data (the non-circulant initial estimate)
  NumberOfStatistics = 8
};

/** Blocks add their sums into one of this many copies of the statistics (so that hundreds of
 * thousands of blocks do not queue on one address); FoldStatistics sums them into the first. */
constexpr unsigned int StatisticSlots = 64;

/** A launch over the grid's voxels, consecutive blocks on consecutive rows. With one row per
 * thread every thread takes about one voxel: best for steps that move many bytes per voxel (the
 * updates). Steps that move few (the ratio, masks) spend more instructions on the loops' index
 * arithmetic than on their bytes: there a block's threads walk along whole rows and each thread
 * takes \p rowsPerThread rows (measured on the H100: the ratio 1.07 -> 0.53 ms, the updates
 * slower). */
inline RowLaunch
GridLaunch(const FFTLayout & layout, unsigned int rowsPerThread = 1)
{
  RowLaunch launch = CudaFFTConvolutionKernels::RowsOf(layout.f0, layout.f1, layout.f2);
  if (rowsPerThread > 1)
  {
    launch.grid.x = 1;
    const long long rowsPerBlock = static_cast<long long>(launch.block.y) * rowsPerThread;
    launch.grid.y =
      static_cast<unsigned int>(std::min<long long>((layout.f1 + rowsPerBlock - 1) / rowsPerBlock, 65535));
  }
  return launch;
}

/** Rows per thread for the steps that move few bytes per voxel. */
constexpr unsigned int LightRowsPerThread = 4;

/** Adds a block's values into statistic \p which of its slot (every thread of the block must call). */
__device__ inline void
BlockAdd(double value, double * statistics, unsigned int which)
{
  __shared__ double warpSums[ThreadsPerBlock / 32];
  for (int offset = 16; offset > 0; offset /= 2)
  {
    value += __shfl_down_sync(0xffffffffu, value, offset);
  }
  const unsigned int thread = threadIdx.y * blockDim.x + threadIdx.x;
  if (thread % 32 == 0)
  {
    warpSums[thread / 32] = value;
  }
  __syncthreads();
  if (thread == 0)
  {
    double sum = 0;
    for (unsigned int w = 0; w < (blockDim.x * blockDim.y + 31) / 32; ++w)
    {
      sum += warpSums[w];
    }
    const unsigned int slot = (blockIdx.x + 7 * blockIdx.y + 13 * blockIdx.z) % StatisticSlots;
    atomicAdd(statistics + slot * NumberOfStatistics + which, sum);
  }
  __syncthreads();
}

/** Sums every statistic's slots into slot 0 (one block of StatisticSlots threads per statistic).
 * Static: not a template, and several of the engine's sources include this header. */
static __global__ void
FoldStatistics(double * statistics)
{
  __shared__ double values[StatisticSlots];
  for (unsigned int which = 0; which < NumberOfStatistics; ++which)
  {
    values[threadIdx.x] = statistics[threadIdx.x * NumberOfStatistics + which];
    __syncthreads();
    for (unsigned int half = StatisticSlots / 2; half > 0; half /= 2)
    {
      if (threadIdx.x < half)
      {
        values[threadIdx.x] += values[threadIdx.x + half];
      }
      __syncthreads();
    }
    if (threadIdx.x == 0)
    {
      statistics[which] = values[0];
    }
    else
    {
      statistics[threadIdx.x * NumberOfStatistics + which] = 0;
    }
    __syncthreads();
  }
}

/** The grid's voxels, each loop grid-strided (GridLaunch gives a thread about one voxel): body
 * sees p0, p1, p2 and p, the voxel's index in the in-place layout. */
#define CUDAFFT_FOR_EACH_VOXEL(layout, body)                                                               \
  for (long long p2 = blockIdx.z; p2 < (layout).f2; p2 += gridDim.z)                                       \
  {                                                                                                        \
    for (long long p1 = blockIdx.y * static_cast<long long>(blockDim.y) + threadIdx.y; p1 < (layout).f1;   \
         p1 += static_cast<long long>(gridDim.y) * blockDim.y)                                             \
    {                                                                                                      \
      const long long rowStart = (p2 * (layout).f1 + p1) * (layout).pitch;                                 \
      for (long long p0 = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; p0 < (layout).f0; \
           p0 += static_cast<long long>(gridDim.x) * blockDim.x)                                           \
      {                                                                                                    \
        const long long p = rowStart + p0;                                                                 \
        body                                                                                               \
      }                                                                                                    \
    }                                                                                                      \
  }

/** Where the tile's data lie on the grid: per-axis maps (offset in the data block or -1), the
 * data block's row length and rows, and the grid box of the data proper [lo, hi). */
struct DataOnGrid
{
  const long long * maps{ nullptr };
  const void *      values{ nullptr };
  long long         n0{ 1 };
  long long         n1{ 1 };
  long long         lo[3]{ 0, 0, 0 };
  long long         hi[3]{ 1, 1, 1 };
};

template <typename TComplex>
__global__ void
MultiplyConjugate(TComplex * __restrict__ data, const TComplex * __restrict__ spectrum, long long count)
{
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
  {
    const TComplex a = data[i];
    const TComplex b = spectrum[i];
    TComplex       product;
    product.x = a.x * b.x + a.y * b.y;
    product.y = a.y * b.x - a.x * b.y;
    data[i] = product;
  }
}

/** Richardson-Lucy's ratio, in place over the blurred estimate: observed / (blurred +
 * background), 0 where that denominator is below \p threshold (ITK's DivideOrZeroOut). Outside
 * the data the observed value is \p constant, or, when \p masked (non-circulant), the ratio is 0.
 * With \p statistics, adds the I-divergence over the data proper. */
template <typename T>
__global__ void
RichardsonLucyRatio(T * __restrict__ grid,
                    FFTLayout  layout,
                    DataOnGrid data,
                    T          constant,
                    bool       masked,
                    T          threshold,
                    T          background,
                    double *   statistics)
{
  const T *         observed = static_cast<const T *>(data.values);
  const long long * map0 = data.maps;
  const long long * map1 = map0 + layout.f0;
  const long long * map2 = map1 + layout.f1;
  double            divergence = 0;
  CUDAFFT_FOR_EACH_VOXEL(layout, {
    const long long i0 = map0[p0];
    const long long i1 = map1[p1];
    const long long i2 = map2[p2];
    const bool      inside = i0 >= 0 && i1 >= 0 && i2 >= 0;
    if (!inside && masked)
    {
      grid[p] = T(0);
      continue;
    }
    const T d = inside ? observed[(i2 * data.n1 + i1) * data.n0 + i0] : constant;
    const T blurred = grid[p] + background;
    grid[p] = blurred < threshold ? T(0) : d / blurred;
    if (statistics != nullptr && p0 >= data.lo[0] && p0 < data.hi[0] && p1 >= data.lo[1] && p1 < data.hi[1] &&
        p2 >= data.lo[2] && p2 < data.hi[2] && blurred > T(0))
    {
      const double b = static_cast<double>(blurred);
      const double o = static_cast<double>(d);
      divergence += o > 0 ? o * log(o / b) - o + b : b;
    }
  })
  if (statistics != nullptr)
  {
    BlockAdd(divergence, statistics, Divergence);
  }
}

/** Total variation's factor 1 / (1 - lambda div(grad x / |grad x|)) at a voxel (Dey et al.
 * 2006), forward differences for the gradient and backward ones for the divergence, clamped at
 * the grid's faces. */
template <typename T>
__device__ inline T
TotalVariationFactor(const T * x, const FFTLayout & layout, long long p0, long long p1, long long p2, T lambda)
{
  const long long stride[3] = { 1, layout.pitch, layout.pitch * layout.f1 };
  const long long extent[3] = { layout.f0, layout.f1, layout.f2 };
  const long long at[3] = { p0, p1, p2 };
  const long long p = p2 * stride[2] + p1 * stride[1] + p0;
  // Normalised forward gradient at q, component `axis`.
  auto component = [&](long long q, const long long * position, unsigned int axis) -> T {
    T g[3] = { 0, 0, 0 };
    T norm = T(1e-6);
    for (unsigned int a = 0; a < 3; ++a)
    {
      g[a] = position[a] + 1 < extent[a] ? x[q + stride[a]] - x[q] : T(0);
      norm += g[a] * g[a];
    }
    return g[axis] / sqrt(norm);
  };
  T divergence = 0;
  for (unsigned int axis = 0; axis < 3; ++axis)
  {
    if (extent[axis] == 1)
    {
      continue;
    }
    divergence += component(p, at, axis);
    if (at[axis] > 0)
    {
      long long before[3] = { at[0], at[1], at[2] };
      before[axis] -= 1;
      divergence -= component(p - stride[axis], before, axis);
    }
  }
  const T denominator = T(1) - lambda * divergence;
  return denominator > T(1e-3) ? T(1) / denominator : T(1e3);
}

/** The correction H^T (d / Hx) is non-negative for non-negative data; the transforms' rounding
 * leaves values of about -1e-7 of its scale where it is near 0 (far from the data, or outside it
 * with non-circulant edges), which would make the estimate negative. */
template <typename T>
__device__ inline T
NonNegative(T correction)
{
  return correction > T(0) ? correction : T(0);
}

/** Richardson-Lucy's update: x_new = x * correction * weight (* the total-variation factor),
 * written to \p next (x itself when no stencil reads it) and to the FFT buffer for the next
 * forward transform. Adds sum |x_new - x| and sum |x|. */
template <typename T, bool TotalVariation>
__global__ void
RichardsonLucyUpdate(const T * estimate,
                     T *       next,
                     T * __restrict__ grid,
                     const T * __restrict__ weights,
                     FFTLayout layout,
                     T         lambda,
                     double *  statistics)
{
  double change = 0;
  double magnitude = 0;
  CUDAFFT_FOR_EACH_VOXEL(layout, {
    const T x = estimate[p];
    T       value = x * NonNegative(grid[p]);
    if (weights != nullptr)
    {
      value *= weights[p];
    }
    if (TotalVariation)
    {
      value *= TotalVariationFactor(estimate, layout, p0, p1, p2, lambda);
    }
    next[p] = value;
    grid[p] = value;
    change += fabs(static_cast<double>(value) - static_cast<double>(x));
    magnitude += fabs(static_cast<double>(x));
  })
  BlockAdd(change, statistics, Change);
  BlockAdd(magnitude, statistics, Magnitude);
}

/** Biggs-Andrews, first half: the Richardson-Lucy step from the extrapolated point y,
 * x_new = y * correction * weight (* TV), into the FFT buffer; its step g = x_new - y replaces
 * the previous one after their products are summed. Adds sum |x_new - x_k| and sum |x_k|. */
template <typename T, bool TotalVariation>
__global__ void
AcceleratedStep(const T * __restrict__ extrapolated,
                const T * __restrict__ previous,
                T * __restrict__ step,
                T * __restrict__ grid,
                const T * __restrict__ weights,
                FFTLayout layout,
                T         lambda,
                double *  statistics)
{
  double product = 0;
  double square = 0;
  double change = 0;
  double magnitude = 0;
  CUDAFFT_FOR_EACH_VOXEL(layout, {
    const T y = extrapolated[p];
    T       value = y * NonNegative(grid[p]);
    if (weights != nullptr)
    {
      value *= weights[p];
    }
    if (TotalVariation)
    {
      value *= TotalVariationFactor(extrapolated, layout, p0, p1, p2, lambda);
    }
    const T g = value - y;
    const T before = step[p];
    product += static_cast<double>(g) * static_cast<double>(before);
    square += static_cast<double>(before) * static_cast<double>(before);
    step[p] = g;
    grid[p] = value;
    change += fabs(static_cast<double>(value) - static_cast<double>(previous[p]));
    magnitude += fabs(static_cast<double>(previous[p]));
  })
  BlockAdd(product, statistics, StepProduct);
  BlockAdd(square, statistics, StepSquare);
  BlockAdd(change, statistics, Change);
  BlockAdd(magnitude, statistics, Magnitude);
}

/** Biggs-Andrews, second half: alpha = sum g_k g_k-1 / sum g_k-1^2 clamped to [0, 1), then
 * y = max(x_new + alpha (x_new - x_k), 0); x_k becomes x_new, y goes to the FFT buffer. */
template <typename T>
__global__ void
Extrapolate(T * __restrict__ extrapolated,
            T * __restrict__ previous,
            T * __restrict__ grid,
            FFTLayout      layout,
            const double * statistics)
{
  const double square = statistics[StepSquare];
  const double ratio = square > 0 ? statistics[StepProduct] / square : 0.0;
  const T      alpha = static_cast<T>(ratio < 0 ? 0.0 : (ratio > 0.999 ? 0.999 : ratio));
  CUDAFFT_FOR_EACH_VOXEL(layout, {
    const T x = grid[p];
    const T y = x + alpha * (x - previous[p]);
    previous[p] = x;
    extrapolated[p] = y > T(0) ? y : T(0);
    grid[p] = extrapolated[p];
  })
}

/** Landweber's step in the Fourier domain (ITK's LandweberMethod), then 1/N for the inverse:
 * F' = (alpha conj(H) G + (1 - alpha |H|^2) F) / N with H = N S. */
template <typename TComplex, typename T>
__global__ void
LandweberStep(TComplex * __restrict__ estimate,
              const TComplex * __restrict__ spectrum,
              const TComplex * __restrict__ dataSpectrum,
              long long count,
              T         alpha,
              T         voxels)
{
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
  {
    const TComplex f = estimate[i];
    const TComplex g = dataSpectrum[i];
    const T        hx = spectrum[i].x * voxels;
    const T        hy = spectrum[i].y * voxels;
    const T        keep = T(1) - alpha * (hx * hx + hy * hy);
    TComplex       out;
    out.x = (alpha * (hx * g.x + hy * g.y) + keep * f.x) / voxels;
    out.y = (alpha * (hx * g.y - hy * g.x) + keep * f.y) / voxels;
    estimate[i] = out;
  }
}

/** ProjectedLandweber: negative values become 0. */
template <typename T>
__global__ void
ClampNegative(T * __restrict__ grid, FFTLayout layout)
{
  CUDAFFT_FOR_EACH_VOXEL(layout, {
    if (grid[p] < T(0))
    {
      grid[p] = T(0);
    }
  })
}

enum class DirectMethod
{
  Inverse,
  Tikhonov,
  Wiener
};

/** The direct filters on the data's spectrum I (ITK's functors; H = N S), then 1/N:
 * Inverse I / H where |H| >= threshold; Tikhonov I conj(H) / (|H|^2 + mu) where that denominator
 * is >= threshold; Wiener I conj(H) / (|H|^2 + Pn / (|I|^2 - Pn)) where |denominator| >=
 * threshold. A non-finite value (Wiener where |I|^2 = Pn = 0) becomes 0. */
template <typename TComplex, typename T>
__global__ void
DirectDeconvolution(TComplex * __restrict__ data,
                    const TComplex * __restrict__ spectrum,
                    long long    count,
                    DirectMethod method,
                    T            parameter,
                    T            threshold,
                    T            voxels)
{
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
  {
    const TComplex in = data[i];
    const T        hx = spectrum[i].x * voxels;
    const T        hy = spectrum[i].y * voxels;
    const T        power = hx * hx + hy * hy;
    T              denominator = power;
    bool           keep = true;
    if (method == DirectMethod::Inverse)
    {
      keep = sqrt(power) >= threshold;
    }
    else if (method == DirectMethod::Tikhonov)
    {
      denominator = power + parameter;
      keep = denominator >= threshold;
    }
    else
    {
      denominator = power + parameter / ((in.x * in.x + in.y * in.y) - parameter);
      keep = fabs(denominator) >= threshold;
    }
    TComplex out;
    out.x = T(0);
    out.y = T(0);
    if (keep)
    {
      // I conj(H) / denominator; the inverse filter's I / H is I conj(H) / |H|^2.
      out.x = (in.x * hx + in.y * hy) / denominator / voxels;
      out.y = (in.y * hx - in.x * hy) / denominator / voxels;
      if (!isfinite(out.x) || !isfinite(out.y))
      {
        out.x = T(0);
        out.y = T(0);
      }
    }
    data[i] = out;
  }
}

/** The data's footprint on the grid: 1 inside the data, 0 elsewhere (H^T of it gives the
 * non-circulant normalisation). */
template <typename T>
__global__ void
DataMask(T * __restrict__ grid, FFTLayout layout, const long long * __restrict__ maps)
{
  const long long * map1 = maps + layout.f0;
  const long long * map2 = map1 + layout.f1;
  CUDAFFT_FOR_EACH_VOXEL(layout, { grid[p] = (maps[p0] >= 0 && map1[p1] >= 0 && map2[p2] >= 0) ? T(1) : T(0); })
}

/** weights = 1 / (H^T 1) where that is above \p threshold, else 0; the initial estimate is
 * \p start where the weight is not 0 (also into the FFT buffer). */
template <typename T>
__global__ void
MakeWeights(T * __restrict__ weights,
            T * __restrict__ estimate,
            T * __restrict__ grid,
            FFTLayout      layout,
            T              threshold,
            const double * statistics,
            double         dataVoxels)
{
  const T start = static_cast<T>(statistics[DataSum] / dataVoxels);
  CUDAFFT_FOR_EACH_VOXEL(layout, {
    const T sum = grid[p];
    const T weight = sum > threshold ? T(1) / sum : T(0);
    weights[p] = weight;
    estimate[p] = weight > T(0) ? start : T(0);
    grid[p] = estimate[p];
  })
}

/** Adds the sum of \p count values to statistics[DataSum]. */
template <typename T>
__global__ void
SumValues(const T * __restrict__ values, long long count, double * statistics)
{
  double sum = 0;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
  {
    sum += static_cast<double>(values[i]);
  }
  BlockAdd(sum, statistics, DataSum);
}

#undef CUDAFFT_FOR_EACH_VOXEL
} // namespace CudaFFTConvolutionDeconvolutionKernels
} // namespace itk

#endif
