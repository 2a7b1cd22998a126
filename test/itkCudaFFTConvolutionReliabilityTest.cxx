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

// Reliability: NaN and Inf propagate without a crash; a kernel spacing different from the image's
// draws a warning naming both; 2 and 8 filters in parallel threads on one device give the right
// results; an abort stops between tiles, and the filter works again afterwards with its memory
// returned; on the GPU, memory taken by another allocation before a run makes the filter fall
// back to smaller tiles, and with nothing left it throws a clear exception instead of aborting.

#include "itkCudaFFTConvolutionImageFilter.h"
#include "itkCommand.h"
#include "itkOutputWindow.h"
#include "itkTestingMacros.h"

#include "CudaFFTConvolutionTestUtilities.h"

#include <cuda_runtime.h>

#include <atomic>
#include <thread>

namespace
{
using namespace CudaFFTConvolutionTest;
using ImageType = itk::Image<float, 3>;
using FilterType = itk::CudaFFTConvolutionImageFilter<ImageType>;
using ComputeDevice = itk::CudaFFTConvolutionImageFilterEnums::ComputeDevice;


FilterType::Pointer
MakeFilter(ImageType * input, ImageType * kernel, ComputeDevice device)
{
  return CudaFFTConvolutionTest::MakeConvolution<FilterType>(input, kernel, device);
}

/** Largest difference relative to the reference's largest magnitude. */
double
RelativeDifference(const ImageType * result, const ImageType * reference)
{
  return MaximumDifference(result, reference) / (MaximumMagnitude(reference) + 1e-30);
}

ImageType::Pointer
Result(FilterType * filter)
{
  filter->Update();
  ImageType::Pointer result = filter->GetOutput();
  result->DisconnectPipeline();
  return result;
}

} // namespace

