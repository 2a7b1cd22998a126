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

// The module's deconvolution filters against ITK's CPU filter of the same algorithm, on the CPU
// path ("cpu": ITK's filter through ours, so this checks the plumbing: settings, boundary
// conditions, VALID crops, events) or the GPU ("gpu": the engine against ITK). Richardson-Lucy,
// Landweber and projected Landweber (10 iterations), inverse, Tikhonov (mu 0.01) and Wiener
// (noise variance 0.01); float and double; 2D and 3D; odd and even kernels, one larger than the
// image; non-zero start indices; the three boundary conditions; Normalize on and off; SAME and
// VALID (ITK's SAME result cropped to ITK's valid region, since ITK 5.4's deconvolution filters
// ignore VALID). Errors are relative to the reference's largest magnitude.
//
// The GPU pads as the ITK it is compiled against: ITK 5.2 and ITK 5.3+ pad to different grids
// for odd kernels where n + K - 1 is smooth and n + K is not, and (periodic) where the grid is
// larger than n + K - 1. Most sizes here are of that kind, and every case is compared.

#include "itkCudaInverseDeconvolutionImageFilter.h"
#include "itkCudaLandweberDeconvolutionImageFilter.h"
#include "itkCudaProjectedLandweberDeconvolutionImageFilter.h"
#include "itkCudaRichardsonLucyDeconvolutionImageFilter.h"
#include "itkCudaTikhonovDeconvolutionImageFilter.h"
#include "itkCudaWienerDeconvolutionImageFilter.h"
#include "itkInverseDeconvolutionImageFilter.h"
#include "itkLandweberDeconvolutionImageFilter.h"
#include "itkProjectedLandweberDeconvolutionImageFilter.h"
#include "itkRichardsonLucyDeconvolutionImageFilter.h"
#include "itkTikhonovDeconvolutionImageFilter.h"
#include "itkWienerDeconvolutionImageFilter.h"

#include "CudaFFTConvolutionDeconvolutionTestUtilities.h"
#include "itkMultiThreaderBase.h"

#include <type_traits>

