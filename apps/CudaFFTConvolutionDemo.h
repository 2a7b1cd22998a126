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
#ifndef CudaFFTConvolutionDemo_h
#define CudaFFTConvolutionDemo_h

// The demo's data and pictures: the originating notebook's phantom, a widefield PSF computed from a
// microscope's parameters (Gibson-Lanni), and maximum-intensity projections written as PNG. Generation and
// projection run on ITK's threads.

#include "itkImage.h"

#include <array>
#include <string>
#include <vector>

namespace CudaFFTConvolutionDemo
{
using ImageType = itk::Image<float, 3>;

/** Solid spheres of value 1 and radius \a radius centred at (x, y, z), clipped by the volume. */
ImageType::Pointer
Phantom(const ImageType::SizeType & size, double radius, const std::vector<std::array<double, 3>> & centres);

/** A widefield PSF (itk::MicroscopePSFImageSource, Gibson-Lanni): an NA 1.4 oil objective,
 * 0.52 um emission, a water sample 5 um below the coverslip, on voxels of 0.065 um (lateral) and
 * 0.2 um (axial) times \a scale. Focus at floor(size/2); sums to 1. */
ImageType::Pointer
WidefieldPSF(const ImageType::SizeType & size, double scale);

/** Writes a volume without compression: the demo's volumes are large, and compressing them
 * takes far longer than computing them. */
void
WriteVolume(const ImageType * image, const std::string & fileName);

/** Writes the xy (maximum over z) and zy (maximum over x) projections side by side as an 8-bit
 * PNG, like the notebook's show_xy_zy_max; \a gamma < 1 brings out dim detail. */
void
WriteProjections(const ImageType * image, const std::string & fileName, double gamma = 1.0);
} // namespace CudaFFTConvolutionDemo

#endif
