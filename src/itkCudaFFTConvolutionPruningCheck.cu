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

// The FFT layer's check of VkFFT's pruned plans against the full ones, once per zero block:
// VkFFT's zero padding gave wrong transforms on some grids (seen on an H100 with VkFFT 1.2.26,
// e.g. 84x112 and 27x40x49), so a pruned plan is used only where it agrees on random values.

#include "itkCudaFFTConvolutionFFTPlans.h"

#include "itkCudaFFTConvolutionCudaSupport.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

namespace itk
{
namespace CudaFFTConvolutionFFTDetail
{
namespace
{
/** The grid's padded layout and the zero block, as a kernel reads them. */
struct CheckLayout
{
  long long n[3];
  long long pitch;
  long long values;
  long long zeroBegin[3];
  long long zeroEnd[3];
};

__device__ bool
InZeroBlock(const CheckLayout & layout, long long p, long long & x)
{
  x = p % layout.pitch;
  const long long row = p / layout.pitch;
  const long long at[3] = { x, row % layout.n[1], row / layout.n[1] };
  bool            inside = false;
  for (int axis = 0; axis < 3; ++axis)
  {
    inside = inside || (at[axis] >= layout.zeroBegin[axis] && at[axis] < layout.zeroEnd[axis]);
  }
  return inside;
}

/** Random values in [-1, 1) (a hash of the position), zero in the row padding and, when asked,
 * in the zero block. */
template <typename T>
__global__ void
FillRandom(T * grid, CheckLayout layout, bool zeroInBlock, unsigned int seed)
{
  for (long long p = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; p < layout.values;
       p += static_cast<long long>(gridDim.x) * blockDim.x)
  {
    long long          x = 0;
    const bool         zero = InZeroBlock(layout, p, x) && zeroInBlock;
    unsigned long long h = static_cast<unsigned long long>(p) * 0x9E3779B97F4A7C15ull + seed;
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 29;
    const T value = static_cast<T>(static_cast<double>(h >> 11) * (2.0 / 9007199254740992.0) - 1.0);
    grid[p] = zero || x >= layout.n[0] ? T(0) : value;
  }
}

/** maxima[0] = max |a|, maxima[1] = max |a - b| (as floats' bits: non-negative floats order as
 * their bits do) over the values compared: all (a spectrum), or the data outside the zero block. */
template <typename T>
__global__ void
CompareGrids(const T * a, const T * b, CheckLayout layout, bool outsideBlockOnly, unsigned int * maxima)
{
  float largest = 0;
  float difference = 0;
  for (long long p = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; p < layout.values;
       p += static_cast<long long>(gridDim.x) * blockDim.x)
  {
    long long  x = 0;
    const bool inBlock = InZeroBlock(layout, p, x);
    if (outsideBlockOnly && (inBlock || x >= layout.n[0]))
    {
      continue;
    }
    largest = fmaxf(largest, static_cast<float>(fabs(static_cast<double>(a[p]))));
    difference = fmaxf(difference, static_cast<float>(fabs(static_cast<double>(a[p]) - static_cast<double>(b[p]))));
  }
  atomicMax(&maxima[0], __float_as_uint(largest));
  atomicMax(&maxima[1], __float_as_uint(difference));
}

/** Two scratch grids and the maxima, freed on exit. */
class Scratch
{
public:
  Scratch(std::uint64_t bytes)
  {
    m_Ok = cudaMalloc(&m_A, bytes) == cudaSuccess && cudaMalloc(&m_B, bytes) == cudaSuccess &&
           cudaMalloc(&m_Maxima, 2 * sizeof(unsigned int)) == cudaSuccess;
    if (!m_Ok)
    {
      cudaGetLastError(); // an allocation failure is not sticky: clear it
    }
  }
  ~Scratch()
  {
    cudaFree(m_A);
    cudaFree(m_B);
    cudaFree(m_Maxima);
  }
  Scratch(const Scratch &) = delete;
  Scratch &
  operator=(const Scratch &) = delete;

