#include "brickcast/time.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <fstream>
#include <iterator>

namespace brickcast {
namespace {

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr std::array<unsigned, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Reads an unsigned decimal of 1..max_digits digits at text[*pos].
bool ReadNumber(std::string_view text, size_t* pos, int max_digits, int64_t* out) {
  int64_t v = 0;
  int n = 0;
  while (*pos < text.size() && n < max_digits && std::isdigit(static_cast<unsigned char>(text[*pos]))) {
    v = v * 10 + (text[*pos] - '0');
    ++*pos;
    ++n;
  }
  *out = v;
  return n > 0;
}

// Milliseconds from a fraction "250" (after the '.'); extra digits are truncated.
bool ReadFraction(std::string_view text, size_t* pos, int64_t* millis) {
  int64_t v = 0;
  int n = 0;
  while (*pos < text.size() && std::isdigit(static_cast<unsigned char>(text[*pos]))) {
    if (n < 3) v = v * 10 + (text[*pos] - '0');
    ++n;
    ++*pos;
  }
  for (int i = n; i < 3; ++i) v *= 10;
  *millis = v;
  return n > 0;
}

struct CivilTime {
  int64_t year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0, millis = 0;
};

Status ValidateCivil(const CivilTime& c) {
  if (c.month < 1 || c.month > 12) return Status::InvalidArgument("month out of range");
  if (c.day < 1 || c.day > DaysInMonth(c.year, static_cast<unsigned>(c.month)))
    return Status::InvalidArgument("day out of range");
  if (c.hour > 24 || c.minute > 59 || c.second > 60)
    return Status::InvalidArgument("time of day out of range");
  if (c.hour == 24 && (c.minute != 0 || c.second != 0))
    return Status::InvalidArgument("hour 24 only allowed as 24:00:00");
  return Status::Ok();
}

int64_t CivilToSeconds(const CivilTime& c) {
  // A leap second (ss = 60) is folded onto the next second, as POSIX time does.
  return DaysFromCivil(c.year, static_cast<unsigned>(c.month), static_cast<unsigned>(c.day)) * 86400 +
         c.hour * 3600 + c.minute * 60 + c.second;
}

int32_t ReadBigEndian32(const unsigned char* p) {
  return static_cast<int32_t>((uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) |
                              uint32_t{p[3]});
}

int64_t ReadBigEndian64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return static_cast<int64_t>(v);
}

StatusOr<int32_t> ParseOffset(std::string_view s) {
  // "+hh:mm", "-hhmm", "+hh"
  if (s.size() < 3 || (s[0] != '+' && s[0] != '-')) return Status::InvalidArgument("bad UTC offset");
  size_t pos = 1;
  int64_t h = 0, m = 0;
  if (!ReadNumber(s, &pos, 2, &h) || pos != 3) return Status::InvalidArgument("bad UTC offset");
  if (pos < s.size() && s[pos] == ':') ++pos;
  if (pos < s.size() && (!ReadNumber(s, &pos, 2, &m) || pos != s.size()))
    return Status::InvalidArgument("bad UTC offset");
  if (pos != s.size() || h > 23 || m > 59) return Status::InvalidArgument("bad UTC offset");
  int32_t off = static_cast<int32_t>(h * 3600 + m * 60);
  return s[0] == '-' ? -off : off;
}

}  // namespace

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  // Howard Hinnant's days_from_civil algorithm.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

TimeZone TimeZone::Utc() {
  TimeZone z;
  z.name_ = "UTC";
  return z;
}

