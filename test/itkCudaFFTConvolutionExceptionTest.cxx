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
// the engine does not implement, an unknown boundary name, a GPU required where there is none, a
// budget too small. And the boundary conditions the filter supports are copied into it: one
// destroyed before the update (a Python temporary) is still applied, and the by-name setter.

#include "itkCudaFFTConvolutionImageFilter.h"
#include "itkTestingMacros.h"

#include "CudaFFTConvolutionTestUtilities.h"

#include <typeinfo>

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
  auto         input = CudaFFTConvolutionTest::RandomImage<ImageType>(
    ImageType::IndexType{ { 0, 0 } }, ImageType::SizeType{ { 32, 24 } }, generator, 0, 1);
  auto kernel = CudaFFTConvolutionTest::RandomImage<ImageType>(
    ImageType::IndexType{ { 0, 0 } }, ImageType::SizeType{ { 5, 5 } }, generator, 0.1, 1);
  int        failures = 0;
  const auto expectFailure =
    [&failures](const char * what, const std::function<void()> & action, const std::string & text) {
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
  auto empty =
    CudaFFTConvolutionTest::MakeImage<ImageType>(ImageType::IndexType{ { 0, 0 } }, ImageType::SizeType{ { 5, 0 } });
  expectFailure(
    "zero-length kernel axis", [&] { MakeFilter(input, empty, device)->Update(); }, "zero-length axis");

  // A kernel summing to zero cannot be normalized; without Normalize it convolves.
  auto zeroSum =
    CudaFFTConvolutionTest::MakeImage<ImageType>(ImageType::IndexType{ { 0, 0 } }, ImageType::SizeType{ { 2, 1 } });
  zeroSum->GetBufferPointer()[0] = 1;
  zeroSum->GetBufferPointer()[1] = -1;
  expectFailure(
    "zero-sum kernel with Normalize",
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
    const double         expected = input->GetPixel(ImageType::IndexType{ { 4, 4 } }) - input->GetPixel(at);
    ITK_TEST_EXPECT_TRUE(std::abs(filter->GetOutput()->GetPixel(at) - expected) < 1e-5);
  }

  // A requested region outside the output's largest region.
  expectFailure(
    "requested region outside the largest region",
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
  expectFailure(
    "unsupported boundary condition",
    [&] {
      auto filter = MakeFilter(input, kernel, device);
      filter->SetBoundaryCondition(&mirror);
      filter->Update();
    },
    "MirrorLikeBoundaryCondition is not supported");

  // The supported boundary conditions are copied: a ConstantBoundaryCondition(5) changed and
  // destroyed before the update still applies 5, exactly as a live one does.
  const auto check = [&failures](bool condition, const std::string & what) {
    std::cout << (condition ? "  ok: " : "  FAILED: ") << what << std::endl;
    failures += condition ? 0 : 1;
  };
  const double tolerance = 1e-5 * 25 * CudaFFTConvolutionTest::MaximumMagnitude(input.GetPointer()); // 5x5 kernel <= 1
  using ConstantType = itk::ConstantBoundaryCondition<ImageType>;
  using NeumannType = itk::ZeroFluxNeumannBoundaryCondition<ImageType>;
  using PeriodicType = itk::PeriodicBoundaryCondition<ImageType>;
  std::cout << "a boundary condition destroyed before the update" << std::endl;
  auto copied = MakeFilter(input, kernel, device);
  {
    auto * temporary = new ConstantType;
    temporary->SetConstant(5);
    copied->SetBoundaryCondition(temporary);
    check(copied->GetBoundaryCondition() != temporary, "the filter holds its own copy, not the caller's object");
    temporary->SetConstant(-7); // the caller's later change is not seen
    delete temporary;
  }
  ITK_TRY_EXPECT_NO_EXCEPTION(copied->Update());
  const auto * held = dynamic_cast<const ConstantType *>(copied->GetBoundaryCondition());
  check(held != nullptr && held->GetConstant() == 5, "the copy is a ConstantBoundaryCondition with the constant 5");
  ConstantType five;
  five.SetConstant(5);
  auto live = MakeFilter(input, kernel, device);
  live->SetBoundaryCondition(&five);
  ITK_TRY_EXPECT_NO_EXCEPTION(live->Update());
  auto neumann = MakeFilter(input, kernel, device); // ITK's default, ZeroFluxNeumann
  ITK_TRY_EXPECT_NO_EXCEPTION(neumann->Update());
  const double toLive = CudaFFTConvolutionTest::MaximumDifference(copied->GetOutput(), live->GetOutput());
  const double toNeumann = CudaFFTConvolutionTest::MaximumDifference(copied->GetOutput(), neumann->GetOutput());
  check(toLive >= 0 && toLive <= tolerance,
        "equal to a live ConstantBoundaryCondition(5): max difference " + CudaFFTConvolutionTest::ToText(toLive));
  check(toNeumann > 1, "differs from ZeroFluxNeumann: max difference " + CudaFFTConvolutionTest::ToText(toNeumann));

  // Modified() when the applied condition changes: an equal one does not re-execute, another
  // constant or kind does.
  std::cout << "Modified() by the boundary condition" << std::endl;
  ConstantType again;
  again.SetConstant(5);
  itk::ModifiedTimeType before = copied->GetMTime();
  copied->SetBoundaryCondition(&again);
  check(copied->GetMTime() == before, "an equal condition leaves the filter unmodified");
  again.SetConstant(6);
  copied->SetBoundaryCondition(&again);
  check(copied->GetMTime() > before, "another constant modifies the filter");
  ITK_TRY_EXPECT_NO_EXCEPTION(copied->Update());
  const double toSix = CudaFFTConvolutionTest::MaximumDifference(copied->GetOutput(), live->GetOutput());
  check(toSix > 0.5,
        "the update re-executes with the constant 6: max difference " + CudaFFTConvolutionTest::ToText(toSix));
  before = copied->GetMTime();
  NeumannType neumannCondition;
  copied->SetBoundaryCondition(&neumannCondition);
  check(copied->GetMTime() > before, "another kind modifies the filter");

  // By name: each name gives the result of a live condition of that kind.
  PeriodicType periodicCondition;
  ConstantType zero;
  struct NamedBoundary
  {
    const char *                             name;
    itk::ImageBoundaryCondition<ImageType> * reference;
  };
  const NamedBoundary named[] = { { "zero-flux-neumann", &neumannCondition },
                                  { "zero_flux_neumann", &neumannCondition },
                                  { "neumann", &neumannCondition },
                                  { "constant", &zero },
                                  { "periodic", &periodicCondition } };
  for (const auto & entry : named)
  {
    std::cout << "boundary condition by name \"" << entry.name << "\"" << std::endl;
    auto byName = MakeFilter(input, kernel, device);
    // Start from another kind, so that each name has to change it.
    byName->SetBoundaryCondition(std::string(entry.name) == "periodic" ? "constant" : "periodic");
    ITK_TRY_EXPECT_NO_EXCEPTION(byName->SetBoundaryCondition(entry.name));
    const itk::ImageBoundaryCondition<ImageType> * applied = byName->GetBoundaryCondition();
    check(typeid(*applied) == typeid(*entry.reference), "the condition's type");
    ITK_TRY_EXPECT_NO_EXCEPTION(byName->Update());
    auto reference = MakeFilter(input, kernel, device);
    reference->SetBoundaryCondition(entry.reference);
    ITK_TRY_EXPECT_NO_EXCEPTION(reference->Update());
    const double difference = CudaFFTConvolutionTest::MaximumDifference(byName->GetOutput(), reference->GetOutput());
    check(difference >= 0 && difference <= tolerance,
          "equal to a live condition: max difference " + CudaFFTConvolutionTest::ToText(difference));
  }
  auto unknown = MakeFilter(input, kernel, device);
  ITK_TRY_EXPECT_EXCEPTION(unknown->SetBoundaryCondition("mirror"));
  expectFailure(
    "unknown boundary name",
    [&] { unknown->SetBoundaryCondition(std::string("reflect")); },
    "unknown boundary condition \"reflect\"; use \"zero-flux-neumann\"");
  const itk::ImageBoundaryCondition<ImageType> * kept = unknown->GetBoundaryCondition();
  check(typeid(*kept) == typeid(NeumannType), "an unknown name leaves the condition as it was");

  // A budget smaller than any tiling.
  expectFailure(
    "budget of 1 byte",
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
    expectFailure(
      "GPU required without a device",
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
