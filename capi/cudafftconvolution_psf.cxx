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
// The C ABI's computed PSFs: a cfc_psf becomes itk::MicroscopePSF's parameters.
#include "cudafftconvolution_internal.h"

#include "itkMicroscopePSF.h"

namespace
{
using PSF = itk::MicroscopePSF;

PSF::Parameters
ParametersOf(const cfc_psf & psf)
{
  if (psf.model != CFC_PSF_BORN_WOLF && psf.model != CFC_PSF_GIBSON_LANNI)
  {
    throw std::invalid_argument("unknown PSF model " + std::to_string(psf.model) + " (0 Born-Wolf, 1 Gibson-Lanni)");
  }
  PSF::Parameters p;
  p.model = psf.model == CFC_PSF_BORN_WOLF ? PSF::Model::BornWolf : PSF::Model::GibsonLanni;
  p.confocal = psf.confocal != 0;
  p.dimension = psf.dimension;
  for (unsigned int a = 0; a < 3; ++a)
  {
    p.size[a] = psf.size[a];
    p.spacing[a] = psf.spacing[a];
  }
  p.numericalAperture = psf.numerical_aperture;
  p.wavelength = psf.wavelength;
  p.immersionIndex = psf.immersion_index;
  p.sampleIndex = psf.sample_index;
  p.particleDepth = psf.particle_depth;
  p.immersionDesignIndex = psf.immersion_design_index;
  p.coverslipIndex = psf.coverslip_index;
  p.coverslipDesignIndex = psf.coverslip_design_index;
  p.coverslipThickness = psf.coverslip_thickness;
  p.coverslipDesignThickness = psf.coverslip_design_thickness;
  p.workingDistance = psf.working_distance;
  return p;
}
} // namespace

extern "C"
{
  void
  cfc_psf_defaults(cfc_psf * psf)
  {
    if (psf == nullptr)
    {
      return;
    }
    const PSF::Parameters p;
    *psf = cfc_psf{};
    psf->model = p.model == PSF::Model::BornWolf ? CFC_PSF_BORN_WOLF : CFC_PSF_GIBSON_LANNI;
    psf->confocal = p.confocal ? 1 : 0;
    psf->dimension = p.dimension;
    for (unsigned int a = 0; a < 3; ++a)
    {
      psf->size[a] = p.size[a];
      psf->spacing[a] = p.spacing[a];
    }
    psf->numerical_aperture = p.numericalAperture;
    psf->wavelength = p.wavelength;
    psf->immersion_index = p.immersionIndex;
    psf->sample_index = p.sampleIndex;
    psf->particle_depth = p.particleDepth;
    psf->immersion_design_index = p.immersionDesignIndex;
    psf->coverslip_index = p.coverslipIndex;
    psf->coverslip_design_index = p.coverslipDesignIndex;
    psf->coverslip_thickness = p.coverslipThickness;
    psf->coverslip_design_thickness = p.coverslipDesignThickness;
    psf->working_distance = p.workingDistance;
  }

  cfc_status
  cfc_psf_compute(const cfc_psf * psf, double * output)
  {
    return CfcGuarded([&] {
      if (psf == nullptr || output == nullptr)
      {
        throw std::invalid_argument("cfc_psf_compute needs a cfc_psf and an output buffer");
      }
      PSF::Compute(ParametersOf(*psf), output); // checks the parameters before writing
      return CFC_OK;
    });
  }
}
