#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

// Clang's thread safety analysis (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html) on
// recsd's shared state: a field marked GUARDED_BY(mu) may only be touched with `mu` held, and the
// clang build (-Wthread-safety, an error there) refuses code that does otherwise. The attributes
// compile to nothing elsewhere (g++). std::mutex carries no annotation in libstdc++, so shared
// state uses Mutex and MutexLock below.

#if defined(__clang__)
#define RECSD_THREAD_ATTRIBUTE(x) __attribute__((x))
#else
#define RECSD_THREAD_ATTRIBUTE(x)
#endif

#define CAPABILITY(x) RECSD_THREAD_ATTRIBUTE(capability(x))
#define SCOPED_CAPABILITY RECSD_THREAD_ATTRIBUTE(scoped_lockable)
#define GUARDED_BY(x) RECSD_THREAD_ATTRIBUTE(guarded_by(x))
#define PT_GUARDED_BY(x) RECSD_THREAD_ATTRIBUTE(pt_guarded_by(x))
#define REQUIRES(...) RECSD_THREAD_ATTRIBUTE(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) RECSD_THREAD_ATTRIBUTE(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) RECSD_THREAD_ATTRIBUTE(acquire_capability(__VA_ARGS__))
#define RELEASE(...) RECSD_THREAD_ATTRIBUTE(release_capability(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS RECSD_THREAD_ATTRIBUTE(no_thread_safety_analysis)

namespace recsd::daemon {

// std::mutex as a capability the analysis knows.
class CAPABILITY("mutex") Mutex {
 public:
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

// Holds a Mutex for its scope (std::lock_guard), or less: Unlock() ends the critical section
// early, and a CondVar may release and retake it while waiting.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() RELEASE() {
    if (held_) mu_.unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() RELEASE() {
    mu_.unlock();
    held_ = false;
  }

  // BasicLockable, for CondVar only: a wait releases and retakes the mutex, and to the analysis
  // (and the caller) it is held across the wait.
  void lock() NO_THREAD_SAFETY_ANALYSIS { mu_.lock(); }
  void unlock() NO_THREAD_SAFETY_ANALYSIS { mu_.unlock(); }

 private:
  Mutex& mu_;
  bool held_ = true;
};

// A condition variable waited on with a MutexLock held. Waits take no predicate: callers loop on
// their condition, so the analysis sees every guarded read under the lock.
class CondVar {
 public:
  void Wait(MutexLock& lock) { cv_.wait(lock); }
  // False when `until` passed.
  template <class Clock, class Duration>
  bool WaitUntil(MutexLock& lock, std::chrono::time_point<Clock, Duration> until) {
    return cv_.wait_until(lock, until) == std::cv_status::no_timeout;
  }
  void NotifyOne() noexcept { cv_.notify_one(); }
  void NotifyAll() noexcept { cv_.notify_all(); }

 private:
  std::condition_variable_any cv_;
};

}  // namespace recsd::daemon
