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
#include "itkCudaFFTConvolutionStaging.h"

#include "itkCudaFFTConvolutionCudaSupport.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <thread>

namespace itk
{
namespace
{
/** Where the rows of a box lie in its host buffer; the device block holds them back to back,
 * so byte b of the device block is byte b % RowBytes of row b / RowBytes. */
struct RowLayout
{
  std::uint64_t rowBytes{ 0 };
  std::uint64_t bufferRowBytes{ 0 };
  std::uint64_t bufferRows{ 0 };
  std::uint64_t boxRows{ 0 };
  std::uint64_t offset0Bytes{ 0 }, offset1{ 0 }, offset2{ 0 };
  std::uint64_t totalBytes{ 0 };

  explicit RowLayout(const CudaFFTConvolutionStaging::Transfer & transfer)
  {
    const auto & box = transfer.box;
    const auto & buffer = transfer.buffer;
    rowBytes = box.size[0] * transfer.elementSize;
    bufferRowBytes = buffer.size[0] * transfer.elementSize;
    bufferRows = buffer.size[1];
    boxRows = box.size[1];
    offset0Bytes = static_cast<std::uint64_t>(box.index[0] - buffer.index[0]) * transfer.elementSize;
    offset1 = static_cast<std::uint64_t>(box.index[1] - buffer.index[1]);
    offset2 = static_cast<std::uint64_t>(box.index[2] - buffer.index[2]);
    totalBytes = rowBytes * box.size[1] * box.size[2];
  }

  std::uint64_t
  HostOffset(std::uint64_t row) const
  {
    const std::uint64_t y = row % boxRows + offset1;
    const std::uint64_t z = row / boxRows + offset2;
    return (z * bufferRows + y) * bufferRowBytes + offset0Bytes;
  }

  /** Copies bytes [first, end) of the device-order stream between the host buffer and \a staged
   * (which holds the stream from byte \a stagedFirst on), row piece by row piece. */
  void
  Copy(char * host, char * staged, std::uint64_t stagedFirst, std::uint64_t first, std::uint64_t end, bool toStaging)
    const
  {
    for (std::uint64_t at = first; at < end;)
    {
      const std::uint64_t row = at / rowBytes;
      const std::uint64_t within = at % rowBytes;
      const std::uint64_t bytes = std::min(rowBytes - within, end - at);
      char *              hostPiece = host + HostOffset(row) + within;
      char *              stagedPiece = staged + (at - stagedFirst);
      if (toStaging)
      {
        std::memcpy(stagedPiece, hostPiece, bytes);
      }
      else
      {
        std::memcpy(hostPiece, stagedPiece, bytes);
      }
      at += bytes;
    }
  }
};

/** A chunk is copied by several threads, each taking at least this many bytes. */
constexpr std::uint64_t CopyGrainBytes = 512u << 10;

/** True when the event's work is done; throws on a CUDA error other than "not ready". */
bool
Finished(cudaEvent_t event)
{
  const cudaError_t state = cudaEventQuery(event);
  if (state == cudaErrorNotReady)
  {
    cudaGetLastError();
    return false;
  }
  CUDAFFT_CHECK(state);
  return true;
}

/** Enqueues a DMA between a box of a page-locked host buffer and a compact device block. */
void
CopyPageLockedBox(const CudaFFTConvolutionStaging::Transfer & transfer, bool toDevice, cudaStream_t stream)
{
  const RowLayout rows(transfer);
  char *          hostStart = static_cast<char *>(transfer.host) + rows.HostOffset(0);
  if (rows.rowBytes == rows.bufferRowBytes &&
      (transfer.box.size[1] == transfer.buffer.size[1] || transfer.box.size[2] == 1))
  {
    CUDAFFT_CHECK(toDevice
                    ? cudaMemcpyAsync(transfer.device, hostStart, rows.totalBytes, cudaMemcpyHostToDevice, stream)
                    : cudaMemcpyAsync(hostStart, transfer.device, rows.totalBytes, cudaMemcpyDeviceToHost, stream));
    return;
  }
  cudaMemcpy3DParms    parameters{};
  const cudaPitchedPtr host =
    make_cudaPitchedPtr(transfer.host, rows.bufferRowBytes, rows.bufferRowBytes, transfer.buffer.size[1]);
  const cudaPitchedPtr device =
    make_cudaPitchedPtr(transfer.device, rows.rowBytes, rows.rowBytes, transfer.box.size[1]);
  const cudaPos hostPosition = make_cudaPos(rows.offset0Bytes, rows.offset1, rows.offset2);
  parameters.srcPtr = toDevice ? host : device;
  parameters.dstPtr = toDevice ? device : host;
  (toDevice ? parameters.srcPos : parameters.dstPos) = hostPosition;
  parameters.kind = toDevice ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost;
  parameters.extent = make_cudaExtent(rows.rowBytes, transfer.box.size[1], transfer.box.size[2]);
  CUDAFFT_CHECK(cudaMemcpy3DAsync(&parameters, stream));
}

std::uint64_t
HostBufferBytes(const CudaFFTConvolutionStaging::Transfer & transfer)
{
  return transfer.buffer.NumberOfVoxels() * transfer.elementSize;
}
} // namespace

/** One direction of a Move: which bytes of its stream have been staged, sent or received. */
class CudaFFTConvolutionStaging::Direction
{
public:
  Direction(const Transfer * transfer, bool toDevice, Chunk * chunks, cudaStream_t stream)
    : m_Transfer(transfer)
    , m_Rows(*transfer)
    , m_ToDevice(toDevice)
    , m_Chunks(chunks)
    , m_Stream(stream)
  {}

