// ldap_directory.hpp — directory routing: "which mailbox has this fax number, and may it receive
// faxes?" asked of an LDAP server (OpenLDAP in tests, Active Directory in the field).
//
// STANDARDS: RFC 4511 (LDAPv3 search), RFC 4515 (the number is escaped into the filter), RFC 4516
// (ldap://, ldaps://, ldapi:// URIs), through OpenLDAP's libldap.
// QUERY: [ldap] filter with every %s replaced by the escaped number (the DID, then the SUB), under base,
// subtree scope, asking for mail_attribute and allow_attribute. The first entry decides:
//   - allow_attribute set and not TRUE on the entry → not allowed (the postmaster gets the fax);
//   - mail_attribute present → found; absent → not found;
//   - no entry → not found; the server unreachable, a timeout, a bind or search error →
//     unavailable (router.hpp: the fax waits and is routed again later).
// PEOPLE (routing by the cover page, cover_routing.hpp): every entry under base that matches
// people_filter, with cn, givenName, sn, the mail attribute, telephoneNumber and
// facsimileTelephoneNumber, asked for in RFC 2696 pages; an entry that allow_attribute does not
// allow, or with no valid mail, is kept as someone a name may mean who is never routed to. Only
// the whole list will do (a name unique in part of a directory may not be): a server's size
// limit, more than kMaxPeople entries, or pages that break off, is an error. The list, or an error
// other than an unreachable server, is kept cache_s seconds (at least 60).
// CACHE: found / not found / not allowed answers are kept cache_s seconds; unavailable is never
// cached. THREADS: blocking calls (each bounded by timeout_s): used from the OnRamp's worker thread
// only; one connection, re-opened after an error.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "core/result.hpp"
#include "gateway/cover_routing.hpp"
#include "gateway/router.hpp"

typedef struct ldap LDAP;

namespace gateway {

struct LdapOptions {
  std::string uri, base, filter = "(facsimileTelephoneNumber=%s)", mail_attribute = "mail", allow_attribute;
  std::string bind_dn, bind_password;
  int timeout_s = 5;
  int cache_s = 60;
  std::string people_filter = "(objectClass=person)";
};

inline constexpr int kMaxPeople = 20000;
inline constexpr int kPeoplePage = 500;

class LdapDirectory {
 public:
  explicit LdapDirectory(LdapOptions opt);
  ~LdapDirectory();
  LdapDirectory(const LdapDirectory&) = delete;
  LdapDirectory& operator=(const LdapDirectory&) = delete;

  DirectoryAnswer lookup(const std::string& number);
  // The people a cover page may name, or why the directory cannot say now.
  fb::Result<std::vector<Addressee>, std::string> people();

 private:
  DirectoryAnswer query(const std::string& number);
  std::string connect();  // "" or why not
  void disconnect();

  LdapOptions opt_;
  LDAP* ld_ = nullptr;
  std::mutex mu_;
  std::map<std::string, std::pair<DirectoryAnswer, std::chrono::steady_clock::time_point>> cache_;
  fb::Result<std::vector<Addressee>, std::string> search_people(bool& retryable);
  std::vector<Addressee> people_;
  std::string people_error_;  // the last listing's, kept as long as a list would be
  std::chrono::steady_clock::time_point people_until_{};
};

// RFC 4515 §3: *, (, ), \ and NUL as \XX.
std::string ldap_escape(const std::string& value);

}  // namespace gateway
