// gmime_util.hpp — small helpers shared by the parts of mail/ that use GMime 3: owning pointers
// for GObjects, one-time library initialisation, and writing a message out with LF line ends.
#pragma once

#include <gmime/gmime.h>

#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace mail::gmime {

struct Unref {
  void operator()(gpointer p) const {
    if (p) g_object_unref(p);
  }
};
template <class T>
using Ptr = std::unique_ptr<T, Unref>;

inline void init() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

// The whole object as text with LF line ends (the SMTP client writes CRLF); nullopt if GMime fails.
inline std::optional<std::string> to_text(GMimeObject* o) {
  GMimeFormatOptions* fo = g_mime_format_options_new();
  g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_UNIX);
  char* text = g_mime_object_to_string(o, fo);
  g_mime_format_options_free(fo);
  if (!text) return std::nullopt;
  std::string out(text);
  g_free(text);
  return out;
}

// strftime in UTC.
inline std::string utc(int64_t t, const char* fmt) {
  std::time_t tt = std::time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, fmt, &tm);
  return buf;
}

}  // namespace mail::gmime