  bool
  Done() const
  {
    return m_Copied == m_Rows.totalBytes;
  }

  /** Upload: stages the next chunk into a free slot and sends it. False when no slot is free. */
  bool
  StageAndSend(CudaFFTConvolutionHostWorkers & workers)
  {
    Chunk & chunk = m_Chunks[m_Next];
    if (Done() || !Finished(chunk.done))
    {
      return false;
    }
    Take(chunk);
    CopyChunk(chunk, workers);
    CUDAFFT_CHECK(cudaMemcpyAsync(static_cast<char *>(m_Transfer->device) + chunk.first,
                                  chunk.pinned,
                                  chunk.bytes,
                                  cudaMemcpyHostToDevice,
                                  m_Stream));
    CUDAFFT_CHECK(cudaEventRecord(chunk.done, m_Stream));
    m_Copied += chunk.bytes;
    return true;
  }

  /** Download: asks for the next chunks while slots are free; true when one was asked for. */
  bool
  Request()
  {
    bool asked = false;
    while (m_Requested < m_Rows.totalBytes && m_InFlight.size() < ChunksPerDirection)
    {
      Chunk & chunk = m_Chunks[m_Next];
      Take(chunk);
      CUDAFFT_CHECK(cudaMemcpyAsync(chunk.pinned,
                                    static_cast<const char *>(m_Transfer->device) + chunk.first,
                                    chunk.bytes,
                                    cudaMemcpyDeviceToHost,
                                    m_Stream));
      CUDAFFT_CHECK(cudaEventRecord(chunk.done, m_Stream));
      m_InFlight.push_back(&chunk);
      asked = true;
    }
    return asked;
  }

  /** Download: copies the oldest chunk that has arrived into the host buffer. */
  bool
  Receive(CudaFFTConvolutionHostWorkers & workers)
  {
    if (m_InFlight.empty() || !Finished(m_InFlight.front()->done))
    {
      return false;
    }
    CopyChunk(*m_InFlight.front(), workers);
    m_Copied += m_InFlight.front()->bytes;
    m_InFlight.pop_front();
    return true;
  }

  /** Blocks until the chunk this direction waits for next is done. */
  void
  Wait()
  {
    cudaEvent_t event = m_ToDevice ? m_Chunks[m_Next].done : (m_InFlight.empty() ? nullptr : m_InFlight.front()->done);
    if (event != nullptr && !Done())
    {
      CUDAFFT_CHECK(cudaEventSynchronize(event));
    }
  }

private:
  /** Gives the next slot the next piece of the stream. */
  void
  Take(Chunk & chunk)
  {
    chunk.first = m_Requested;
    chunk.bytes = std::min(ChunkBytes, m_Rows.totalBytes - m_Requested);
    m_Requested += chunk.bytes;
    m_Next = (m_Next + 1) % ChunksPerDirection;
  }

  void
  CopyChunk(const Chunk & chunk, CudaFFTConvolutionHostWorkers & workers) const
  {
    char * host = static_cast<char *>(m_Transfer->host);
    workers.ParallelFor(chunk.bytes, CopyGrainBytes, [&](std::uint64_t begin, std::uint64_t end) {
      m_Rows.Copy(host, chunk.pinned, chunk.first, chunk.first + begin, chunk.first + end, m_ToDevice);
    });
  }

