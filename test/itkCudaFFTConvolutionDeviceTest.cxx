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

// Devices and lifetimes:
// - two filters sharing one input, updated in two threads, one releasing its GPU resources
//   midway: every result stays right;
// - the device: GetLastGPUDevice() says where an update ran (-1 on the CPU), SetGPUDevice(0)
//   works and an absent device is an exception naming it;
// - with the device's memory taken, AUTOMATIC runs on the CPU with a warning and ComputeDevice GPU
//   throws (GPU only);
// - an unknown output region mode is an exception;
// - a filter, its result and a page-locked input (CudaPinnedImportImageContainer) are held past
//   main, after the CUDA runtime shut down: the process still exits cleanly.

#include "itkCudaFFTConvolutionImageFilter.h"
#include "itkCudaPinnedImportImageContainer.h"
#include "itkTestingMacros.h"

#include "CudaFFTConvolutionTestUtilities.h"

#include <cuda_runtime.h>

#include <thread>

namespace
{
using namespace CudaFFTConvolutionTest;
using ComputeDevice = itk::CudaFFTConvolutionImageFilterEnums::ComputeDevice;
using ImageType = itk::Image<float, 3>;
using FilterType = itk::CudaFFTConvolutionImageFilter<ImageType>;
const ImageType::IndexType origin{ { 0, 0, 0 } };


/** Objects released after main returns, when the CUDA runtime has already shut down: a namespace
 * scope object is constructed before main, so before the runtime, and destroyed after it. */
struct HeldPastMain
{
  ImageType::Pointer  pinnedInput;
  FilterType::Pointer filter;
  ImageType::Pointer  result;
};
HeldPastMain g_HeldPastMain;

/** Two filters (two kernels) share one input; each updates 10 times in its own thread, the first
 * releasing its GPU resources after 5. Every result equals ITK's, computed beforehand. */
int
SharedInputInThreads(bool gpu, std::mt19937 & generator)
{
  std::cout << "two filters sharing one input in two threads" << std::endl;
  auto input = RandomImage<ImageType>(origin, ImageType::SizeType{ { 64, 56, 48 } }, generator, -1, 1);
  const std::array<ImageType::Pointer, 2> kernels{
    { RandomImage<ImageType>(origin, ImageType::SizeType{ { 5, 5, 5 } }, generator, 0.1, 1),
      RandomImage<ImageType>(origin, ImageType::SizeType{ { 7, 3, 4 } }, generator, -1, 1) }
  };
  std::array<itk::Image<double, 3>::Pointer, 2> expected;
  std::array<FilterType::Pointer, 2>            filters;
  for (unsigned int t = 0; t < 2; ++t)
  {
    expected[t] = ITKFFTConvolution(input.GetPointer(), kernels[t].GetPointer());
    filters[t] =
      MakeConvolution<FilterType, ImageType>(input, kernels[t], gpu ? ComputeDevice::GPU : ComputeDevice::CPU);
  }
  std::array<double, 2>    worst{ { 0, 0 } };
  std::vector<std::thread> threads;
  for (unsigned int t = 0; t < 2; ++t)
  {
    threads.emplace_back([&, t] {
      try
      {
        for (int update = 0; update < 10; ++update)
        {
          if (t == 0 && update == 5)
          {
            filters[t]->ReleaseGPUResources();
          }
          filters[t]->Modified(); // the input is unchanged: force the update
          filters[t]->Update();
          worst[t] = std::max(worst[t], ScaledDifference(filters[t]->GetOutput(), expected[t].GetPointer()));
        }
      }
      catch (const std::exception & error)
      {
        std::cout << "  thread " << t << ": " << error.what() << std::endl;
        worst[t] = std::numeric_limits<double>::infinity();
      }
    });
  }
  for (auto & thread : threads)
  {
    thread.join();
  }
  Expect(worst[0] <= 1e-5 && worst[1] <= 1e-5,
         "every update of both filters is right (worst " + ToText(std::max(worst[0], worst[1])) + ")");
  Expect(!itk::CudaFFTConvolutionEngine::IsPinnedHost(input->GetBufferPointer()),
         "the shared input is not page-locked");
  return 0;
}

/** GetLastGPUDevice() and SetGPUDevice(). */
int
DeviceSelection(bool gpu, std::mt19937 & generator)
{
  std::cout << "device selection" << std::endl;
  auto       input = RandomImage<ImageType>(origin, ImageType::SizeType{ { 32, 30, 28 } }, generator, -1, 1);
  auto       kernel = RandomImage<ImageType>(origin, ImageType::SizeType{ { 3, 3, 3 } }, generator, 0.1, 1);
  const auto expected = ITKFFTConvolution(input.GetPointer(), kernel.GetPointer());
  auto filter = MakeConvolution<FilterType, ImageType>(input, kernel, gpu ? ComputeDevice::GPU : ComputeDevice::CPU);
  Expect(filter->GetGPUDevice() == -1, "the default GPU device is -1 (the thread's current device)");
  ITK_TRY_EXPECT_NO_EXCEPTION(filter->Update());
  if (!gpu)
  {
    Expect(filter->GetLastGPUDevice() == -1 && filter->GetLastComputeDevice() == ComputeDevice::CPU,
           "an update on the CPU reports GPU device -1");
    return 0;
  }
  Expect(filter->GetLastGPUDevice() >= 0, "the last GPU device is " + std::to_string(filter->GetLastGPUDevice()));
  filter->SetGPUDevice(0);
  filter->Modified();
  ITK_TRY_EXPECT_NO_EXCEPTION(filter->Update());
  Expect(filter->GetLastGPUDevice() == 0 && ScaledDifference(filter->GetOutput(), expected.GetPointer()) <= 1e-5,
         "SetGPUDevice(0) runs on device 0");
  filter->SetGPUDevice(999);
  filter->Modified();
  std::string message;
  try
  {
    filter->Update();
  }
  catch (const itk::ExceptionObject & error)
  {
    message = error.GetDescription();
  }
  Expect(message.find("999") != std::string::npos, "SetGPUDevice(999): an exception naming the device: " + message);
  filter->SetGPUDevice(-1);
  filter->Modified();
  ITK_TRY_EXPECT_NO_EXCEPTION(filter->Update());
  Expect(ScaledDifference(filter->GetOutput(), expected.GetPointer()) <= 1e-5, "the filter works again on device -1");
  return 0;
}

/** Takes device memory with the CUDA runtime until less than \a leave bytes (plus one MiB) are
 * free, in blocks as large as can be had; frees it all when destroyed. */
class DeviceMemoryHog
{
public:
  explicit DeviceMemoryHog(std::uint64_t leave)
  {
    for (std::uint64_t block = std::uint64_t{ 1 } << 40; block >= (1u << 20);)
    {
      const std::uint64_t available = FreeDeviceBytes();
      if (available < leave + (1u << 20))
      {
        break;
      }
      const std::uint64_t want = std::min(block, available - leave);
      void *              pointer = nullptr;
      if (cudaMalloc(&pointer, want) == cudaSuccess)
      {
        m_Blocks.push_back(pointer);
      }
      else
      {
        cudaGetLastError();
        block = want / 2;
      }
    }
  }
  ~DeviceMemoryHog()
  {
    for (void * pointer : m_Blocks)
    {
      cudaFree(pointer);
    }
  }
  DeviceMemoryHog(const DeviceMemoryHog &) = delete;
  DeviceMemoryHog &
  operator=(const DeviceMemoryHog &) = delete;

private:
  std::vector<void *> m_Blocks;
};

/** With only a few MiB of device memory free, AUTOMATIC runs on the CPU with a warning, and
 * ComputeDevice GPU throws. */
int
FallbackToCPU(std::mt19937 & generator)
{
  std::cout << "AUTOMATIC with the device's memory taken" << std::endl;
  auto       input = RandomImage<ImageType>(origin, ImageType::SizeType{ { 64, 64, 64 } }, generator, -1, 1);
  auto       kernel = RandomImage<ImageType>(origin, ImageType::SizeType{ { 7, 7, 7 } }, generator, 0.1, 1);
  const auto expected = ITKFFTConvolution(input.GetPointer(), kernel.GetPointer());
  {
    auto warmUp = MakeConvolution<FilterType, ImageType>(input, kernel, ComputeDevice::GPU); // loads cuFFT
    ITK_TRY_EXPECT_NO_EXCEPTION(warmUp->Update());
  }
  DeviceMemoryHog hog(6u << 20);
  Expect(FreeDeviceBytes() < (16u << 20), std::to_string(FreeDeviceBytes() >> 20) + " MiB of device memory left free");
  auto window = WarningCollector::New();
  itk::OutputWindow::SetInstance(window);
  auto automatic = MakeConvolution<FilterType, ImageType>(input, kernel, ComputeDevice::AUTOMATIC);
  bool ran = false;
  try
  {
    automatic->Update();
    ran = true;
  }
  catch (const itk::ExceptionObject & error)
  {
    std::cout << "  " << error.GetDescription() << std::endl;
  }
  itk::OutputWindow::SetInstance(nullptr);
  Expect(ran && automatic->GetLastComputeDevice() == ComputeDevice::CPU && automatic->GetLastGPUDevice() == -1,
         "AUTOMATIC ran on the CPU");
  Expect(window->m_Text.find("CPU") != std::string::npos, "with a warning saying so: " + window->m_Text);
  Expect(ran && ScaledDifference(automatic->GetOutput(), expected.GetPointer()) <= 1e-5, "and the right result");
  auto required = MakeConvolution<FilterType, ImageType>(input, kernel, ComputeDevice::GPU);
  ITK_TRY_EXPECT_EXCEPTION(required->Update());
  return 0;
}

/** SetOutputRegionMode with a value that is neither SAME nor VALID (nor FULL, 2). */
int
UnknownOutputRegionMode()
{
  std::cout << "an unknown output region mode" << std::endl;
  auto filter = FilterType::New();
  filter->SetOutputRegion(FilterType::OutputRegionEnum::VALID);
  ITK_TRY_EXPECT_EXCEPTION(filter->SetOutputRegionMode(static_cast<FilterType::OutputRegionModeEnum>(7)));
  Expect(filter->GetOutputRegion() == FilterType::OutputRegionEnum::VALID, "the mode is left as it was");
  return 0;
}

/** A filter updated twice, its output and its page-locked input are kept in g_HeldPastMain. */
int
HoldPastMain(bool gpu, std::mt19937 & generator)
{
  std::cout << "objects held past main" << std::endl;
  using PinnedContainerType = itk::CudaPinnedImportImageContainer<itk::SizeValueType, float>;
  auto pinned = ImageType::New();
  pinned->SetRegions(ImageType::RegionType(origin, ImageType::SizeType{ { 48, 40, 36 } }));
  pinned->SetPixelContainer(PinnedContainerType::New());
  pinned->Allocate();
  std::uniform_real_distribution<float> values(-1, 1);
  for (itk::ImageRegionIterator<ImageType> it(pinned, pinned->GetBufferedRegion()); !it.IsAtEnd(); ++it)
  {
    it.Set(values(generator));
  }
  Expect(!gpu || itk::CudaFFTConvolutionEngine::IsPinnedHost(pinned->GetBufferPointer()),
         "the opt-in container is page-locked");
  auto kernel = RandomImage<ImageType>(origin, ImageType::SizeType{ { 5, 5, 5 } }, generator, 0.1, 1);
  auto filter = MakeConvolution<FilterType, ImageType>(pinned, kernel, gpu ? ComputeDevice::GPU : ComputeDevice::CPU);
  for (int update = 0; update < 2; ++update)
  {
    pinned->Modified();
    ITK_TRY_EXPECT_NO_EXCEPTION(filter->Update());
  }
  Expect(ScaledDifference(filter->GetOutput(),
                          ITKFFTConvolution(pinned.GetPointer(), kernel.GetPointer()).GetPointer()) <= 1e-5,
         "the held result is right; it is released after main (the test passes when the process exits cleanly)");
  g_HeldPastMain.pinnedInput = pinned;
  g_HeldPastMain.filter = filter;
  g_HeldPastMain.result = filter->GetOutput();
  return 0;
}
} // namespace

int
itkCudaFFTConvolutionDeviceTest(int argc, char * argv[])
{
  bool       skip = false;
  const bool gpu = WantsGPU(argc, argv, skip);
  if (skip)
  {
    return SkipReturnCode;
  }
  std::mt19937 generator(17);
  int          failures = 0;
  failures += SharedInputInThreads(gpu, generator);
  failures += DeviceSelection(gpu, generator);
  if (gpu)
  {
    failures += FallbackToCPU(generator);
  }
  failures += UnknownOutputRegionMode();
  failures += HoldPastMain(gpu, generator);
  failures += Failures();
  std::cout << failures << " failures" << std::endl;
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
