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

// The engine's FFT layer: VkFFT's transforms against cuFFT's.
// - "gpu": for float and double, 1D, 2D and 3D sizes with odd and even lengths and the prime
//   factors 2, 3, 5, 7, 11 and 13 (the planners' sizes; size-1 axes and axes done in several
//   passes, which use the work area, included): VkFFT's forward spectrum and its inverse of
//   cuFFT's spectrum equal cuFFT's within a tolerance relative to the largest magnitude (float
//   1e-5, double 1e-12); VkFFT's round trip gives N times the input back; the padding of the
//   rows is never read; the estimate's work area is the plans' and its plans are reused. An odd
//   x length too long for one pass VkFFT declines (15015 in double on an H100): then cuFFT's
//   plans must stand in.
// - "timing": the median time (CUDA events, 20 runs after warm-up) of two R2C+C2R pairs, the FFTs
//   of one Richardson-Lucy iteration, per backend on the grids 256x768x768 and 105x2240x2240
//   (z x y x x), float.
// Exits 77 (skipped) without a CUDA device or in a build without the VkFFT plugin.

#include "itkCudaFFTConvolutionFFT.h"

#include "CudaFFTConvolutionTestUtilities.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <complex>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace
{
using FFT = itk::CudaFFTConvolutionFFT;
using Backend = FFT::Backend;
using SizeArray = FFT::SizeArray;

void
Check(cudaError_t result, const char * call)
{
  if (result != cudaSuccess)
  {
    throw std::runtime_error(std::string(call) + " failed: " + cudaGetErrorString(result));
  }
}
#define TEST_CHECK(call) Check((call), #call)

/** Device memory for a scope. */
class DeviceMemory
{
public:
  explicit DeviceMemory(std::uint64_t bytes) { TEST_CHECK(cudaMalloc(&m_Pointer, std::max<std::uint64_t>(bytes, 1))); }
  ~DeviceMemory() { cudaFree(m_Pointer); }
  DeviceMemory(const DeviceMemory &) = delete;
  DeviceMemory &
  operator=(const DeviceMemory &) = delete;
  void *
  Get() const
  {
    return m_Pointer;
  }

private:
  void * m_Pointer{ nullptr };
};

/** A non-blocking stream, as the engine's. */
class Stream
{
public:
  Stream() { TEST_CHECK(cudaStreamCreateWithFlags(&m_Stream, cudaStreamNonBlocking)); }
  ~Stream() { cudaStreamDestroy(m_Stream); }
  Stream(const Stream &) = delete;
  Stream &
  operator=(const Stream &) = delete;
  cudaStream_t
  Get() const
  {
    return m_Stream;
  }

private:
  cudaStream_t m_Stream{ nullptr };
};

struct Case
{
  SizeArray    fft;
  unsigned int dimension;
};

/** The layout of a case: rows of 2 * (x / 2 + 1) values, of which x are data. */
struct Layout
{
  std::uint64_t x, pitch, rows;
  explicit Layout(const Case & c)
    : x(c.fft[0])
    , pitch(2 * (c.fft[0] / 2 + 1))
    , rows((c.dimension > 1 ? c.fft[1] : 1) * (c.dimension > 2 ? c.fft[2] : 1))
  {}
  std::uint64_t
  Values() const
  {
    return pitch * rows;
  }
};

std::string
SizeText(const Case & c)
{
  std::ostringstream text;
  text << c.dimension << "D " << c.fft[0];
  for (unsigned int a = 1; a < c.dimension; ++a)
  {
    text << "x" << c.fft[a];
  }
  return text.str();
}

/** Random values in [-1, 1] where the rows hold data, and a large value in their padding, which
 * a transform that read it would spread over its whole result. */
template <typename T>
std::vector<T>
RandomRows(const Layout & layout, unsigned int seed)
{
  std::mt19937                      random(seed);
  std::uniform_real_distribution<T> value(-1, 1);
  std::vector<T>                    data(layout.Values());
  for (std::uint64_t row = 0; row < layout.rows; ++row)
  {
    for (std::uint64_t i = 0; i < layout.pitch; ++i)
    {
      data[row * layout.pitch + i] = i < layout.x ? value(random) : T(12345);
    }
  }
  return data;
}

/** max |a - b| / max |a| over all values (a spectrum's), or over each row's data only. */
template <typename T>
double
RelativeError(const std::vector<T> & a,
              const std::vector<T> & b,
              const Layout &         layout,
              bool                   dataOnly,
              double                 scale = 1)
{
  double largest = 0;
  double error = 0;
  for (std::uint64_t row = 0; row < layout.rows; ++row)
  {
    const std::uint64_t count = dataOnly ? layout.x : layout.pitch;
    for (std::uint64_t i = 0; i < count; ++i)
    {
      const std::uint64_t at = row * layout.pitch + i;
      largest = std::max(largest, std::abs(static_cast<double>(a[at])));
      error = std::max(error, std::abs(static_cast<double>(a[at]) - scale * static_cast<double>(b[at])));
    }
  }
  return largest > 0 ? error / largest : error;
}

template <typename T>
std::vector<T>
Download(const DeviceMemory & from, std::uint64_t values, cudaStream_t stream)
{
  std::vector<T> data(values);
  TEST_CHECK(cudaMemcpyAsync(data.data(), from.Get(), values * sizeof(T), cudaMemcpyDeviceToHost, stream));
  TEST_CHECK(cudaStreamSynchronize(stream));
  return data;
}

template <typename T>
void
Upload(const std::vector<T> & data, DeviceMemory & to, cudaStream_t stream)
{
  TEST_CHECK(cudaMemcpyAsync(to.Get(), data.data(), data.size() * sizeof(T), cudaMemcpyHostToDevice, stream));
}

/** Plans of a backend with their own work area, on \a stream. */
struct Transform
{
  FFT                           fft;
  std::unique_ptr<DeviceMemory> workArea;

  Transform(const Case & c, unsigned int elementSize, Backend backend, cudaStream_t stream)
  {
    fft.Make(c.fft, c.dimension, elementSize, backend);
    workArea.reset(new DeviceMemory(fft.WorkAreaBytes()));
    fft.AttachWorkArea(workArea->Get());
    fft.SetStream(stream);
  }
};

/** One case in one precision; false (and why, on \a log) when VkFFT differs from cuFFT. */
template <typename T>
bool
CompareCase(const Case & c, double tolerance, std::ostream & log)
{
  const Layout        layout(c);
  const char *        type = sizeof(T) == 8 ? "double" : "float";
  Stream              stream;
  const std::uint64_t estimate = FFT::EstimateWorkAreaBytes(c.fft, c.dimension, sizeof(T), Backend::VkFFT);
  Transform           cu(c, sizeof(T), Backend::CuFFT, stream.Get());
  Transform           vk(c, sizeof(T), Backend::VkFFT, stream.Get());
  log << std::setw(22) << SizeText(c) << " " << std::setw(6) << type << ": ";
  if (vk.fft.UsedBackend() != Backend::VkFFT)
  {
    // VkFFT does an odd x length only in one pass (in shared memory): a longer one it declines,
    // and then the layer must fall back to cuFFT, which the estimate must have counted.
    const bool mayDecline = c.fft[0] % 2 == 1 && c.fft[0] > 4096;
    const bool fellBack = vk.fft.UsedBackend() == Backend::CuFFT && estimate == cu.fft.WorkAreaBytes();
    log << (mayDecline && fellBack ? "declined by VkFFT (an odd x this long), cuFFT used instead"
                                   : "FAILED: VkFFT did not plan it (see the warning above)")
        << std::endl;
    return mayDecline && fellBack;
  }
  const std::vector<T> input = RandomRows<T>(layout, 7 + c.dimension);
  DeviceMemory         a(layout.Values() * sizeof(T));
  DeviceMemory         b(layout.Values() * sizeof(T));
  // Forward: the same input through both.
  Upload(input, a, stream.Get());
  Upload(input, b, stream.Get());
  cu.fft.Forward(a.Get());
  vk.fft.Forward(b.Get());
  const std::vector<T> cuSpectrum = Download<T>(a, layout.Values(), stream.Get());
  const double forward = RelativeError(cuSpectrum, Download<T>(b, layout.Values(), stream.Get()), layout, false);
  // Inverse: cuFFT's spectrum (a Hermitian one) through both.
  Upload(cuSpectrum, b, stream.Get());
  cu.fft.Inverse(a.Get());
  vk.fft.Inverse(b.Get());
  const double inverse = RelativeError(
    Download<T>(a, layout.Values(), stream.Get()), Download<T>(b, layout.Values(), stream.Get()), layout, true);
  // VkFFT alone: forward then inverse is N times the input.
  Upload(input, b, stream.Get());
  vk.fft.Forward(b.Get());
  vk.fft.Inverse(b.Get());
  const double n = static_cast<double>(layout.x * layout.rows);
  const double roundTrip = RelativeError(input, Download<T>(b, layout.Values(), stream.Get()), layout, true, 1 / n);
  const bool   estimated = estimate == vk.fft.WorkAreaBytes();
  const bool   ok = forward <= tolerance && inverse <= tolerance && roundTrip <= tolerance && estimated;
  log << "forward " << std::scientific << std::setprecision(2) << forward << ", inverse " << inverse << ", round trip "
      << roundTrip << std::defaultfloat << ", work area " << vk.fft.WorkAreaBytes() << " B (cuFFT "
      << cu.fft.WorkAreaBytes() << " B)" << (estimated ? "" : ", but estimated " + std::to_string(estimate) + " B")
      << (ok ? "" : "  FAILED") << std::endl;
  return ok;
}

std::vector<Case>
Cases()
{
  return {
    // 1D: even and odd, every prime factor; 2^20 needs several passes (the work area).
    { { 30030, 1, 1 }, 1 },   // 2*3*5*7*11*13
    { { 15015, 1, 1 }, 1 },   // 3*5*7*11*13
    { { 2187, 1, 1 }, 1 },    // 3^7
    { { 1001, 1, 1 }, 1 },    // 7*11*13
    { { 3125, 1, 1 }, 1 },    // 5^5
    { { 1024, 1, 1 }, 1 },    // 2^10
    { { 2, 1, 1 }, 1 },       // the shortest
    { { 1 << 20, 1, 1 }, 1 }, // several passes
    // 2D
    { { 35, 66, 1 }, 2 },
    { { 121, 169, 1 }, 2 },  // 11^2 x 13^2, both odd
    { { 250, 343, 1 }, 2 },  // 2*5^3 x 7^3
    { { 96, 1, 1 }, 2 },     // a size-1 axis
    { { 26, 16384, 1 }, 2 }, // a strided axis in several passes
    // 3D
    { { 33, 20, 49 }, 3 },
    { { 13, 11, 7 }, 3 },
    { { 2, 3, 5 }, 3 },
    { { 65, 39, 22 }, 3 },
    { { 100, 90, 77 }, 3 },
    { { 77, 1, 45 }, 3 }, // a size-1 axis inside
    { { 128, 128, 128 }, 3 },
    { { 256, 96, 105 }, 3 },
  };
}

int
CompareBackends()
{
  bool ok = true;
  for (const Case & c : Cases())
  {
    ok = CompareCase<float>(c, 1e-5, std::cout) && ok;
    ok = CompareCase<double>(c, 1e-12, std::cout) && ok;
  }
  std::cout << (ok ? "VkFFT agrees with cuFFT on every case" : "VkFFT DIFFERS from cuFFT (FAILED above)") << std::endl;
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

/** Median milliseconds of two forward + inverse pairs of a float grid by one backend. */
double
MedianPairMilliseconds(const Case & c, Backend backend, std::ostream & log)
{
  const Layout layout(c);
  Stream       stream;
  const auto   start = std::chrono::steady_clock::now();
  Transform    transform(c, sizeof(float), backend, stream.Get());
  const double planMilliseconds =
    std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  DeviceMemory pristine(layout.Values() * sizeof(float));
  DeviceMemory data(layout.Values() * sizeof(float));
  Upload(RandomRows<float>(layout, 1), pristine, stream.Get());
  cudaEvent_t begin, end;
  TEST_CHECK(cudaEventCreate(&begin));
  TEST_CHECK(cudaEventCreate(&end));
  std::vector<double> times;
  for (int run = -3; run < 20; ++run) // 3 warm-up runs
  {
    // Fresh data each run: the values stay finite.
    TEST_CHECK(cudaMemcpyAsync(
      data.Get(), pristine.Get(), layout.Values() * sizeof(float), cudaMemcpyDeviceToDevice, stream.Get()));
    TEST_CHECK(cudaEventRecord(begin, stream.Get()));
    for (int pair = 0; pair < 2; ++pair)
    {
      transform.fft.Forward(data.Get());
      transform.fft.Inverse(data.Get());
    }
    TEST_CHECK(cudaEventRecord(end, stream.Get()));
    TEST_CHECK(cudaEventSynchronize(end));
    float milliseconds = 0;
    TEST_CHECK(cudaEventElapsedTime(&milliseconds, begin, end));
    if (run >= 0)
    {
      times.push_back(milliseconds);
    }
  }
  cudaEventDestroy(begin);
  cudaEventDestroy(end);
  std::sort(times.begin(), times.end());
  const double median = (times[times.size() / 2 - 1] + times[times.size() / 2]) / 2;
  log << "  " << std::setw(5) << FFT::BackendName(transform.fft.UsedBackend()) << ": " << std::fixed
      << std::setprecision(2) << median << " ms (min " << times.front() << ", max " << times.back() << "), plan "
      << planMilliseconds << " ms, work area " << transform.fft.WorkAreaBytes() / 1048576.0 << " MiB"
      << std::defaultfloat << std::endl;
  return median;
}

int
TimeBackends()
{
  cudaDeviceProp properties{};
  int            device = 0;
  TEST_CHECK(cudaGetDevice(&device));
  TEST_CHECK(cudaGetDeviceProperties(&properties, device));
  std::cout << "two R2C+C2R pairs, float, median of 20 runs on " << properties.name << std::endl;
  for (const Case & c : { Case{ { 768, 768, 256 }, 3 }, Case{ { 2240, 2240, 105 }, 3 } })
  {
    std::cout << "grid " << c.fft[2] << "x" << c.fft[1] << "x" << c.fft[0] << ":" << std::endl;
    const double cu = MedianPairMilliseconds(c, Backend::CuFFT, std::cout);
    const double vk = MedianPairMilliseconds(c, Backend::VkFFT, std::cout);
    std::cout << "  cuFFT / VkFFT: " << std::fixed << std::setprecision(2) << cu / vk << std::defaultfloat << std::endl;
  }
  return EXIT_SUCCESS;
}
} // namespace

int
itkCudaFFTConvolutionFFTBackendTest(int argc, char * argv[])
{
  const std::string mode = argc > 1 ? argv[1] : "gpu";
  std::string       reason;
  if (!itk::CudaFFTConvolutionEngine::DeviceAvailable(&reason))
  {
    std::cout << "GPU test skipped: " << reason << std::endl;
    return CudaFFTConvolutionTest::SkipReturnCode;
  }
  if (!FFT::VkFFTAvailable(&reason))
  {
    std::cout << (FFT::VkFFTBuilt() ? "FAILED: " : "VkFFT test skipped: ") << reason << std::endl;
    return FFT::VkFFTBuilt() ? EXIT_FAILURE : CudaFFTConvolutionTest::SkipReturnCode;
  }
  try
  {
    return mode == "timing" ? TimeBackends() : CompareBackends();
  }
  catch (const std::exception & error)
  {
    std::cout << "FAILED: " << error.what() << std::endl;
    return EXIT_FAILURE;
  }
}
