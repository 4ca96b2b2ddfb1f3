// The system BLAS under LibTorch. Debian's LibTorch calls libblas.so.3, which is OpenBLAS when
// libopenblas0-pthread is installed. OpenBLAS starts one worker thread per core while it is being
// loaded, before main() runs, and after each multi-threaded call those workers spin in
// sched_yield before they sleep. Setting OPENBLAS_NUM_THREADS from main() is too late, so the
// thread count is set through OpenBLAS's own API and its idle workers are joined.
// Looked up at run time: with another BLAS (reference, BLIS) there is nothing to do.
#include <dlfcn.h>

#include <mutex>

#include "brickcast/forecaster.h"

namespace brickcast {

BlasThreadsReport SingleThreadBlas() {
  static BlasThreadsReport report;
  static std::once_flag once;
  std::call_once(once, [] {
    using SetThreads = void (*)(int);
    using GetThreads = int (*)();
    using Shutdown = int (*)();
    auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    auto get = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
    // Joins the worker threads (OpenBLAS calls it before fork); they are started again only if
    // someone raises the thread count, which brickcast never does.
    auto shutdown = reinterpret_cast<Shutdown>(dlsym(RTLD_DEFAULT, "blas_thread_shutdown_"));
    if (set == nullptr) return;
    report.openblas = true;
    report.threads_at_load = get != nullptr ? get() : -1;
    set(1);
    if (shutdown != nullptr) report.workers_stopped = shutdown() == 0;
  });
  return report;
}

}  // namespace brickcast
