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

// GPU memory (GPU only): the filter's estimate is never below the peak the device reports
// while it runs, and after ReleaseGPUResources() or the filter's destruction the device's free
// memory returns to what it was before; after a release a re-executed update holds device memory
// again and gives the same result.

#include "itkCudaFFTConvolutionImageFilter.h"
#include "itkImageDuplicator.h"
#include "itkTestingMacros.h"

#include "CudaFFTConvolutionTestUtilities.h"

#include <atomic>
#include <thread>

namespace
{
using ImageType = itk::Image<float, 3>;
using FilterType = itk::CudaFFTConvolutionImageFilter<ImageType>;
using OutputRegion = itk::CudaFFTConvolutionImageFilterEnums::OutputRegion;


struct Case
{
  ImageType::SizeType image;
  ImageType::SizeType kernel;
  OutputRegion        mode;
  itk::SizeValueType  budget;
};

FilterType::Pointer
MakeFilter(const Case & c, std::mt19937 & generator)
{
  auto input =
    CudaFFTConvolutionTest::RandomImage<ImageType>(ImageType::IndexType{ { 0, 0, 0 } }, c.image, generator, -1, 1);
  auto kernel =
    CudaFFTConvolutionTest::RandomImage<ImageType>(ImageType::IndexType{ { 0, 0, 0 } }, c.kernel, generator, 0.1, 1);
  auto filter = FilterType::New();
  filter->SetInput(input);
  filter->SetKernelImage(kernel);
  filter->SetOutputRegion(c.mode);
  filter->SetGPUMemoryBudget(c.budget);
  filter->SetComputeDevice(itk::CudaFFTConvolutionImageFilterEnums::ComputeDevice::GPU);
  return filter;
}
} // namespace

int
itkCudaFFTConvolutionMemoryTest(int argc, char * argv[])
{
  bool skip = false;
  CudaFFTConvolutionTest::WantsGPU(argc, argv, skip);
  if (skip || argc < 2 || std::string(argv[1]) != "gpu")
  {
    std::cout << "GPU memory test: skipped without a GPU" << std::endl;
    return CudaFFTConvolutionTest::SkipReturnCode;
  }
  const itk::SizeValueType MiB = 1 << 20;
  const std::vector<Case>  cases = { { { { 64, 64, 64 } }, { { 7, 7, 7 } }, OutputRegion::SAME, 0 },
                                     { { { 200, 180, 150 } }, { { 9, 8, 7 } }, OutputRegion::FULL, 0 },
                                     { { { 256, 256, 128 } }, { { 15, 15, 15 } }, OutputRegion::SAME, 64 * MiB } };
  std::mt19937             generator(11);
  // Warm-up: the CUDA context and cuFFT's code for these sizes stay loaded for the process.
  for (const auto & c : cases)
  {
    auto filter = MakeFilter(c, generator);
    filter->Update();
  }
  int failures = 0;
  for (const auto & c : cases)
  {
    auto                       filter = MakeFilter(c, generator);
    const std::uint64_t        before = CudaFFTConvolutionTest::FreeDeviceBytes();
    std::atomic<std::uint64_t> lowest{ before };
    std::atomic<bool>          stop{ false };
    std::thread                sampler([&] {
      while (!stop)
      {
        const std::uint64_t now = CudaFFTConvolutionTest::FreeDeviceBytes();
        if (now < lowest)
        {
          lowest = now;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
    });
    filter->Update();
    filter->GetInput()->GetPixelContainer()->Modified();
    const_cast<ImageType *>(filter->GetInput())->Modified();
    filter->Update(); // a repeated update allocates nothing new
    stop = true;
    sampler.join();
    const std::uint64_t peak = before - std::min<std::uint64_t>(before, lowest);
    const std::uint64_t estimate = filter->GetLastEstimatedGPUMemory();
    auto                duplicator = itk::ImageDuplicator<ImageType>::New();
    duplicator->SetInputImage(filter->GetOutput());
    duplicator->Update();
    const ImageType::Pointer beforeRelease = duplicator->GetOutput();
    filter->ReleaseGPUResources();
    const std::uint64_t afterRelease = CudaFFTConvolutionTest::FreeDeviceBytes();
    // Usable again after a release: the filter must run again (an unmodified one would not).
    filter->Modified();
    ITK_TRY_EXPECT_NO_EXCEPTION(filter->Update());
    const std::uint64_t afterReuse = CudaFFTConvolutionTest::FreeDeviceBytes();
    const double        reuseDifference =
      CudaFFTConvolutionTest::ScaledDifference(filter->GetOutput(), beforeRelease.GetPointer());
    filter = nullptr;
    const std::uint64_t afterDestruction = CudaFFTConvolutionTest::FreeDeviceBytes();
    std::cout << c.image << " * " << c.kernel << " " << c.mode << " budget " << c.budget << ": peak " << peak
              << " bytes, estimate " << estimate << ", free after release "
              << static_cast<long long>(afterRelease - before) << ", after reuse "
              << static_cast<long long>(afterReuse - before) << ", after destruction "
              << static_cast<long long>(afterDestruction - before) << "; reuse vs before the release "
              << reuseDifference << std::endl;
    if (estimate < peak)
    {
      std::cout << "  FAILED: the estimate is below the measured peak" << std::endl;
      ++failures;
    }
    if (afterRelease != before || afterDestruction != before)
    {
      std::cout << "  FAILED: device memory did not return to its earlier value" << std::endl;
      ++failures;
    }
    if (!(reuseDifference <= 1e-6) || afterReuse >= afterRelease)
    {
      std::cout << "  FAILED: after a release the filter must run again, hold device memory again and give the same "
                   "result"
                << std::endl;
      ++failures;
    }
  }
  std::cout << failures << " failures" << std::endl;
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
