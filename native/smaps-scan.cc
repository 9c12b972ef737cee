// One pass over /proc/PID/smaps: where each mapping line and VmFlags line
// is, and the counters explain() sums, into a Float64Array the caller keeps;
// over bytes lib/ read (smapsScan), or reading the file itself in 64 KiB
// pieces and copying only those lines out (smapsReadScan: no copy of the
// whole text, each piece scanned while in cache). No policy: the mapping
// lines are parsed in lib/, and anything this scan does not expect (or a
// failed read) is left to lib/, whose parser says what is wrong with the
// text and whose read reports the error.
#include "args.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

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

// Whether the line [p, end) starts with the `n` bytes of `key` (n a constant
// where inlined: a few compares, no call).
inline bool StartsWith(const uint8_t* p, const uint8_t* end, const char* key, size_t n) {
  return static_cast<size_t>(end - p) >= n && std::memcmp(p, key, n) == 0;
}

// The index in kKeys of the key starting at `p` (the line is [p, end), not
// empty), or -1: by its first letter, then one or two compares.
int KeyAt(const uint8_t* p, const uint8_t* end) {
  switch (*p) {
    case 'R':
      return StartsWith(p, end, "Rss:", 4) ? 0 : -1;
    case 'P':
      if (StartsWith(p, end, "Pss:", 4)) return 1;
      if (!StartsWith(p, end, "Private_", 8)) return -1;
      if (StartsWith(p + 8, end, "Clean:", 6)) return 2;
      return StartsWith(p + 8, end, "Dirty:", 6) ? 3 : -1;
    case 'S':
      return StartsWith(p, end, "Swap:", 5) ? 4 : -1;
    case 'A':
      return StartsWith(p, end, "AnonHugePages:", 14) ? 5 : -1;
    case 'K':
      return StartsWith(p, end, "KSM:", 4) ? 6 : -1;
    default:
      return -1;
  }
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

// The scan's state: the rows written so far, and where mapping lines and
// VmFlags values are copied when the bytes are read here (text != nullptr;
// otherwise offsets are into the caller's bytes at `base`).
struct Scan {
  double* out;
  size_t outLength;
  uint8_t* text;
  size_t textLength;
  size_t textUsed = 0;
  const uint8_t* base = nullptr;
  double* row = nullptr;
  size_t count = 0;
};

constexpr int kScanOk = 0, kScanOther = -1, kScanFull = -2, kScanReadFailed = -3;

// [from, to) as offsets into the result: the caller's bytes, or a copy in text.
bool Place(Scan& s, const uint8_t* from, const uint8_t* to, double* at) {
  if (s.text == nullptr) {
    at[0] = static_cast<double>(from - s.base);
    at[1] = static_cast<double>(to - s.base);
    return true;
  }
  size_t n = static_cast<size_t>(to - from);
  if (s.textUsed + n > s.textLength) return false;
  std::memcpy(s.text + s.textUsed, from, n);
  at[0] = static_cast<double>(s.textUsed);
  at[1] = static_cast<double>(s.textUsed + n);
  s.textUsed += n;
  return true;
}

// One line [pos, end) of smaps (without its newline).
int ScanLine(Scan& s, const uint8_t* pos, const uint8_t* end) {
  if (pos < end && IsHexLower(*pos)) {
    if ((s.count + 1) * kStride > s.outLength) return kScanFull;
    s.row = s.out + s.count * kStride;
    for (size_t k = 2; k < kStride; k++) s.row[k] = -1;
    if (!Place(s, pos, end, s.row)) return kScanFull;
    s.count++;
    return kScanOk;
  }
  if (s.row == nullptr) return kScanOther;
  if (end - pos >= 8 && std::memcmp(pos, "VmFlags:", 8) == 0) return Place(s, pos + 8, end, s.row + 2 + kKeyCount) ? kScanOk : kScanFull;
  int k = pos < end ? KeyAt(pos, end) : -1;
  if (k >= 0) {
    double v = KbValue(pos + kKeys[k].length, end);
    if (v < 0) return kScanOther;
    s.row[2 + k] = v;
    return kScanOk;
  }
  const uint8_t* colon = static_cast<const uint8_t*>(std::memchr(pos, ':', end - pos));
  return colon == nullptr || colon == pos ? kScanOther : kScanOk;
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
  Scan s{out.data, out.length, nullptr, 0};
  s.base = bytes.data;
  const uint8_t* limit = bytes.data + length;
  size_t line = 0;
  for (const uint8_t* pos = bytes.data; pos < limit;) {
    line++;
    const uint8_t* end = static_cast<const uint8_t*>(std::memchr(pos, '\n', limit - pos));
    if (end == nullptr) {
      if (line > 1) break;
      end = limit;
    }
    int r = ScanLine(s, pos, end);
    if (r != kScanOk) return Napi::Number::New(env, r);
    pos = end + 1;
  }
  return Napi::Number::New(env, s.count == 0 ? kScanOther : static_cast<double>(s.count));
}

// smapsReadScan(fd, out: Float64Array, text: Uint8Array, sizes: Float64Array(2))
// -> smapsScan's result for the file behind `fd` read here from offset 0
// (pread in 64 KiB pieces, each scanned while in cache), with the mapping
// lines and VmFlags values copied into `text` (the offsets are into it);
// sizes[0] = the bytes read, sizes[1] = the bytes of `text` used. -2 when
// `out` or `text` is too small (read again with larger ones), -3 when a read
// fails (lib/ reads the file itself and reports the error).
static Napi::Value SmapsReadScan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  Float64s out;
  Bytes text;
  Float64s sizes;
  if (!DecodeArgs(info, "smapsReadScan", 0, &fd, &out, &text, &sizes)) return env.Undefined();
  if (sizes.length < 2) return ThrowInternal(env, "smapsReadScan: bad arguments");
  Scan s{out.data, out.length, text.data, text.length};
  std::vector<uint8_t> buf(64 * 1024);
  size_t have = 0;  // bytes in buf not yet scanned (a line's start)
  uint64_t total = 0;
  size_t line = 0;
  for (;;) {
    if (have == buf.size()) buf.resize(buf.size() * 2);  // one line longer than the buffer
    ssize_t got = pread(static_cast<int>(fd), buf.data() + have, buf.size() - have, static_cast<off_t>(total));
    if (got < 0) {
      if (errno == EINTR) continue;
      return Napi::Number::New(env, kScanReadFailed);
    }
    if (got == 0) break;
    total += static_cast<uint64_t>(got);
    const uint8_t* pos = buf.data();
    const uint8_t* limit = buf.data() + have + got;
    for (;;) {
      const uint8_t* end = static_cast<const uint8_t*>(std::memchr(pos, '\n', limit - pos));
      if (end == nullptr) break;
      line++;
      int r = ScanLine(s, pos, end);
      if (r != kScanOk) return Napi::Number::New(env, r);
      pos = end + 1;
    }
    have = static_cast<size_t>(limit - pos);
    std::memmove(buf.data(), pos, have);
  }
  // A last line without its newline: read when it is the only line, else dropped (a cut read).
  if (have > 0 && line == 0) {
    int r = ScanLine(s, buf.data(), buf.data() + have);
    if (r != kScanOk) return Napi::Number::New(env, r);
  }
  sizes.data[0] = static_cast<double>(total);
  sizes.data[1] = static_cast<double>(s.textUsed);
  if (total == 0) return Napi::Number::New(env, 0);
  return Napi::Number::New(env, s.count == 0 ? kScanOther : static_cast<double>(s.count));
}

void InitSmapsScan(Napi::Env env, Napi::Object exports) {
  exports.Set("smapsScan", Napi::Function::New(env, SmapsScan, "smapsScan"));
  exports.Set("smapsReadScan", Napi::Function::New(env, SmapsReadScan, "smapsReadScan"));
}

}  // namespace pagewise
