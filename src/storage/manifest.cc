#include "storage/manifest.h"

#include <cinttypes>
#include <cstdio>

#include "base/assert.h"
#include "base/hash.h"

namespace eleven {
namespace {

constexpr std::string_view kHeaderPrefix = "eleven-manifest ";
constexpr std::string_view kChecksumPrefix = "checksum = ";
constexpr std::string_view kSeparator = " = ";
constexpr size_t kChecksumHexDigits = 16;

bool ValidKey(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.')) return false;
  }
  return true;
}

bool ValidValue(std::string_view value) {
  if (value.empty()) return false;
  for (char c : value) {
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

std::string ChecksumHex(std::string_view covered) {
  char hex[kChecksumHexDigits + 1];
  std::snprintf(hex, sizeof(hex), "%016" PRIx64, Checksum64(covered.data(), covered.size()));
  return std::string(hex, kChecksumHexDigits);
}

Status Bad(const std::string& path, size_t line, const std::string& what) {
  return Status::Corruption("manifest " + path + " line " + std::to_string(line) + ": " + what);
}

}  // namespace

std::string EncodeManifest(const std::vector<ManifestEntry>& entries) {
  ELEVEN_ASSERT(!entries.empty() && entries.size() <= kManifestEntryCountMax);
  std::string text = std::string(kHeaderPrefix) + std::to_string(kManifestVersion) + "\n";
  for (size_t i = 0; i < entries.size(); i++) {
    ELEVEN_ASSERT(ValidKey(entries[i].key) && ValidValue(entries[i].value));
    for (size_t j = 0; j < i; j++) ELEVEN_ASSERT(entries[j].key != entries[i].key);
    text += entries[i].key + std::string(kSeparator) + entries[i].value + "\n";
  }
  text += std::string(kChecksumPrefix) + ChecksumHex(text) + "\n";
  ELEVEN_ASSERT(text.size() <= kManifestSizeBytesMax);
  return text;
}

Status DecodeManifest(const std::string& path, std::string_view text,
                      std::vector<ManifestEntry>* entries) {
  ELEVEN_ASSERT(entries != nullptr);
  entries->clear();
  if (text.size() > kManifestSizeBytesMax) {
    return Status::Corruption("manifest " + path + " has " + std::to_string(text.size()) +
                              " bytes, more than " + std::to_string(kManifestSizeBytesMax));
  }
  // The checksum line is the last line; it covers every byte before it.
  if (text.empty() || text.back() != '\n')
    return Bad(path, 0, "does not end with a line break (cut short?)");
  const size_t previous_break =
      text.size() >= 2 ? text.rfind('\n', text.size() - 2) : std::string_view::npos;
  const size_t last_start = previous_break == std::string_view::npos ? 0 : previous_break + 1;
  const std::string_view checksum_line = text.substr(last_start, text.size() - 1 - last_start);
  const std::string_view covered = text.substr(0, last_start);
  if (checksum_line.substr(0, kChecksumPrefix.size()) != kChecksumPrefix ||
      checksum_line.size() != kChecksumPrefix.size() + kChecksumHexDigits) {
    return Status::Corruption("manifest " + path + ": no checksum line at its end");
  }
  if (checksum_line.substr(kChecksumPrefix.size()) != ChecksumHex(covered)) {
    return Status::Corruption("manifest " + path + ": checksum mismatch (the file is damaged)");
  }
  // The checksum holds: what follows can only be wrong if the writer made it so.
  size_t line_number = 0;
  size_t at = 0;
  while (at < covered.size()) {
    const size_t end = covered.find('\n', at);
    ELEVEN_ASSERT(end != std::string_view::npos);  // covered ends right after a line break
    const std::string_view line = covered.substr(at, end - at);
    at = end + 1;
    line_number++;
    if (line_number == 1) {
      if (line.substr(0, kHeaderPrefix.size()) != kHeaderPrefix)
        return Bad(path, 1, "not an eleven manifest");
      const std::string_view version = line.substr(kHeaderPrefix.size());
      if (version != std::to_string(kManifestVersion)) {
        return Status::FailedPrecondition("manifest " + path + " has version " +
                                          std::string(version) + "; this build reads version " +
                                          std::to_string(kManifestVersion));
      }
      continue;
    }
    const size_t separator = line.find(kSeparator);
    if (separator == std::string_view::npos) return Bad(path, line_number, "not key = value");
    ManifestEntry entry{std::string(line.substr(0, separator)),
                        std::string(line.substr(separator + kSeparator.size()))};
    if (!ValidKey(entry.key) || !ValidValue(entry.value))
      return Bad(path, line_number, "bad key or value");
    for (const ManifestEntry& before : *entries) {
      if (before.key == entry.key) return Bad(path, line_number, "key " + entry.key + " repeated");
    }
    if (entries->size() == kManifestEntryCountMax) return Bad(path, line_number, "too many keys");
    entries->push_back(std::move(entry));
  }
  if (line_number == 0) return Bad(path, 1, "not an eleven manifest");
  if (entries->empty()) return Bad(path, 2, "no settings");
  return Status::Ok();
}

Status WriteManifest(Env* env, const std::string& dir, const std::vector<ManifestEntry>& entries) {
  ELEVEN_ASSERT(env != nullptr);
  const std::string text = EncodeManifest(entries);
  // Checked right before it is written: it reads back as what was meant.
  std::vector<ManifestEntry> check;
  const Status decoded = DecodeManifest(JoinPath(dir, kManifestName), text, &check);
  ELEVEN_ASSERT(decoded.ok() && check == entries);
  return WriteFileDurably(env, dir, kManifestName,
                          ByteSpan(reinterpret_cast<const std::byte*>(text.data()), text.size()));
}

Status ReadManifest(Env* env, const std::string& dir, std::vector<ManifestEntry>* entries) {
  ELEVEN_ASSERT(env != nullptr && entries != nullptr);
  const std::string path = JoinPath(dir, kManifestName);
  std::vector<std::byte> data;
  Status status = ReadWholeFile(env, path, kManifestSizeBytesMax + 1, &data);
  if (status.code() == StatusCode::kNotFound) return Status::NotFound("no manifest " + path);
  ELEVEN_RETURN_IF_ERROR(status);
  return DecodeManifest(
      path, std::string_view(reinterpret_cast<const char*>(data.data()), data.size()), entries);
}

}  // namespace eleven
