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
#include <vector>


namespace itk
{
/** \class CudaPinnedImportImageContainer
 * \brief An image pixel container in page-locked host memory, which the GPU reaches by DMA.
 *
 * An opt-in for callers who update CudaFFTConvolutionImageFilter repeatedly and want its input
 * or output to move at the full PCIe rate without the engine's staging copy: give an image this
 * container before allocating it (image->SetPixelContainer(Container::New()); image->Allocate())
 * or graft such an image as the filter's output. The caller owns it; the filter never gives
 * an image this container by itself. Page-locked memory is a scarce system resource: keep such
 * images few and release them when done.
 *
 * Each allocation records how it was made: page-locked memory is freed with the CUDA runtime
 * (after the runtime has shut down, at process exit, it is left to the operating system), and a
 * fallback allocation made with new[] when page-locked memory could not be had is freed with
 * delete[].
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

  /** True when the current buffer is page-locked memory this container allocated. */
  bool
  IsPageLocked() const
  {
    return IsPinnedAllocation(this->GetImportPointer());
  }

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
    // Reserve allocates the new buffer before it frees the old one: several may be alive.
    m_PinnedAllocations.push_back(elements);
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
    if (pointer != nullptr && this->GetContainerManageMemory() && IsPinnedAllocation(pointer))
    {
      m_PinnedAllocations.erase(std::find(m_PinnedAllocations.begin(), m_PinnedAllocations.end(), pointer));
      CudaFFTConvolutionEngine::FreePinnedHost(pointer); // false at process exit: the OS reclaims it
      this->SetImportPointer(nullptr);
      this->SetCapacity(0);
      this->SetSize(0);
      return;
    }
    Superclass::DeallocateManagedMemory();
  }

private:
  bool
  IsPinnedAllocation(const TElement * pointer) const
  {
    return pointer != nullptr &&
           std::find(m_PinnedAllocations.begin(), m_PinnedAllocations.end(), pointer) != m_PinnedAllocations.end();
  }

  mutable std::vector<const TElement *> m_PinnedAllocations;
};
} // namespace itk

#endif
