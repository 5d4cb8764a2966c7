// smtp_session.cpp — the ESMTP server state machine (see smtp_session.hpp).
#include "mail/smtp_session.hpp"

#include "core/metrics.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "address/fax_address.hpp"

namespace smtp {
namespace {

std::string upper(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = char(std::toupper(static_cast<unsigned char>(c)));
  return r;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// CR, LF, NUL and other controls have no place in a command argument: they would be echoed in
// replies and stored (Received: header, the DSN recipient).
bool has_controls(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; });
}

std::vector<std::string_view> split_spaces(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// "FROM:<path> params" after the verb: the path (without <>) and the parameter list.
// RFC 5321 §4.1.2 wants "<path>"; a space after the colon is tolerated as most servers do.
bool parse_path_arg(std::string_view args, std::string_view keyword, std::string& path,
                    std::vector<std::string_view>& params) {
  if (args.size() < keyword.size() || !iequals(args.substr(0, keyword.size()), keyword)) return false;
  args = trim(args.substr(keyword.size()));
  if (args.empty()) return false;
  if (args.front() != '<') {
    // A bare path ("MAIL FROM: user@host"): RFC 5321 wants the brackets, but scanners and
    // copiers leave them out and Postfix takes it (strict_rfc821_envelopes = no). It ends at the
    // first space; parameters may follow.
    const size_t sp = args.find(' ');
    std::string_view bare = args.substr(0, sp);
    if (bare.find_first_of("<>\"") != std::string_view::npos) return false;
    path.assign(bare);
    params = split_spaces(sp == std::string_view::npos ? std::string_view{} : args.substr(sp));
    return true;
  }
  // The path ends at the '>' that is not inside a quoted local part.
  bool quoted = false;
  size_t end = std::string_view::npos;
  for (size_t i = 1; i < args.size(); ++i) {
    char c = args[i];
    if (c == '\\' && quoted) {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == '>' && !quoted) {
      end = i;
      break;
    }
  }
  if (end == std::string_view::npos) return false;
  path.assign(args.substr(1, end - 1));
  std::string_view rest = args.substr(end + 1);
  if (!rest.empty() && rest.front() != ' ') return false;
  params = split_spaces(rest);
  return true;
}

bool split_param(std::string_view p, std::string& key, std::string_view& value, bool& has_value) {
  auto eq = p.find('=');
  has_value = eq != std::string_view::npos;
  key = upper(p.substr(0, eq));
  value = has_value ? p.substr(eq + 1) : std::string_view{};
  if (key.empty()) return false;
  return std::all_of(key.begin(), key.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-'; });
}

bool valid_notify(std::string_view v, std::string& out) {
  std::string u = upper(v);
  if (u == "NEVER") {
    out = u;
    return true;
  }
  bool s = false, f = false, d = false;
  size_t i = 0;
  while (i <= u.size()) {
    size_t j = u.find(',', i);
    if (j == std::string::npos) j = u.size();
    std::string_view item = std::string_view(u).substr(i, j - i);
    bool* flag = item == "SUCCESS" ? &s : item == "FAILURE" ? &f : item == "DELAY" ? &d : nullptr;
    if (!flag || *flag) return false;
    *flag = true;
    i = j + 1;
  }
  out = u;
  return true;
}

std::optional<std::string> base64_decode(std::string_view in) {
  static const auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = in[i + size_t(k)];
      if (c == '=' && i + 4 == in.size() && k >= 2) {
        v[k] = 0;
        ++pad;
      } else if (pad > 0 || (v[k] = value(c)) < 0) {
        return std::nullopt;
      }
    }
    uint32_t n = uint32_t(v[0]) << 18 | uint32_t(v[1]) << 12 | uint32_t(v[2]) << 6 | uint32_t(v[3]);
    out += char(n >> 16);
    if (pad < 2) out += char((n >> 8) & 0xFF);
    if (pad < 1) out += char(n & 0xFF);
  }
  return out;
}

}  // namespace

