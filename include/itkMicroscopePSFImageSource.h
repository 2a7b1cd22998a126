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
#ifndef itkMicroscopePSFImageSource_h
#define itkMicroscopePSFImageSource_h

#include "itkCudaFFTConvolutionCompatibility.h"
#include "itkImageSource.h"
#include "itkMicroscopePSF.h"

#include <type_traits>

namespace itk
{
/** \class MicroscopePSFImageSource
 * \brief Produces the point spread function of a widefield or confocal microscope from the
 * acquisition's parameters (Born and Wolf, or Gibson and Lanni), normalised to sum 1.
 *
 * A PSF for the deconvolution filters when none was measured. The models and their parameters
 * are described in MicroscopePSF, which computes the values. The output has Size voxels of
 * Spacing (x, y lateral, z axial; the lengths in the unit of the wavelength, micrometres for the
 * default coverslip and immersion thicknesses); voxel i of an axis lies at (i - Size/2) *
 * Spacing from the focus, i.e. the focus is the centre voxel for odd sizes and ITK's kernel
 * centre floor(K/2) for even ones. The origin is set so that the focus lies at the physical
 * point 0. A 2D output is the in-focus plane.
 *
 * Bad parameters (a numerical aperture above the immersion index, a non-positive wavelength or
 * voxel size, an empty size...) raise an ExceptionObject naming the problem at the update.
 *
 * \sa MicroscopePSF CudaRichardsonLucyDeconvolutionImageFilter
 * \ingroup CudaFFTConvolution
 */
template <typename TOutputImage>
class ITK_TEMPLATE_EXPORT MicroscopePSFImageSource : public ImageSource<TOutputImage>
{
public:
  ITK_DISALLOW_COPY_AND_MOVE(MicroscopePSFImageSource);

  using Self = MicroscopePSFImageSource;
  using Superclass = ImageSource<TOutputImage>;
  using Pointer = SmartPointer<Self>;
  using ConstPointer = SmartPointer<const Self>;

  itkNewMacro(Self);
  itkOverrideGetNameOfClassMacro(MicroscopePSFImageSource);

  static constexpr unsigned int ImageDimension = TOutputImage::ImageDimension;
  using OutputImageType = TOutputImage;
  using PixelType = typename OutputImageType::PixelType;
  using SizeType = typename OutputImageType::SizeType;
  using SpacingType = typename OutputImageType::SpacingType;
  using ModelEnum = MicroscopePSF::Model;

  static_assert(ImageDimension == 2 || ImageDimension == 3, "MicroscopePSFImageSource produces 2D or 3D images");
  static_assert(std::is_floating_point<PixelType>::value, "the PSF's pixel type must be float or double");

  /** BornWolf or GibsonLanni (the default). */
  itkSetMacro(Model, ModelEnum);
  itkGetConstMacro(Model, ModelEnum);
  /** The square of the widefield intensity (an infinitely small pinhole). Off by default. */
  itkSetMacro(Confocal, bool);
  itkGetConstMacro(Confocal, bool);
  itkBooleanMacro(Confocal);

  /** Voxels along x, y (and z); 33 x 33 (x 33) by default. */
  itkSetMacro(Size, SizeType);
  itkGetConstReferenceMacro(Size, SizeType);
  /** The lateral (x, y) and axial (z) voxel sizes; 0.1, 0.1 (, 0.2) by default. */
  itkSetMacro(Spacing, SpacingType);
  itkGetConstReferenceMacro(Spacing, SpacingType);

  itkSetMacro(NumericalAperture, double);
  itkGetConstMacro(NumericalAperture, double);
  /** The emission wavelength in vacuum, in the unit of the spacing. */
  itkSetMacro(Wavelength, double);
  itkGetConstMacro(Wavelength, double);
  itkSetMacro(ImmersionRefractiveIndex, double);
  itkGetConstMacro(ImmersionRefractiveIndex, double);
  /** Gibson-Lanni only, as every parameter below. */
  itkSetMacro(SampleRefractiveIndex, double);
  itkGetConstMacro(SampleRefractiveIndex, double);
  /** Depth of the particle below the coverslip (non-negative). */
  itkSetMacro(ParticleDepth, double);
  itkGetConstMacro(ParticleDepth, double);
  itkSetMacro(CoverslipRefractiveIndex, double);
  itkGetConstMacro(CoverslipRefractiveIndex, double);
  itkSetMacro(CoverslipThickness, double);
  itkGetConstMacro(CoverslipThickness, double);
  /** The immersion layer's thickness by design. */
  itkSetMacro(WorkingDistance, double);
  itkGetConstMacro(WorkingDistance, double);
  /** The design values the objective was corrected for; 0 (the default): the actual value. */
  itkSetMacro(ImmersionDesignRefractiveIndex, double);
  itkGetConstMacro(ImmersionDesignRefractiveIndex, double);
  itkSetMacro(CoverslipDesignRefractiveIndex, double);
  itkGetConstMacro(CoverslipDesignRefractiveIndex, double);
  itkSetMacro(CoverslipDesignThickness, double);
  itkGetConstMacro(CoverslipDesignThickness, double);

  /** The parameters of the pure computation (MicroscopePSF) this source's settings give. */
  MicroscopePSF::Parameters
  GetPSFParameters() const;

protected:
  MicroscopePSFImageSource();
  ~MicroscopePSFImageSource() override = default;

  void
  GenerateOutputInformation() override;
  void
  GenerateData() override;
  void
  PrintSelf(std::ostream & os, Indent indent) const override;

private:
  ModelEnum   m_Model{ ModelEnum::GibsonLanni };
  bool        m_Confocal{ false };
  SizeType    m_Size{};
  SpacingType m_Spacing{};
  double      m_NumericalAperture{ 1.4 };
  double      m_Wavelength{ 0.53 };
  double      m_ImmersionRefractiveIndex{ 1.515 };
  double      m_SampleRefractiveIndex{ 1.515 };
  double      m_ParticleDepth{ 0 };
  double      m_CoverslipRefractiveIndex{ 1.515 };
  double      m_CoverslipThickness{ 170 };
  double      m_WorkingDistance{ 150 };
  double      m_ImmersionDesignRefractiveIndex{ 0 };
  double      m_CoverslipDesignRefractiveIndex{ 0 };
  double      m_CoverslipDesignThickness{ 0 };
};
} // namespace itk

#ifndef ITK_MANUAL_INSTANTIATION
#  include "itkMicroscopePSFImageSource.hxx"
#endif

#endif
