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
#ifndef CudaFFTConvolutionImageFiles_h
#define CudaFFTConvolutionImageFiles_h

// The tools' image files: any format ITK's IO reads (NRRD, NIfTI, MetaImage, TIFF stacks, OME-TIFF
// included), one single-channel 2-D or 3-D volume per file (others are refused, naming what the
// file holds), the voxel spacing from the file (TIFF: see CudaFFTConvolutionTIFF.h) or --spacing,
// and the output written as float or a type the user asks for (--output-type), clamped and rounded
// for integer types.

#include "CudaFFTConvolutionCLISupport.h"
#include "CudaFFTConvolutionTIFF.h"

#include "itkImageFileReader.h"
#include "itkImageRegionConstIterator.h"
#include "itkImageRegionIterator.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

namespace CudaFFTConvolutionCLI
{
/** What a tool keeps of its input file for the output file. */
struct ImageFileInformation
{
  itk::IOComponentEnum componentType{ itk::IOComponentEnum::FLOAT };
  std::string          unit;               // of the spacing, from a TIFF file's metadata; "" when unknown
  bool                 hasSpacing{ true }; // false for a TIFF without calibration (spacing 1 by default)
};

inline bool
IsTIFFImageIO(const itk::ImageIOBase & io)
{
  return std::string(io.GetNameOfClass()) == "TIFFImageIO";
}

/** What a TIFF file holds beyond one single-channel volume ("holds ...; split ..."), or "". */
inline std::string
TIFFContentProblem(const TIFFStackInformation & tiff)
{
  if (tiff.channels > 1 || tiff.timePoints > 1)
  {
    const std::string channels = std::to_string(tiff.channels) + " channels";
    const std::string times = std::to_string(tiff.timePoints) + " time points";
    const std::string holds = tiff.channels > 1 ? (tiff.timePoints > 1 ? channels + " and " + times : channels) : times;
    return "holds " + holds + " (" + (tiff.format == "OME" ? "OME-TIFF" : "ImageJ hyperstack") + "); split the " +
           (tiff.channels > 1 ? "channels" : "time points") +
           " into single-channel 3-D stacks first and process each one";
  }
  if (!tiff.shape.empty())
  {
    return "holds an array of shape " + tiff.shape +
           " (tifffile); split it into single-channel 2-D or 3-D stacks first";
  }
  if (tiff.samplesPerPixel > 1)
  {
    // tifffile writes an array of 3 or 4 planes as RGB(A) unless given photometric='minisblack'.
    return "holds " + std::to_string(tiff.samplesPerPixel) +
           " channels (samples per pixel; tifffile writes 3 or 4 planes so unless given photometric='minisblack'); "
           "split the channels first and process each one";
  }
  return std::string();
}

/** Refuses a file that holds more than one single-channel volume, naming what it holds. */
inline void
CheckSingleVolume(const itk::ImageIOBase & io, const std::string & fileName, const char * what)
{
  const std::string file = std::string("the ") + what + " file '" + fileName + "'";
  const std::string problem = IsTIFFImageIO(io) ? TIFFContentProblem(ReadTIFFStackInformation(fileName)) : "";
  if (!problem.empty())
  {
    throw UsageError(file + " " + problem);
  }
  if (io.GetNumberOfComponents() > 1)
  {
    throw UsageError(file + " holds " + std::to_string(io.GetNumberOfComponents()) +
                     " channels (components per voxel); split the channels first and process each one");
  }
  if (io.GetNumberOfDimensions() > 3)
  {
    std::string size;
    for (unsigned int a = 0; a < io.GetNumberOfDimensions(); ++a)
    {
      size += (a ? "x" : "") + std::to_string(io.GetDimensions(a));
    }
    throw UsageError(file + " holds a " + std::to_string(io.GetNumberOfDimensions()) + "-D image (" + size +
                     "), e.g. channels or time points; split it into 2-D or 3-D volumes first");
  }
}

/** Dimension of an image file, read from its header; a clear message when it cannot be read or
 * holds more than one single-channel volume. */
inline unsigned int
FileDimension(const std::string & fileName, const char * what)
{
  if (!itksys::SystemTools::FileExists(fileName, true))
  {
    throw UsageError(std::string("the ") + what + " file '" + fileName + "' does not exist");
  }
  auto io = itk::ImageIOFactory::CreateImageIO(fileName.c_str(), itk::ImageIOFactory::IOFileModeEnum::ReadMode);
  if (io.IsNull())
  {
    throw UsageError(std::string("the ") + what + " file '" + fileName + "' is not an image ITK can read");
  }
  io->SetFileName(fileName);
  try
  {
    io->ReadImageInformation();
  }
  catch (const itk::ExceptionObject & error)
  {
    // ITK's TIFF reader refuses some multi-sample layouts (e.g. float RGB planes): say what it holds.
    const std::string problem = IsTIFFImageIO(*io) ? TIFFContentProblem(ReadTIFFStackInformation(fileName)) : "";
    if (!problem.empty())
    {
      throw UsageError(std::string("the ") + what + " file '" + fileName + "' " + problem);
    }
    throw UsageError(std::string("the ") + what + " file '" + fileName +
                     "' cannot be read: " + OneLine(error.GetDescription()));
  }
  CheckSingleVolume(*io, fileName, what);
  return io->GetNumberOfDimensions();
}

/** The dimension of an image file and its kernel file, which must agree and be 2 or 3. */
inline unsigned int
ImageAndKernelDimension(const std::string & imageFile, const std::string & kernelFile, const char * kernelName)
{
  const unsigned int dimension = FileDimension(imageFile, "input");
  const unsigned int kernelDimension = FileDimension(kernelFile, kernelName);
  if (dimension != kernelDimension)
  {
    throw UsageError("the input has " + std::to_string(dimension) + " dimensions but the " + kernelName + " has " +
                     std::to_string(kernelDimension));
  }
  if (dimension != 2 && dimension != 3)
  {
    throw UsageError("the input has " + std::to_string(dimension) + " dimensions; 2 or 3 are supported");
  }
  return dimension;
}

/** --spacing "sx,sy[,sz]": one positive number per axis of a \a dimension-D input; "" (not given)
 * gives an empty list. */
inline std::vector<double>
ParseSpacing(const std::string & text, unsigned int dimension)
{
  std::vector<double> spacing;
  if (text.empty())
  {
    return spacing;
  }
  std::istringstream items(text);
  for (std::string item; std::getline(items, item, ',');)
  {
    char *       end = nullptr;
    const double value = std::strtod(item.c_str(), &end);
    if (end == item.c_str() || *end != '\0' || !(value > 0) || !std::isfinite(value))
    {
      throw UsageError("--spacing '" + text + "': each value must be a positive number (e.g. 0.1,0.1,0.3)");
    }
    spacing.push_back(value);
  }
  if (spacing.size() != dimension)
  {
    throw UsageError("--spacing '" + text + "' gives " + std::to_string(spacing.size()) + " values for a " +
                     std::to_string(dimension) + "-D input");
  }
  return spacing;
}

/** The voxel type of the output file: float (the default), "input" (the input file's type), or
 * double, uint8, int8, uint16, int16, uint32, int32. */
inline itk::IOComponentEnum
ParseOutputType(const std::string & name, itk::IOComponentEnum inputType = itk::IOComponentEnum::FLOAT)
{
  using C = itk::IOComponentEnum;
  const std::pair<const char *, C> types[] = { { "float", C::FLOAT }, { "double", C::DOUBLE }, { "uint8", C::UCHAR },
                                               { "int8", C::CHAR },   { "uint16", C::USHORT }, { "int16", C::SHORT },
                                               { "uint32", C::UINT }, { "int32", C::INT } };
  for (const auto & type : types)
  {
    if (name == type.first)
      return type.second;
  }
  if (name == "input")
  {
    for (const auto & type : types)
    {
      if (inputType == type.second)
        return inputType;
    }
    return C::FLOAT; // e.g. 64-bit integers: float
  }
  throw UsageError("unknown output type '" + name +
                   "': use float, input, double, uint8, int8, uint16, int16, uint32 or int32");
}

/** Reads an image file as TImage with its voxel spacing: the file's (for TIFF, ImageJ's and
 * OME-TIFF's, which ITK's reader misses), or \a spacing when given; \a information keeps the
 * file's voxel type and unit for the output. */
template <typename TImage>
typename TImage::Pointer
ReadImageFile(const std::string & fileName, const std::vector<double> & spacing, ImageFileInformation & information)
{
  auto reader = itk::ImageFileReader<TImage>::New();
  reader->SetFileName(fileName);
  reader->Update();
  typename TImage::Pointer image = reader->GetOutput();
  image->DisconnectPipeline();
  information.componentType = reader->GetImageIO()->GetComponentType();
  auto imageSpacing = image->GetSpacing();
  if (IsTIFFImageIO(*reader->GetImageIO()))
  {
    const TIFFStackInformation tiff = ReadTIFFStackInformation(fileName);
    information.unit = tiff.unit;
    information.hasSpacing = !tiff.unit.empty() || tiff.spacing[0] > 0 || tiff.spacing[1] > 0 || tiff.spacing[2] > 0;
    for (unsigned int a = 0; a < TImage::ImageDimension; ++a)
    {
      imageSpacing[a] = tiff.spacing[a] > 0 ? tiff.spacing[a] : imageSpacing[a];
    }
  }
  for (unsigned int a = 0; a < spacing.size() && a < TImage::ImageDimension; ++a)
  {
    imageSpacing[a] = spacing[a];
  }
  image->SetSpacing(imageSpacing);
  return image;
}

/** Reads a kernel (PSF) file for \a input: a TIFF without calibration is taken to be sampled
 * like the input (the filters apply a kernel voxel for voxel and warn when spacings differ). */
template <typename TImage>
typename TImage::Pointer
ReadKernelFile(const std::string & fileName, const TImage * input)
{
  ImageFileInformation information;
  auto                 kernel = ReadImageFile<TImage>(fileName, {}, information);
  if (!information.hasSpacing)
  {
    kernel->SetSpacing(input->GetSpacing());
  }
  return kernel;
}

/** \a value as TPixel: rounded to the nearest integer and clamped to TPixel's range for integer
 * types (NaN becomes 0). */
template <typename TPixel>
TPixel
ConvertVoxel(double value)
{
  if (std::is_floating_point<TPixel>::value)
  {
    return static_cast<TPixel>(value);
  }
  if (std::isnan(value))
  {
    return TPixel{};
  }
  const double rounded = std::nearbyint(value);
  if (rounded <= static_cast<double>(std::numeric_limits<TPixel>::lowest()))
    return std::numeric_limits<TPixel>::lowest();
  if (rounded >= static_cast<double>(std::numeric_limits<TPixel>::max()))
    return std::numeric_limits<TPixel>::max();
  return static_cast<TPixel>(rounded);
}

/** \a image converted voxel by voxel (ConvertVoxel), with its geometry. */
template <typename TPixel, typename TImage>
typename itk::Image<TPixel, TImage::ImageDimension>::Pointer
ConvertImage(const TImage * image)
{
  using OutputImageType = itk::Image<TPixel, TImage::ImageDimension>;
  auto output = OutputImageType::New();
  output->CopyInformation(image);
  output->SetRegions(image->GetLargestPossibleRegion());
  output->Allocate();
  itk::ImageRegionConstIterator<TImage>     in(image, image->GetLargestPossibleRegion());
  itk::ImageRegionIterator<OutputImageType> out(output, output->GetLargestPossibleRegion());
  for (; !in.IsAtEnd(); ++in, ++out)
  {
    out.Set(ConvertVoxel<TPixel>(static_cast<double>(in.Get())));
  }
  return output;
}

/** Writes \a image (TPixel voxels) atomically: a TIFF stack (ImageJ-style, OME-TIFF for
 * *.ome.tif) with its spacing and \a unit, or any other format through ITK's writers. */
template <typename TImage>
void
WriteConvertedImage(const TImage * image, const std::string & fileName, const std::string & unit)
{
  if (!IsTIFFFileName(fileName))
  {
    WriteAtomically<TImage>(image, fileName);
    return;
  }
  TIFFStackPixels pixels;
  pixels.buffer = image->GetBufferPointer();
  pixels.componentType = itk::ImageIOBase::MapPixelType<typename TImage::PixelType>::CType;
  pixels.dimension = TImage::ImageDimension;
  pixels.unit = unit;
  pixels.name = itksys::SystemTools::GetFilenameName(fileName);
  for (unsigned int a = 0; a < TImage::ImageDimension; ++a)
  {
    pixels.size[a] = image->GetLargestPossibleRegion().GetSize(a);
    pixels.spacing[a] = image->GetSpacing()[a];
  }
  const bool ome = IsOMETIFFFileName(fileName);
  WriteFileAtomically(fileName, [&pixels, ome](const std::string & partial) { WriteTIFFStack(partial, pixels, ome); });
}

template <typename TPixel, typename TImage>
void
WriteImageFileAs(const TImage * image, const std::string & fileName, const std::string & unit)
{
  if (std::is_same<TPixel, typename TImage::PixelType>::value)
  {
    WriteConvertedImage(image, fileName, unit);
    return;
  }
  const auto converted = ConvertImage<TPixel>(image);
  WriteConvertedImage(converted.GetPointer(), fileName, unit);
}

/** Writes \a image as \a type (ParseOutputType) to \a fileName; see WriteConvertedImage. */
template <typename TImage>
void
WriteImageFile(const TImage * image, const std::string & fileName, itk::IOComponentEnum type, const std::string & unit)
{
  using C = itk::IOComponentEnum;
  switch (type)
  {
    case C::DOUBLE:
      return WriteImageFileAs<double>(image, fileName, unit);
    case C::UCHAR:
      return WriteImageFileAs<std::uint8_t>(image, fileName, unit);
    case C::CHAR:
      return WriteImageFileAs<std::int8_t>(image, fileName, unit);
    case C::USHORT:
      return WriteImageFileAs<std::uint16_t>(image, fileName, unit);
    case C::SHORT:
      return WriteImageFileAs<std::int16_t>(image, fileName, unit);
    case C::UINT:
      return WriteImageFileAs<std::uint32_t>(image, fileName, unit);
    case C::INT:
      return WriteImageFileAs<std::int32_t>(image, fileName, unit);
    default:
      return WriteImageFileAs<float>(image, fileName, unit);
  }
}
} // namespace CudaFFTConvolutionCLI

#endif
