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
#ifndef itkCudaFFTConvolutionStaging_h
#define itkCudaFFTConvolutionStaging_h

// Internal to the engine (nvcc only): moves boxes of pageable host buffers to and from compact
// device blocks through a small ring of page-locked chunks per direction. Host threads copy
// one chunk while the DMA of another runs, an upload and a download interleave chunk by chunk
// so both DMA directions run at once, and a row longer than a chunk is cut into pieces. Memory
// the caller owns is never page-locked: a host buffer the caller page-locked itself is reached
// by DMA directly.

#include "itkCudaFFTConvolutionHostWorkers.h"
#include "itkCudaFFTConvolutionPlanner.h"

#include <cuda_runtime.h>

#include <cstdint>
#include <deque>

namespace itk
{
class CudaFFTConvolutionStaging
{
public:
  using Box = CudaFFTConvolutionPlanner::Box;

  /** Bytes of one chunk and chunks per direction: 64 MiB of page-locked memory in all. */
  static constexpr std::uint64_t ChunkBytes = 8u << 20;
  static constexpr unsigned int  ChunksPerDirection = 4;
  static constexpr std::uint64_t
  HostBytes()
  {
    return 2 * ChunksPerDirection * ChunkBytes;
  }

  /** A box of a host buffer (x fastest) and the compact device block it goes to or comes from. */
  struct Transfer
  {
    void *       host{ nullptr };
    Box          buffer; //!< the region the host buffer holds
    Box          box;    //!< the part of it to move
    unsigned int elementSize{ 4 };
    void *       device{ nullptr };
  };

  CudaFFTConvolutionStaging() = default;
  ~CudaFFTConvolutionStaging() { Release(); }
  CudaFFTConvolutionStaging(const CudaFFTConvolutionStaging &) = delete;
  CudaFFTConvolutionStaging &
  operator=(const CudaFFTConvolutionStaging &) = delete;

  /** Enqueues \a upload (host to device, on \a uploadStream) and \a download (device to host,
   * on \a downloadStream, after what that stream already waits for); either may be null.
   * Returns when the host side of both is done: the download's values are in host memory, the
   * upload's host buffer may change (its last DMAs are ordered on the upload stream). */
  void
  Move(const Transfer *                upload,
       cudaStream_t                    uploadStream,
       const Transfer *                download,
       cudaStream_t                    downloadStream,
       CudaFFTConvolutionHostWorkers & workers);

  /** Waits for the chunks' DMAs, frees the page-locked chunks and their events. */
  void
  Release();

  /** True when the whole host buffer of a transfer is page-locked (by its owner). */
  static bool
  IsPageLocked(const void * pointer, std::uint64_t bytes);

private:
  struct Chunk
  {
    char *        pinned{ nullptr };
    cudaEvent_t   done{ nullptr };
    std::uint64_t first{ 0 }; //!< byte of the box's compact stream it holds
    std::uint64_t bytes{ 0 };
  };
  class Direction;

  void
  Allocate();

  Chunk m_Up[ChunksPerDirection];
  Chunk m_Down[ChunksPerDirection];
  bool  m_Allocated{ false };
};
} // namespace itk

#endif
