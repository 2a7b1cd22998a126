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
#ifndef CudaFFTConvolutionTIFF_h
#define CudaFFTConvolutionTIFF_h

// TIFF stacks as microscopes and their software write them, beyond what ITK's TIFF reader reads:
// ITK reads the pixels of every page and the x/y resolution in inches or centimetres, but not the
// voxel size that ImageJ (ImageDescription "spacing=", resolution without a unit) and OME-TIFF
// (OME-XML PhysicalSize*) keep, nor whether the pages are channels or time points. Writing: an
// ImageJ-style stack (Fiji, napari and tifffile read its voxel size), or OME-TIFF for *.ome.tif.

#include "itkImageIOBase.h"

#include <array>
#include <string>

namespace CudaFFTConvolutionCLI
{
/** What a TIFF file's tags and description say about its voxels. */
struct TIFFStackInformation
{
  std::string           format;                 // "ImageJ", "OME" or "" (a plain TIFF)
  std::array<double, 3> spacing{ { 0, 0, 0 } }; // x, y, z; 0 where the file gives none
  std::string           unit;                   // of the spacing ("µm", "nm", "mm", ...); "" when unnamed
  unsigned int          channels{ 1 };
  unsigned int          timePoints{ 1 };
  unsigned int          samplesPerPixel{ 1 };
  unsigned int          pages{ 0 };
  std::string           shape; // tifffile's "shape" of more than 3 axes, e.g. "[2, 16, 8, 8]"
};

/** True for names ending in .tif or .tiff (any case, .ome.tif included). */
bool
IsTIFFFileName(const std::string & fileName);

/** True for names ending in .ome.tif or .ome.tiff (any case). */
bool
IsOMETIFFFileName(const std::string & fileName);

/** Reads the first page's tags and description and counts the pages; a UsageError when the file
 * cannot be opened as TIFF. */
TIFFStackInformation
ReadTIFFStackInformation(const std::string & fileName);

/** The voxels of a 2-D or 3-D single-channel image in memory, x fastest, for writing. */
struct TIFFStackPixels
{
  const void *                      buffer{ nullptr };
  itk::IOComponentEnum              componentType{ itk::IOComponentEnum::FLOAT };
  unsigned int                      dimension{ 3 };
  std::array<unsigned long long, 3> size{ { 1, 1, 1 } };
  std::array<double, 3>             spacing{ { 1, 1, 1 } };
  std::string                       unit; // "" when unknown
  std::string                       name; // OME-XML's image name: the final file name
};

/** Writes \a pixels as an uncompressed TIFF stack, one page per z plane: ImageJ-style (x/y
 * resolution as pixels per unit, the unit and z spacing in the ImageDescription), or OME-TIFF
 * (OME-XML with PhysicalSizeX/Y/Z) when \a ome. BigTIFF beyond 4 GB. A UsageError on failure. */
void
WriteTIFFStack(const std::string & fileName, const TIFFStackPixels & pixels, bool ome);
} // namespace CudaFFTConvolutionCLI

#endif