StatusOr<TimeZone> TimeZone::Load(std::string_view name) {
  if (name.empty() || name == "UTC" || name == "Z" || name == "Etc/UTC") return Utc();
  TimeZone z;
  z.name_ = std::string(name);
  if (name[0] == '+' || name[0] == '-') {
    auto off = ParseOffset(name);
    if (!off.ok()) return Status::InvalidArgument("time zone '" + z.name_ + "': expected +hh:mm");
    z.fixed_offset_ = *off;
    return z;
  }
  if (name.find("..") != std::string_view::npos || name[0] == '/')
    return Status::InvalidArgument("time zone '" + z.name_ + "': not an IANA zone name");
  const std::string path = "/usr/share/zoneinfo/" + z.name_;
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("time zone '" + z.name_ + "' not found in /usr/share/zoneinfo");
  std::vector<unsigned char> buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto bad = [&] { return Status::InvalidArgument("time zone file " + path + " is not TZif"); };
  if (buf.size() < 44 || std::memcmp(buf.data(), "TZif", 4) != 0) return bad();

  // Skip the version-1 block (32-bit times) when a version-2 block with 64-bit times follows.
  auto counts = [&](size_t at, std::array<int64_t, 6>* c) {
    if (at + 44 > buf.size()) return false;
    for (int i = 0; i < 6; ++i) (*c)[i] = static_cast<uint32_t>(ReadBigEndian32(&buf[at + 20 + 4 * i]));
    return true;
  };
  std::array<int64_t, 6> c{};  // isutcnt isstdcnt leapcnt timecnt typecnt charcnt
  if (!counts(0, &c)) return bad();
  size_t at = 0;
  int time_size = 4;
  if (buf[4] >= '2') {
    size_t v1_len = 44 + c[3] * 4 + c[3] + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0];
    at = v1_len;
    if (!counts(at, &c)) return bad();
    time_size = 8;
  }
  size_t p = at + 44;
  const int64_t timecnt = c[3], typecnt = c[4];
  if (typecnt == 0 || p + timecnt * (time_size + 1) + typecnt * 6 > buf.size()) return bad();
  std::vector<int64_t> times(timecnt);
  for (int64_t i = 0; i < timecnt; ++i, p += time_size)
    times[i] = time_size == 8 ? ReadBigEndian64(&buf[p]) : ReadBigEndian32(&buf[p]);
  std::vector<uint8_t> idx(buf.begin() + static_cast<long>(p), buf.begin() + static_cast<long>(p + timecnt));
  p += timecnt;
  std::vector<int32_t> offsets(typecnt);
  for (int64_t i = 0; i < typecnt; ++i) offsets[i] = ReadBigEndian32(&buf[p + 6 * i]);

  auto transitions = std::make_shared<std::vector<Transition>>();
  // Before the first transition the first non-DST type applies; type 0 is the usual convention.
  transitions->push_back({INT64_MIN, offsets[0]});
  for (int64_t i = 0; i < timecnt; ++i) {
    if (idx[i] >= typecnt) return bad();
    transitions->push_back({times[i], offsets[idx[i]]});
  }
  z.transitions_ = std::move(transitions);
  return z;
}

int32_t TimeZone::OffsetAtUtc(int64_t utc_seconds) const {
  if (!transitions_) return fixed_offset_;
  const auto& t = *transitions_;
  auto it = std::upper_bound(t.begin(), t.end(), utc_seconds,
                             [](int64_t v, const Transition& tr) { return v < tr.at_utc; });
  return it == t.begin() ? t.front().offset : std::prev(it)->offset;
}

int64_t TimeZone::LocalToUtc(int64_t local_seconds) const {
  if (!transitions_) return local_seconds - fixed_offset_;
  // Try the offset in force a day before and a day after; pick the first consistent one.
  const int32_t before = OffsetAtUtc(local_seconds - 86400);
  const int32_t after = OffsetAtUtc(local_seconds + 86400);
  for (int32_t off : {std::max(before, after), std::min(before, after)}) {
    if (OffsetAtUtc(local_seconds - off) == off) return local_seconds - off;
  }
  return local_seconds - before;  // in a DST gap: keep the pre-transition offset
}

StatusOr<UnixMillis> ParseIsoDateTime(std::string_view text, const TimeZone& zone) {
  auto fail = [&](std::string_view why) {
    return Status::InvalidArgument("bad dateTime '" + std::string(text.substr(0, 64)) + "': " + std::string(why));
  };
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  CivilTime c;
  size_t pos = 0;
  bool negative_year = !text.empty() && text[0] == '-';
  if (negative_year) return fail("years before 0001 are not supported");
  if (!ReadNumber(text, &pos, 4, &c.year) || pos != 4) return fail("expected YYYY-MM-DD");
  if (pos >= text.size() || text[pos++] != '-') return fail("expected YYYY-MM-DD");
  if (!ReadNumber(text, &pos, 2, &c.month) || pos != 7 || pos >= text.size() || text[pos++] != '-')
    return fail("expected YYYY-MM-DD");
  if (!ReadNumber(text, &pos, 2, &c.day) || pos != 10) return fail("expected YYYY-MM-DD");
  if (pos < text.size()) {
    if (text[pos] != 'T' && text[pos] != ' ' && text[pos] != 't') return fail("expected 'T' after the date");
    ++pos;
    if (!ReadNumber(text, &pos, 2, &c.hour) || pos != 13 || pos >= text.size() || text[pos++] != ':')
      return fail("expected hh:mm:ss");
    if (!ReadNumber(text, &pos, 2, &c.minute) || pos != 16) return fail("expected hh:mm:ss");
    if (pos < text.size() && text[pos] == ':') {
      ++pos;
      if (!ReadNumber(text, &pos, 2, &c.second) || pos != 19) return fail("expected hh:mm:ss");
      if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
        ++pos;
        if (!ReadFraction(text, &pos, &c.millis)) return fail("empty fraction of a second");
      }
    }
  }
  BRICKCAST_RETURN_IF_ERROR(ValidateCivil(c).WithContext("bad dateTime '" + std::string(text.substr(0, 64)) + "'"));
  const int64_t local = CivilToSeconds(c);
  std::string_view zone_text = text.substr(pos);
  int64_t utc;
  if (zone_text.empty()) {
    utc = zone.LocalToUtc(local);
  } else if (zone_text == "Z" || zone_text == "z") {
    utc = local;
  } else {
    auto off = ParseOffset(zone_text);
    if (!off.ok()) return fail("bad zone designator '" + std::string(zone_text.substr(0, 16)) + "'");
    utc = local - *off;
  }
  return utc * 1000 + c.millis;
}

