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
#ifndef itkCudaFFTConvolutionBoundaryConditions_h
#define itkCudaFFTConvolutionBoundaryConditions_h

#include "itkConstantBoundaryCondition.h"
#include "itkCudaFFTConvolutionPlanner.h"
#include "itkMath.h"
#include "itkPeriodicBoundaryCondition.h"
#include "itkZeroFluxNeumannBoundaryCondition.h"

#include <cctype>
#include <memory>
#include <stdexcept>
#include <string>
#include <typeinfo>

namespace itk
{
/** \class CudaFFTConvolutionBoundaryConditions
 * \brief The boundary conditions the module's filters support, owned by the filter.
 *
 * ITK's convolution filters keep the caller's boundary condition by pointer. The module's
 * filters copy the three conditions the GPU engine implements (ConstantBoundaryCondition with
 * its constant, ZeroFluxNeumannBoundaryCondition, PeriodicBoundaryCondition, each of exactly
 * that type) into an object of this class and hand their superclass a pointer to the copy, so
 * the caller's object may be destroyed at once (a Python temporary). It also names conditions
 * ("periodic") and maps them to the planner's boundary.
 * \ingroup CudaFFTConvolution
 */
template <typename TImage>
class CudaFFTConvolutionBoundaryConditions
{
public:
  ITK_DISALLOW_COPY_AND_MOVE(CudaFFTConvolutionBoundaryConditions);
  CudaFFTConvolutionBoundaryConditions() = default;
  ~CudaFFTConvolutionBoundaryConditions() = default;

  using BoundaryConditionType = ImageBoundaryCondition<TImage>;
  using PixelType = typename TImage::PixelType;
  using ConstantType = ConstantBoundaryCondition<TImage>;
  using ZeroFluxNeumannType = ZeroFluxNeumannBoundaryCondition<TImage>;
  using PeriodicType = PeriodicBoundaryCondition<TImage>;
  using Boundary = CudaFFTConvolutionPlanner::Boundary;

  /** The owned copy of \a condition, or nullptr when its type is not one of the three (exactly:
   * a subclass may behave differently and is kept by pointer, then rejected by ToPlanner).
   * \a constantChanged says whether the owned constant changed. */
  BoundaryConditionType *
  Adopt(const BoundaryConditionType * condition, bool & constantChanged)
  {
    constantChanged = false;
    if (condition == nullptr)
    {
      return nullptr;
    }
    if (typeid(*condition) == typeid(ConstantType))
    {
      const auto constant = static_cast<const ConstantType *>(condition)->GetConstant();
      constantChanged = Math::NotExactlyEquals(m_Constant.GetConstant(), constant);
      m_Constant.SetConstant(constant);
      return &m_Constant;
    }
    if (typeid(*condition) == typeid(ZeroFluxNeumannType))
    {
      return &m_ZeroFluxNeumann;
    }
    if (typeid(*condition) == typeid(PeriodicType))
    {
      return &m_Periodic;
    }
    return nullptr;
  }

  /** ITK's default condition (ZeroFluxNeumann), owned. */
  BoundaryConditionType *
  GetDefault()
  {
    return &m_ZeroFluxNeumann;
  }

  bool
  Owns(const BoundaryConditionType * condition) const
  {
    return condition == &m_Constant || condition == &m_ZeroFluxNeumann || condition == &m_Periodic;
  }

  /** The constant of the owned ConstantBoundaryCondition. */
  PixelType
  GetConstant() const
  {
    return m_Constant.GetConstant();
  }

  /** A new condition of the kind a name gives (case-insensitive, '_' and '-' alike):
   * "zero-flux-neumann" (also "neumann"), "constant" (the constant 0) or "periodic". Throws
   * std::invalid_argument naming an unknown name and listing these. */
  static std::unique_ptr<BoundaryConditionType>
  FromName(const std::string & name)
  {
    std::string key(name);
    for (char & c : key)
    {
      c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (key == "zero-flux-neumann" || key == "neumann")
    {
      return std::unique_ptr<BoundaryConditionType>(new ZeroFluxNeumannType);
    }
    if (key == "constant")
    {
      return std::unique_ptr<BoundaryConditionType>(new ConstantType);
    }
    if (key == "periodic")
    {
      return std::unique_ptr<BoundaryConditionType>(new PeriodicType);
    }
    throw std::invalid_argument("unknown boundary condition \"" + name +
                                "\"; use \"zero-flux-neumann\" (also \"zero_flux_neumann\" or \"neumann\"), "
                                "\"constant\" (the constant 0) or \"periodic\"");
  }

  /** The planner's boundary for \a condition and, for a constant one, its constant. Throws
   * std::invalid_argument for nullptr and for a type the engine does not implement. */
  static Boundary
  ToPlanner(const BoundaryConditionType * condition, PixelType & constant)
  {
    constant = PixelType{};
    if (condition == nullptr)
    {
      throw std::invalid_argument("no boundary condition is set");
    }
    if (typeid(*condition) == typeid(ConstantType))
    {
      constant = static_cast<const ConstantType *>(condition)->GetConstant();
      return Boundary::Constant;
    }
    if (typeid(*condition) == typeid(ZeroFluxNeumannType))
    {
      return Boundary::ZeroFluxNeumann;
    }
    if (typeid(*condition) == typeid(PeriodicType))
    {
      return Boundary::Periodic;
    }
    throw std::invalid_argument(std::string("the boundary condition ") + condition->GetNameOfClass() +
                                " is not supported; use ConstantBoundaryCondition, ZeroFluxNeumannBoundaryCondition "
                                "or PeriodicBoundaryCondition");
  }

private:
  ConstantType        m_Constant{};
  ZeroFluxNeumannType m_ZeroFluxNeumann{};
  PeriodicType        m_Periodic{};
};
} // namespace itk

#endif