int
itkCudaFFTConvolutionReliabilityTest(int argc, char * argv[])
{
  bool       skip = false;
  const bool gpu = WantsGPU(argc, argv, skip);
  if (skip)
  {
    return SkipReturnCode;
  }
  const auto                 device = gpu ? ComputeDevice::GPU : ComputeDevice::CPU;
  std::mt19937               generator(5);
  const ImageType::IndexType origin{ { 0, 0, 0 } };
  auto input = RandomImage<ImageType>(origin, ImageType::SizeType{ { 40, 36, 30 } }, generator, -1, 1);
  auto kernel = RandomImage<ImageType>(origin, ImageType::SizeType{ { 5, 5, 5 } }, generator, 0.1, 1);

  std::cout << "NaN and Inf" << std::endl;
  for (const float bad : { std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity() })
  {
    auto poisoned = RandomImage<ImageType>(origin, ImageType::SizeType{ { 40, 36, 30 } }, generator, -1, 1);
    poisoned->SetPixel(ImageType::IndexType{ { 20, 18, 15 } }, bad);
    auto filter = MakeFilter(poisoned, kernel, device);
    ITK_TRY_EXPECT_NO_EXCEPTION(filter->Update());
    // The FFT mixes every voxel of a tile: a NaN or Inf there makes the tile NaN (Inf - Inf).
    const float value = filter->GetOutput()->GetPixel(ImageType::IndexType{ { 20, 18, 15 } });
    Expect(!std::isfinite(value), "a non-finite input voxel gives a non-finite output, no crash");
    auto badKernel = RandomImage<ImageType>(origin, ImageType::SizeType{ { 3, 3, 3 } }, generator, 0.1, 1);
    badKernel->SetPixel(ImageType::IndexType{ { 1, 1, 1 } }, bad);
    auto kernelFilter = MakeFilter(input, badKernel, device);
    ITK_TRY_EXPECT_NO_EXCEPTION(kernelFilter->Update());
    Expect(!std::isfinite(kernelFilter->GetOutput()->GetPixel(ImageType::IndexType{ { 3, 3, 3 } })),
           "a non-finite kernel voxel gives a non-finite output, no crash");
  }

  std::cout << "kernel spacing" << std::endl;
  {
    auto window = WarningCollector::New();
    itk::OutputWindow::SetInstance(window);
    auto         anisotropic = RandomImage<ImageType>(origin, ImageType::SizeType{ { 3, 3, 3 } }, generator, 0.1, 1);
    const double spacing[3] = { 0.1, 0.1, 0.3 };
    anisotropic->SetSpacing(spacing);
    auto filter = MakeFilter(input, anisotropic, device);
    ITK_TRY_EXPECT_NO_EXCEPTION(filter->Update());
    itk::OutputWindow::SetInstance(nullptr);
    std::cout << "  warning: " << window->m_Text << std::endl;
    Expect(window->m_Text.find("0.3") != std::string::npos && window->m_Text.find("[1, 1, 1]") != std::string::npos,
           "the warning names the kernel's and the image's spacing");
  }

  std::cout << "parallel filters" << std::endl;
  for (const unsigned int threads : { 2u, 8u })
  {
    std::vector<ImageType::Pointer> inputs;
    std::vector<ImageType::Pointer> expected;
    for (unsigned int t = 0; t < threads; ++t)
    {
      inputs.push_back(RandomImage<ImageType>(origin, ImageType::SizeType{ { 48, 40, 32 } }, generator, -1, 1));
      auto reference = MakeFilter(inputs.back(), kernel, device);
      expected.push_back(Result(reference));
    }
    std::vector<double>      differences(threads, -1);
    std::vector<std::thread> workers;
    for (unsigned int t = 0; t < threads; ++t)
    {
      workers.emplace_back([&, t] {
        try
        {
          auto filter = MakeFilter(inputs[t], kernel, device);
          for (int repeat = 0; repeat < 3; ++repeat)
          {
            inputs[t]->Modified();
            filter->Update();
          }
          differences[t] = MaximumDifference(filter->GetOutput(), expected[t].GetPointer());
        }
        catch (const std::exception & error)
        {
          std::cout << "  thread " << t << ": " << error.what() << std::endl;
        }
      });
    }
    for (auto & worker : workers)
    {
      worker.join();
    }
    const double worst = *std::max_element(differences.begin(), differences.end());
    const bool   allRan = *std::min_element(differences.begin(), differences.end()) >= 0;
    Expect(allRan && worst <= 1e-5,
           std::to_string(threads) + " filters in parallel threads agree with sequential runs");
  }

  std::cout << "abort between tiles" << std::endl;
  {
    const ImageType::SizeType size =
      gpu ? ImageType::SizeType{ { 160, 150, 140 } } : ImageType::SizeType{ { 64, 60, 56 } };
    auto       large = RandomImage<ImageType>(origin, size, generator, -1, 1);
    const auto before = gpu ? FreeDeviceBytes() : 0;
    auto       filter = MakeFilter(large, kernel, device);
    filter->SetGPUMemoryBudget(gpu ? 48u << 20 : 512u << 10);
    auto aborter = itk::CStyleCommand::New();
    aborter->SetClientData(filter.GetPointer());
    aborter->SetCallback([](itk::Object * caller, const itk::EventObject &, void *) {
      auto * process = static_cast<itk::ProcessObject *>(caller);
      if (process->GetProgress() > 0)
      {
        process->AbortGenerateDataOn();
      }
    });
    const auto observer = filter->AddObserver(itk::ProgressEvent(), aborter);
    bool       aborted = false;
    try
    {
      filter->Update();
    }
    catch (const itk::ProcessAborted &)
    {
      aborted = true;
    }
    Expect(aborted && filter->GetNumberOfTiles() > 2, "an abort request stops the update between tiles");
    filter->RemoveObserver(observer);
    filter->AbortGenerateDataOff();
    filter->Modified();
    ITK_TRY_EXPECT_NO_EXCEPTION(filter->Update());
    auto reference = MakeFilter(large, kernel, device);
    Expect(RelativeDifference(filter->GetOutput(), Result(reference).GetPointer()) <= 2e-6,
           "the filter works again after an abort");
    if (gpu)
    {
      filter->ReleaseGPUResources();
      reference->ReleaseGPUResources();
      Expect(FreeDeviceBytes() == before, "after an abort and a release the device memory is back");
    }
  }

  if (gpu)
  {
    std::cout << "GPU memory taken by another allocation" << std::endl;
    auto big = RandomImage<ImageType>(origin, ImageType::SizeType{ { 512, 512, 128 } }, generator, -1, 1);
    auto reference = MakeFilter(big, kernel, device);
    auto expected = Result(reference);
    reference = nullptr;
    const std::uint64_t available = FreeDeviceBytes();
    void *              hog = nullptr;
    const std::size_t   leave = std::size_t{ 400 } << 20;
    Expect(cudaMalloc(&hog, available - leave) == cudaSuccess, "another allocation takes all but 400 MiB");
    {
      // The budget says 8 GiB, the device has 400 MiB free: the first try fails, the retry tiles.
      auto filter = MakeFilter(big, kernel, device);
      filter->SetGPUMemoryBudget(std::uint64_t{ 8 } << 30);
      ITK_TRY_EXPECT_NO_EXCEPTION(filter->Update());
      const double difference = RelativeDifference(filter->GetOutput(), expected.GetPointer());
      Expect(filter->GetNumberOfTiles() > 1 && difference <= 2e-6,
             "falls back to " + std::to_string(filter->GetNumberOfTiles()) + " smaller tiles and the same result (" +
               std::to_string(difference) + ")");
      // The default budget (80% of what is free) tiles from the start.
      auto automatic = MakeFilter(big, kernel, device);
      ITK_TRY_EXPECT_NO_EXCEPTION(automatic->Update());
      Expect(RelativeDifference(automatic->GetOutput(), expected.GetPointer()) <= 2e-6,
             "the automatic budget fits what is free (" + std::to_string(automatic->GetNumberOfTiles()) + " tiles)");
    }
    cudaFree(hog);
    hog = nullptr;
    const std::uint64_t nearlyAll = FreeDeviceBytes() - (std::uint64_t{ 6 } << 20);
    Expect(cudaMalloc(&hog, nearlyAll) == cudaSuccess, "another allocation takes all but 6 MiB");
    {
      auto filter = MakeFilter(big, kernel, device);
      bool clear = false;
      try
      {
        filter->Update();
      }
      catch (const itk::ExceptionObject & error)
      {
        std::cout << "  " << error.GetDescription() << std::endl;
        const std::string text = error.GetDescription();
        clear = text.find("memory") != std::string::npos || text.find("too small") != std::string::npos;
      }
      Expect(clear, "with no memory left: a clear exception, no abort");
    }
    cudaFree(hog);
  }
  std::cout << Failures() << " failures" << std::endl;
  return Failures() == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
