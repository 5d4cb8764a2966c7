// reload.cpp — comparing the running configuration with a new one (see reload.hpp).
#include "app/reload.hpp"

#include <set>
#include <sstream>

#include <toml++/toml.h>

namespace app {
namespace {

fb::Result<toml::table, std::string> parse(std::string_view text, const char* which) {
#if TOML_EXCEPTIONS
  try {
    return toml::parse(text);
  } catch (const toml::parse_error& e) {
    return std::string(which) + ": " + std::string(e.description());
  }
#else
  toml::parse_result r = toml::parse(text);
  if (!r) return std::string(which) + ": " + std::string(r.error().description());
  return std::move(r).table();
#endif
}

// A node's value, or an empty table when absent: a section written out with its defaults and one
// left out are told apart only by what they say.
std::string text_of(const toml::node& n) {
  std::ostringstream o;
  n.visit([&](const auto& v) { o << v; });
  return o.str();
}

bool same(const toml::node* a, const toml::node* b) {
  if (!a && !b) return true;
  if (!a || !b) return false;
  return a->type() == b->type() && text_of(*a) == text_of(*b);
}

// The fields of table `k` in either file that differ.
std::vector<std::string> changed_fields(const toml::node* x, const toml::node* y) {
  const toml::table* a = x ? x->as_table() : nullptr;
  const toml::table* b = y ? y->as_table() : nullptr;
  std::set<std::string> fields;
  for (const auto* t : {a, b}) {
    if (t) for (const auto& [f, v] : *t) fields.insert(std::string(f.str()));
  }
  std::vector<std::string> out;
  for (const auto& f : fields) {
    if (!same(a ? a->get(f) : nullptr, b ? b->get(f) : nullptr)) out.push_back(f);
  }
  return out;
}

const std::set<std::string> kReloadableSmtp = {
    "max_sessions", "idle_timeout_s", "max_message_bytes", "max_recipients", "sender_messages_per_hour",
    "sender_recipients_per_hour", "client_connections", "client_connections_per_minute",
    "client_messages_per_minute", "client_recipients_per_minute", "client_auth_failures_per_hour",
    "trusted_networks", "user"};

}  // namespace

fb::Result<ReloadPlan, std::string> plan_reload(std::string_view running, std::string_view next) {
  auto a = parse(running, "the running configuration");
  if (!a) return a.error();
  auto b = parse(next, "the new configuration");
  if (!b) return b.error();
  ReloadPlan plan;
  std::vector<std::string> keys;
  std::set<std::string> seen;
  for (const auto* t : {&*a, &*b}) {
    for (const auto& [k, v] : *t) {
      if (seen.insert(std::string(k.str())).second) keys.emplace_back(k.str());
    }
  }
  for (const auto& k : keys) {
    const toml::node* x = a->get(k);
    const toml::node* y = b->get(k);
    if (same(x, y)) continue;
    if (k == "trunk") {
      plan.trunks = true;
    } else if (k == "route") {
      plan.routes = true;
    } else if (k == "dialing") {
      // allow and deny reload; the daily caps (counted since start) need a restart.
      for (const auto& f : changed_fields(x, y)) {
        if (f == "allow" || f == "deny") plan.dialing = true;
        else plan.not_reloaded.push_back("[dialing] " + f);
      }
    } else if (k == "smtp") {
      // Limits, trusted networks and users reload; listeners, names and TLS need a restart.
      for (const auto& f : changed_fields(x, y)) {
        if (kReloadableSmtp.count(f)) plan.smtp = true;
        else plan.not_reloaded.push_back("[smtp] " + f);
      }
    } else {
      const bool array = (x && x->is_array()) || (y && y->is_array());
      plan.not_reloaded.push_back(array ? "[[" + k + "]]" : "[" + k + "]");
    }
  }
  return plan;
}

}  // namespace app
