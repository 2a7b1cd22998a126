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

// The deconvolution planner's ITK-parity grid against the padded image ITK's own
// FFTConvolutionImageFilter::PadInput makes (what ITK's deconvolution filters iterate on), for
// the ITK this test is compiled against: ITK 5.2 pads to a smooth size of at least n + K,
// ITK 5.3+ by the kernel radius and then to a smooth size. No GPU: it runs in CI against every
// ITK version CI builds. Sizes are chosen where the two conventions give different grids.

#include "itkCudaDeconvolutionPlanner.h"
#include "itkCudaFFTConvolutionBoundaryConditions.h"
#include "itkFFTConvolutionImageFilter.h"
#include "itkConstantBoundaryCondition.h"
#include "itkImageRegionConstIteratorWithIndex.h"
#include "itkPeriodicBoundaryCondition.h"
#include "itkProgressAccumulator.h"
#include "itkTestingMacros.h"
#include "itkZeroFluxNeumannBoundaryCondition.h"

#include <iostream>
#include <sstream>

namespace
{
using Planner = itk::CudaDeconvolutionPlanner;

/** ITK's FFT convolution with its protected input padding made callable. */
template <typename TImage>
class PaddingProbe : public itk::FFTConvolutionImageFilter<TImage, TImage, TImage, double>
{
public:
  ITK_DISALLOW_COPY_AND_MOVE(PaddingProbe);
  using Self = PaddingProbe;
  using Superclass = itk::FFTConvolutionImageFilter<TImage, TImage, TImage, double>;
  using Pointer = itk::SmartPointer<Self>;
  itkNewMacro(Self);

  /** The padded input ITK's deconvolution filters start from. */
  typename Superclass::InternalImagePointerType
  PaddedInput()
  {
    this->UpdateOutputInformation();
    this->GetOutput()->SetRequestedRegionToLargestPossibleRegion();
    this->GenerateInputRequestedRegion(); // ITK 5.3+ pads from the requested regions
    auto progress = itk::ProgressAccumulator::New();
    progress->SetMiniPipelineFilter(this);
    typename Superclass::InternalImagePointerType padded;
    this->PadInput(this->GetInput(), padded, progress, 1.0f);
    return padded;
  }

protected:
  PaddingProbe() = default;
};

/** Distinct values, so that a wrong map shows. */
template <typename TImage>
typename TImage::Pointer
Ramp(const typename TImage::SizeType & size, const typename TImage::IndexType & start)
{
  auto image = TImage::New();
  image->SetRegions(typename TImage::RegionType(start, size));
  image->Allocate();
  double value = 1;
  for (itk::ImageRegionIterator<TImage> it(image, image->GetLargestPossibleRegion()); !it.IsAtEnd(); ++it)
  {
    it.Set(value);
    value += 1.0 + 0.001 * value;
  }
  return image;
}

template <unsigned int VDimension>
void
CheckCase(const itk::Size<VDimension> & imageSize,
          const itk::Size<VDimension> & kernelSize,
          const std::string &           boundaryName,
          int &                         failures)
{
  using ImageType = itk::Image<double, VDimension>;
  typename ImageType::IndexType start;
  for (unsigned int a = 0; a < VDimension; ++a)
  {
    start[a] = 3 - 2 * static_cast<itk::IndexValueType>(a); // non-zero start indices
  }
  auto image = Ramp<ImageType>(imageSize, start);
  auto kernel = Ramp<ImageType>(kernelSize, typename ImageType::IndexType());

  itk::ZeroFluxNeumannBoundaryCondition<ImageType> neumann;
  itk::PeriodicBoundaryCondition<ImageType>        periodic;
  itk::ConstantBoundaryCondition<ImageType>        constant;
  constant.SetConstant(-7.5);
  itk::ImageBoundaryCondition<ImageType, ImageType> * condition = &neumann;
  if (boundaryName == "periodic")
  {
    condition = &periodic;
  }
  else if (boundaryName == "constant")
  {
    condition = &constant;
  }

  auto probe = PaddingProbe<ImageType>::New();
  probe->SetInput(image);
  probe->SetKernelImage(kernel);
  probe->SetBoundaryCondition(condition);
  const auto padded = probe->PaddedInput();
  const auto paddedRegion = padded->GetLargestPossibleRegion();

  Planner::Request request;
  request.dimension = VDimension;
  for (unsigned int a = 0; a < VDimension; ++a)
  {
    request.input.index[a] = start[a];
    request.input.size[a] = imageSize[a];
    request.kernelSize[a] = kernelSize[a];
  }
  request.output = request.input;
  request.algorithm = Planner::Algorithm::Tikhonov;
  double constantValue = 0;
  request.boundary = itk::CudaFFTConvolutionBoundaryConditions<ImageType>::ToPlanner(condition, constantValue);
  request.greatestPrimeFactor = static_cast<unsigned int>(probe->GetSizeGreatestPrimeFactor());
  request.itkPadding = Planner::PaddingOfItkVersion(ITK_VERSION_MAJOR, ITK_VERSION_MINOR);
  const Planner::Plan plan = Planner::MakePlan(request);
  const auto &        tile = plan.tiles.front();
  const auto          offset = Planner::DataOffset(plan, tile);

  std::ostringstream what;
  what << VDimension << "D image " << imageSize << ", kernel " << kernelSize << ", " << boundaryName;
  bool sameGrid = true;
  for (unsigned int a = 0; a < VDimension; ++a)
  {
    sameGrid =
      sameGrid && plan.gridSize[a] == paddedRegion.GetSize()[a] && offset[a] == start[a] - paddedRegion.GetIndex()[a];
  }
  if (!sameGrid)
  {
    ++failures;
    std::cout << "FAILED: " << what.str() << ": ITK pads to " << paddedRegion << ", the planner's grid is "
              << plan.gridSize[0] << "x" << plan.gridSize[1] << "x" << plan.gridSize[2] << " with the data at "
              << offset[0] << "," << offset[1] << "," << offset[2] << std::endl;
    return;
  }
  std::vector<std::vector<std::int64_t>> maps;
  for (unsigned int a = 0; a < VDimension; ++a)
  {
    maps.push_back(Planner::AxisDataMap(plan, tile, a));
  }
  std::size_t mismatches = 0;
  for (itk::ImageRegionConstIteratorWithIndex<typename PaddingProbe<ImageType>::InternalImageType> it(padded,
                                                                                                      paddedRegion);
       !it.IsAtEnd();
       ++it)
  {
    typename ImageType::IndexType source = start;
    bool                          isConstant = false;
    for (unsigned int a = 0; a < VDimension; ++a)
    {
      const std::int64_t m = maps[a][it.GetIndex()[a] - paddedRegion.GetIndex()[a]];
      isConstant = isConstant || m < 0;
      source[a] += m;
    }
    const double expected = isConstant ? constantValue : image->GetPixel(source);
    mismatches += expected != it.Get() ? 1 : 0;
  }
  if (mismatches != 0)
  {
    ++failures;
    std::cout << "FAILED: " << what.str() << ": " << mismatches << " padded voxels differ from ITK's" << std::endl;
  }
  else
  {
    std::cout << "ok: " << what.str() << ": grid " << paddedRegion.GetSize() << std::endl;
  }
}

/** The grid of a 48x40x32 image and a 9x9x7 kernel under one convention (FFTW's 13-smooth sizes). */
Planner::SizeArray
NotionalGrid(Planner::ItkPadding padding)
{
  Planner::Request request;
  request.kernelSize = { { 9, 9, 7 } };
  request.greatestPrimeFactor = 13;
  request.itkPadding = padding;
  return Planner::GridSize(request, { { 48, 40, 32 } });
}
} // namespace

