#pragma once

#include <type_traits>
#include <utility>
#include <variant>

#include "model/check.h"

namespace recsd {

// The error half of a Result, as in std::unexpected.
template <class E>
struct Unexpected {
  E error;
};

template <class E>
Unexpected<std::decay_t<E>> Fail(E&& error) {
  return Unexpected<std::decay_t<E>>{std::forward<E>(error)};
}

// Result<T, E>: a T on success or an E describing why not; the return type of everything on the
// data path (no exceptions there). The subset of std::expected that recsd uses, so it can be
// replaced by std::expected once both compilers of the build ship it. It lives in model/ because
// model/ may depend on the standard library only. Accessing the wrong half is a bug and aborts.
template <class T, class E>
class [[nodiscard]] Result {
 public:
  using value_type = T;
  using error_type = E;

  Result(T value) : storage_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
  Result(Unexpected<E> error)                                              // NOLINT: implicit
      : storage_(std::in_place_index<1>, std::move(error.error)) {}

  bool has_value() const noexcept { return storage_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & {
    RECSD_CHECK(has_value(), "value() of a failed Result");
    return std::get<0>(storage_);
  }
  const T& value() const& {
    RECSD_CHECK(has_value(), "value() of a failed Result");
    return std::get<0>(storage_);
  }
  T&& value() && {
    RECSD_CHECK(has_value(), "value() of a failed Result");
    return std::get<0>(std::move(storage_));
  }
  const E& error() const& {
    RECSD_CHECK(!has_value(), "error() of a successful Result");
    return std::get<1>(storage_);
  }
  E&& error() && {
    RECSD_CHECK(!has_value(), "error() of a successful Result");
    return std::get<1>(std::move(storage_));
  }

  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, E> storage_;
};

}  // namespace recsd