Session::Session(Config cfg, Policy& policy, BodySink& sink, std::string client_address)
    : cfg_(std::move(cfg)), policy_(policy), sink_(sink) {
  env_.client_address = std::move(client_address);
}

std::string Session::greeting() { return "220 " + cfg_.hostname + " ESMTP faxbridge\r\n"; }

void Session::receive(std::string_view bytes) {
  if (state_ == State::closed) return;
  in_.append(bytes);
}

std::string Session::take_output() { return std::exchange(out_, {}); }

void Session::reply(int code, std::string_view enhanced, std::string_view text) {
  fb::metrics::count("faxbridge_smtp_replies_total", "SMTP replies the intake sent, by code",
                     {{"code", std::to_string(code)}});
  out_ += std::to_string(code);
  out_ += ' ';
  if (!enhanced.empty()) {
    out_ += enhanced;
    out_ += ' ';
  }
  // A reply line is ASCII whatever it quotes (a part's UTF-8 file name, an address): a byte
  // outside printable ASCII becomes '?', so no client's reply parser meets 8-bit or a line break.
  for (char c : text) out_ += c >= 0x20 && c < 0x7f ? c : '?';
  out_ += "\r\n";
}

void Session::reply_lines(int code, const std::vector<std::string>& lines) {
  fb::metrics::count("faxbridge_smtp_replies_total", "SMTP replies the intake sent, by code",
                     {{"code", std::to_string(code)}});
  for (size_t i = 0; i < lines.size(); ++i) {
    out_ += std::to_string(code) + (i + 1 < lines.size() ? "-" : " ") + lines[i] + "\r\n";
  }
}

std::optional<Event> Session::error(int code, std::string enhanced, std::string text) {
  reply(code, enhanced, text);
  if (++errors_ >= cfg_.limits.max_errors) {
    reply(421, "4.7.0", cfg_.hostname + " Error: too many errors, closing connection");
    state_ = State::closed;
    return Event::close;
  }
  return std::nullopt;
}

void Session::reset_transaction() {
  if (state_ == State::data) sink_.abort();
  env_.mail_from.clear();
  env_.ret.reset();
  env_.envid.reset();
  env_.declared_size.reset();
  env_.body_8bit = false;
  env_.smtputf8 = false;
  env_.recipients.clear();
  if (state_ != State::fresh && state_ != State::closed) state_ = State::ready;
}

bool Session::auth_allowed() const { return cfg_.auth_available && (env_.tls || cfg_.trusted_client); }

Event Session::step() {
  while (state_ != State::closed) {
    if (state_ == State::auth_check) return Event::authenticate;
    size_t eol = in_.find("\r\n");
    if (state_ == State::data) {
      if (eol == std::string::npos) {
        // A very long data line: pass it on in pieces, keeping a trailing CR for the next read.
        if (in_.size() > 65536) {
          size_t keep = in_.back() == '\r' ? 1 : 0;
          std::string piece = in_.substr(0, in_.size() - keep);
          in_.erase(0, in_.size() - keep);
          handle_data_line(piece, false);
        }
        return Event::need_input;
      }
      std::string line = in_.substr(0, eol);
      in_.erase(0, eol + 2);
      if (auto ev = handle_data_line(line, true)) return *ev;
      continue;
    }
    if (eol == std::string::npos) {
      if (in_.size() > cfg_.limits.max_command_line) {  // no CRLF in sight: refuse once, skip to it
        bool cr = in_.back() == '\r';
        in_.assign(cr ? "\r" : "");  // a CRLF may be split across reads
        if (!discarding_long_line_) {
          discarding_long_line_ = true;
          if (auto ev = error(500, "5.5.2", "Error: line too long")) return *ev;
        }
      }
      return Event::need_input;
    }
    std::string line = in_.substr(0, eol);
    in_.erase(0, eol + 2);
    if (discarding_long_line_) {  // the tail of an over-long line already answered
      discarding_long_line_ = false;
      continue;
    }
    if (line.size() > cfg_.limits.max_command_line) {
      if (auto ev = error(500, "5.5.2", "Error: line too long")) return *ev;
      continue;
    }
    if (auto ev = handle_line(line)) return *ev;
  }
  return Event::close;
}

