// tokens.cpp — the admin token file and the token commands (see tokens.hpp).
#include "app/tokens.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <stdexcept>

#include "api/access.hpp"
#include "api/webhook_url.hpp"
#include "app/config.hpp"
#include "queue/job_store.hpp"
#include "queue/user_store.hpp"

namespace app {
namespace {

namespace fs = std::filesystem;

bool well_formed(const std::string& t) {
  if (t.size() != 68 || t.rfind("fbt_", 0) != 0) return false;
  for (size_t i = 4; i < t.size(); ++i) {
    if (!std::isxdigit(static_cast<unsigned char>(t[i]))) return false;
  }
  return true;
}

int fail(const std::string& cmd, const std::string& why, int code) {
  std::cerr << "faxbridge " << cmd << ": " << why << "\n";
  return code;
}

std::optional<config::Config> load(const std::optional<std::string>& path, const std::string& cmd) {
  auto cfg = path ? config::load_file(*path) : fb::Result<config::Config, config::ConfigError>(config::embedded_default());
  if (!cfg) {
    fail(cmd, cfg.error().message, 2);
    return std::nullopt;
  }
  return *cfg;
}

std::optional<queue::UserStore> users(const config::Config& cfg, const std::string& cmd) {
  const std::string& url = cfg.store.url;
  const bool pg = queue::is_postgresql_url(url);
  if (!pg && url.rfind("sqlite:", 0) != 0) {
    fail(cmd, "store url " + url + ": not sqlite: or postgresql://", 3);
    return std::nullopt;
  }
  const std::string path = pg ? url : url.substr(7);
  if (!pg && fs::path(path).has_parent_path()) {
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
  }
  // The job store's schema first: the users' tables live beside it in the same database.
  if (auto js = queue::open_job_store(path); !js) {
    fail(cmd, js.error().message, 3);
    return std::nullopt;
  }
  auto u = queue::UserStore::open(path);
  if (!u) {
    fail(cmd, u.error().message, 3);
    return std::nullopt;
  }
  return std::move(*u);
}

}  // namespace

std::optional<std::string> read_admin_token(const std::string& data_dir) {
  const std::string path = (fs::path(data_dir) / kAdminTokenFile).string();
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[128];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  std::string t(buf, size_t(n));
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
  if (!well_formed(t)) return std::nullopt;
  return t;
}

std::string ensure_admin_token(const std::string& data_dir) {
  const fs::path path = fs::path(data_dir) / kAdminTokenFile;
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) == 0 && st.st_uid == ::geteuid()) {
    if (auto t = read_admin_token(data_dir)) return *t;
  }
  const std::string token = api::new_token();
  const fs::path tmp = fs::path(data_dir) / (std::string(kAdminTokenFile) + ".tmp");
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error(tmp.string() + ": cannot create (" + std::strerror(errno) + ")");
  const std::string line = token + "\n";
  bool ok = ::fchmod(fd, 0600) == 0 && ::write(fd, line.data(), line.size()) == ssize_t(line.size()) && ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) err = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error(path.string() + ": cannot write (" + std::strerror(err) + ")");
  }
  return token;
}

int cmd_token_add(const std::optional<std::string>& config_path, const std::string& name, bool admin,
                  const std::vector<std::string>& mailboxes, const std::optional<std::string>& webhook) {
  auto cfg = load(config_path, "token add");
  if (!cfg) return 2;
  if (auto why = queue::UserStore::check_name(name)) return fail("token add", name + ": " + *why, 2);
  std::string why_not;
  if (webhook && !api::parse_webhook_url(*webhook, &why_not)) return fail("token add", "--webhook: " + why_not, 2);
  auto store = users(*cfg, "token add");
  if (!store) return 3;
  const std::string token = api::new_token();
  auto secret = store->add_token(name, admin, mailboxes, api::token_hash(token), api::new_secret());
  if (!secret) return fail("token add", secret.error().message, 1);
  if (webhook) {
    if (auto w = store->set_webhook(name, *webhook); !w) return fail("token add", w.error().message, 1);
  }
  std::cout << "token: " << token << "\nwebhook_secret: " << *secret << "\n";
  return 0;
}

int cmd_token_list(const std::optional<std::string>& config_path) {
  auto cfg = load(config_path, "token list");
  if (!cfg) return 2;
  auto store = users(*cfg, "token list");
  if (!store) return 3;
  auto list = store->list();
  if (!list) return fail("token list", list.error().message, 3);
  for (const auto& u : *list) {
    std::string boxes;
    for (const auto& m : u.mailboxes) boxes += (boxes.empty() ? "" : ",") + m;
    std::cout << u.name << (u.admin ? " admin" : " user") << " tokens=" << u.tokens << " created="
              << queue::format_utc(u.created) << (boxes.empty() ? "" : " mailboxes=" + boxes)
              << (u.webhook_url ? " webhook=" + *u.webhook_url : "") << "\n";
  }
  return 0;
}

int cmd_token_revoke(const std::optional<std::string>& config_path, const std::string& name) {
  auto cfg = load(config_path, "token revoke");
  if (!cfg) return 2;
  auto store = users(*cfg, "token revoke");
  if (!store) return 3;
  auto r = store->revoke(name);
  if (!r) return fail("token revoke", r.error().message, r.error().code == queue::StoreErrc::not_found ? 1 : 3);
  std::cout << "revoked " << name << "\n";
  return 0;
}

}  // namespace app
