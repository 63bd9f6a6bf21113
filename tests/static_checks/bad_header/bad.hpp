// A fixture for check_static_storage.cmake, never compiled: the check must reject it (CTest runs
// it with WILL_FAIL), proving that the check can fail.
#include <string>

inline std::string& cache() {
    static thread_local std::string per_thread;
    return per_thread;
}