StatusOr<UnixMillis> ParseTimeWithFormat(std::string_view text, std::string_view format,
                                         const TimeZone& zone) {
  static constexpr std::array<std::string_view, 12> kMonths = {"jan", "feb", "mar", "apr", "may", "jun",
                                                               "jul", "aug", "sep", "oct", "nov", "dec"};
  auto fail = [&](std::string_view why) {
    return Status::InvalidArgument("time '" + std::string(text.substr(0, 64)) + "' does not match '" +
                                   std::string(format) + "': " + std::string(why));
  };
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  CivilTime c;
  size_t pos = 0;
  for (size_t f = 0; f < format.size(); ++f) {
    if (format[f] != '%' || f + 1 == format.size()) {
      if (pos >= text.size() || text[pos] != format[f]) return fail("unexpected character");
      ++pos;
      continue;
    }
    const char spec = format[++f];
    bool ok = true;
    switch (spec) {
      case 'Y': ok = ReadNumber(text, &pos, 4, &c.year); break;
      case 'y':
        ok = ReadNumber(text, &pos, 2, &c.year);
        c.year += c.year < 69 ? 2000 : 1900;  // POSIX strptime pivot
        break;
      case 'm': ok = ReadNumber(text, &pos, 2, &c.month); break;
      case 'd': ok = ReadNumber(text, &pos, 2, &c.day); break;
      case 'H': ok = ReadNumber(text, &pos, 2, &c.hour); break;
      case 'M': ok = ReadNumber(text, &pos, 2, &c.minute); break;
      case 'S': ok = ReadNumber(text, &pos, 2, &c.second); break;
      case 'f': ok = ReadFraction(text, &pos, &c.millis); break;
      case 'b': {
        ok = false;
        if (pos + 3 <= text.size()) {
          std::string m(text.substr(pos, 3));
          for (char& ch : m) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          for (size_t i = 0; i < kMonths.size(); ++i) {
            if (m == kMonths[i]) {
              c.month = static_cast<int64_t>(i) + 1;
              pos += 3;
              ok = true;
            }
          }
        }
        break;
      }
      case '%': ok = pos < text.size() && text[pos++] == '%'; break;
      default: return fail(std::string("unsupported directive %") + spec);
    }
    if (!ok) return fail(std::string("expected %") + spec);
  }
  if (pos != text.size()) return fail("trailing characters");
  BRICKCAST_RETURN_IF_ERROR(ValidateCivil(c).WithContext("time '" + std::string(text) + "'"));
  return zone.LocalToUtc(CivilToSeconds(c)) * 1000 + c.millis;
}

std::string FormatIsoUtc(UnixMillis t) {
  int64_t secs = t >= 0 ? t / 1000 : (t - 999) / 1000;
  const int64_t ms = t - secs * 1000;
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t rem = secs - days * 86400;
  // civil_from_days (Howard Hinnant)
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  char buf[40];
  int n = std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld", static_cast<long long>(y), m, d,
                        static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                        static_cast<long long>(rem % 60));
  if (ms != 0) n += std::snprintf(buf + n, sizeof buf - n, ".%03lld", static_cast<long long>(ms));
  std::snprintf(buf + n, sizeof buf - n, "Z");
  return buf;
}

}  // namespace brickcast
