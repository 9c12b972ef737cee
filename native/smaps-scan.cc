// One pass over the bytes of /proc/PID/smaps as read: where each mapping
// line and VmFlags line is, and the counters explain() sums, into a
// Float64Array the caller keeps. No system call and no policy: the text is
// read by lib/ (kernel/reader.ts), the mapping lines are parsed there, and
// anything this scan does not expect is left to lib/'s parser, which says
// what is wrong with the text.
#include "args.h"

#include <cstring>

namespace pagewise {

namespace {

// The counters kept, in the column order of SmapsScan (after the two offsets).
struct Key {
  const char* text;  // key and colon
  size_t length;
};
constexpr Key kKeys[] = {
    {"Rss:", 4}, {"Pss:", 4}, {"Private_Clean:", 14}, {"Private_Dirty:", 14}, {"Swap:", 5}, {"AnonHugePages:", 14}, {"KSM:", 4},
};
constexpr int kKeyCount = sizeof kKeys / sizeof kKeys[0];
// Per mapping: line start, line end, the counters (-1 where absent), VmFlags values start and end (-1, -1 where absent).
constexpr size_t kStride = 2 + kKeyCount + 2;

bool IsHexLower(uint8_t c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// The key of kKeys starting at `p` (the line is [p, end)), or -1.
int KeyAt(const uint8_t* p, const uint8_t* end) {
  uint8_t c = *p;
  if (c != 'R' && c != 'P' && c != 'S' && c != 'A' && c != 'K') return -1;
  for (int k = 0; k < kKeyCount; k++) {
    if (static_cast<size_t>(end - p) >= kKeys[k].length && std::memcmp(p, kKeys[k].text, kKeys[k].length) == 0) return k;
  }
  return -1;
}

// "  N kB" from `p` to `end`, in bytes (the arithmetic of lib/'s parser, in
// doubles), or -1.
double KbValue(const uint8_t* p, const uint8_t* end) {
  while (p < end && (*p == ' ' || *p == '\t')) p++;
  const uint8_t* start = p;
  double n = 0;
  while (p < end && *p >= '0' && *p <= '9') n = n * 10 + (*p++ - '0');
  if (p == start || end - p != 3 || p[0] != ' ' || p[1] != 'k' || p[2] != 'B') return -1;
  return n * 1024;
}

}  // namespace

// smapsScan(bytes: Uint8Array, length, out: Float64Array) -> the number of
// mappings, 11 numbers each in `out` (mapping line start and end offsets;
// Rss, Pss, Private_Clean, Private_Dirty, Swap, AnonHugePages, KSM in bytes,
// -1 where absent; the VmFlags values' start and end, -1 where absent);
// -2 when `out` is too small; -1 for text this scan does not take (empty, a
// counter before the first mapping line, a kept counter not "N kB", a line
// neither a mapping nor "Key:"), which lib/'s parser then reads. A cut last
// line (no newline) is dropped, unless it is the only line.
static Napi::Value SmapsScan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes bytes;
  uint64_t length;
  Float64s out;
  if (!DecodeArgs(info, "smapsScan", 0, &bytes, &length, &out)) return env.Undefined();
  if (length > bytes.length) return ThrowInternal(env, "smapsScan: bad arguments");
  const uint8_t* b = bytes.data;
  const uint8_t* limit = b + length;
  double* row = nullptr;
  size_t count = 0;
  size_t line = 0;
  for (const uint8_t* pos = b; pos < limit;) {
    line++;
    const uint8_t* end = static_cast<const uint8_t*>(std::memchr(pos, '\n', limit - pos));
    if (end == nullptr) {
      if (line > 1) break;
      end = limit;
    }
    if (IsHexLower(*pos)) {
      if ((count + 1) * kStride > out.length) return Napi::Number::New(env, -2);
      row = out.data + count * kStride;
      row[0] = static_cast<double>(pos - b);
      row[1] = static_cast<double>(end - b);
      for (size_t k = 2; k < kStride; k++) row[k] = -1;
      count++;
    } else {
      if (row == nullptr) return Napi::Number::New(env, -1);
      if (end - pos >= 8 && std::memcmp(pos, "VmFlags:", 8) == 0) {
        row[2 + kKeyCount] = static_cast<double>(pos + 8 - b);
        row[3 + kKeyCount] = static_cast<double>(end - b);
      } else {
        int k = KeyAt(pos, end);
        if (k >= 0) {
          double v = KbValue(pos + kKeys[k].length, end);
          if (v < 0) return Napi::Number::New(env, -1);
          row[2 + k] = v;
        } else {
          const uint8_t* colon = static_cast<const uint8_t*>(std::memchr(pos, ':', end - pos));
          if (colon == nullptr || colon == pos) return Napi::Number::New(env, -1);
        }
      }
    }
    pos = end + 1;
  }
  if (count == 0) return Napi::Number::New(env, -1);
  return Napi::Number::New(env, static_cast<double>(count));
}

void InitSmapsScan(Napi::Env env, Napi::Object exports) {
  exports.Set("smapsScan", Napi::Function::New(env, SmapsScan, "smapsScan"));
}

}  // namespace pagewise
