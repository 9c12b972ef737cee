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
#include <string_view>
#include <unordered_map>
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
// Per mapping: line start, line end, the counters (-1 where absent), VmFlags
// values start and end (-1, -1 where absent), then the mapping line's fields
// (kHead on): 1 when read here (0: lib/ parses the line), start, end,
// offset, perms (r 8, w 4, x 2, s 1), the device's bytes packed in a number
// (their count, then each byte), its start and end, inode, name start and
// end (-1, -1 for none); last, the first mapping with the same VmFlags
// values (its own index for the first; -1 without VmFlags).
constexpr size_t kHead = 2 + kKeyCount + 2;
constexpr size_t kStride = kHead + 12;

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
  Scan(double* o, size_t ol, uint8_t* t, size_t tl) : out(o), outLength(ol), text(t), textLength(tl) {}
  double* out;
  size_t outLength;
  uint8_t* text;
  size_t textLength;
  size_t textUsed = 0;
  const uint8_t* base = nullptr;
  double* row = nullptr;
  size_t count = 0;
  // The first mapping of each distinct VmFlags text (thousands of VMAs share a few dozen).
  std::unordered_map<std::string_view, double> flagRows;
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

// Lowercase hex from `p` into *v (up to 13 digits: exact as a double); the
// first byte after it, or nullptr when there is none or too many.
const uint8_t* Hex(const uint8_t* p, const uint8_t* end, double* v) {
  const uint8_t* from = p;
  double n = 0;
  for (; p < end; p++) {
    int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
    if (d < 0) break;
    n = n * 16 + d;
  }
  if (p == from || p - from > 13) return nullptr;
  *v = n;
  return p;
}

// The fields of the mapping line [line, end) into h (kStride - kHead numbers),
// h[0] = 1; where the line is not exactly what lib/'s fast reader of maps
// lines takes (kernel/maps.ts, fastMapsLine), h[0] = 0 and lib/ reads it.
// `at` is the line's offset in the result text.
void ParseHead(const uint8_t* line, const uint8_t* end, double at, double* h) {
  h[0] = 0;
  const uint8_t* p = line;
  double start, stop, offset, ignored;
  // Whether `q` is inside the line and holds `c` (a field may end the line).
  auto is = [end](const uint8_t* q, uint8_t c) { return q < end && *q == c; };
  if (!(p = Hex(p, end, &start)) || !is(p, '-') || !(p = Hex(p + 1, end, &stop))) return;
  if (end - p < 6 || p[0] != ' ' || p[5] != ' ') return;
  const char* want[4] = {"r-", "w-", "x-", "sp"};  // the first letter sets the bit
  int perms = 0;
  for (int k = 0; k < 4; k++) {
    if (p[1 + k] != want[k][0] && p[1 + k] != want[k][1]) return;
    if (p[1 + k] == want[k][0]) perms |= 8 >> k;
  }
  if (!(p = Hex(p + 6, end, &offset)) || !is(p, ' ')) return;
  const uint8_t* dev = ++p;
  if (!(p = Hex(p, end, &ignored)) || !is(p, ':') || !(p = Hex(p + 1, end, &ignored)) || !is(p, ' ') || p - dev > 6) return;
  double key = static_cast<double>(p - dev);
  for (const uint8_t* k = dev; k < p; k++) key = key * 256 + *k;
  const uint8_t* devTo = p;
  const uint8_t* inodeFrom = ++p;
  double inode = 0;
  while (p < end && *p >= '0' && *p <= '9') inode = inode * 10 + (*p++ - '0');
  if (p == inodeFrom || p - inodeFrom > 15) return;
  double nameFrom = -1, nameTo = -1;
  if (p < end) {
    if (*p != ' ') return;
    while (p < end && *p == ' ') p++;
    for (const uint8_t* k = p; k < end; k++)
      if (*k >= 0x80 || *k == '\r') return;
    if (p < end) {
      nameFrom = at + static_cast<double>(p - line);
      nameTo = at + static_cast<double>(end - line);
    }
  }
  h[1] = start;
  h[2] = stop;
  h[3] = offset;
  h[4] = perms;
  h[5] = key;
  h[6] = at + static_cast<double>(dev - line);
  h[7] = at + static_cast<double>(devTo - line);
  h[8] = inode;
  h[9] = nameFrom;
  h[10] = nameTo;
  h[0] = 1;
}

// One line [pos, end) of smaps (without its newline).
int ScanLine(Scan& s, const uint8_t* pos, const uint8_t* end) {
  if (pos < end && IsHexLower(*pos)) {
    if ((s.count + 1) * kStride > s.outLength) return kScanFull;
    s.row = s.out + s.count * kStride;
    for (size_t k = 2; k < kStride; k++) s.row[k] = -1;
    if (!Place(s, pos, end, s.row)) return kScanFull;
    ParseHead(pos, end, s.row[0], s.row + kHead);
    s.count++;
    return kScanOk;
  }
  if (s.row == nullptr) return kScanOther;
  if (end - pos >= 8 && std::memcmp(pos, "VmFlags:", 8) == 0) {
    std::string_view flags(reinterpret_cast<const char*>(pos + 8), static_cast<size_t>(end - pos - 8));
    auto seen = s.flagRows.find(flags);
    double self = static_cast<double>(s.count - 1);
    s.row[kStride - 1] = seen == s.flagRows.end() ? self : seen->second;
    if (seen != s.flagRows.end()) {
      // Its values are those of an earlier mapping: their offsets again, no copy.
      const double* first = s.out + static_cast<size_t>(seen->second) * kStride;
      s.row[2 + kKeyCount] = first[2 + kKeyCount];
      s.row[3 + kKeyCount] = first[3 + kKeyCount];
      return kScanOk;
    }
    if (!Place(s, pos + 8, end, s.row + 2 + kKeyCount)) return kScanFull;
    // The key views the kept copy (text) or the caller's bytes, both alive for the whole scan.
    const uint8_t* kept = s.text ? s.text + static_cast<size_t>(s.row[2 + kKeyCount]) : pos + 8;
    s.flagRows.emplace(std::string_view(reinterpret_cast<const char*>(kept), flags.size()), self);
    return kScanOk;
  }
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
// mappings, kStride numbers each in `out` (mapping line start and end
// offsets; Rss, Pss, Private_Clean, Private_Dirty, Swap, AnonHugePages, KSM
// in bytes, -1 where absent; the VmFlags values' start and end, -1 where
// absent; the mapping line's fields, see kHead);
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
  Scan s(out.data, out.length, nullptr, 0);
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
  Float64s out, sizes;
  Bytes text;
  if (!DecodeArgs(info, "smapsReadScan", 0, &fd, &out, &text, &sizes)) return env.Undefined();
  if (sizes.length < 2) return ThrowInternal(env, "smapsReadScan: bad arguments");
  Scan s(out.data, out.length, text.data, text.length);
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