  bool           m_Ok{ false };
  void *         m_A{ nullptr };
  void *         m_B{ nullptr };
  unsigned int * m_Maxima{ nullptr };
};

constexpr unsigned int CheckThreads = 256;
constexpr unsigned int CheckBlocks = 2048;

/** The relative difference of the last comparison (waits for the stream). */
double
Difference(const Scratch & scratch, cudaStream_t stream)
{
  unsigned int maxima[2] = { 0, 0 };
  CUDAFFT_CHECK(cudaMemcpyAsync(maxima, scratch.m_Maxima, sizeof(maxima), cudaMemcpyDeviceToHost, stream));
  CUDAFFT_CHECK(cudaStreamSynchronize(stream));
  float largest = 0;
  float difference = 0;
  std::memcpy(&largest, &maxima[0], sizeof(float));
  std::memcpy(&difference, &maxima[1], sizeof(float));
  return largest > 0 ? difference / largest : difference;
}

template <typename T>
double
CheckDirection(FFTPlans &          full,
               FFTPlans &          pruned,
               const CheckLayout & layout,
               bool                inverse,
               const Scratch &     scratch,
               cudaStream_t        stream)
{
  T * a = static_cast<T *>(scratch.m_A);
  T * b = static_cast<T *>(scratch.m_B);
  FillRandom<T><<<CheckBlocks, CheckThreads, 0, stream>>>(a, layout, !inverse, inverse ? 11u : 7u);
  CUDAFFT_CHECK(cudaGetLastError());
  if (inverse)
  {
    full.Forward(a); // a real grid's spectrum: what inverse transforms are given
  }
  CUDAFFT_CHECK(cudaMemcpyAsync(b, a, layout.values * sizeof(T), cudaMemcpyDeviceToDevice, stream));
  if (inverse)
  {
    full.Inverse(a);
    pruned.Inverse(b);
  }
  else
  {
    full.Forward(a);
    pruned.Forward(b);
  }
  CUDAFFT_CHECK(cudaMemsetAsync(scratch.m_Maxima, 0, 2 * sizeof(unsigned int), stream));
  CompareGrids<T><<<CheckBlocks, CheckThreads, 0, stream>>>(a, b, layout, inverse, scratch.m_Maxima);
  CUDAFFT_CHECK(cudaGetLastError());
  return Difference(scratch, stream);
}
} // namespace

bool
PrunedPlansAgree(FFTPlans &        full,
                 FFTPlans &        pruned,
                 const SizeArray & fft,
                 unsigned int      dimension,
                 unsigned int      elementSize,
                 const ZeroBlock & zero,
                 cudaStream_t      stream,
                 std::string &     whyNot)
{
  CheckLayout layout{};
  for (unsigned int axis = 0; axis < 3; ++axis)
  {
    layout.n[axis] = axis < dimension ? static_cast<long long>(fft[axis]) : 1;
    layout.zeroBegin[axis] = axis < dimension ? static_cast<long long>(zero.begin[axis]) : 0;
    layout.zeroEnd[axis] = axis < dimension ? static_cast<long long>(zero.end[axis]) : 0;
  }
  layout.pitch = 2 * (layout.n[0] / 2 + 1);
  layout.values = layout.pitch * layout.n[1] * layout.n[2];
  const Scratch scratch(static_cast<std::uint64_t>(layout.values) * elementSize);
  if (!scratch.m_Ok)
  {
    whyNot = "no device memory is free to check VkFFT's pruned plans";
    return false;
  }
  const double tolerance = elementSize == 8 ? 1e-11 : 1e-5;
  double       worst = 0;
  for (const bool inverse : { false, true })
  {
    const double difference = elementSize == 8 ? CheckDirection<double>(full, pruned, layout, inverse, scratch, stream)
                                               : CheckDirection<float>(full, pruned, layout, inverse, scratch, stream);
    worst = std::max(worst, difference);
  }
  if (!(worst <= tolerance))
  {
    std::ostringstream why;
    why << "VkFFT's pruned plans of the " << layout.n[0] << "x" << layout.n[1] << "x" << layout.n[2]
        << " grid (zeros from " << zero.begin[0] << "," << zero.begin[1] << "," << zero.begin[2] << " to "
        << zero.end[0] << "," << zero.end[1] << "," << zero.end[2] << ") differ from its full plans by " << worst
        << " of the largest value";
    whyNot = why.str();
    return false;
  }
  return true;
}
} // namespace CudaFFTConvolutionFFTDetail
} // namespace itk
