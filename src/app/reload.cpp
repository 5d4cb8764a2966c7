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
      const toml::table* dx = x ? x->as_table() : nullptr;
      const toml::table* dy = y ? y->as_table() : nullptr;
      std::set<std::string> fields;
      for (const auto* d : {dx, dy}) {
        if (d) for (const auto& [f, v] : *d) fields.insert(std::string(f.str()));
      }
      for (const auto& f : fields) {
        if (same(dx ? dx->get(f) : nullptr, dy ? dy->get(f) : nullptr)) continue;
        if (f == "allow" || f == "deny") plan.dialing = true;
        else plan.not_reloaded.push_back("[dialing] " + f);
      }
    } else {
      const bool array = (x && x->is_array()) || (y && y->is_array());
      plan.not_reloaded.push_back(array ? "[[" + k + "]]" : "[" + k + "]");
    }
  }
  return plan;
}

}  // namespace app
