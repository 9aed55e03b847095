// SPDX-License-Identifier: Apache-2.0
// Helpers for the models tests: a scratch directory, and checks on thrown error messages.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <system_error>

namespace switchyard::testing {

/// A fresh directory for one test, removed with everything in it afterwards.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "switchyard-test-XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

/// Runs `call` and returns the message of the E it throws; records a failure when it throws
/// nothing (an exception of another type propagates and fails the test).
template <class E, class Call>
std::string error_message(Call call) {
  try {
    call();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an exception";
  return {};
}

/// Expects `call` to throw an E whose message contains every fragment.
template <class E, class Call>
void expect_error(Call call, std::initializer_list<std::string> fragments) {
  const std::string message = error_message<E>(call);
  for (const auto& f : fragments) {
    EXPECT_NE(message.find(f), std::string::npos) << "'" << f << "' not in: " << message;
  }
}

}  // namespace switchyard::testing
