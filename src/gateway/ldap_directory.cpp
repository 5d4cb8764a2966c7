#include "gateway/ldap_directory.hpp"

#define LDAP_DEPRECATED 0
#include <ldap.h>

#include <algorithm>
#include <cstdio>
#include <optional>

namespace gateway {

std::string ldap_escape(const std::string& v) {
  std::string out;
  for (unsigned char c : v) {
    if (c == '*' || c == '(' || c == ')' || c == '\\' || c == 0) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "\\%02x", c);
      out += buf;
    } else {
      out.push_back(char(c));
    }
  }
  return out;
}

LdapDirectory::LdapDirectory(LdapOptions opt) : opt_(std::move(opt)) {}

LdapDirectory::~LdapDirectory() {
  disconnect();
}

void LdapDirectory::disconnect() {
  if (ld_) ldap_unbind_ext_s(ld_, nullptr, nullptr);
  ld_ = nullptr;
}

std::string LdapDirectory::connect() {
  if (ld_) return "";
  LDAP* ld = nullptr;
  int rc = ldap_initialize(&ld, opt_.uri.c_str());
  if (rc != LDAP_SUCCESS) return std::string("cannot use ") + opt_.uri + ": " + ldap_err2string(rc);
  int version = LDAP_VERSION3;
  ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
  timeval tv{opt_.timeout_s, 0};
  ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
  ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
  ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
  berval cred{};
  cred.bv_val = const_cast<char*>(opt_.bind_password.c_str());
  cred.bv_len = opt_.bind_password.size();
  rc = ldap_sasl_bind_s(ld, opt_.bind_dn.empty() ? nullptr : opt_.bind_dn.c_str(), LDAP_SASL_SIMPLE, &cred, nullptr,
                        nullptr, nullptr);
  if (rc != LDAP_SUCCESS) {
    ldap_unbind_ext_s(ld, nullptr, nullptr);
    return "bind to " + opt_.uri + " failed: " + ldap_err2string(rc);
  }
  ld_ = ld;
  return "";
}

DirectoryAnswer LdapDirectory::lookup(const std::string& number) {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (auto it = cache_.find(number); it != cache_.end()) {
    if (it->second.second > now) return it->second.first;
    cache_.erase(it);
  }
  DirectoryAnswer a = query(number);
  if (a.status == DirectoryAnswer::unavailable) {
    // One retry on a fresh connection: the server may have closed an idle one.
    disconnect();
    a = query(number);
  }
  if (a.status != DirectoryAnswer::unavailable && opt_.cache_s > 0) {
    if (cache_.size() > 10000) cache_.clear();
    cache_[number] = {a, now + std::chrono::seconds(opt_.cache_s)};
  }
  return a;
}

