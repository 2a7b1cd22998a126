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
#ifndef CudaFFTConvolutionDeconvolutionTestUtilities_h
#define CudaFFTConvolutionDeconvolutionTestUtilities_h

// Helpers of the deconvolution tests: kernels, ITK's valid region, crops, and whether the ITK
// this was built with pads a case as the GPU engine does (ITK 5.3 and later always do).

#include "CudaFFTConvolutionTestUtilities.h"
#include "itkCudaFFTConvolutionPlanner.h"
#include "itkMath.h"
#include "itkConfigure.h" // ITK_VERSION_MAJOR, ITK_VERSION_MINOR

namespace CudaFFTConvolutionTest
{
/** A positive kernel of \a size: \a peak at the centre floor(K/2) plus (1 - peak) spread as a
 * Gaussian of width \a sigma (voxels), all times \a scale (its sum). A large peak keeps |H| away
 * from 0 (the direct methods stay well conditioned); a peak of 0 is a plain Gaussian. */
template <typename TImage>
typename TImage::Pointer
MakeKernel(const typename TImage::SizeType & size, double peak, double sigma, double scale)
{
  auto   kernel = MakeImage<TImage>(typename TImage::IndexType{}, size);
  double sum = 0;
  for (itk::ImageRegionIteratorWithIndex<TImage> it(kernel, kernel->GetBufferedRegion()); !it.IsAtEnd(); ++it)
  {
    double r2 = 0;
    for (unsigned int a = 0; a < TImage::ImageDimension; ++a)
    {
      const double d = it.GetIndex()[a] - static_cast<double>(size[a] / 2);
      r2 += d * d;
    }
    const double value = std::exp(-0.5 * r2 / (sigma * sigma));
    it.Set(static_cast<typename TImage::PixelType>(value));
    sum += value;
  }
  for (itk::ImageRegionIteratorWithIndex<TImage> it(kernel, kernel->GetBufferedRegion()); !it.IsAtEnd(); ++it)
  {
    bool centre = true;
    for (unsigned int a = 0; a < TImage::ImageDimension; ++a)
    {
      centre = centre && it.GetIndex()[a] == static_cast<long>(size[a] / 2);
    }
    const double value = (1 - peak) * it.Get() / sum + (centre ? peak : 0.0);
    it.Set(static_cast<typename TImage::PixelType>(scale * value));
  }
  return kernel;
}

/** ITK's GetValidRegion (itkConvolutionImageFilterBase.hxx), written out independently. */
template <typename TRegion, typename TSize>
TRegion
ITKValidRegion(const TRegion & input, const TSize & kernelSize)
{
  TRegion valid = input;
  for (unsigned int a = 0; a < TRegion::ImageDimension; ++a)
  {
    const auto radius = static_cast<itk::SizeValueType>(kernelSize[a] / 2);
    if (input.GetSize()[a] < 2 * radius)
    {
      valid.SetIndex(a, 0);
      valid.SetSize(a, 0);
      continue;
    }
    valid.SetIndex(a, input.GetIndex()[a] + static_cast<itk::IndexValueType>(radius));
    valid.SetSize(a, input.GetSize()[a] - 2 * radius);
    if (kernelSize[a] % 2 == 0)
    {
      valid.SetIndex(a, valid.GetIndex()[a] - 1);
      valid.SetSize(a, valid.GetSize()[a] + 1);
    }
  }
  return valid;
}

/** A copy of \a image over \a region (inside its buffer). */
template <typename TImage>
typename TImage::Pointer
Crop(const TImage * image, const typename TImage::RegionType & region)
{
  auto crop = MakeImage<TImage>(region.GetIndex(), region.GetSize());
  crop->CopyInformation(image);
  crop->SetRegions(region);
  itk::ImageRegionConstIterator<TImage> from(image, region);
  itk::ImageRegionIterator<TImage>      to(crop, region);
  for (; !from.IsAtEnd(); ++from, ++to)
  {
    to.Set(from.Get());
  }
  return crop;
}

/** Runs \a action; an exception is a failure (counted by Expect) and is printed. */
inline bool
ExpectNoException(const std::string & what, const std::function<void()> & action)
{
  try
  {
    action();
    return true;
  }
  catch (const itk::ExceptionObject & error)
  {
    Expect(false, what + ": " + error.GetDescription());
  }
  catch (const std::exception & error)
  {
    Expect(false, what + ": " + error.what());
  }
  return false;
}

/** Root mean square of a - b over \a region. */
template <typename TA, typename TB>
double
RMSDifference(const TA * a, const TB * b, const typename TA::RegionType & region)
{
  double                            sum = 0;
  itk::ImageRegionConstIterator<TA> ia(a, region);
  itk::ImageRegionConstIterator<TB> ib(b, region);
  for (; !ia.IsAtEnd(); ++ia, ++ib)
  {
    const double d = static_cast<double>(ia.Get()) - static_cast<double>(ib.Get());
    sum += d * d;
  }
  return std::sqrt(sum / std::max<double>(1, region.GetNumberOfPixels()));
}
} // namespace CudaFFTConvolutionTest

#endif