int
itkCudaDeconvolutionItkPaddingTest(int, char *[])
{
  std::cout << "ITK " << ITK_VERSION_MAJOR << "." << ITK_VERSION_MINOR << " pads by "
            << (Planner::PaddingOfItkVersion(ITK_VERSION_MAJOR, ITK_VERSION_MINOR) == Planner::ItkPadding::KernelSize
                  ? "the kernel size (ITK 5.2)"
                  : "the kernel radius (ITK 5.3+)")
            << std::endl;
  // The case an outside check found: the conventions give different grids there.
  int failures = 0;
  if (NotionalGrid(Planner::ItkPadding::KernelSize) == NotionalGrid(Planner::ItkPadding::KernelRadius))
  {
    ++failures;
    std::cout << "FAILED: the 48x40x32 image with a 9x9x7 kernel should pad differently in ITK 5.2 and 5.3+"
              << std::endl;
  }
  for (const std::string boundary : { "zero-flux-neumann", "periodic", "constant" })
  {
    CheckCase<3>({ { 48, 40, 32 } }, { { 9, 9, 7 } }, boundary, failures);
    CheckCase<3>({ { 17, 12, 9 } }, { { 4, 6, 3 } }, boundary, failures); // even kernels
    CheckCase<3>({ { 5, 7, 6 } }, { { 9, 11, 7 } }, boundary, failures);  // kernel larger than the image
    CheckCase<2>({ { 43, 30 } }, { { 5, 9 } }, boundary, failures);
    CheckCase<2>({ { 22, 27 } }, { { 8, 3 } }, boundary, failures);
  }
  std::cout << (failures == 0 ? "PASSED" : "FAILED") << std::endl;
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