DirectoryAnswer LdapDirectory::query(const std::string& number) {
  if (auto e = connect(); !e.empty()) return {DirectoryAnswer::unavailable, "", e};
  std::string filter = opt_.filter;
  const std::string escaped = ldap_escape(number);
  for (size_t p = 0; (p = filter.find("%s", p)) != std::string::npos; p += escaped.size()) filter.replace(p, 2, escaped);
  std::string mail_attr = opt_.mail_attribute, allow_attr = opt_.allow_attribute;
  char* attrs[3] = {mail_attr.data(), allow_attr.empty() ? nullptr : allow_attr.data(), nullptr};
  timeval tv{opt_.timeout_s, 0};
  LDAPMessage* res = nullptr;
  int rc = ldap_search_ext_s(ld_, opt_.base.c_str(), LDAP_SCOPE_SUBTREE, filter.c_str(), attrs, 0, nullptr, nullptr,
                             &tv, 2, &res);
  if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
    if (res) ldap_msgfree(res);
    if (rc == LDAP_NO_SUCH_OBJECT) return {DirectoryAnswer::not_found, "", ""};
    disconnect();
    return {DirectoryAnswer::unavailable, "", "search " + filter + " failed: " + ldap_err2string(rc)};
  }
  DirectoryAnswer a{DirectoryAnswer::not_found, "", ""};
  LDAPMessage* e = ldap_first_entry(ld_, res);
  if (e) {
    auto first_value = [&](const std::string& attr) -> std::optional<std::string> {
      berval** vals = ldap_get_values_len(ld_, e, attr.c_str());
      if (!vals) return std::nullopt;
      std::optional<std::string> v;
      if (vals[0]) v = std::string(vals[0]->bv_val, vals[0]->bv_len);
      ldap_value_free_len(vals);
      return v;
    };
    char* dn = ldap_get_dn(ld_, e);
    std::string dn_text = dn ? dn : "";
    if (dn) ldap_memfree(dn);
    if (!allow_attr.empty()) {
      auto allow = first_value(allow_attr);
      if (!allow || (*allow != "TRUE" && *allow != "true" && *allow != "1" && *allow != "yes")) {
        ldap_msgfree(res);
        return {DirectoryAnswer::not_allowed, "", dn_text + ": " + allow_attr + " is " + (allow ? *allow : "not set")};
      }
    }
    if (auto m = first_value(mail_attr)) a = {DirectoryAnswer::found, *m, dn_text};
  }
  ldap_msgfree(res);
  return a;
}

fb::Result<std::vector<Addressee>, std::string> LdapDirectory::people() {
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (now < people_until_) {
    if (!people_error_.empty()) return people_error_;
    return people_;
  }
  bool retry = false;
  auto found = search_people(retry);
  if (!found && retry) {
    // One retry on a fresh connection: the server may have closed an idle one.
    disconnect();
    found = search_people(retry);
  }
  // An answer, or a directory that will not give the whole list (that stays so a while: asked
  // again after cache_s), is kept; a directory that is down is asked again at the next fax.
  if (!found && retry) return found.error();
  people_error_ = found ? "" : found.error();
  if (found) people_ = std::move(*found);
  people_until_ = now + std::chrono::seconds(std::max(opt_.cache_s, 60));
  if (!found) return people_error_;
  return people_;
}

