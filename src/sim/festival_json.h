// A small JSON writer for the festival summary (a fixed shape; no parsing needed here).
#pragma once

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>

namespace eleven::sim {

struct TimelinePoint {
  double t_s;
  double orders_per_s;
  uint64_t accepted;
  int64_t gmv_fen;
  int64_t gmv_net_fen;
  uint64_t parcels_dispatched;
};

struct LatencyPoint {
  double t_s;
  double p50_us, p99_us, p999_us;
};

// Appends JSON values; the caller writes the structure (keys, commas) through it.
class JsonWriter {
 public:
  JsonWriter& Raw(std::string_view s) {
    out_ += s;
    return *this;
  }
  JsonWriter& Key(std::string_view key) {
    Comma();
    WriteString(key);
    out_ += ':';
    fresh_ = true;
    return *this;
  }
  JsonWriter& Begin(char open) {
    Comma();
    out_ += open;
    fresh_ = true;
    return *this;
  }
  JsonWriter& End(char close) {
    out_ += close;
    fresh_ = false;
    return *this;
  }
  JsonWriter& String(std::string_view s) {
    CommaUnlessFresh();
    WriteString(s);
    fresh_ = false;
    return *this;
  }
  JsonWriter& Int(int64_t v) {
    CommaUnlessFresh();
    out_ += std::to_string(v);
    fresh_ = false;
    return *this;
  }
  JsonWriter& Num(double v) {
    CommaUnlessFresh();
    if (!std::isfinite(v)) {
      out_ += "null";
    } else {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.6g", v);
      out_ += buf;
    }
    fresh_ = false;
    return *this;
  }
  JsonWriter& Null() {
    CommaUnlessFresh();
    out_ += "null";
    fresh_ = false;
    return *this;
  }
  JsonWriter& Bool(bool v) {
    CommaUnlessFresh();
    out_ += v ? "true" : "false";
    fresh_ = false;
    return *this;
  }
  // Key and value in one call.
  JsonWriter& Field(std::string_view key, int64_t v) { return Key(key).Int(v); }
  JsonWriter& FieldNum(std::string_view key, double v) { return Key(key).Num(v); }
  JsonWriter& FieldStr(std::string_view key, std::string_view v) { return Key(key).String(v); }
  const std::string& str() const { return out_; }

 private:
  void WriteString(std::string_view s) {
    out_ += '"';
    for (char c : s) {
      if (c == '"' || c == '\\') {
        out_ += '\\';
        out_ += c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\u%04x", c);
        out_ += buf;
      } else {
        out_ += c;
      }
    }
    out_ += '"';
  }
  void Comma() {
    if (!fresh_ && !out_.empty()) out_ += ',';
  }
  void CommaUnlessFresh() {
    if (!fresh_) Comma();
    fresh_ = false;
  }
  std::string out_;
  bool fresh_ = true;
};

}  // namespace eleven::sim
