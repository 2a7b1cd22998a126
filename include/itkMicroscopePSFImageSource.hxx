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
#ifndef itkMicroscopePSFImageSource_hxx
#define itkMicroscopePSFImageSource_hxx

#include "itkMicroscopePSFImageSource.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace itk
{
template <typename TOutputImage>
MicroscopePSFImageSource<TOutputImage>::MicroscopePSFImageSource()
{
  m_Size.Fill(33);
  m_Spacing.Fill(0.1);
  if (ImageDimension == 3)
  {
    m_Spacing[2] = 0.2;
  }
}

template <typename TOutputImage>
MicroscopePSF::Parameters
MicroscopePSFImageSource<TOutputImage>::GetPSFParameters() const
{
  MicroscopePSF::Parameters p;
  p.model = m_Model;
  p.confocal = m_Confocal;
  p.dimension = ImageDimension;
  for (unsigned int a = 0; a < ImageDimension; ++a)
  {
    p.size[a] = m_Size[a];
    p.spacing[a] = m_Spacing[a];
  }
  p.numericalAperture = m_NumericalAperture;
  p.wavelength = m_Wavelength;
  p.immersionIndex = m_ImmersionRefractiveIndex;
  p.sampleIndex = m_SampleRefractiveIndex;
  p.particleDepth = m_ParticleDepth;
  p.coverslipIndex = m_CoverslipRefractiveIndex;
  p.coverslipThickness = m_CoverslipThickness;
  p.workingDistance = m_WorkingDistance;
  p.immersionDesignIndex = m_ImmersionDesignRefractiveIndex;
  p.coverslipDesignIndex = m_CoverslipDesignRefractiveIndex;
  p.coverslipDesignThickness = m_CoverslipDesignThickness;
  return p;
}

template <typename TOutputImage>
void
MicroscopePSFImageSource<TOutputImage>::GenerateOutputInformation()
{
  const std::string problem = MicroscopePSF::Check(this->GetPSFParameters());
  if (!problem.empty())
  {
    itkExceptionMacro(<< problem);
  }
  OutputImageType *                    output = this->GetOutput();
  typename OutputImageType::RegionType region;
  region.SetSize(m_Size); // index 0
  output->SetLargestPossibleRegion(region);
  output->SetSpacing(m_Spacing);
  typename OutputImageType::PointType origin;
  for (unsigned int a = 0; a < ImageDimension; ++a)
  {
    origin[a] = -static_cast<double>(m_Size[a] / 2) * m_Spacing[a]; // the focus at the physical point 0
  }
  output->SetOrigin(origin);
  typename OutputImageType::DirectionType direction;
  direction.SetIdentity();
  output->SetDirection(direction);
}

template <typename TOutputImage>
void
MicroscopePSFImageSource<TOutputImage>::GenerateData()
{
  OutputImageType * output = this->GetOutput();
  output->SetBufferedRegion(output->GetLargestPossibleRegion()); // the whole PSF: it is normalised as a whole
  output->Allocate();
  std::vector<double> values;
  try
  {
    values = MicroscopePSF::Compute(this->GetPSFParameters());
  }
  catch (const std::invalid_argument & error)
  {
    itkExceptionMacro(<< error.what());
  }
  std::transform(
    values.begin(), values.end(), output->GetBufferPointer(), [](double v) { return static_cast<PixelType>(v); });
}

template <typename TOutputImage>
void
MicroscopePSFImageSource<TOutputImage>::PrintSelf(std::ostream & os, Indent indent) const
{
  Superclass::PrintSelf(os, indent);
  os << indent << "Model: " << m_Model << std::endl;
  os << indent << "Confocal: " << (m_Confocal ? "On" : "Off") << std::endl;
  os << indent << "Size: " << m_Size << std::endl;
  os << indent << "Spacing: " << m_Spacing << std::endl;
  os << indent << "NumericalAperture: " << m_NumericalAperture << std::endl;
  os << indent << "Wavelength: " << m_Wavelength << std::endl;
  os << indent << "ImmersionRefractiveIndex: " << m_ImmersionRefractiveIndex << std::endl;
  os << indent << "SampleRefractiveIndex: " << m_SampleRefractiveIndex << std::endl;
  os << indent << "ParticleDepth: " << m_ParticleDepth << std::endl;
  os << indent << "CoverslipRefractiveIndex: " << m_CoverslipRefractiveIndex << std::endl;
  os << indent << "CoverslipThickness: " << m_CoverslipThickness << std::endl;
  os << indent << "WorkingDistance: " << m_WorkingDistance << std::endl;
  os << indent << "ImmersionDesignRefractiveIndex: " << m_ImmersionDesignRefractiveIndex << std::endl;
  os << indent << "CoverslipDesignRefractiveIndex: " << m_CoverslipDesignRefractiveIndex << std::endl;
  os << indent << "CoverslipDesignThickness: " << m_CoverslipDesignThickness << std::endl;
}
} // namespace itk

#endif