fb::Result<std::vector<Addressee>, std::string> LdapDirectory::search_people(bool& retryable) {
  retryable = true;  // (the connection or the search failed)
  if (auto e = connect(); !e.empty()) return e;
  std::string cn = "cn", given = "givenName", sn = "sn", tel = "telephoneNumber", fax = "facsimileTelephoneNumber";
  std::string mail_attr = opt_.mail_attribute, allow_attr = opt_.allow_attribute;
  char* attrs[8] = {cn.data(), given.data(), sn.data(), tel.data(), fax.data(), mail_attr.data(),
                    allow_attr.empty() ? nullptr : allow_attr.data(), nullptr};
  timeval tv{opt_.timeout_s, 0};
  std::vector<Addressee> out;
  // RFC 2696 pages of kPeoplePage (Active Directory gives 1000 entries at most without them);
  // a server that does not page gives what its size limit allows, and then the list is not
  // whole: that is an error, as a name that looks unique in part of a directory may not be.
  berval* cookie = nullptr;
  bool more = true;
  for (int pages = 0; more; ++pages) {
    more = false;
    if (pages > kMaxPeople / kPeoplePage + 1) {
      retryable = false;
      return "the directory pages " + opt_.people_filter + " without end";
    }
    LDAPControl* page = nullptr;
    int rc = ldap_create_page_control(ld_, kPeoplePage, cookie, 0, &page);
    ber_bvfree(cookie);
    cookie = nullptr;
    if (rc != LDAP_SUCCESS) return std::string("cannot ask for pages: ") + ldap_err2string(rc);
    LDAPControl* controls[2] = {page, nullptr};
    LDAPMessage* res = nullptr;
    rc = ldap_search_ext_s(ld_, opt_.base.c_str(), LDAP_SCOPE_SUBTREE, opt_.people_filter.c_str(), attrs, 0, controls,
                           nullptr, &tv, 0, &res);
    ldap_control_free(page);
    if (rc == LDAP_SIZELIMIT_EXCEEDED) {
      if (res) ldap_msgfree(res);
      retryable = false;
      return "the directory gives only part of " + opt_.people_filter + " (its size limit), so no name is known to be unique";
    }
    if (rc != LDAP_SUCCESS) {
      if (res) ldap_msgfree(res);
      if (rc == LDAP_NO_SUCH_OBJECT && pages == 0) return out;
      disconnect();
      return "search " + opt_.people_filter + " failed: " + ldap_err2string(rc);
    }
    for (LDAPMessage* e = ldap_first_entry(ld_, res); e; e = ldap_next_entry(ld_, e)) {
      auto values = [&](const std::string& attr) {
        std::vector<std::string> v;
        if (berval** vals = ldap_get_values_len(ld_, e, attr.c_str())) {
          for (size_t i = 0; vals[i] && v.size() < 8; ++i) v.emplace_back(vals[i]->bv_val, vals[i]->bv_len);
          ldap_value_free_len(vals);
        }
        return v;
      };
      Addressee a;
      a.mails = values(mail_attr);
      a.mails.erase(std::remove_if(a.mails.begin(), a.mails.end(), [](const std::string& m) { return !plausible_mailbox(m); }),
                    a.mails.end());
      // Not allowed faxes, or no address: still someone a name may mean (never routed to).
      if (!allow_attr.empty()) {
        auto allow = values(allow_attr);
        a.may_receive = !allow.empty() && (allow[0] == "TRUE" || allow[0] == "true" || allow[0] == "1" || allow[0] == "yes");
      }
      if (a.mails.empty()) a.may_receive = false;
      auto first = [](const std::vector<std::string>& v) { return v.empty() ? std::string() : v.front(); };
      a.name = first(values(cn));
      a.given = first(values(given));
      a.surname = first(values(sn));
      if (a.name.empty()) a.name = a.given.empty() ? a.surname : a.given + " " + a.surname;
      a.numbers = values(tel);
      for (auto& f : values(fax)) a.numbers.push_back(std::move(f));
      out.push_back(std::move(a));
    }
    // The next page's cookie, if the server pages (one that does not gives all at once). Once
    // it paged, a page that cannot be read breaks the list: an error, never part of it.
    LDAPControl** returned = nullptr;
    int err = 0;
    bool broken = false;
    if (ldap_parse_result(ld_, res, &err, nullptr, nullptr, nullptr, &returned, 0) != LDAP_SUCCESS) {
      broken = pages > 0;
    } else if (returned) {
      LDAPControl* c = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, returned, nullptr);
      if (c && c->ldctl_value.bv_len > 0) {
        ber_int_t estimate = 0;
        berval next{};
        if (ldap_parse_pageresponse_control(ld_, c, &estimate, &next) == LDAP_SUCCESS) {
          if (next.bv_len > 0) {
            cookie = ber_bvdup(&next);
            more = cookie != nullptr;
            broken = !more;
          }
          ldap_memfree(next.bv_val);
        } else {
          broken = true;
        }
      } else if (pages > 0) {
        broken = true;
      }
      ldap_controls_free(returned);
    } else if (pages > 0) {
      broken = true;
    }
    ldap_msgfree(res);
    if (broken) {
      ber_bvfree(cookie);
      return "the directory's pages of " + opt_.people_filter + " broke off";
    }
    if (out.size() > size_t(kMaxPeople)) {
      ber_bvfree(cookie);
      retryable = false;
      return "the directory has more than " + std::to_string(kMaxPeople) + " entries for " + opt_.people_filter +
             ": narrow [ldap] people_filter";
    }
  }
  return out;
}

}  // namespace gateway
