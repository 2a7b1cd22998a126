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
#include "itkImageRegionIterator.h"
#include "itkImageRegionIteratorWithIndex.h"

#include <algorithm>
#include <cmath>

namespace CudaFFTConvolutionDemo
{
ImageType::Pointer
Phantom(const ImageType::SizeType & size, double radius, const std::vector<std::array<double, 3>> & centres)
{
  auto image = ImageType::New();
  image->SetRegions(size);
  image->Allocate(true);
  for (itk::ImageRegionIteratorWithIndex<ImageType> it(image, image->GetBufferedRegion()); !it.IsAtEnd(); ++it)
  {
    for (const auto & centre : centres)
    {
      double distance2 = 0;
      for (unsigned int a = 0; a < 3; ++a)
      {
        const double d = static_cast<double>(it.GetIndex()[a]) - centre[a];
        distance2 += d * d;
      }
      if (distance2 <= radius * radius)
      {
        it.Set(1.0f);
      }
    }
  }
  return image;
}

ImageType::Pointer
GaussianBeamPSF(const ImageType::SizeType & size, double sigma0, double rayleighRange)
{
  auto image = ImageType::New();
  image->SetRegions(size);
  image->Allocate();
  double sum = 0;
  for (itk::ImageRegionIteratorWithIndex<ImageType> it(image, image->GetBufferedRegion()); !it.IsAtEnd(); ++it)
  {
    const double x = static_cast<double>(it.GetIndex()[0]) - static_cast<double>(size[0] / 2);
    const double y = static_cast<double>(it.GetIndex()[1]) - static_cast<double>(size[1] / 2);
    const double z = static_cast<double>(it.GetIndex()[2]) - static_cast<double>(size[2] / 2);
    const double sigma = sigma0 * std::sqrt(1.0 + (z / rayleighRange) * (z / rayleighRange));
    const double value = std::exp(-(x * x + y * y) / (2 * sigma * sigma)) / (sigma * sigma);
    it.Set(static_cast<float>(value));
    sum += value;
  }
  for (itk::ImageRegionIterator<ImageType> it(image, image->GetBufferedRegion()); !it.IsAtEnd(); ++it)
  {
    it.Set(static_cast<float>(it.Get() / sum));
  }
  return image;
}

void
WriteProjections(const ImageType * image, const std::string & fileName, double gamma)
{
  using PictureType = itk::Image<unsigned char, 2>;
  const auto   region = image->GetBufferedRegion();
  const auto   size = region.GetSize();
  const auto   nx = static_cast<std::size_t>(size[0]);
  const auto   ny = static_cast<std::size_t>(size[1]);
  const auto   nz = static_cast<std::size_t>(size[2]);
  const float * values = image->GetBufferPointer();
  std::vector<float> xy(nx * ny, -std::numeric_limits<float>::infinity());
  std::vector<float> zy(nz * ny, -std::numeric_limits<float>::infinity());
  for (std::size_t z = 0; z < nz; ++z)
  {
    for (std::size_t y = 0; y < ny; ++y)
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
  }
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
