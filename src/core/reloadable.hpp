// reloadable.hpp — a setting that SIGHUP may replace while other threads read it (app/reload.hpp).
//
// Readers take a snapshot (a shared_ptr to an immutable value) and use it for one decision: a
// reload never changes a value under a reader, and a decision started before it finishes with
// the old value. THREADS: get() and set() from any thread (std::atomic<std::shared_ptr>).
#pragma once

#include <atomic>
#include <memory>

namespace fb {

template <class T>
class Reloadable {
 public:
  explicit Reloadable(T initial) : value_(std::make_shared<const T>(std::move(initial))) {}
  [[nodiscard]] std::shared_ptr<const T> get() const { return value_.load(std::memory_order_acquire); }
  void set(T next) { value_.store(std::make_shared<const T>(std::move(next)), std::memory_order_release); }

 private:
  std::atomic<std::shared_ptr<const T>> value_;
};

}  // namespace fb