std::optional<Event> Session::handle_line(std::string_view line) {
  if (state_ == State::commit) return std::nullopt;  // cannot happen: step() stops at Event::message
  if (state_ == State::auth_plain || state_ == State::auth_login_user || state_ == State::auth_login_pass) {
    return auth_response(line);
  }
  size_t sp = line.find(' ');
  std::string verb = upper(line.substr(0, sp));
  std::string_view args = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
  return command(verb, args);
}

std::optional<Event> Session::command(std::string_view verb, std::string_view args) {
  if (verb == "EHLO" || verb == "HELO") {
    if (trim(args).empty() || has_controls(args)) return error(501, "5.5.4", "Syntax: " + std::string(verb) + " hostname");
    ehlo(trim(args), verb == "EHLO");
    return std::nullopt;
  }
  if (verb == "QUIT") {
    reply(221, "2.0.0", cfg_.hostname + " closing connection");
    reset_transaction();
    state_ = State::closed;
    return Event::close;
  }
  if (verb == "NOOP") {
    reply(250, "2.0.0", "Ok");
    return std::nullopt;
  }
  if (verb == "RSET") {
    if (!trim(args).empty()) return error(501, "5.5.4", "Syntax: RSET");
    reset_transaction();
    reply(250, "2.0.0", "Ok");
    return std::nullopt;
  }
  if (verb == "VRFY") {
    reply(252, "2.5.0", "Cannot VRFY a fax address, but will accept the message and attempt delivery");
    return std::nullopt;
  }
  if (verb == "EXPN") return error(502, "5.5.1", "EXPN is not supported");
  if (verb == "HELP") {
    reply(214, "2.0.0", "faxbridge: mail FAX=+<number>@<domain> to send a fax (RFC 3192)");
    return std::nullopt;
  }
  if (verb == "STARTTLS") return starttls(args);
  if (verb == "AUTH") return auth(args);
  if (state_ == State::fresh && (verb == "MAIL" || verb == "RCPT" || verb == "DATA")) {
    return error(503, "5.5.1", "Error: send HELO/EHLO first");
  }
  if (verb == "MAIL") {
    mail(args);
    return std::nullopt;
  }
  if (verb == "RCPT") {
    rcpt(args);
    return std::nullopt;
  }
  if (verb == "DATA") return data(args);
  if (verb == "BDAT") return error(502, "5.5.1", "Error: BDAT (CHUNKING) is not supported");
  return error(500, "5.5.2", "Error: command not recognized");
}

void Session::ehlo(std::string_view args, bool extended) {
  reset_transaction();
  state_ = State::ready;
  extended_ = extended;
  env_.helo = std::string(args);
  if (!extended) {
    reply(250, "", cfg_.hostname);
    return;
  }
  std::vector<std::string> lines = {cfg_.hostname + " greets " + std::string(args),
                                    "PIPELINING",
                                    "SIZE " + std::to_string(cfg_.limits.max_message_bytes),
                                    "8BITMIME",
                                    "ENHANCEDSTATUSCODES",
                                    "DSN",
                                    "SMTPUTF8"};
  if (cfg_.tls_available && !env_.tls) lines.push_back("STARTTLS");
  if (auth_allowed()) lines.push_back("AUTH PLAIN LOGIN");
  lines.push_back("HELP");
  reply_lines(250, lines);
}

