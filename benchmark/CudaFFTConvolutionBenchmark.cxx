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

// Benchmark harness (a benchmark, not a test) for CudaFFTConvolutionImageFilter, itk::Image in and
// out. Modes (--mode, a comma-separated list, default all):
//   same:  one filter, the same image marked modified before each Update: the cold update, then the
//          median of the warm ones, the peak GPU memory the device reported during them (sampled
//          with cudaMemGetInfo), the filter's own estimate, and ITK's FFTConvolutionImageFilter on
//          the CPU with all threads;
//   batch: one filter, a new image (other values, freshly allocated, pageable) every Update, the
//          output disconnected each time, as a batch user does: the median;
//   first: the first Update of a new filter in a process whose CUDA context exists, on an image
//          already in memory, with fresh filters: the median and each value (it runs first, so the
//          first case's first value is the process's first filter);
//   floor: the hardware floor of moving a case's input and output between pageable memory and the
//          device without page-locking it: host threads copying pageable -> page-locked memory, DMA
//          from page-locked memory each way and both ways at once, and both together; then per case
//          the floor time for its bytes and measured / floor for the modes that ran.
// One JSON object per line. "bench" names the mode; "mode" is the output region in 'same' records
// (what anchors.py reads) and the bench in the others, which carry the region as "region".
//   CudaFFTConvolutionBenchmark [--mode same|batch|first|floor|all] [--cases abcd] [--repeats N]
//                               [--no-cpu] [--modes]
// --modes adds case b's VALID and FULL regions; case d (2048x2048x1024, 16 GiB) runs only when asked.

