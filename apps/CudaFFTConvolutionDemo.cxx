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
#include "CudaFFTConvolutionDemo.h"

#include "itkImageFileWriter.h"
#include "itkMicroscopePSFImageSource.h"
#include "itkMultiThreaderBase.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace CudaFFTConvolutionDemo
{
namespace
{
/** Calls \a body(z) for every z plane of \a size on ITK's threads. */
template <typename TBody>
void
ForEachPlane(const ImageType::SizeType & size, TBody body)
{
  itk::MultiThreaderBase::New()->ParallelizeArray(
    0, size[2], [&body](itk::SizeValueType z) { body(static_cast<std::size_t>(z)); }, nullptr);
}
} // namespace

ImageType::Pointer
Phantom(const ImageType::SizeType & size, double radius, const std::vector<std::array<double, 3>> & centres)
{
  auto image = ImageType::New();
  image->SetRegions(size);
  image->Allocate(true);
  const auto   nx = static_cast<std::size_t>(size[0]);
  const auto   ny = static_cast<std::size_t>(size[1]);
  const double radius2 = radius * radius;
  float *      values = image->GetBufferPointer();
  // A row is visited only where it meets a sphere; the test is the exact dx^2 + dy^2 + dz^2 <= r^2.
  ForEachPlane(size, [&](std::size_t z) {
    for (const auto & centre : centres)
    {
      const double dz = static_cast<double>(z) - centre[2];
      for (std::size_t y = 0; y < ny; ++y)
      {
        const double dy = static_cast<double>(y) - centre[1];
        if (dy * dy + dz * dz > radius2)
        {
          continue;
        }
        float * row = values + (z * ny + y) * nx;
        for (std::size_t x = 0; x < nx; ++x)
        {
          const double dx = static_cast<double>(x) - centre[0];
          if (dx * dx + dy * dy + dz * dz <= radius2)
          {
            row[x] = 1.0f;
          }
        }
      }
    }
  });
  return image;
}

ImageType::Pointer
WidefieldPSF(const ImageType::SizeType & size, double scale)
{
  auto source = itk::MicroscopePSFImageSource<ImageType>::New();
  source->SetModel(itk::MicroscopePSF::Model::GibsonLanni);
  source->SetNumericalAperture(1.4);
  source->SetWavelength(0.52);
  source->SetImmersionRefractiveIndex(1.515);
  source->SetSampleRefractiveIndex(1.33);
  source->SetParticleDepth(5.0);
  source->SetSize(size);
  ImageType::SpacingType spacing;
  spacing[0] = spacing[1] = 0.065 * scale;
  spacing[2] = 0.2 * scale;
  source->SetSpacing(spacing);
  source->Update();
  ImageType::Pointer psf = source->GetOutput();
  psf->DisconnectPipeline();
  return psf;
}

void
WriteVolume(const ImageType * image, const std::string & fileName)
{
  auto writer = itk::ImageFileWriter<ImageType>::New();
  writer->SetInput(image);
  writer->SetFileName(fileName);
  writer->UseCompressionOff();
  writer->Update();
}

void
WriteProjections(const ImageType * image, const std::string & fileName, double gamma)
{
  using PictureType = itk::Image<unsigned char, 2>;
  const auto         region = image->GetBufferedRegion();
  const auto         size = region.GetSize();
  const auto         nx = static_cast<std::size_t>(size[0]);
  const auto         ny = static_cast<std::size_t>(size[1]);
  const auto         nz = static_cast<std::size_t>(size[2]);
  const float *      values = image->GetBufferPointer();
  std::vector<float> xy(nx * ny, -std::numeric_limits<float>::infinity());
  std::vector<float> zy(nz * ny, -std::numeric_limits<float>::infinity());
  // One y row of both projections per work item.
  itk::MultiThreaderBase::New()->ParallelizeArray(
    0,
    ny,
    [&](itk::SizeValueType y) {
      for (std::size_t z = 0; z < nz; ++z)
      {
        const float * row = values + (z * ny + y) * nx;
        float         rowMaximum = -std::numeric_limits<float>::infinity();
        for (std::size_t x = 0; x < nx; ++x)
        {
          xy[y * nx + x] = std::max(xy[y * nx + x], row[x]);
          rowMaximum = std::max(rowMaximum, row[x]);
        }
        zy[y * nz + z] = rowMaximum;
      }
    },
    nullptr);
  float low = std::numeric_limits<float>::infinity();
  float high = -std::numeric_limits<float>::infinity();
  for (const float v : xy)
  {
    low = std::min(low, v);
    high = std::max(high, v);
  }
  const std::size_t gap = 4;
  auto              picture = PictureType::New();
  picture->SetRegions(PictureType::SizeType{ { nx + gap + nz, ny } });
  picture->Allocate(true);
  unsigned char * pixels = picture->GetBufferPointer();
  const auto      grey = [&](float v) {
    const double t = high > low ? (static_cast<double>(v) - low) / (static_cast<double>(high) - low) : 0.0;
    return static_cast<unsigned char>(std::lround(255.0 * std::pow(std::min(1.0, std::max(0.0, t)), gamma)));
  };
  const std::size_t width = nx + gap + nz;
  for (std::size_t y = 0; y < ny; ++y)
  {
    for (std::size_t x = 0; x < nx; ++x)
    {
      pixels[y * width + x] = grey(xy[y * nx + x]);
    }
    for (std::size_t z = 0; z < nz; ++z)
    {
      pixels[y * width + nx + gap + z] = grey(zy[y * nz + z]);
    }
  }
  auto writer = itk::ImageFileWriter<PictureType>::New();
  writer->SetInput(picture);
  writer->SetFileName(fileName);
  writer->Update();
}
} // namespace CudaFFTConvolutionDemo