namespace
{
using ComputeDevice = itk::CudaFFTConvolutionImageFilterEnums::ComputeDevice;
using CudaFFTConvolutionTest::Boundary;
using CudaFFTConvolutionTest::Expect;

constexpr unsigned int Iterations = 10;

struct Configuration
{
  const char *            name;
  unsigned int            dimension;
  std::array<long, 3>     index;
  std::array<unsigned, 3> size;
  std::array<unsigned, 3> kernel;
  Boundary                boundary;
  double                  constant;
  bool                    normalize;
  bool                    valid;
};

const Configuration Configurations[] = {
  // Found by an outside check: ITK 5.2 pads 48x40x32 with 9x9x7 to 60x49x39, ITK 5.3+ to 56x48x39.
  { "3D 48x40x32, kernel 9x9x7, ZeroFluxNeumann, Normalize, SAME",
    3,
    { 0, 0, 0 },
    { 48, 40, 32 },
    { 9, 9, 7 },
    Boundary::ZeroFluxNeumann,
    0,
    true,
    false },
  { "2D 43x30 at [2,5], kernel 5x9, Periodic, SAME",
    2,
    { 2, 5, 0 },
    { 43, 30, 1 },
    { 5, 9, 1 },
    Boundary::Periodic,
    0,
    false,
    false },
  { "2D 43x34 at [3,-2], kernel 5x5, ZeroFluxNeumann, SAME",
    2,
    { 3, -2, 0 },
    { 43, 34, 1 },
    { 5, 5, 1 },
    Boundary::ZeroFluxNeumann,
    0,
    false,
    false },
  { "2D 43x34 at [3,-2], kernel 5x5, Constant 0.3, Normalize, VALID",
    2,
    { 3, -2, 0 },
    { 43, 34, 1 },
    { 5, 5, 1 },
    Boundary::Constant,
    0.3,
    true,
    true },
  { "2D 43x34, kernel 6x6, Periodic, Normalize, SAME",
    2,
    { 0, 0, 0 },
    { 43, 34, 1 },
    { 6, 6, 1 },
    Boundary::Periodic,
    0,
    true,
    false },
  { "2D 43x34 at [-4,1], kernel 6x4, ZeroFluxNeumann, VALID",
    2,
    { -4, 1, 0 },
    { 43, 34, 1 },
    { 6, 4, 1 },
    Boundary::ZeroFluxNeumann,
    0,
    false,
    true },
  { "2D 11x9 at [1,1], kernel 13x11 (larger), Constant 0, Normalize, SAME",
    2,
    { 1, 1, 0 },
    { 11, 9, 1 },
    { 13, 11, 1 },
    Boundary::Constant,
    0,
    true,
    false },
  { "3D 25x19x17 at [0,2,-1], kernel 5x5x3, Constant 0, Normalize, SAME",
    3,
    { 0, 2, -1 },
    { 25, 19, 17 },
    { 5, 5, 3 },
    Boundary::Constant,
    0,
    true,
    false },
  { "3D 25x19x17 at [0,2,-1], kernel 5x5x3, ZeroFluxNeumann, VALID",
    3,
    { 0, 2, -1 },
    { 25, 19, 17 },
    { 5, 5, 3 },
    Boundary::ZeroFluxNeumann,
    0,
    false,
    true },
  { "3D 25x19x17 at [1,0,0], kernel 8x2x4, Periodic, VALID",
    3,
    { 1, 0, 0 },
    { 25, 19, 17 },
    { 8, 2, 4 },
    Boundary::Periodic,
    0,
    false,
    true },
  { "3D 25x19x17 at [1,0,0], kernel 8x2x4, ZeroFluxNeumann, Normalize, SAME",
    3,
    { 1, 0, 0 },
    { 25, 19, 17 },
    { 8, 2, 4 },
    Boundary::ZeroFluxNeumann,
    0,
    true,
    false },
};

/** The images of one configuration: a positive random input and a smooth positive kernel
 * (sum 1.25, so that Normalize matters). The direct methods get a kernel with a central peak,
 * whose |H| stays above 0.25 (well conditioned), the iterative ones a Gaussian. */
template <typename TImage>
struct Images
{
  typename TImage::Pointer input;
  typename TImage::Pointer kernel;
};

template <typename TImage>
Images<TImage>
MakeImages(const Configuration & c, bool direct, std::mt19937 & generator)
{
  typename TImage::IndexType index;
  typename TImage::SizeType  size;
  typename TImage::SizeType  kernelSize;
  for (unsigned int a = 0; a < TImage::ImageDimension; ++a)
  {
    index[a] = c.index[a];
    size[a] = c.size[a];
    kernelSize[a] = c.kernel[a];
  }
  Images<TImage> images;
  images.input = CudaFFTConvolutionTest::RandomImage<TImage>(index, size, generator, 0.0, 1.0);
  images.kernel = CudaFFTConvolutionTest::MakeKernel<TImage>(kernelSize, direct ? 0.6 : 0.0, 1.2, 1.25);
  return images;
}

template <typename TFilter, typename TImage>
void
SetCommon(TFilter *                             filter,
          const Images<TImage> &                images,
          const Configuration &                 c,
          itk::ImageBoundaryCondition<TImage> * boundary)
{
  filter->SetInput(images.input);
  filter->SetKernelImage(images.kernel);
  filter->SetNormalize(c.normalize);
  filter->SetBoundaryCondition(boundary);
}

/** Runs ours and ITK's with the same \a parameters (a generic lambda: the setters share names)
 * and compares. */
template <typename TOurs, typename TITK, typename TImage, typename TParameters>
void
Compare(const std::string &    label,
        const Configuration &  c,
        const Images<TImage> & images,
        ComputeDevice          device,
        double                 tolerance,
        const TParameters &    parameters)
{
  auto boundary = CudaFFTConvolutionTest::MakeBoundary<TImage>(c.boundary, c.constant);
  auto ours = TOurs::New();
  SetCommon(ours.GetPointer(), images, c, boundary.get());
  ours->SetComputeDevice(device);
  if (c.valid)
  {
    ours->SetOutputRegionModeToValid();
  }
  parameters(ours.GetPointer());
  unsigned int events = 0;
  ours->AddObserver(itk::IterationEvent(), [&events](const itk::EventObject &) { ++events; });
  auto theirs = TITK::New();
  SetCommon(theirs.GetPointer(), images, c, boundary.get());
  parameters(theirs.GetPointer());
  if (!CudaFFTConvolutionTest::ExpectNoException(label, [&] {
        ours->Update();
        theirs->Update();
      }))
  {
    return;
  }
  const auto expectedRegion =
    c.valid ? CudaFFTConvolutionTest::ITKValidRegion(images.input->GetLargestPossibleRegion(),
                                                     images.kernel->GetLargestPossibleRegion().GetSize())
            : images.input->GetLargestPossibleRegion();
  const TImage * result = ours->GetOutput();
  Expect(result->GetLargestPossibleRegion() == expectedRegion && result->GetBufferedRegion() == expectedRegion &&
           result->GetOrigin() == images.input->GetOrigin() && ours->GetLastComputeDevice() == device,
         label + ": output region, origin and device");
  const auto   reference = CudaFFTConvolutionTest::Crop(theirs->GetOutput(), expectedRegion);
  const double difference = CudaFFTConvolutionTest::ScaledDifference(result, reference.GetPointer());
  Expect(difference <= tolerance,
         label + ": max relative difference " + CudaFFTConvolutionTest::ToText(difference) + " (tolerance " +
           CudaFFTConvolutionTest::ToText(tolerance) + ")");
  if (std::is_base_of<
        itk::CudaIterativeDeconvolutionImageFilter<TImage, TImage, TImage, typename TOurs::InternalPrecisionType>,
        TOurs>::value)
  {
    Expect(events == Iterations, label + ": " + std::to_string(events) + " IterationEvents");
  }
}

template <typename TImage, typename TPrecision>
void
RunConfiguration(const Configuration & c, ComputeDevice device, std::mt19937 & generator)
{
  const double      tolerance = std::is_same<TPrecision, float>::value ? 1e-4 : 1e-9;
  const std::string precision = std::is_same<TPrecision, float>::value ? "float" : "double";
  std::cout << c.name << ", " << precision << std::endl;
  const auto iterative = MakeImages<TImage>(c, false, generator);
  const auto direct = MakeImages<TImage>(c, true, generator);
  const auto iterations = [](auto * filter) { filter->SetNumberOfIterations(Iterations); };
  Compare<itk::CudaRichardsonLucyDeconvolutionImageFilter<TImage, TImage, TImage, TPrecision>,
          itk::RichardsonLucyDeconvolutionImageFilter<TImage, TImage, TImage, TPrecision>>(
    "Richardson-Lucy", c, iterative, device, tolerance, iterations);
  const auto landweber = [](auto * filter) {
    filter->SetNumberOfIterations(Iterations);
    filter->SetAlpha(1.0); // stable: alpha |H|^2 <= 1.6 < 2; large steps make projections happen
  };
  Compare<itk::CudaLandweberDeconvolutionImageFilter<TImage, TImage, TImage, TPrecision>,
          itk::LandweberDeconvolutionImageFilter<TImage, TImage, TImage, TPrecision>>(
    "Landweber", c, iterative, device, tolerance, landweber);
  Compare<itk::CudaProjectedLandweberDeconvolutionImageFilter<TImage, TImage, TImage, TPrecision>,
          itk::ProjectedLandweberDeconvolutionImageFilter<TImage, TImage, TImage, TPrecision>>(
    "projected Landweber", c, iterative, device, tolerance, landweber);
  Compare<itk::CudaInverseDeconvolutionImageFilter<TImage, TImage, TImage, TPrecision>,
          itk::InverseDeconvolutionImageFilter<TImage, TImage, TImage, TPrecision>>(
    "inverse", c, direct, device, tolerance, [](auto *) {});
  Compare<itk::CudaTikhonovDeconvolutionImageFilter<TImage, TImage, TImage, TPrecision>,
          itk::TikhonovDeconvolutionImageFilter<TImage, TImage, TImage, TPrecision>>(
    "Tikhonov", c, direct, device, tolerance, [](auto * filter) { filter->SetRegularizationConstant(0.01); });
  Compare<itk::CudaWienerDeconvolutionImageFilter<TImage, TImage, TImage, TPrecision>,
          itk::WienerDeconvolutionImageFilter<TImage, TImage, TImage, TPrecision>>(
    "Wiener", c, direct, device, tolerance, [](auto * filter) { filter->SetNoiseVariance(0.01); });
}
} // namespace

int
itkCudaFFTConvolutionDeconvolutionParityTest(int argc, char * argv[])
{
  bool       skip = false;
  const bool gpu = CudaFFTConvolutionTest::WantsGPU(argc, argv, skip);
  if (skip)
  {
    return CudaFFTConvolutionTest::SkipReturnCode;
  }
  const auto device = gpu ? ComputeDevice::GPU : ComputeDevice::CPU;
  // Images this small make ITK's thread hand-offs cost more than its FFTs (10x on 2 cores).
  itk::MultiThreaderBase::SetGlobalDefaultNumberOfThreads(1);
  std::mt19937 generator(17);
  for (const Configuration & c : Configurations)
  {
    if (c.dimension == 2)
    {
      RunConfiguration<itk::Image<float, 2>, float>(c, device, generator);
      RunConfiguration<itk::Image<double, 2>, double>(c, device, generator);
    }
    else
    {
      RunConfiguration<itk::Image<float, 3>, float>(c, device, generator);
      RunConfiguration<itk::Image<double, 3>, double>(c, device, generator);
    }
  }
  const int failures = CudaFFTConvolutionTest::Failures();
  std::cout << (failures == 0 ? "all checks passed" : std::to_string(failures) + " FAILED checks") << std::endl;
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