void Session::mail(std::string_view args) {
  if (state_ == State::mail || state_ == State::rcpt) {
    error(503, "5.5.1", "Error: nested MAIL command");
    return;
  }
  std::string path;
  std::vector<std::string_view> params;
  if (!parse_path_arg(args, "FROM:", path, params) || has_controls(path)) {
    error(501, "5.5.2", "Syntax: MAIL FROM:<address> [parameters]");
    return;
  }
  if (!params.empty() && !extended_) {
    error(555, "5.5.4", "Error: MAIL parameters need EHLO");
    return;
  }
  Envelope next = env_;
  next.mail_from = path;
  for (std::string_view p : params) {
    std::string key;
    std::string_view value;
    bool has_value = false;
    if (!split_param(p, key, value, has_value)) {
      error(501, "5.5.4", "Error: bad parameter syntax");
      return;
    }
    auto dup = [&](bool seen) {
      if (seen) error(501, "5.5.4", "Error: duplicate " + key + " parameter");
      return seen;
    };
    if (key == "SIZE") {
      size_t n = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (dup(next.declared_size.has_value())) return;
      if (ec != std::errc() || ptr != value.data() + value.size() || value.empty()) {
        error(501, "5.5.4", "Error: bad SIZE parameter");
        return;
      }
      if (n > cfg_.limits.max_message_bytes) {
        error(552, "5.3.4", "Error: message size exceeds fixed maximum message size (" +
                                std::to_string(cfg_.limits.max_message_bytes) + " bytes)");
        return;
      }
      next.declared_size = n;
    } else if (key == "BODY") {
      std::string v = upper(value);
      if (v != "7BIT" && v != "8BITMIME") {
        error(501, "5.5.4", "Error: BODY must be 7BIT or 8BITMIME");
        return;
      }
      next.body_8bit = v == "8BITMIME";
    } else if (key == "RET") {
      std::string v = upper(value);
      if (dup(next.ret.has_value())) return;
      if (v != "FULL" && v != "HDRS") {
        error(501, "5.5.4", "Error: RET must be FULL or HDRS");
        return;
      }
      next.ret = v;
    } else if (key == "ENVID") {
      if (dup(next.envid.has_value())) return;
      auto decoded = address::xtext_decode(value);
      if (!decoded || value.empty() || value.size() > 100) {
        error(501, "5.5.4", "Error: ENVID is not valid xtext");
        return;
      }
      next.envid = *decoded;
    } else if (key == "SMTPUTF8" && !has_value) {
      next.smtputf8 = true;
    } else if (key == "AUTH") {
      // RFC 4954 §5: accepted and not acted on (we do not relay on others' behalf).
    } else {
      error(555, "5.5.4", "Error: unsupported parameter " + key);
      return;
    }
  }
  if (auto refusal = policy_.check_mail(next)) {  // a decision, not a client error: not counted
    reply(refusal->code, refusal->enhanced, refusal->text);
    return;
  }
  env_ = std::move(next);
  state_ = State::mail;
  reply(250, "2.1.0", "Sender <" + env_.mail_from + "> OK");
}

void Session::rcpt(std::string_view args) {
  if (state_ != State::mail && state_ != State::rcpt) {
    error(503, "5.5.1", "Error: need MAIL command before RCPT");
    return;
  }
  std::string path;
  std::vector<std::string_view> params;
  if (!parse_path_arg(args, "TO:", path, params) || path.empty() || has_controls(path)) {
    error(501, "5.1.3", "Syntax: RCPT TO:<address> [parameters]");
    return;
  }
  if (!params.empty() && !extended_) {
    error(555, "5.5.4", "Error: RCPT parameters need EHLO");
    return;
  }
  if (env_.recipients.size() >= cfg_.limits.max_recipients) {
    // RFC 5321 §4.5.3.1.10: the client sends the rest later; not an error that ends the session.
    reply(452, "4.5.3", "Error: too many recipients (at most " + std::to_string(cfg_.limits.max_recipients) + ")");
    return;
  }
  Recipient r;
  r.address = path;
  for (std::string_view p : params) {
    std::string key;
    std::string_view value;
    bool has_value = false;
    if (!split_param(p, key, value, has_value) || !has_value) {
      error(501, "5.5.4", "Error: bad parameter syntax");
      return;
    }
    if (key == "NOTIFY") {
      std::string n;
      if (r.notify || !valid_notify(value, n)) {
        error(501, "5.5.4", "Error: NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY");
        return;
      }
      r.notify = n;
    } else if (key == "ORCPT") {
      auto semi = value.find(';');
      auto decoded = semi == std::string_view::npos ? std::nullopt : address::xtext_decode(value.substr(semi + 1));
      bool atom = semi != std::string_view::npos && semi > 0 &&
                  std::all_of(value.begin(), value.begin() + long(semi), [](char c) {
                    return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
                  });
      if (r.orcpt || !decoded || decoded->empty() || !atom || value.size() > 500) {
        error(501, "5.5.4", "Error: ORCPT must be addr-type;xtext");
        return;
      }
      r.orcpt = std::string(value.substr(0, semi)) + ";" + *decoded;
    } else {
      error(555, "5.5.4", "Error: unsupported parameter " + key);
      return;
    }
  }
  if (auto refusal = policy_.check_rcpt(env_, r)) {
    reply(refusal->code, refusal->enhanced, refusal->text);
    return;
  }
  env_.recipients.push_back(std::move(r));
  state_ = State::rcpt;
  reply(250, "2.1.5", "Recipient <" + path + "> OK");
}

