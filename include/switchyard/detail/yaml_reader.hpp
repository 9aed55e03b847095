// SPDX-License-Identifier: Apache-2.0
// Reading a configuration document with yaml-cpp: field paths in errors, strict maps, one document.
#pragma once

// Include only from -inl.hpp files: yaml-cpp is a heavy header.
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <new>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <switchyard/core/error.hpp>
#include <switchyard/core/names.hpp>

namespace switchyard::detail::yaml {

/// " (line L, column C)", 1-based, where the YAML parser located the node; "" where it did not.
inline std::string where(const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0 || mark.column < 0) return "";
  return " (line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1) +
         ")";
}

/// Throws InvalidArgument "<path>: <what> (line L, column C)".
[[noreturn]] inline void fail(const std::string& path, const std::string& what,
                              const YAML::Mark& mark) {
  throw InvalidArgument(path + ": " + what + where(mark));
}

inline std::string in_quotes(std::string_view text) { return "'" + printable(text) + "'"; }

/// "a single value" / "a sequence" / "a map" / "nothing", for "must be X, got Y".
inline std::string kind_of(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return "a single value";
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

/// Whether a document's root is empty, from yaml-cpp's events (see count_documents).
/// Not thread-safe: one parser's handler, used by one thread.
class RootProbe final : public YAML::EventHandler {
 public:
  bool empty_root() const noexcept { return empty_root_; }
  void OnDocumentStart(const YAML::Mark&) override { seen_root_ = empty_root_ = false; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override { root(true); }
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override { root(false); }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {
    root(false);
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    root(false);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    root(false);
  }
  void OnMapEnd() override {}

 private:
  void root(bool empty) {
    if (!seen_root_) empty_root_ = empty;
    seen_root_ = true;
  }
  bool seen_root_ = false;
  bool empty_root_ = false;
};

/// The non-empty documents of `text`, counted up to `limit`. Not YAML::LoadAll: in yaml-cpp 0.7
/// it never returns on some malformed text (a lone ",", jbeder/yaml-cpp#1040); counting stops at
/// the first empty document, and after `limit` in any case.
inline std::size_t count_documents(const std::string& text, std::size_t limit) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  RootProbe probe;
  std::size_t count = 0;
  while (count < limit && parser.HandleNextDocument(probe) && !probe.empty_root()) ++count;
  return count;
}

/// Parses `text` as one YAML (or JSON) document and hands its root to `read`. Throws
/// InvalidArgument "<what>: ..." for malformed text or more than one document; whatever `read`
/// throws as switchyard::Error passes through; nothing of the YAML library escapes.
template <class Read>
auto read_document(std::string_view text, const std::string& what, Read&& read)
    -> decltype(read(std::declval<const YAML::Node&>())) {
  try {
    const std::string copy(text);
    const YAML::Node root = YAML::Load(copy);  // the first document
    if (!root.IsNull() && count_documents(copy, 2) > 1) {
      throw InvalidArgument(what + ": the text holds more than one YAML document");
    }
    return read(root);
  } catch (const Error&) {
    throw;
  } catch (const YAML::Exception& e) {
    throw InvalidArgument(what + ": malformed YAML: " + e.msg + where(e.mark));
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    throw InvalidArgument(what + ": malformed YAML: " + e.what());
  }
}

/// The bytes of a configuration file. Throws NotFound when it does not exist, StorageError when
/// it cannot be read (a directory, no permission, an I/O error), InvalidArgument when it is
/// larger than `max_bytes`; `shown` names it in messages ("canary plan file 'x.yaml'").
inline std::string read_config_file(const std::filesystem::path& path, const std::string& shown,
                                    std::size_t max_bytes) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (status.type() == fs::file_type::not_found) throw NotFound(shown + " does not exist");
  if (ec) throw StorageError("cannot read " + shown + ": " + ec.message());
  if (fs::is_directory(status)) throw StorageError("cannot read " + shown + ": it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw StorageError("cannot open " + shown + ": " + std::generic_category().message(errno));
  }
  std::string text;
  char buffer[16384];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_bytes) {
      throw InvalidArgument(shown + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  if (in.bad()) throw StorageError("cannot read " + shown + ": an I/O error");
  return text;
}

/// One YAML map, read once: refuses a non-map, non-scalar and repeated keys and keys outside
/// `known`, then hands out values by key. Not thread-safe: yaml-cpp nodes are not; one reader
/// per document and thread.
class Fields {
 public:
  Fields(const YAML::Node& node, std::string path, std::vector<std::string_view> known)
      : path_(std::move(path)), mark_(node.Mark()) {
    if (!node.IsMap()) fail(path_, "must be a map, got " + kind_of(node), mark_);
    for (auto it = node.begin(); it != node.end(); ++it) {
      // By value: `it->first` lives in a proxy that dies with the expression.
      const YAML::Node key = it->first;
      const YAML::Node value = it->second;
      if (!key.IsScalar()) fail(path_, "keys must be plain names, got " + kind_of(key), key.Mark());
      const std::string& name = key.Scalar();
      bool is_known = false;
      for (std::string_view k : known) is_known = is_known || k == name;
      if (!is_known) {
        std::string expected;
        for (std::string_view k : known) {
          expected += (expected.empty() ? "" : ", ") + std::string(k);
        }
        fail(child(name), "unknown key; expected one of " + expected, key.Mark());
      }
      for (const auto& entry : entries_) {
        if (entry.first == name) fail(child(name), "key appears twice", key.Mark());
      }
      entries_.emplace_back(name, value);
    }
  }

  /// The field path of a key under this map ("deployment.canary" + "stages").
  std::string child(std::string_view key) const { return path_ + "." + printable(key); }
  const std::string& path() const noexcept { return path_; }
  const YAML::Mark& mark() const noexcept { return mark_; }
  /// The keys in the order written.
  const std::vector<std::pair<std::string, YAML::Node>>& entries() const noexcept {
    return entries_;
  }

  /// The value under `key`; nullptr when absent or written without a value (`key:`).
  const YAML::Node* find(std::string_view key) const {
    for (const auto& entry : entries_) {
      if (entry.first == key) return entry.second.IsNull() ? nullptr : &entry.second;
    }
    return nullptr;
  }
  const YAML::Node& require(std::string_view key) const {
    const YAML::Node* node = find(key);
    if (node == nullptr) fail(child(key), "missing", mark_);
    return *node;
  }

 private:
  std::string path_;
  YAML::Mark mark_;
  std::vector<std::pair<std::string, YAML::Node>> entries_;
};

/// The text of a scalar; refuses maps, sequences and nothing.
inline const std::string& scalar(const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar()) fail(path, "must be a single value, got " + kind_of(node), node.Mark());
  return node.Scalar();
}

/// A whole number in [least, most] written in decimal digits.
inline std::int64_t whole_number(const YAML::Node& node, const std::string& path,
                                 std::int64_t least, std::int64_t most) {
  const std::string& text = scalar(node, path);
  std::int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [stop, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || stop != end || value < least || value > most) {
    fail(path,
         "must be a whole number from " + std::to_string(least) + " to " + std::to_string(most) +
             ", got " + in_quotes(text),
         node.Mark());
  }
  return value;
}

/// true / false (and YAML's other spellings of them).
inline bool boolean(const YAML::Node& node, const std::string& path) {
  bool value = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
    fail(path,
         "must be true or false, got " +
             (node.IsScalar() ? in_quotes(node.Scalar()) : kind_of(node)),
         node.Mark());
  }
  return value;
}

}  // namespace switchyard::detail::yaml
