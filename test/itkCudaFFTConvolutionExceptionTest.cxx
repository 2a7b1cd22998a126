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

// Bad input gets a clear itk::ExceptionObject, never an abort: a kernel with a zero-length axis,
// a zero-sum kernel with Normalize, a requested region outside the output, a boundary condition
// the engine does not implement, a GPU required where there is none, a budget too small.

#include "itkCudaFFTConvolutionImageFilter.h"
#include "itkTestingMacros.h"

#include "CudaFFTConvolutionTestUtilities.h"

namespace
{
using ImageType = itk::Image<float, 2>;
using FilterType = itk::CudaFFTConvolutionImageFilter<ImageType>;
using ComputeDevice = itk::CudaFFTConvolutionImageFilterEnums::ComputeDevice;

/** A boundary condition of a type the filter does not know (a subclass of a known one). */
class MirrorLikeBoundaryCondition : public itk::ZeroFluxNeumannBoundaryCondition<ImageType>
{
public:
  const char *
  GetNameOfClass() const override
  {
    return "MirrorLikeBoundaryCondition";
  }
};

bool
MessageContains(const itk::ExceptionObject & error, const std::string & text)
{
  const bool found = std::string(error.GetDescription()).find(text) != std::string::npos;
  std::cout << (found ? "  expected exception: " : "  UNEXPECTED exception text: ") << error.GetDescription()
            << std::endl;
  return found;
}

FilterType::Pointer
MakeFilter(ImageType * input, ImageType * kernel, ComputeDevice device)
{
  return CudaFFTConvolutionTest::MakeConvolution<FilterType>(input, kernel, device);
}
} // namespace

int
itkCudaFFTConvolutionExceptionTest(int argc, char * argv[])
{
  bool       skip = false;
  const bool gpu = CudaFFTConvolutionTest::WantsGPU(argc, argv, skip);
  if (skip)
  {
    return CudaFFTConvolutionTest::SkipReturnCode;
  }
  const auto   device = gpu ? ComputeDevice::GPU : ComputeDevice::CPU;
  std::mt19937 generator(3);
  auto input = CudaFFTConvolutionTest::RandomImage<ImageType>(ImageType::IndexType{ { 0, 0 } },
                                                              ImageType::SizeType{ { 32, 24 } }, generator, 0, 1);
  auto kernel = CudaFFTConvolutionTest::RandomImage<ImageType>(ImageType::IndexType{ { 0, 0 } },
                                                               ImageType::SizeType{ { 5, 5 } }, generator, 0.1, 1);
  int failures = 0;
  const auto expectFailure = [&failures](const char * what, const std::function<void()> & action, const std::string & text) {
    std::cout << what << std::endl;
    try
    {
      action();
      std::cout << "  FAILED: no exception" << std::endl;
      ++failures;
    }
    catch (const itk::ExceptionObject & error)
    {
      failures += MessageContains(error, text) ? 0 : 1;
    }
  };

  // A kernel with a zero-length axis.
  auto empty = CudaFFTConvolutionTest::MakeImage<ImageType>(ImageType::IndexType{ { 0, 0 } }, ImageType::SizeType{ { 5, 0 } });
  expectFailure("zero-length kernel axis", [&] { MakeFilter(input, empty, device)->Update(); }, "zero-length axis");

  // A kernel summing to zero cannot be normalized; without Normalize it convolves.
  auto zeroSum = CudaFFTConvolutionTest::MakeImage<ImageType>(ImageType::IndexType{ { 0, 0 } }, ImageType::SizeType{ { 2, 1 } });
  zeroSum->GetBufferPointer()[0] = 1;
  zeroSum->GetBufferPointer()[1] = -1;
  expectFailure("zero-sum kernel with Normalize",
                [&] {
                  auto filter = MakeFilter(input, zeroSum, device);
                  filter->NormalizeOn();
                  filter->Update();
                },
                "cannot be normalized");
  {
    auto filter = MakeFilter(input, zeroSum, device);
    ITK_TRY_EXPECT_NO_EXCEPTION(filter->Update());
    // y[n] = x[n+1] - x[n] (centre floor(2/2) = 1): check one voxel.
    ImageType::IndexType at{ { 3, 4 } };
    const double expected = input->GetPixel(ImageType::IndexType{ { 4, 4 } }) - input->GetPixel(at);
    ITK_TEST_EXPECT_TRUE(std::abs(filter->GetOutput()->GetPixel(at) - expected) < 1e-5);
  }

  // A requested region outside the output's largest region.
  expectFailure("requested region outside the largest region",
                [&] {
                  auto filter = MakeFilter(input, kernel, device);
                  filter->UpdateOutputInformation();
                  filter->GetOutput()->SetRequestedRegion(
                    ImageType::RegionType(ImageType::IndexType{ { 30, 20 } }, ImageType::SizeType{ { 10, 10 } }));
                  filter->GetOutput()->Update();
                },
                "outside the largest possible region");

  // A boundary condition the engine does not implement.
  MirrorLikeBoundaryCondition mirror;
  expectFailure("unsupported boundary condition",
                [&] {
                  auto filter = MakeFilter(input, kernel, device);
                  filter->SetBoundaryCondition(&mirror);
                  filter->Update();
                },
                "MirrorLikeBoundaryCondition is not supported");

  // A budget smaller than any tiling.
  expectFailure("budget of 1 byte",
                [&] {
                  auto filter = MakeFilter(input, kernel, device);
                  filter->SetGPUMemoryBudget(1);
                  filter->Update();
                },
                "too small");

  // The GPU required where none is present.
  std::string reason;
  if (!itk::CudaFFTConvolutionEngine::DeviceAvailable(&reason))
  {
    expectFailure("GPU required without a device",
                  [&] { MakeFilter(input, kernel, ComputeDevice::GPU)->Update(); },
                  "the GPU was required");
    auto automatic = MakeFilter(input, kernel, ComputeDevice::AUTOMATIC);
    ITK_TRY_EXPECT_NO_EXCEPTION(automatic->Update());
    ITK_TEST_EXPECT_EQUAL(automatic->GetLastComputeDevice(), ComputeDevice::CPU);
  }
  else
  {
    auto automatic = MakeFilter(input, kernel, ComputeDevice::AUTOMATIC);
    ITK_TRY_EXPECT_NO_EXCEPTION(automatic->Update());
    ITK_TEST_EXPECT_EQUAL(automatic->GetLastComputeDevice(), ComputeDevice::GPU);
  }
  std::cout << failures << " failures" << std::endl;
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
