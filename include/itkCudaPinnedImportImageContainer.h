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
#ifndef itkCudaPinnedImportImageContainer_h
#define itkCudaPinnedImportImageContainer_h

#include "itkCudaFFTConvolutionCompatibility.h"
#include "itkCudaFFTConvolutionEngine.h"
#include "itkImportImageContainer.h"

#include <algorithm>


namespace itk
{
/** \class CudaPinnedImportImageContainer
 * \brief An image pixel container in page-locked host memory, which the GPU reaches by DMA.
 *
 * CudaFFTConvolutionImageFilter gives its output this container when it is updated repeatedly
 * with the same output size, so that results travel from the GPU at the full PCIe rate without a
 * staging copy. Falls back to ordinary memory when page-locked memory cannot be had.
 * \ingroup CudaFFTConvolution
 */
template <typename TElementIdentifier, typename TElement>
class ITK_TEMPLATE_EXPORT CudaPinnedImportImageContainer : public ImportImageContainer<TElementIdentifier, TElement>
{
public:
  ITK_DISALLOW_COPY_AND_MOVE(CudaPinnedImportImageContainer);

  using Self = CudaPinnedImportImageContainer;
  using Superclass = ImportImageContainer<TElementIdentifier, TElement>;
  using Pointer = SmartPointer<Self>;
  using ConstPointer = SmartPointer<const Self>;
  using ElementIdentifier = TElementIdentifier;

  itkNewMacro(Self);
  itkOverrideGetNameOfClassMacro(CudaPinnedImportImageContainer);

protected:
  CudaPinnedImportImageContainer() = default;
  ~CudaPinnedImportImageContainer() override
  {
    // The base destructor would free with delete[]: free page-locked memory here first.
    this->DeallocateManagedMemory();
  }

  TElement *
  AllocateElements(ElementIdentifier size, bool initialize = false) const override
  {
    void * memory = CudaFFTConvolutionEngine::AllocatePinnedHost(static_cast<std::uint64_t>(size) * sizeof(TElement));
    if (memory == nullptr)
    {
      return Superclass::AllocateElements(size, initialize);
    }
    auto * elements = static_cast<TElement *>(memory);
    if (initialize)
    {
      std::fill_n(elements, size, TElement{});
    }
    return elements;
  }

  void
  DeallocateManagedMemory() override
  {
    TElement * pointer = this->GetImportPointer();
    if (pointer != nullptr && this->GetContainerManageMemory() && CudaFFTConvolutionEngine::IsPinnedHost(pointer))
    {
      CudaFFTConvolutionEngine::FreePinnedHost(pointer);
      this->SetImportPointer(nullptr);
      this->SetCapacity(0);
      this->SetSize(0);
      return;
    }
    Superclass::DeallocateManagedMemory();
  }
};
} // namespace itk

#endif
