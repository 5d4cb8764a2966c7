// result.hpp — expected failures as values (STYLE.md): Result<T, E> holds a T or an E.
//
// A tiny std::expected stand-in (C++23's is not in GCC 12's C++20 mode). Each part defines
// its own error type carrying a machine-readable code and a human sentence.
#pragma once

#include <utility>
#include <variant>

namespace fb {

template <class T, class E>
class Result {
 public:
  Result(T v) : v_(std::in_place_index<0>, std::move(v)) {}
  Result(E e) : v_(std::in_place_index<1>, std::move(e)) {}
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const E& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

struct Unit {};

}  // namespace fb
