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
#include "CudaFFTConvolutionTIFF.h"
#include "CudaFFTConvolutionCLISupport.h"

#include "itk_tiff.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <sstream>

namespace CudaFFTConvolutionCLI
{
namespace
{
bool
EndsWithIgnoringCase(const std::string & text, const std::string & ending)
{
  const std::string lower = itksys::SystemTools::LowerCase(text);
  return lower.size() >= ending.size() && lower.compare(lower.size() - ending.size(), ending.size(), ending) == 0;
}

/** libtiff reports warnings (e.g. tags it does not know) and errors on stderr by default; the
 * tools report failures themselves, on one line. */
void
SilenceLibTIFF()
{
  TIFFSetWarningHandler(nullptr);
  TIFFSetErrorHandler(nullptr);
}

/** One "key=value" line of an ImageJ description, or "". */
std::string
ImageJValue(const std::string & description, const std::string & key)
{
  std::smatch match;
  if (std::regex_search(description, match, std::regex("(^|\n)" + key + "=([^\n]*)")))
  {
    return match[2].str();
  }
  return std::string();
}

/** An attribute of the first OME-XML Pixels element, or "". */
std::string
OMEPixelsAttribute(const std::string & description, const std::string & name)
{
  std::smatch pixels;
  if (!std::regex_search(description, pixels, std::regex("<(\\w+:)?Pixels\\s[^>]*>")))
  {
    return std::string();
  }
  const std::string element = pixels[0].str();
  std::smatch       attribute;
  if (std::regex_search(element, attribute, std::regex("\\s" + name + "\\s*=\\s*[\"']([^\"']*)[\"']")))
  {
    return attribute[1].str();
  }
  return std::string();
}

double
PositiveNumber(const std::string & text)
{
  char *       end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  return end != text.c_str() && value > 0 && value < 1e300 ? value : 0.0;
}

unsigned int
Count(const std::string & text)
{
  const double value = PositiveNumber(text);
  return value >= 1 ? static_cast<unsigned int>(value) : 1u;
}

/** ImageJ writes micrometres as "micron", "um" or "\u00B5m"; one spelling here. */
std::string
NormalUnit(std::string unit)
{
  if (unit == "micron" || unit == "microns" || unit == "um" || unit == "\\u00B5m" || unit == "\xC2\xB5m" ||
      unit == "\xCE\xBCm")
  {
    return "\xC2\xB5m";
  }
  return unit;
}

void
ReadImageJ(const std::string & description, TIFF * tiff, TIFFStackInformation & information)
{
  information.format = "ImageJ";
  information.channels = Count(ImageJValue(description, "channels"));
  information.timePoints = Count(ImageJValue(description, "frames"));
  information.unit = NormalUnit(ImageJValue(description, "unit"));
  float x = 0;
  float y = 0;
  if (TIFFGetField(tiff, TIFFTAG_XRESOLUTION, &x) == 1 && TIFFGetField(tiff, TIFFTAG_YRESOLUTION, &y) == 1 && x > 0 &&
      y > 0)
  {
    information.spacing[0] = 1.0 / x;
    information.spacing[1] = 1.0 / y;
  }
  information.spacing[2] = PositiveNumber(ImageJValue(description, "spacing"));
}

void
ReadOME(const std::string & description, TIFFStackInformation & information)
{
  information.format = "OME";
  information.channels = Count(OMEPixelsAttribute(description, "SizeC"));
  information.timePoints = Count(OMEPixelsAttribute(description, "SizeT"));
  const char * axes[] = { "X", "Y", "Z" };
  for (unsigned int a = 0; a < 3; ++a)
  {
    information.spacing[a] = PositiveNumber(OMEPixelsAttribute(description, std::string("PhysicalSize") + axes[a]));
  }
  const std::string unit = OMEPixelsAttribute(description, "PhysicalSizeXUnit");
  information.unit = unit.empty() ? "\xC2\xB5m" : NormalUnit(unit); // the OME schema's default
}

/** tifffile's JSON description {"shape": [...]}: its axes of more than one element beyond the
 * last two (y, x) and the samples, when there are two or more of them (e.g. channels and z). */
void
ReadTifffileShape(const std::string & description, TIFFStackInformation & information)
{
  std::smatch match;
  if (!std::regex_search(description, match, std::regex("\"shape\"\\s*:\\s*\\[([0-9,\\s]*)\\]")))
  {
    return;
  }
  std::vector<unsigned long> shape;
  std::istringstream         items(match[1].str());
  for (std::string item; std::getline(items, item, ',');)
  {
    shape.push_back(std::strtoul(item.c_str(), nullptr, 10));
  }
  const std::size_t samples = information.samplesPerPixel > 1 ? 1 : 0;
  std::size_t       leading = 0;
  for (std::size_t a = 0; a + 2 + samples < shape.size(); ++a)
  {
    leading += shape[a] > 1 ? 1 : 0;
  }
  if (leading > 1)
  {
    information.shape = "[" + match[1].str() + "]";
  }
}
} // namespace

bool
IsTIFFFileName(const std::string & fileName)
{
  return EndsWithIgnoringCase(fileName, ".tif") || EndsWithIgnoringCase(fileName, ".tiff");
}

bool
IsOMETIFFFileName(const std::string & fileName)
{
  return EndsWithIgnoringCase(fileName, ".ome.tif") || EndsWithIgnoringCase(fileName, ".ome.tiff");
}

TIFFStackInformation
ReadTIFFStackInformation(const std::string & fileName)
{
  SilenceLibTIFF();
  TIFF * tiff = TIFFOpen(fileName.c_str(), "r");
  if (tiff == nullptr)
  {
    throw UsageError("the file '" + fileName + "' cannot be read as TIFF");
  }
  TIFFStackInformation information;
  information.pages = static_cast<unsigned int>(TIFFNumberOfDirectories(tiff));
  uint16_t samples = 1;
  TIFFGetFieldDefaulted(tiff, TIFFTAG_SAMPLESPERPIXEL, &samples);
  information.samplesPerPixel = samples;
  char *            text = nullptr;
  const std::string description =
    TIFFGetField(tiff, TIFFTAG_IMAGEDESCRIPTION, &text) == 1 && text != nullptr ? std::string(text) : std::string();
  if (description.compare(0, 7, "ImageJ=") == 0)
  {
    ReadImageJ(description, tiff, information);
  }
  else if (description.find("<OME") != std::string::npos)
  {
    ReadOME(description, information);
  }
  else
  {
    ReadTifffileShape(description, information);
    uint16_t unit = 0;
    if (TIFFGetField(tiff, TIFFTAG_RESOLUTIONUNIT, &unit) == 1 && (unit == RESUNIT_INCH || unit == RESUNIT_CENTIMETER))
    {
      information.unit = "mm"; // ITK's reader converts inches and centimetres to millimetres
    }
  }
  TIFFClose(tiff);
  return information;
}

namespace
{
struct SampleLayout
{
  uint16_t     bits;
  uint16_t     format; // SAMPLEFORMAT_*
  const char * omeType;
};

SampleLayout
LayoutOf(itk::IOComponentEnum type)
{
  using C = itk::IOComponentEnum;
  switch (type)
  {
    case C::UCHAR:
      return { 8, SAMPLEFORMAT_UINT, "uint8" };
    case C::CHAR:
      return { 8, SAMPLEFORMAT_INT, "int8" };
    case C::USHORT:
      return { 16, SAMPLEFORMAT_UINT, "uint16" };
    case C::SHORT:
      return { 16, SAMPLEFORMAT_INT, "int16" };
    case C::UINT:
      return { 32, SAMPLEFORMAT_UINT, "uint32" };
    case C::INT:
      return { 32, SAMPLEFORMAT_INT, "int32" };
    case C::FLOAT:
      return { 32, SAMPLEFORMAT_IEEEFP, "float" };
    case C::DOUBLE:
      return { 64, SAMPLEFORMAT_IEEEFP, "double" };
    default:
      break;
  }
  throw UsageError("TIFF output supports 8-, 16- and 32-bit integers, float and double, not " +
                   itk::ImageIOBase::GetComponentTypeAsString(type));
}

std::string
Number(double value)
{
  char text[32];
  std::snprintf(text, sizeof(text), "%.12g", value);
  return text;
}

/** ImageJ's description of a stack: the plane count, the unit and the z spacing. */
std::string
ImageJDescription(const TIFFStackPixels & pixels)
{
  std::string description = "ImageJ=1.11a\n";
  if (pixels.dimension == 3)
  {
    const std::string planes = std::to_string(pixels.size[2]);
    description += "images=" + planes + "\nslices=" + planes + "\n";
  }
  if (!pixels.unit.empty())
  {
    description += "unit=" + (pixels.unit == "\xC2\xB5m" ? std::string("micron") : pixels.unit) + "\n";
  }
  if (pixels.dimension == 3)
  {
    description += "spacing=" + Number(pixels.spacing[2]) + "\nloop=false\n";
  }
  return description;
}

std::string
XMLEscaped(const std::string & text)
{
  std::string escaped;
  for (const char c : text)
  {
    switch (c)
    {
      case '&':
        escaped += "&amp;";
        break;
      case '<':
        escaped += "&lt;";
        break;
      case '>':
        escaped += "&gt;";
        break;
      case '"':
        escaped += "&quot;";
        break;
      default:
        escaped += c;
    }
  }
  return escaped;
}

std::string
OMEDescription(const TIFFStackPixels & pixels)
{
  std::ostringstream xml;
  const char *       axes[] = { "X", "Y", "Z" };
  xml << "<?xml version=\"1.0\" encoding=\"UTF-8\"?><OME xmlns=\"http://www.openmicroscopy.org/Schemas/OME/2016-06\" "
         "Creator=\"CudaFFTConvolution\"><Image ID=\"Image:0\" Name=\""
      << XMLEscaped(pixels.name) << "\"><Pixels ID=\"Pixels:0\" DimensionOrder=\"XYZCT\" Type=\""
      << LayoutOf(pixels.componentType).omeType << "\"";
  for (unsigned int a = 0; a < 3; ++a)
  {
    xml << " Size" << axes[a] << "=\"" << (a < pixels.dimension ? pixels.size[a] : 1) << "\"";
  }
  xml << " SizeC=\"1\" SizeT=\"1\"";
  for (unsigned int a = 0; a < pixels.dimension; ++a)
  {
    xml << " PhysicalSize" << axes[a] << "=\"" << Number(pixels.spacing[a]) << "\"";
    if (!pixels.unit.empty())
    {
      xml << " PhysicalSize" << axes[a] << "Unit=\"" << pixels.unit << "\"";
    }
  }
  const unsigned long long planes = pixels.dimension == 3 ? pixels.size[2] : 1;
  xml << "><Channel ID=\"Channel:0:0\" SamplesPerPixel=\"1\"/><TiffData IFD=\"0\" PlaneCount=\"" << planes
      << "\"/></Pixels></Image></OME>";
  return xml.str();
}

/** Writes one plane as the current page, with its tags; false when libtiff fails. */
bool
WritePage(TIFF *                  tiff,
          const TIFFStackPixels & pixels,
          const SampleLayout &    layout,
          const char *            plane,
          const std::string &     description)
{
  const auto width = static_cast<uint32_t>(pixels.size[0]);
  const auto height = static_cast<uint32_t>(pixels.size[1]);
  TIFFSetField(tiff, TIFFTAG_IMAGEWIDTH, width);
  TIFFSetField(tiff, TIFFTAG_IMAGELENGTH, height);
  TIFFSetField(tiff, TIFFTAG_BITSPERSAMPLE, layout.bits);
  TIFFSetField(tiff, TIFFTAG_SAMPLEFORMAT, layout.format);
  TIFFSetField(tiff, TIFFTAG_SAMPLESPERPIXEL, static_cast<uint16_t>(1));
  TIFFSetField(tiff, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
  TIFFSetField(tiff, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(tiff, TIFFTAG_COMPRESSION, COMPRESSION_NONE);
  TIFFSetField(tiff, TIFFTAG_ROWSPERSTRIP, height);
  TIFFSetField(tiff, TIFFTAG_XRESOLUTION, 1.0 / pixels.spacing[0]);
  TIFFSetField(tiff, TIFFTAG_YRESOLUTION, 1.0 / pixels.spacing[1]);
  TIFFSetField(tiff, TIFFTAG_RESOLUTIONUNIT, RESUNIT_NONE);
  if (!description.empty())
  {
    TIFFSetField(tiff, TIFFTAG_IMAGEDESCRIPTION, description.c_str());
  }
  const auto bytes = static_cast<tmsize_t>(static_cast<unsigned long long>(width) * height * (layout.bits / 8));
  return TIFFWriteEncodedStrip(tiff, 0, const_cast<char *>(plane), bytes) == bytes && TIFFWriteDirectory(tiff) == 1;
}
} // namespace

void
WriteTIFFStack(const std::string & fileName, const TIFFStackPixels & pixels, bool ome)
{
  const SampleLayout layout = LayoutOf(pixels.componentType);
  for (unsigned int a = 0; a < pixels.dimension; ++a)
  {
    if (!(pixels.spacing[a] > 0))
    {
      throw UsageError("a TIFF stack needs a positive spacing (axis " + std::to_string(a) + " has " +
                       Number(pixels.spacing[a]) + ")");
    }
  }
  const unsigned long long planes = pixels.dimension == 3 ? pixels.size[2] : 1;
  const unsigned long long planeBytes = pixels.size[0] * pixels.size[1] * (layout.bits / 8);
  if (pixels.size[0] > UINT32_MAX || pixels.size[1] > UINT32_MAX || planes > 65535)
  {
    throw UsageError("the image is too large for a TIFF stack (planes of at most 2^32 x 2^32 voxels, 65535 planes)");
  }
  // A classic TIFF addresses 4 GB; beyond, BigTIFF (read by tifffile, Fiji's Bio-Formats, napari).
  const bool big = planeBytes * planes > (4ull << 30) - (64ull << 20);
  SilenceLibTIFF();
  TIFF * tiff = TIFFOpen(fileName.c_str(), big ? "w8" : "w");
  if (tiff == nullptr)
  {
    throw UsageError("cannot write the TIFF file '" + fileName + "'");
  }
  const std::string description = ome ? OMEDescription(pixels) : ImageJDescription(pixels);
  bool              written = true;
  for (unsigned long long z = 0; z < planes && written; ++z)
  {
    const char * plane = static_cast<const char *>(pixels.buffer) + z * planeBytes;
    written = WritePage(tiff, pixels, layout, plane, z == 0 ? description : std::string());
  }
  TIFFClose(tiff);
  if (!written)
  {
    throw UsageError("cannot write the TIFF file '" + fileName + "' (is the disk full?)");
  }
}
} // namespace CudaFFTConvolutionCLI