std::optional<Event> Session::data(std::string_view args) {
  if (!trim(args).empty()) return error(501, "5.5.4", "Syntax: DATA");
  if (state_ == State::ready) return error(503, "5.5.1", "Error: need MAIL command");
  if (state_ != State::rcpt) return error(554, "5.5.1", "Error: no valid recipients");
  sink_.begin(env_);
  body_bytes_ = 0;
  body_too_big_ = false;
  at_line_start_ = true;
  state_ = State::data;
  reply(354, "", "End data with <CR><LF>.<CR><LF>");
  return std::nullopt;
}

std::optional<Event> Session::handle_data_line(std::string_view line, bool complete) {
  if (at_line_start_ && complete && line == ".") {
    if (body_too_big_) {
      sink_.abort();
      state_ = State::rcpt;  // reset below restores ready
      reset_transaction();
      return error(552, "5.3.4", "Error: message size exceeds fixed maximum message size (" +
                                     std::to_string(cfg_.limits.max_message_bytes) + " bytes)");
    }
    state_ = State::commit;
    return Event::message;
  }
  if (at_line_start_ && !line.empty() && line.front() == '.') line.remove_prefix(1);  // dot-stuffing
  size_t n = line.size() + (complete ? 2 : 0);
  body_bytes_ += n;
  if (body_bytes_ > cfg_.limits.max_message_bytes) body_too_big_ = true;
  if (!body_too_big_) {
    sink_.write(line);
    if (complete) sink_.write("\r\n");
  }
  at_line_start_ = complete;
  return std::nullopt;
}

void Session::message_done(const Reply& r) {
  if (state_ != State::commit) return;
  reply(r.code, r.enhanced, r.text);
  state_ = State::ready;
  reset_transaction();
}

std::optional<Event> Session::starttls(std::string_view args) {
  if (!cfg_.tls_available) return error(502, "5.5.1", "Error: STARTTLS is not available");
  if (env_.tls) return error(503, "5.5.1", "Error: TLS is already active");
  if (!trim(args).empty()) return error(501, "5.5.4", "Syntax: STARTTLS");
  reply(220, "2.0.0", "Ready to start TLS");
  in_.clear();  // RFC 3207 §4.2: nothing the client sent before the handshake is trusted
  return Event::starttls;
}

void Session::tls_started() {
  // RFC 3207 §4.2: forget everything learnt before TLS; the client must EHLO again.
  reset_transaction();
  env_.tls = true;
  env_.helo.clear();
  env_.auth_user.reset();
  extended_ = false;
  state_ = State::fresh;
}

