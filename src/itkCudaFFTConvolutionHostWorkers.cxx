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
#include "itkCudaFFTConvolutionHostWorkers.h"

#include <algorithm>
#include <chrono>

namespace itk
{
CudaFFTConvolutionHostWorkers::CudaFFTConvolutionHostWorkers(unsigned int threads)
{
  for (unsigned int i = 1; i < std::max(1u, threads); ++i)
  {
    m_Threads.emplace_back([this, i] { Work(i); });
  }
}
namespace
{
// Chunks of a transfer come every few hundred microseconds: waking a sleeping thread can take
// longer than that, so the workers (and the caller) spin this long before they sleep.
constexpr std::chrono::microseconds SpinTime{ 300 };

/** Spins until \a done() or the spin time is over; true when done. */
template <typename TDone>
bool
SpinUntil(const TDone & done)
{
  const auto until = std::chrono::steady_clock::now() + SpinTime;
  for (unsigned int i = 1;; ++i)
  {
    if (done())
    {
      return true;
    }
    if (i % 64 == 0 && std::chrono::steady_clock::now() > until)
    {
      return false;
    }
  }
}
} // namespace

CudaFFTConvolutionHostWorkers::~CudaFFTConvolutionHostWorkers()
{
  {
    std::lock_guard<std::mutex> lock(m_Mutex);
    m_Stop = true;
  }
  m_Wake.notify_all();
  for (auto & thread : m_Threads)
  {
    thread.join();
  }
}

void
CudaFFTConvolutionHostWorkers::ParallelFor(std::uint64_t count, std::uint64_t grain, const RangeJob & job)
{
  const std::uint64_t parts =
    std::min<std::uint64_t>({ NumberOfThreads(), 255u, count / std::max<std::uint64_t>(1, grain) });
  if (parts < 2)
  {
    if (count > 0)
    {
      job(0, count);
    }
    return;
  }
  m_Job = &job;
  m_Count = count;
  m_Pending = static_cast<unsigned int>(parts) - 1;
  {
    // Under the mutex, so that a worker about to sleep cannot miss the new job.
    std::lock_guard<std::mutex> lock(m_Mutex);
    m_Ticket = ((m_Ticket.load() >> 8) + 1) << 8 | parts;
  }
  m_Wake.notify_all();
  RunPart(0, static_cast<unsigned int>(parts));
  while (!SpinUntil([this] { return m_Pending.load() == 0; }))
  {
    std::this_thread::yield();
  }
  m_Job = nullptr;
}

void
CudaFFTConvolutionHostWorkers::RunPart(unsigned int part, unsigned int parts)
{
  const std::uint64_t begin = m_Count * part / parts;
  const std::uint64_t end = m_Count * (part + 1) / parts;
  if (begin < end)
  {
    (*m_Job)(begin, end);
  }
}

void
CudaFFTConvolutionHostWorkers::Work(unsigned int part)
{
  std::uint64_t seen = 0;
  for (;;)
  {
    if (!SpinUntil([&] { return m_Stop || m_Ticket.load() != seen; }))
    {
      std::unique_lock<std::mutex> lock(m_Mutex);
      m_Wake.wait(lock, [&] { return m_Stop || m_Ticket.load() != seen; });
    }
    if (m_Stop)
    {
      return;
    }
    seen = m_Ticket.load();
    const auto parts = static_cast<unsigned int>(seen & 0xff);
    if (part < parts)
    {
      RunPart(part, parts);
      --m_Pending;
    }
  }
}
} // namespace itk