#include "itkCudaFFTConvolutionImageFilter.h"
#include "itkFFTConvolutionImageFilter.h"
#include "itkMultiThreaderBase.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iostream>
#include <limits>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace
{
using ImageType = itk::Image<float, 3>;
using FilterType = itk::CudaFFTConvolutionImageFilter<ImageType>;
using OutputRegion = itk::CudaFFTConvolutionImageFilterEnums::OutputRegion;
using ComputeDevice = itk::CudaFFTConvolutionImageFilterEnums::ComputeDevice;
using Clock = std::chrono::steady_clock;

double
Now()
{
  return std::chrono::duration<double, std::milli>(Clock::now().time_since_epoch()).count();
}

double
Median(std::vector<double> values)
{
  std::sort(values.begin(), values.end());
  return values.empty() ? 0.0 : values[values.size() / 2];
}

std::string
ListJSON(const std::vector<double> & values)
{
  std::ostringstream out;
  out << "[";
  for (std::size_t i = 0; i < values.size(); ++i)
  {
    out << (i > 0 ? "," : "") << values[i];
  }
  out << "]";
  return out.str();
}

/** An image of pseudo-random values (never zeros: they can run faster than real data), filled
 * on all cores. */
ImageType::Pointer
MakeImage(const ImageType::SizeType & size, std::uint64_t seed, bool positive)
{
  auto image = ImageType::New();
  image->SetRegions(size);
  image->Allocate();
  float *                  values = image->GetBufferPointer();
  const std::uint64_t      count = image->GetBufferedRegion().GetNumberOfPixels();
  const unsigned int       threads = std::max(1u, std::thread::hardware_concurrency());
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
          {}
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

const char *
RegionName(OutputRegion region)
{
  return region == OutputRegion::SAME ? "same" : region == OutputRegion::VALID ? "valid" : "full";
}

/** One benchmark case: sizes, output region, GPU memory budget (0: automatic), repeats. */
struct Case
{
  std::string         name;
  ImageType::SizeType image;
  ImageType::SizeType kernel;
  OutputRegion        region{ OutputRegion::SAME };
  std::uint64_t       budget{ 0 };
  int                 repeats{ 7 };
  bool                withCPU{ true };

  ImageType::SizeType
  OutputSize() const
  {
    ImageType::SizeType size = image;
    for (unsigned int a = 0; a < 3; ++a)
    {
      if (region == OutputRegion::VALID)
        size[a] = image[a] >= kernel[a] ? image[a] - kernel[a] + 1 : 0;
      else if (region == OutputRegion::FULL)
        size[a] = image[a] + kernel[a] - 1;
    }
    return size;
  }
};

/** Where and how a filter's last update ran. */
struct Placement
{
  std::string                               device{ "none" };
  int                                       gpu{ -1 };
  itk::SizeValueType                        tiles{ 0 };
  itk::CudaFFTConvolutionPlanner::SizeArray fft{ { 0, 0, 0 } };
};

Placement
PlacementOf(const FilterType * filter)
{
  Placement placement;
  placement.device = filter->GetLastComputeDevice() == ComputeDevice::GPU ? "gpu" : "cpu";
  placement.gpu = filter->GetLastGPUDevice();
  placement.tiles = filter->GetNumberOfTiles();
  placement.fft = filter->GetLastFFTSize();
  return placement;
}

/** The fields every record starts with: mode, case, sizes, region, device, tiles, FFT size. */
std::string
CaseJSON(const std::string & bench, const Case & c, const Placement & placement)
{
  std::ostringstream out;
  out << "{\"bench\":\"" << bench << "\",\"mode\":\"" << (bench == "same" ? RegionName(c.region) : bench.c_str())
      << "\",\"case\":\"" << c.name << "\",\"image\":" << SizeJSON(c.image) << ",\"kernel\":" << SizeJSON(c.kernel)
      << ",\"region\":\"" << RegionName(c.region) << "\",\"device\":\"" << placement.device
      << "\",\"gpu\":" << placement.gpu << ",\"budget_bytes\":" << c.budget << ",\"tiles\":" << placement.tiles
      << ",\"fft\":[" << placement.fft[0] << "," << placement.fft[1] << "," << placement.fft[2] << "]";
  return out.str();
}

FilterType::Pointer
MakeFilter(const Case & c, const ImageType * image, const ImageType * kernel)
{
  auto filter = FilterType::New();
  filter->SetInput(image);
  filter->SetKernelImage(kernel);
  filter->SetOutputRegion(c.region);
  filter->SetGPUMemoryBudget(c.budget);
  filter->NormalizeOn();
  return filter;
}

/** What the modes measured for one case (0: not run), for the floor's ratios. */
struct Measured
{
  Placement placement;
  double    sameMs{ 0 };
  double    batchMs{ 0 };
  double    firstMs{ 0 };
};

/** ITK's FFTConvolutionImageFilter on the CPU with all threads, as a JSON fragment. */
std::string
ITKCPUJSON(const Case & c, const ImageType * image, const ImageType * kernel)
{
  using ITKFilterType = itk::FFTConvolutionImageFilter<ImageType, ImageType, ImageType, float>;
  auto cpu = ITKFilterType::New();
  cpu->SetInput(image);
  cpu->SetKernelImage(kernel);
  cpu->NormalizeOn();
  cpu->SetOutputRegionMode(c.region == OutputRegion::VALID
                             ? itk::ConvolutionImageFilterBaseEnums::ConvolutionImageFilterOutputRegion::VALID
                             : itk::ConvolutionImageFilterBaseEnums::ConvolutionImageFilterOutputRegion::SAME);
  const double start = Now();
  cpu->Update();
  std::ostringstream out;
  out << ",\"itk_cpu_ms\":" << Now() - start
      << ",\"itk_cpu_threads\":" << itk::MultiThreaderBase::GetGlobalDefaultNumberOfThreads();
  return out.str();
}

/** same: one filter, the same image marked modified before each Update. */
void
RunSame(const Case & c, Measured & measured)
{
  auto                image = MakeImage(c.image, 1, false);
  auto                kernel = MakeImage(c.kernel, 2, true);
  const std::uint64_t baseline = DeviceUsed();
  auto                filter = MakeFilter(c, image, kernel);
  double              start = Now();
  filter->Update();
  const double        cold = Now() - start;
  std::vector<double> warm;
  std::uint64_t       peak = 0;
  {
    MemorySampler sampler(baseline);
    for (int r = 0; r < c.repeats; ++r)
    {
      image->Modified();
      start = Now();
      filter->Update();
      warm.push_back(Now() - start);
    }
    peak = sampler.Peak();
  }
  measured.placement = PlacementOf(filter);
  measured.sameMs = Median(warm);
  const double       voxels = static_cast<double>(filter->GetOutput()->GetLargestPossibleRegion().GetNumberOfPixels());
  std::ostringstream json;
  json << CaseJSON("same", c, measured.placement) << ",\"cold_ms\":" << cold
       << ",\"warm_median_ms\":" << measured.sameMs
       << ",\"warm_min_ms\":" << *std::min_element(warm.begin(), warm.end())
       << ",\"output_gvoxels_per_s\":" << voxels / (measured.sameMs * 1e6) << ",\"peak_gpu_bytes\":" << peak
       << ",\"estimate_bytes\":" << filter->GetLastEstimatedGPUMemory();
  filter = nullptr; // frees the engine: its memory returns to the device
  cudaDeviceSynchronize();
  json << ",\"gpu_bytes_after_release\":" << static_cast<long long>(DeviceUsed()) - static_cast<long long>(baseline);
  if (c.withCPU)
  {
    json << ITKCPUJSON(c, image, kernel);
  }
  std::cout << json.str() << "}" << std::endl;
}

/** batch: one filter, a new image every Update (made before the clock starts), the output
 * disconnected and dropped each time. The first update (planning) is reported apart. */
void
RunBatch(const Case & c, Measured & measured)
{
  auto   kernel = MakeImage(c.kernel, 2, true);
  auto   image = MakeImage(c.image, 100, false);
  auto   filter = MakeFilter(c, image, kernel);
  double start = Now();
  filter->Update();
  const double       first = Now() - start;
  ImageType::Pointer firstOutput = filter->GetOutput(); // held: disconnecting drops the filter's reference
  firstOutput->DisconnectPipeline();
  std::vector<double> times;
  for (int r = 0; r < c.repeats; ++r)
  {
    image = MakeImage(c.image, 101 + static_cast<std::uint64_t>(r), false);
    filter->SetInput(image);
    start = Now();
    filter->Update();
    times.push_back(Now() - start);
    ImageType::Pointer output = filter->GetOutput();
    output->DisconnectPipeline();
  }
  measured.placement = PlacementOf(filter);
  measured.batchMs = Median(times);
  std::cout << CaseJSON("batch", c, measured.placement) << ",\"median_ms\":" << measured.batchMs
            << ",\"min_ms\":" << *std::min_element(times.begin(), times.end()) << ",\"first_update_ms\":" << first
            << ",\"each_ms\":" << ListJSON(times) << "}" << std::endl;
}

/** first: the first Update of fresh filters on an image already in memory; the process's CUDA
 * context exists (main made it). */
void
RunFirst(const Case & c, Measured & measured)
{
  auto                image = MakeImage(c.image, 1, false);
  auto                kernel = MakeImage(c.kernel, 2, true);
  std::vector<double> times;
  for (int r = 0; r < c.repeats; ++r)
  {
    auto         filter = MakeFilter(c, image, kernel);
    const double start = Now();
    filter->Update();
    times.push_back(Now() - start);
    measured.placement = PlacementOf(filter);
    filter = nullptr;
    cudaDeviceSynchronize();
  }
  measured.firstMs = Median(times);
  std::cout << CaseJSON("first", c, measured.placement) << ",\"median_ms\":" << measured.firstMs
            << ",\"each_ms\":" << ListJSON(times) << "}" << std::endl;
}

/** A JSON number, or null where there is none (a rate that could not be measured). */
std::string
Number(double value)
{
  std::ostringstream out;
  if (std::isfinite(value))
    out << value;
  else
    out << "null";
  return out.str();
}

/** The floor's buffers: pageable memory and page-locked memory for the host copies, page-locked
 * host memory and device memory for DMA each way. */
struct FloorBuffers
{
  static constexpr std::size_t CopyBytes = std::size_t{ 1 } << 30;
  static constexpr std::size_t DMABytes = std::size_t{ 256 } << 20;

  FloorBuffers()
    : pageable(new char[CopyBytes])
  {
    std::memset(pageable.get(), 1, CopyBytes); // faults the pages in
    cudaGetDevice(&device);
    if (cudaMallocHost(&pinned, CopyBytes) != cudaSuccess || cudaMallocHost(&pinnedUp, DMABytes) != cudaSuccess ||
        cudaMallocHost(&pinnedDown, DMABytes) != cudaSuccess || cudaMalloc(&deviceUp, DMABytes) != cudaSuccess ||
        cudaMalloc(&deviceDown, DMABytes) != cudaSuccess || cudaStreamCreate(&upStream) != cudaSuccess ||
        cudaStreamCreate(&downStream) != cudaSuccess)
    {
      throw std::runtime_error("cannot allocate the floor measurement's buffers");
    }
    std::memset(pinnedUp, 1, DMABytes);
  }
  ~FloorBuffers()
  {
    cudaFreeHost(pinned);
    cudaFreeHost(pinnedUp);
    cudaFreeHost(pinnedDown);
    cudaFree(deviceUp);
    cudaFree(deviceDown);
    cudaStreamDestroy(upStream);
    cudaStreamDestroy(downStream);
  }
  FloorBuffers(const FloorBuffers &) = delete;
  FloorBuffers &
  operator=(const FloorBuffers &) = delete;

  std::unique_ptr<char[]> pageable;
  char *                  pinned{ nullptr };
  char *                  pinnedUp{ nullptr };
  char *                  pinnedDown{ nullptr };
  void *                  deviceUp{ nullptr };
  void *                  deviceDown{ nullptr };
  cudaStream_t            upStream{ nullptr };
  cudaStream_t            downStream{ nullptr };
  int                     device{ 0 };
};

/** Bytes moved, and the seconds that took. */
struct Rate
{
  double bytes{ 0 };
  double seconds{ 0 };

  double
  GBps() const
  {
    return seconds > 0 ? bytes / seconds / 1e9 : 0;
  }
};

double
SecondsSince(Clock::time_point start)
{
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/** \a threads host threads, each copying its slice of the pageable buffer into the page-locked
 * one in 4 MiB chunks, round and round until \a deadline. */
Rate
CopyUntil(const FloorBuffers & buffers, unsigned int threads, Clock::time_point deadline)
{
  constexpr std::size_t      chunk = std::size_t{ 4 } << 20;
  const std::size_t          slice = FloorBuffers::CopyBytes / threads / chunk * chunk;
  std::atomic<std::uint64_t> bytes{ 0 };
  std::vector<std::thread>   workers;
  const auto                 start = Clock::now();
  for (unsigned int t = 0; t < threads; ++t)
  {
    workers.emplace_back([&, t] {
      const char *  source = buffers.pageable.get() + t * slice;
      char *        target = buffers.pinned + t * slice;
      std::uint64_t done = 0;
      for (std::size_t offset = 0; Clock::now() < deadline; offset = (offset + chunk) % slice)
      {
        std::memcpy(target + offset, source + offset, chunk);
        done += chunk;
      }
      bytes += done;
    });
  }
  for (auto & worker : workers)
  {
    worker.join();
  }
  return { static_cast<double>(bytes), SecondsSince(start) };
}

/** DMA of the 256 MiB page-locked buffer, one copy after the other on \a stream, until \a deadline. */
Rate
DMAUntil(void *            target,
         const void *      source,
         cudaMemcpyKind    kind,
         cudaStream_t      stream,
         int               device,
         Clock::time_point deadline)
{
  cudaSetDevice(device);
  Rate       rate;
  const auto start = Clock::now();
  while (Clock::now() < deadline &&
         cudaMemcpyAsync(target, source, FloorBuffers::DMABytes, kind, stream) == cudaSuccess &&
         cudaStreamSynchronize(stream) == cudaSuccess)
  {
    rate.bytes += FloorBuffers::DMABytes;
  }
  rate.seconds = SecondsSince(start);
  return rate;
}

/** GB/s of host copies, DMA host -> device and DMA device -> host, run together. */
struct Rates
{
  double copy{ 0 };
  double up{ 0 };
  double down{ 0 };
};

/** Runs, at once and for \a seconds, \a threads host copy threads (0: none), DMA up and DMA down. */
Rates
MeasureTogether(const FloorBuffers & b, unsigned int threads, bool up, bool down, double seconds)
{
  const auto deadline =
    Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  Rate        upRate;
  Rate        downRate;
  Rate        copyRate;
  std::thread upThread;
  std::thread downThread;
  if (up)
    upThread = std::thread(
      [&] { upRate = DMAUntil(b.deviceUp, b.pinnedUp, cudaMemcpyHostToDevice, b.upStream, b.device, deadline); });
  if (down)
    downThread = std::thread([&] {
      downRate = DMAUntil(b.pinnedDown, b.deviceDown, cudaMemcpyDeviceToHost, b.downStream, b.device, deadline);
    });
  if (threads > 0)
    copyRate = CopyUntil(b, threads, deadline);
  if (up)
    upThread.join();
  if (down)
    downThread.join();
  return { copyRate.GBps(), upRate.GBps(), downRate.GBps() };
}

/** The hardware floor: DMA alone each way and duplex, host copies alone and during duplex DMA. */
struct HardwareFloor
{
  Rates                     up;
  Rates                     down;
  Rates                     duplex;
  std::vector<unsigned int> threads;
  std::vector<Rates>        copyAlone;
  std::vector<Rates>        together;
};

HardwareFloor
MeasureFloor(double seconds)
{
  const FloorBuffers buffers;
  HardwareFloor      floor;
  MeasureTogether(buffers, 0, true, true, 0.2); // warms DMA up
  floor.up = MeasureTogether(buffers, 0, true, false, seconds);
  floor.down = MeasureTogether(buffers, 0, false, true, seconds);
  floor.duplex = MeasureTogether(buffers, 0, true, true, seconds);
  for (const unsigned int threads : { 8u, 16u })
  {
    floor.threads.push_back(threads);
    floor.copyAlone.push_back(MeasureTogether(buffers, threads, false, false, seconds));
    floor.together.push_back(MeasureTogether(buffers, threads, true, true, seconds));
  }
  std::ostringstream json;
  json << "{\"bench\":\"floor_hardware\",\"mode\":\"floor_hardware\",\"gpu\":" << buffers.device
       << ",\"dma_h2d_gbps\":" << floor.up.up << ",\"dma_d2h_gbps\":" << floor.down.down
       << ",\"duplex_h2d_gbps\":" << floor.duplex.up << ",\"duplex_d2h_gbps\":" << floor.duplex.down
       << ",\"host_copy\":[";
  for (std::size_t i = 0; i < floor.threads.size(); ++i)
  {
    json << (i > 0 ? "," : "") << "{\"threads\":" << floor.threads[i] << ",\"alone_gbps\":" << floor.copyAlone[i].copy
         << ",\"during_duplex_gbps\":" << floor.together[i].copy << ",\"duplex_h2d_gbps\":" << floor.together[i].up
         << ",\"duplex_d2h_gbps\":" << floor.together[i].down << "}";
  }
  std::cout << json.str() << "]}" << std::endl;
  return floor;
}

/** The least time for \a in bytes to go up and \a out bytes down through page-locked staging:
 * host copies of both and DMA each way, all overlapped, at the rates they reach together. */
double
FloorMs(const Rates & together, double in, double out)
{
  const double copy = (in + out) / (together.copy * 1e9);
  const double dma = std::max(in / (together.up * 1e9), out / (together.down * 1e9));
  return std::max(copy, dma) * 1e3;
}

/** Where a case would run when no mode ran it: the filter's plan under the budget it would use. */
Placement
PlannedPlacement(const Case & c)
{
  std::size_t freeBytes = 0;
  std::size_t totalBytes = 0;
  cudaMemGetInfo(&freeBytes, &totalBytes);
  const auto plan = FilterType::MakeGPUPlan(c.image, c.kernel, c.region, c.budget > 0 ? c.budget : freeBytes / 10 * 8);
  Placement  placement;
  placement.device = "gpu (planned)";
  cudaGetDevice(&placement.gpu);
  placement.tiles = plan.tiles.size();
  placement.fft = plan.fftSize;
  return placement;
}

/** floor: the case's input and output bytes at the hardware floor, and measured / floor. */
void
PrintCaseFloor(const Case & c, const HardwareFloor & floor, Measured measured)
{
  if (measured.placement.device == "none")
    measured.placement = PlannedPlacement(c);
  const double              in = 4.0 * static_cast<double>(c.image[0] * c.image[1] * c.image[2]);
  const ImageType::SizeType outSize = c.OutputSize();
  const double              out = 4.0 * static_cast<double>(outSize[0] * outSize[1] * outSize[2]);
  double                    best = std::numeric_limits<double>::infinity();
  unsigned int              bestThreads = 0;
  for (std::size_t i = 0; i < floor.threads.size(); ++i)
  {
    const double ms = FloorMs(floor.together[i], in, out);
    if (ms < best)
    {
      best = ms;
      bestThreads = floor.threads[i];
    }
  }
  const double       pinned = std::max(in / (floor.duplex.up * 1e9), out / (floor.duplex.down * 1e9)) * 1e3;
  std::ostringstream json;
  json << CaseJSON("floor", c, measured.placement) << ",\"input_bytes\":" << in << ",\"output_bytes\":" << out
       << ",\"floor_ms\":" << Number(best) << ",\"floor_threads\":" << bestThreads
       << ",\"page_locked_floor_ms\":" << Number(pinned);
  const auto ratio = [&](const char * name, double ms) {
    if (ms > 0)
      json << ",\"" << name << "_ms\":" << ms << ",\"" << name << "_over_floor\":" << Number(ms / best);
  };
  ratio("same", measured.sameMs);
  ratio("batch", measured.batchMs);
  ratio("first", measured.firstMs);
  std::cout << json.str() << "}" << std::endl;
}

/** The command line. */
struct Settings
{
  std::string           cases{ "abc" };
  int                   repeats{ 7 };
  bool                  withCPU{ true };
  bool                  regions{ false }; // --modes: case b's VALID and FULL too
  std::set<std::string> benches;
};

std::vector<Case>
MakeCases(const Settings & settings)
{
  std::vector<Case> cases;
  const auto        add = [&](const char *        name,
                       ImageType::SizeType image,
                       ImageType::SizeType kernel,
                       OutputRegion        region,
                       std::uint64_t       budget,
                       int                 repeats,
                       bool                withCPU) {
    cases.push_back(Case{ name, image, kernel, region, budget, repeats, withCPU });
  };
  const auto asked = [&](char name) { return settings.cases.find(name) != std::string::npos; };
  const int  repeats = settings.repeats;
  if (asked('a'))
    add("a", { { 512, 512, 128 } }, { { 256, 256, 128 } }, OutputRegion::SAME, 0, repeats, settings.withCPU);
  if (asked('b'))
  {
    add("b", { { 512, 512, 128 } }, { { 15, 15, 15 } }, OutputRegion::SAME, 0, repeats, settings.withCPU);
    if (settings.regions)
    {
      add("b", { { 512, 512, 128 } }, { { 15, 15, 15 } }, OutputRegion::VALID, 0, repeats, settings.withCPU);
      add("b", { { 512, 512, 128 } }, { { 15, 15, 15 } }, OutputRegion::FULL, 0, repeats, false);
    }
  }
  if (asked('c'))
    add("c",
        { { 1024, 1024, 512 } },
        { { 31, 31, 31 } },
        OutputRegion::SAME,
        std::uint64_t{ 5 } << 30,
        repeats,
        settings.withCPU);
  if (asked('d'))
    add("d",
        { { 2048, 2048, 1024 } },
        { { 31, 31, 31 } },
        OutputRegion::SAME,
        std::uint64_t{ 4 } << 30,
        std::min(repeats, 3),
        false);
  return cases;
}

/** Parses the arguments into \a settings; false on a bad one. */
bool
ParseArguments(int argc, char * argv[], Settings & settings)
{
  std::string modes = "all";
  for (int i = 1; i < argc; ++i)
  {
    const std::string arg = argv[i];
    if (arg == "--cases" && i + 1 < argc)
      settings.cases = argv[++i];
    else if (arg == "--repeats" && i + 1 < argc)
      settings.repeats = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--mode" && i + 1 < argc)
      modes = argv[++i];
    else if (arg == "--no-cpu")
      settings.withCPU = false;
    else if (arg == "--modes")
      settings.regions = true;
    else
      return false;
  }
  std::istringstream list(modes);
  for (std::string mode; std::getline(list, mode, ',');)
  {
    if (mode == "all")
      settings.benches.insert({ "same", "batch", "first", "floor" });
    else if (mode == "same" || mode == "batch" || mode == "first" || mode == "floor")
      settings.benches.insert(mode);
    else
      return false;
  }
  return !settings.benches.empty();
}
} // namespace

int
main(int argc, char * argv[])
{
  Settings settings;
  if (!ParseArguments(argc, argv, settings))
  {
    std::cerr << "usage: " << argv[0]
              << " [--mode same|batch|first|floor|all (or a comma-separated list)] [--cases abcd] [--repeats N]"
                 " [--no-cpu] [--modes]"
              << std::endl;
    return EXIT_FAILURE;
  }
  if (cudaFree(nullptr) != cudaSuccess) // creates the context, so the baseline includes it
  {
    std::cerr << "no CUDA device: the benchmark needs a GPU" << std::endl;
    return EXIT_FAILURE;
  }
  const auto runs = [&](const char * bench) { return settings.benches.count(bench) > 0; };
  try
  {
    const HardwareFloor floor = runs("floor") ? MeasureFloor(1.0) : HardwareFloor{};
    for (const Case & c : MakeCases(settings))
    {
      Measured measured;
      if (runs("first")) // before any other filter of the process has run
        RunFirst(c, measured);
      if (runs("same"))
        RunSame(c, measured);
      if (runs("batch"))
        RunBatch(c, measured);
      if (runs("floor"))
        PrintCaseFloor(c, floor, measured);
    }
  }
  catch (const itk::ExceptionObject & error)
  {
    std::cerr << error << std::endl;
    return EXIT_FAILURE;
  }
  catch (const std::exception & error)
  {
    std::cerr << error.what() << std::endl;
    return EXIT_FAILURE;
  }
  return EXIT_SUCCESS;
}
