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

// Benchmark harness (a benchmark, not a test): for each case, CudaFFTConvolutionImageFilter's
// Update() wall time itk::Image -> itk::Image (cold, then warm: the median of several updates
// with the input marked modified), the peak GPU memory the device reported during the warm runs
// (sampled with cudaMemGetInfo), the filter's own estimate, and ITK's FFTConvolutionImageFilter on
// the CPU with all threads. One JSON object per line.
//   CudaFFTConvolutionBenchmark [--cases abcd] [--repeats N] [--no-cpu] [--modes]

#include "itkCudaFFTConvolutionImageFilter.h"
#include "itkFFTConvolutionImageFilter.h"
#include "itkMultiThreaderBase.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <iostream>
#include <sstream>
#include <thread>
#include <vector>

namespace
{
using ImageType = itk::Image<float, 3>;
using FilterType = itk::CudaFFTConvolutionImageFilter<ImageType>;
using OutputRegion = itk::CudaFFTConvolutionImageFilterEnums::OutputRegion;

double
Now()
{
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/** An image of pseudo-random values (never zeros: they can run faster than real data), filled
 * on all cores. */
ImageType::Pointer
MakeImage(const ImageType::SizeType & size, std::uint64_t seed, bool positive)
{
  auto image = ImageType::New();
  image->SetRegions(size);
  image->Allocate();
  float *             values = image->GetBufferPointer();
  const std::uint64_t count = image->GetBufferedRegion().GetNumberOfPixels();
  const unsigned int  threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> workers;
  for (unsigned int t = 0; t < threads; ++t)
  {
    workers.emplace_back([=] {
      for (std::uint64_t i = count * t / threads; i < count * (t + 1) / threads; ++i)
      {
        std::uint64_t x = (i + seed) * 0x9E3779B97F4A7C15ULL;
        x ^= x >> 29;
        x *= 0xBF58476D1CE4E5B9ULL;
        x ^= x >> 32;
        const float u = static_cast<float>(x & 0xFFFFFF) / float(0xFFFFFF);
        values[i] = positive ? 0.05f + u : u - 0.3f;
      }
    });
  }
  for (auto & worker : workers)
  {
    worker.join();
  }
  return image;
}

/** Samples the device's used memory in the background; Peak() is the most seen above the baseline. */
class MemorySampler
{
public:
  explicit MemorySampler(std::uint64_t baselineUsed)
    : m_Baseline(baselineUsed)
  {
    m_Thread = std::thread([this] {
      while (!m_Stop)
      {
        std::size_t freeBytes = 0;
        std::size_t totalBytes = 0;
        if (cudaMemGetInfo(&freeBytes, &totalBytes) == cudaSuccess)
        {
          const std::uint64_t used = totalBytes - freeBytes;
          std::uint64_t       peak = m_Peak;
          while (used > peak && !m_Peak.compare_exchange_weak(peak, used))
          {
          }
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    });
  }
  ~MemorySampler()
  {
    m_Stop = true;
    m_Thread.join();
  }
  std::uint64_t
  Peak() const
  {
    return m_Peak > m_Baseline ? m_Peak - m_Baseline : 0;
  }

private:
  std::uint64_t              m_Baseline;
  std::atomic<std::uint64_t> m_Peak{ 0 };
  std::atomic<bool>          m_Stop{ false };
  std::thread                m_Thread;
};

std::uint64_t
DeviceUsed()
{
  std::size_t freeBytes = 0;
  std::size_t totalBytes = 0;
  cudaMemGetInfo(&freeBytes, &totalBytes);
  return totalBytes - freeBytes;
}

std::string
SizeJSON(const ImageType::SizeType & size)
{
  std::ostringstream out;
  out << "[" << size[0] << "," << size[1] << "," << size[2] << "]";
  return out.str();
}

void
RunCase(const std::string &         name,
        const ImageType::SizeType & imageSize,
        const ImageType::SizeType & kernelSize,
        OutputRegion                mode,
        std::uint64_t               budget,
        int                         repeats,
        bool                        withCPU)
{
  auto image = MakeImage(imageSize, 1, false);
  auto kernel = MakeImage(kernelSize, 2, true);
  const std::uint64_t baseline = DeviceUsed();

  auto filter = FilterType::New();
  filter->SetInput(image);
  filter->SetKernelImage(kernel);
  filter->SetOutputRegion(mode);
  filter->SetGPUMemoryBudget(budget);
  filter->NormalizeOn();
  double start = Now();
  filter->Update();
  const double cold = Now() - start;

  std::vector<double> warm;
  std::uint64_t       peak = 0;
  {
    MemorySampler sampler(baseline);
    for (int r = 0; r < repeats; ++r)
    {
      image->Modified();
      start = Now();
      filter->Update();
      warm.push_back(Now() - start);
    }
    peak = sampler.Peak();
  }
  std::sort(warm.begin(), warm.end());
  const double voxels = static_cast<double>(filter->GetOutput()->GetLargestPossibleRegion().GetNumberOfPixels());

  std::ostringstream json;
  json << "{\"case\":\"" << name << "\",\"image\":" << SizeJSON(imageSize) << ",\"kernel\":" << SizeJSON(kernelSize)
       << ",\"mode\":\"" << (mode == OutputRegion::SAME ? "same" : mode == OutputRegion::VALID ? "valid" : "full")
       << "\",\"device\":\"" << (filter->GetLastComputeDevice() == itk::CudaFFTConvolutionImageFilterEnums::ComputeDevice::GPU ? "gpu" : "cpu")
       << "\",\"budget_bytes\":" << budget << ",\"tiles\":" << filter->GetNumberOfTiles() << ",\"fft\":["
       << filter->GetLastFFTSize()[0] << "," << filter->GetLastFFTSize()[1] << "," << filter->GetLastFFTSize()[2]
       << "],\"cold_ms\":" << cold << ",\"warm_median_ms\":" << warm[warm.size() / 2] << ",\"warm_min_ms\":" << warm.front()
       << ",\"output_gvoxels_per_s\":" << voxels / (warm[warm.size() / 2] * 1e6) << ",\"peak_gpu_bytes\":" << peak
       << ",\"estimate_bytes\":" << filter->GetLastEstimatedGPUMemory();
  filter = nullptr; // frees the engine: its memory returns to the device
  cudaDeviceSynchronize();
  json << ",\"gpu_bytes_after_release\":" << static_cast<long long>(DeviceUsed()) - static_cast<long long>(baseline);

  if (withCPU)
  {
    using ITKFilterType = itk::FFTConvolutionImageFilter<ImageType, ImageType, ImageType, float>;
    auto cpu = ITKFilterType::New();
    cpu->SetInput(image);
    cpu->SetKernelImage(kernel);
    cpu->NormalizeOn();
    cpu->SetOutputRegionMode(mode == OutputRegion::VALID
                               ? itk::ConvolutionImageFilterBaseEnums::ConvolutionImageFilterOutputRegion::VALID
                               : itk::ConvolutionImageFilterBaseEnums::ConvolutionImageFilterOutputRegion::SAME);
    start = Now();
    cpu->Update();
    json << ",\"itk_cpu_ms\":" << Now() - start << ",\"itk_cpu_threads\":"
         << itk::MultiThreaderBase::GetGlobalDefaultNumberOfThreads();
  }
  json << "}";
  std::cout << json.str() << std::endl;
}
} // namespace

int
main(int argc, char * argv[])
{
  std::string cases = "abc";
  int         repeats = 7;
  bool        withCPU = true;
  bool        modes = false;
  for (int i = 1; i < argc; ++i)
  {
    const std::string arg = argv[i];
    if (arg == "--cases" && i + 1 < argc)
      cases = argv[++i];
    else if (arg == "--repeats" && i + 1 < argc)
      repeats = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--no-cpu")
      withCPU = false;
    else if (arg == "--modes")
      modes = true;
    else
    {
      std::cerr << "usage: " << argv[0] << " [--cases abcd] [--repeats N] [--no-cpu] [--modes]" << std::endl;
      return EXIT_FAILURE;
    }
  }
  if (cudaFree(nullptr) != cudaSuccess) // creates the context, so the baseline includes it
  {
    std::cerr << "no CUDA device: the benchmark needs a GPU" << std::endl;
    return EXIT_FAILURE;
  }
  try
  {
    if (cases.find('a') != std::string::npos)
      RunCase("a", { { 512, 512, 128 } }, { { 256, 256, 128 } }, OutputRegion::SAME, 0, repeats, withCPU);
    if (cases.find('b') != std::string::npos)
    {
      RunCase("b", { { 512, 512, 128 } }, { { 15, 15, 15 } }, OutputRegion::SAME, 0, repeats, withCPU);
      if (modes)
      {
        RunCase("b", { { 512, 512, 128 } }, { { 15, 15, 15 } }, OutputRegion::VALID, 0, repeats, withCPU);
        RunCase("b", { { 512, 512, 128 } }, { { 15, 15, 15 } }, OutputRegion::FULL, 0, repeats, false);
      }
    }
    if (cases.find('c') != std::string::npos)
      RunCase("c", { { 1024, 1024, 512 } }, { { 31, 31, 31 } }, OutputRegion::SAME, std::uint64_t{ 5 } << 30, repeats,
              withCPU);
    if (cases.find('d') != std::string::npos)
      RunCase("d", { { 2048, 2048, 1024 } }, { { 31, 31, 31 } }, OutputRegion::SAME, std::uint64_t{ 4 } << 30, 3,
              false);
  }
  catch (const itk::ExceptionObject & error)
  {
    std::cerr << error << std::endl;
    return EXIT_FAILURE;
  }
  return EXIT_SUCCESS;
}
