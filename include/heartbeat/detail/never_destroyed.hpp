// never_destroyed<T>(): a function-local static that is made on first use and never destroyed,
// for objects that must stay usable until the very end of the program (error categories, Asio
// service ids): a static object with a destructor may be used after that destructor ran, from
// the destructor of another static (a static io_context) or from a thread still running.
#ifndef HEARTBEAT_DETAIL_NEVER_DESTROYED_HPP
#define HEARTBEAT_DETAIL_NEVER_DESTROYED_HPP

#include <heartbeat/detail/config.hpp>

#include <new>
#include <type_traits>

HEARTBEAT_NAMESPACE_BEGIN
namespace detail {

/// The one T of type `Tag` (T by default), value-initialized on first use, never destroyed.
template <class T, class Tag = T>
T& never_destroyed() noexcept(std::is_nothrow_default_constructible_v<T>) {
    alignas(T) static unsigned char storage[sizeof(T)];
    static_assert(std::is_trivially_destructible_v<decltype(storage)>);
    // A mutable object shared by the program is the point (a category, a service id).
    static T* const p = ::new (static_cast<void*>(storage)) T(); // NOLINT(*-non-const-global-*)
    static_assert(std::is_trivially_destructible_v<decltype(p)>);
    return *p;
}

} // namespace detail
HEARTBEAT_NAMESPACE_END

#endif
