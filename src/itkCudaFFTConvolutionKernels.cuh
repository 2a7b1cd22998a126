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
#ifndef itkCudaFFTConvolutionKernels_cuh
#define itkCudaFFTConvolutionKernels_cuh

// Internal to the engine: the device kernels of one tile (pad with the boundary condition,
// place the kernel, multiply spectra, crop) and the complex type of each precision.

#include <cuda_runtime.h>
#include <cufft.h>

#include <algorithm>
#include <cstdint>

namespace itk
{
namespace CudaFFTConvolutionKernels
{
/** The complex type of a precision's spectra (the FFT layer's half-complex values). */
template <typename T>
struct FFTTraits;
template <>
struct FFTTraits<float>
{
  using Complex = cufftComplex;
};
template <>
struct FFTTraits<double>
{
  using Complex = cufftDoubleComplex;
};

constexpr unsigned int ThreadsPerBlock = 256;

inline unsigned int
BlocksFor(std::uint64_t count)
{
  const std::uint64_t blocks = (count + ThreadsPerBlock - 1) / ThreadsPerBlock;
  return static_cast<unsigned int>(std::max<std::uint64_t>(1, std::min<std::uint64_t>(blocks, 65535u * 8)));
}

/** Extents of the in-place FFT buffer: F0 x F1 x F2 reals in rows of \p pitch values. */
struct FFTLayout
{
  long long f0, f1, f2, pitch;
};

/** A launch over a block of rows: x along a row, y over rows, z over slices, each loop
 * grid-strided, so no thread divides a flat index (64-bit division costs dozens of instructions)
 * and any extent fits CUDA's grid limits. Narrow rows share a block of 256 threads. */
struct RowLaunch
{
  dim3 grid;
  dim3 block;
};

inline RowLaunch
RowsOf(long long rowLength, long long rows, long long slices)
{
  const long long width = std::min<long long>(ThreadsPerBlock, std::max<long long>(32, (rowLength + 31) / 32 * 32));
  const long long height = ThreadsPerBlock / width;
  RowLaunch       launch;
  launch.block = dim3(static_cast<unsigned int>(width), static_cast<unsigned int>(height), 1);
  launch.grid = dim3(static_cast<unsigned int>(std::min<long long>((rowLength + width - 1) / width, 1 << 20)),
                     static_cast<unsigned int>(std::min<long long>((rows + height - 1) / height, 65535)),
                     static_cast<unsigned int>(std::min<long long>(slices, 65535)));
  return launch;
}

/** Writes the padded, boundary-extended tile into the FFT buffer (one thread per value). The
 * source block's rows are s0 values apart and its slices s0 * s1: a compact tile, or the part
 * of a larger input buffer a tile reads. */
template <typename T>
__global__ void
PadTile(T * __restrict__ fft,
        FFTLayout layout,
        const T * __restrict__ source,
        long long s0,
        long long s1,
        const long long * __restrict__ maps,
        T constant)
{
  // Every value of every row, the in-place layout's padding columns (p0 >= F0) included: cuFFT
  // loads them with its vectors, so they are written (with zeros) rather than left unset.
  const long long * map0 = maps;
  const long long * map1 = maps + layout.f0;
  const long long * map2 = map1 + layout.f1;
  for (long long p2 = blockIdx.z; p2 < layout.f2; p2 += gridDim.z)
  {
    const long long i2 = map2[p2];
    for (long long p1 = blockIdx.y * static_cast<long long>(blockDim.y) + threadIdx.y; p1 < layout.f1;
         p1 += static_cast<long long>(gridDim.y) * blockDim.y)
    {
      const long long i1 = map1[p1];
      T *             row = fft + (p2 * layout.f1 + p1) * layout.pitch;
      const T *       from = source + (i2 * s1 + i1) * s0;
      const bool      outside = i1 < 0 || i2 < 0;
      for (long long p0 = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; p0 < layout.pitch;
           p0 += static_cast<long long>(gridDim.x) * blockDim.x)
      {
        if (p0 >= layout.f0)
        {
          row[p0] = T(0);
          continue;
        }
        const long long i0 = map0[p0];
        row[p0] = (outside || i0 < 0) ? constant : from[i0];
      }
    }
  }
}

/** Places the kernel, scaled, with its centre at the origin (the cyclic shift / ifftshift). */
template <typename T>
__global__ void
ScatterKernel(T * __restrict__ fft,
              FFTLayout layout,
              const T * __restrict__ kernel,
              long long k0,
              long long k1,
              long long k2,
              const double * __restrict__ sums,
              double scale,
              bool   normalize)
{
  const long long total = k0 * k1 * k2;
  const double    factor = normalize ? scale / sums[0] : scale;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
  {
    const long long j0 = i % k0;
    const long long j1 = (i / k0) % k1;
    const long long j2 = i / (k0 * k1);
    const long long p0 = (j0 - k0 / 2 + layout.f0) % layout.f0;
    const long long p1 = (j1 - k1 / 2 + layout.f1) % layout.f1;
    const long long p2 = (j2 - k2 / 2 + layout.f2) % layout.f2;
    fft[(p2 * layout.f1 + p1) * layout.pitch + p0] = static_cast<T>(static_cast<double>(kernel[i]) * factor);
  }
}

/** sums[0] += sum of values, sums[1] += sum of magnitudes (double accumulation). */
template <typename T>
__global__ void
SumKernel(const T * __restrict__ values, long long count, double * sums)
{
  __shared__ double partial[2][ThreadsPerBlock];
  double            sum = 0;
  double            magnitude = 0;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
  {
    const double v = static_cast<double>(values[i]);
    sum += v;
    magnitude += fabs(v);
  }
  partial[0][threadIdx.x] = sum;
  partial[1][threadIdx.x] = magnitude;
  __syncthreads();
  for (unsigned int half = blockDim.x / 2; half > 0; half /= 2)
  {
    if (threadIdx.x < half)
    {
      partial[0][threadIdx.x] += partial[0][threadIdx.x + half];
      partial[1][threadIdx.x] += partial[1][threadIdx.x + half];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0)
  {
    atomicAdd(&sums[0], partial[0][0]);
    atomicAdd(&sums[1], partial[1][0]);
  }
}

template <typename TComplex>
__global__ void
MultiplySpectra(TComplex * __restrict__ data, const TComplex * __restrict__ spectrum, long long count)
{
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
  {
    const TComplex a = data[i];
    const TComplex b = spectrum[i];
    TComplex       product;
    product.x = a.x * b.x - a.y * b.y;
    product.y = a.x * b.y + a.y * b.x;
    data[i] = product;
  }
}

/** Copies the kept voxels (t0 x t1 x t2) of a tile out of the FFT buffer into a block whose
 * rows are d0 values apart and slices d0 * d1 (a compact block: d0 = t0, d1 = t1; a tile of a
 * larger output buffer: that buffer's row length and rows per slice). Launched by RowsOf. */
template <typename T>
__global__ void
CropTile(const T * __restrict__ fft,
         FFTLayout layout,
         long long o0,
         long long o1,
         long long o2,
         T * __restrict__ tile,
         long long t0,
         long long t1,
         long long t2,
         long long d0,
         long long d1)
{
  for (long long z = blockIdx.z; z < t2; z += gridDim.z)
  {
    for (long long y = blockIdx.y * static_cast<long long>(blockDim.y) + threadIdx.y; y < t1;
         y += static_cast<long long>(gridDim.y) * blockDim.y)
    {
      const T * from = fft + ((z + o2) * layout.f1 + (y + o1)) * layout.pitch + o0;
      T *       to = tile + (z * d1 + y) * d0;
      for (long long x = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; x < t0;
           x += static_cast<long long>(gridDim.x) * blockDim.x)
      {
        to[x] = from[x];
      }
    }
  }
}

} // namespace CudaFFTConvolutionKernels
} // namespace itk

#endif