std::optional<Event> Session::auth(std::string_view args) {
  if (!cfg_.auth_available) return error(502, "5.5.1", "Error: authentication is not enabled");
  if (state_ == State::fresh) return error(503, "5.5.1", "Error: send EHLO first");
  if (env_.auth_user) return error(503, "5.5.1", "Error: already authenticated");
  if (state_ != State::ready) return error(503, "5.5.1", "Error: AUTH not allowed during a mail transaction");
  if (!auth_allowed()) {
    return error(538, "5.7.11", "Error: encryption required for requested authentication mechanism");
  }
  auto words = split_spaces(args);
  if (words.empty() || words.size() > 2) return error(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
  std::string mech = upper(words[0]);
  if (mech == "PLAIN") {
    if (words.size() == 2) return auth_response_plain_initial(words[1]);
    state_ = State::auth_plain;
    reply(334, "", "");
    return std::nullopt;
  }
  if (mech == "LOGIN") {
    if (words.size() == 2) {
      auto user = base64_decode(words[1]);
      if (!user) return error(501, "5.5.2", "Error: invalid base64 data");
      login_user_ = *user;
      state_ = State::auth_login_pass;
      reply(334, "", "UGFzc3dvcmQ6");  // "Password:"
      return std::nullopt;
    }
    state_ = State::auth_login_user;
    reply(334, "", "VXNlcm5hbWU6");  // "Username:"
    return std::nullopt;
  }
  return error(504, "5.5.4", "Error: unsupported authentication mechanism " + mech);
}

std::optional<Event> Session::auth_response_plain_initial(std::string_view b64) {
  state_ = State::auth_plain;
  return auth_response(b64);
}

std::optional<Event> Session::auth_response(std::string_view line) {
  const State was = state_;
  state_ = State::ready;
  if (line == "*") return error(501, "5.0.0", "Error: authentication cancelled");
  auto decoded = line == "=" ? std::optional<std::string>("") : base64_decode(line);
  if (!decoded) return error(501, "5.5.2", "Error: invalid base64 data");
  if (was == State::auth_login_user) {
    login_user_ = *decoded;
    state_ = State::auth_login_pass;
    reply(334, "", "UGFzc3dvcmQ6");
    return std::nullopt;
  }
  if (was == State::auth_login_pass) return finish_auth(login_user_, *decoded);
  // PLAIN: authzid NUL authcid NUL passwd (RFC 4616); an authzid other than the user is refused.
  auto first = decoded->find('\0');
  auto second = first == std::string::npos ? std::string::npos : decoded->find('\0', first + 1);
  if (second == std::string::npos) return error(501, "5.5.2", "Error: malformed PLAIN response");
  std::string authz = decoded->substr(0, first), user = decoded->substr(first + 1, second - first - 1);
  if (!authz.empty() && authz != user) return finish_auth("", "");
  return finish_auth(user, decoded->substr(second + 1));
}

std::optional<Event> Session::finish_auth(std::string_view user_view, std::string_view password) {
  // The owner checks them (Event::authenticate), even an empty user: every failure costs the
  // same time, and counts against the client.
  pending_auth_ = Credentials{std::string(user_view), std::string(password)};  // may view login_user_
  login_user_.clear();
  state_ = State::auth_check;
  return Event::authenticate;
}

void Session::auth_result(bool ok) {
  if (state_ != State::auth_check || !pending_auth_) return;
  std::string user = std::move(pending_auth_->user);
  pending_auth_.reset();
  state_ = State::ready;
  if (ok && !user.empty()) {
    env_.auth_user = user;
    reply(235, "2.7.0", "Authentication successful");
    return;
  }
  if (++auth_failures_ >= cfg_.limits.max_auth_failures) {
    reply(535, "5.7.8", "Error: authentication credentials invalid");
    reply(421, "4.7.0", cfg_.hostname + " Error: too many failed authentications, closing connection");
    state_ = State::closed;
    return;
  }
  (void)error(535, "5.7.8", "Error: authentication credentials invalid");
}

void Session::auth_refused(const Reply& r) {
  if (state_ != State::auth_check) return;
  pending_auth_.reset();
  reply(r.code, r.enhanced, r.text);
  state_ = State::closed;
}

void Session::shutdown(const Reply& r) {
  if (state_ == State::closed) return;
  reply(r.code, r.enhanced, r.text);
  if (state_ == State::data) sink_.abort();
  state_ = State::closed;
}

}  // namespace smtp
