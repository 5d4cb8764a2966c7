// office.cpp — LibreOffice headless conversion to PDF (see office.hpp).
#include "imaging/office.hpp"
#include "imaging/office_links.hpp"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace imaging {
namespace fs = std::filesystem;

namespace {

std::string find_soffice() {
  for (const char* p : {"/usr/bin/soffice", "/usr/lib/libreoffice/program/soffice", "/usr/local/bin/soffice"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return {};
}

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "faxbridge-office-XXXXXX").string();
    if (::mkdtemp(tmpl.data())) path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

// Runs argv in its own process group; kills the group at the deadline. Returns the exit
// status, or -1 on timeout.
int run_with_timeout(const std::vector<std::string>& argv, const fs::path& cwd, int timeout_s) {
  pid_t pid = ::fork();
  if (pid < 0) return -2;
  if (pid == 0) {
    ::setpgid(0, 0);
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    int devnull = ::open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      ::dup2(devnull, 0);
      ::dup2(devnull, 1);
      ::dup2(devnull, 2);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::setenv("HOME", cwd.c_str(), 1);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(-pid, SIGKILL);  // helpers LibreOffice may have left in the group
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

bool office_available() { return !find_soffice().empty(); }

Result<std::string> office_to_pdf(std::string_view bytes, const std::string& ext, const std::string& label,
                                  int timeout_s) {
  std::string soffice = find_soffice();
  if (soffice.empty()) {
    return make_error(Errc::unsupported, label + ": Office documents need LibreOffice, which is not installed");
  }
  // Links out of the document (images, frames, templates on a server or in a file) go before
  // LibreOffice sees it (office_links.hpp).
  auto unlinked = strip_external_links(bytes, ext, label);
  if (!unlinked) return unlinked.error();
  TempDir dir;
  if (dir.path.empty()) return make_error(Errc::usage, label + ": cannot create a temporary directory");
  fs::path in = dir.path / ("document." + ext);
  {
    std::ofstream f(in, std::ios::binary);
    f.write(unlinked->bytes.data(), std::streamsize(unlinked->bytes.size()));
    if (!f) return make_error(Errc::usage, label + ": cannot write a temporary file");
  }
  fs::create_directories(dir.path / "out");
  std::vector<std::string> argv = {soffice,
                                   "-env:UserInstallation=file://" + (dir.path / "profile").string(),
                                   "--headless",
                                   "--invisible",
                                   "--nologo",
                                   "--norestore",
                                   "--nolockcheck",
                                   "--convert-to",
                                   "pdf",
                                   "--outdir",
                                   (dir.path / "out").string(),
                                   in.string()};
  int rc = run_with_timeout(argv, dir.path, timeout_s);
  if (rc == -1) {
    return make_error(Errc::limit, label + ": LibreOffice did not finish within " + std::to_string(timeout_s) + " s");
  }
  fs::path out = dir.path / "out" / "document.pdf";
  std::ifstream f(out, std::ios::binary);
  if (!f) {
    return make_error(Errc::corrupt, label + ": LibreOffice could not read the document (exit " +
                                         std::to_string(rc) + ")");
  }
  std::string pdf((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (pdf.size() < 8) return make_error(Errc::corrupt, label + ": LibreOffice produced an empty PDF");
  return pdf;
}

}  // namespace imaging