  const Transfer *    m_Transfer;
  RowLayout           m_Rows;
  bool                m_ToDevice;
  Chunk *             m_Chunks;
  cudaStream_t        m_Stream;
  unsigned int        m_Next{ 0 };
  std::uint64_t       m_Requested{ 0 }; //!< bytes given to chunks
  std::uint64_t       m_Copied{ 0 };    //!< bytes copied on the host side
  std::deque<Chunk *> m_InFlight;
};

void
CudaFFTConvolutionStaging::Move(const Transfer *                upload,
                                cudaStream_t                    uploadStream,
                                const Transfer *                download,
                                cudaStream_t                    downloadStream,
                                CudaFFTConvolutionHostWorkers & workers)
{
  // Buffers their owner page-locked go by DMA directly.
  if (upload != nullptr && IsPageLocked(upload->host, HostBufferBytes(*upload)))
  {
    CopyPageLockedBox(*upload, true, uploadStream);
    upload = nullptr;
  }
  if (download != nullptr && IsPageLocked(download->host, HostBufferBytes(*download)))
  {
    CopyPageLockedBox(*download, false, downloadStream);
    download = nullptr;
  }
  if (upload == nullptr && download == nullptr)
  {
    return;
  }
  Allocate();
  std::optional<Direction> up;
  std::optional<Direction> down;
  if (upload != nullptr)
  {
    up.emplace(upload, true, m_Up, uploadStream);
  }
  if (download != nullptr)
  {
    down.emplace(download, false, m_Down, downloadStream);
  }
  // Alternate the directions chunk by chunk so that both DMA engines stay busy.
  while ((up && !up->Done()) || (down && !down->Done()))
  {
    bool progress = false;
    if (down && !down->Done())
    {
      progress |= down->Request();
      progress |= down->Receive(workers);
    }
    if (up && !up->Done())
    {
      progress |= up->StageAndSend(workers);
    }
    if (!progress)
    {
      // Nothing could move: block on a direction that is alone, else poll both.
      const bool upWaiting = up && !up->Done();
      const bool downWaiting = down && !down->Done();
      if (upWaiting && downWaiting)
      {
        std::this_thread::yield();
      }
      else
      {
        (upWaiting ? *up : *down).Wait();
      }
    }
  }
}

void
CudaFFTConvolutionStaging::Allocate()
{
  if (m_Allocated)
  {
    return;
  }
  try
  {
    for (Chunk * ring : { m_Up, m_Down })
    {
      for (unsigned int i = 0; i < ChunksPerDirection; ++i)
      {
        CUDAFFT_CHECK(cudaMallocHost(reinterpret_cast<void **>(&ring[i].pinned), ChunkBytes));
        CUDAFFT_CHECK(cudaEventCreateWithFlags(&ring[i].done, cudaEventDisableTiming));
      }
    }
  }
  catch (...)
  {
    m_Allocated = true; // so that Release frees what was made
    Release();
    throw;
  }
  m_Allocated = true;
}

void
CudaFFTConvolutionStaging::Release()
{
  if (!m_Allocated)
  {
    return;
  }
  for (Chunk * ring : { m_Up, m_Down })
  {
    for (unsigned int i = 0; i < ChunksPerDirection; ++i)
    {
      // Errors are ignored here: at process exit the runtime may be gone already.
      if (ring[i].done != nullptr)
      {
        cudaEventSynchronize(ring[i].done);
        cudaEventDestroy(ring[i].done);
      }
      if (ring[i].pinned != nullptr)
      {
        cudaFreeHost(ring[i].pinned);
      }
      ring[i] = Chunk{};
    }
  }
  cudaGetLastError();
  m_Allocated = false;
}

bool
CudaFFTConvolutionStaging::IsPageLocked(const void * pointer, std::uint64_t bytes)
{
  if (pointer == nullptr || bytes == 0)
  {
    return false;
  }
  // Both ends: a caller may have page-locked only part of a buffer.
  for (const char * at : { static_cast<const char *>(pointer), static_cast<const char *>(pointer) + bytes - 1 })
  {
    cudaPointerAttributes attributes{};
    if (cudaPointerGetAttributes(&attributes, at) != cudaSuccess)
    {
      cudaGetLastError();
      return false;
    }
    if (attributes.type != cudaMemoryTypeHost)
    {
      return false;
    }
  }
  return true;
}
} // namespace itk
