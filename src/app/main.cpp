// main.cpp — the `faxbridge` command line (INTERFACES.md, "CLI").
//
// Commands in this build:
//   serve [--config FILE] [--print-default-config]   the gateway (app/serve.hpp)
//   convert [--resolution R] [--compression C] [--paper P] [--type MIME] [--charset NAME]
//           [--header TEXT] [--cover ask|always|never] [--cover-to NUMBERS]
//           -o OUT INPUT...                      documents to one TIFF-F or PDF
//   inspect FILE                                 describe a TIFF as JSON
//   address STRING                               an RFC 3191/3192 fax address as JSON
//   jobs [--json], job ID [--json], cancel ID    the queue, through the HTTP API (--server URL, --token T)
//   token add NAME [--admin] [--mailbox ADDR]... [--webhook URL], token list, token revoke NAME
//                                                                               API users (--config FILE)
// convert exit codes: 0 done; 2 usage; 3 unsupported input type; 4 corrupt input; 5 over a
// limit. Usage errors and every failure are one line on stderr naming the input.
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>

#include "address/fax_address.hpp"
#include "app/client.hpp"
#include "app/store_cli.hpp"
#include "app/tokens.hpp"
#include "app/config.hpp"
#include "app/convert.hpp"
#include "app/render_server.hpp"
#include "app/serve.hpp"
#include "imaging/tiff_f.hpp"

namespace {

int error_line(const std::string& cmd, const std::string& msg, int code) {
  std::cerr << "faxbridge " << cmd << ": " << msg << "\n";
  return code;
}

int cmd_convert(app::ConvertRequest& req, const std::string& res, const std::string& comp,
                const std::string& paper, const std::string& cover) {
  if (cover == "ask") req.cover = app::ConvertRequest::Cover::ask;
  else if (cover == "always") req.cover = app::ConvertRequest::Cover::always;
  else if (cover == "never") req.cover = app::ConvertRequest::Cover::never;
  else return error_line("convert", "--cover must be ask, always or never, not \"" + cover + "\"", 2);
  for (char c : req.cover_to) {
    if (static_cast<unsigned char>(c) < 0x20) return error_line("convert", "--cover-to must be one line", 2);
  }
  if (!imaging::parse_resolution(res, req.render.resolution)) {
    return error_line("convert", "--resolution must be standard, fine or superfine, not \"" + res + "\"", 2);
  }
  if (!imaging::parse_coding(comp, req.coding)) {
    return error_line("convert", "--compression must be mh, mr or mmr, not \"" + comp + "\"", 2);
  }
  if (!imaging::parse_paper(paper, req.render.paper)) {
    return error_line("convert", "--paper must be auto, a4, letter or legal, not \"" + paper + "\"", 2);
  }
  app::SandboxOutcome pre = app::check_convert(req);
  if (pre.code != 0) return error_line("convert", pre.message, pre.code);
  app::SandboxOutcome out = app::convert_in_jail(req);
  if (out.code != 0) {
    // Limits reported by the sandbox name no input: name them all.
    std::string msg = out.message;
    bool named = false;
    for (const auto& in : req.inputs) named = named || msg.find(in) != std::string::npos;
    if (!named) msg = (req.inputs.size() == 1 ? req.inputs[0] : std::string("the inputs")) + ": " + msg;
    return error_line("convert", msg, out.code);
  }
  return 0;
}

int cmd_inspect(const std::string& file) {
  if (::access(file.c_str(), R_OK) != 0) return error_line("inspect", file + ": cannot be read", 2);
  auto info = imaging::inspect_tiff(file);
  if (!info) return error_line("inspect", info.error().message, int(info.error().code));
  std::cout << imaging::to_json(*info) << "\n";
  return 0;
}

int cmd_address(const std::string& text) {
  auto a = address::parse_fax_address(text);
  if (!a) return error_line("address", text + ": " + a.error().reason, 1);
  nlohmann::json j = {{"number", a->number},
                      {"subaddress", a->subaddress ? nlohmann::json(*a->subaddress) : nlohmann::json(nullptr)},
                      {"domain", a->domain}};
  std::cout << j.dump() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"faxbridge — Internet fax gateway (mail to fax, fax to mail)", "faxbridge"};
  cli.require_subcommand(1);

  app::ConvertRequest req;
  std::string res = "fine", comp = "mh", paper = "auto", cover = "ask";
  auto* convert = cli.add_subcommand("convert", "render documents to fax pages (TIFF-F or PDF)");
  convert->add_option("--resolution", res, "standard | fine | superfine");
  convert->add_option("--compression", comp, "mh | mr | mmr (TIFF output)");
  convert->add_option("--paper", paper, "auto | a4 | letter | legal");
  convert->add_option("--type", req.type, "MIME type of the inputs (default: from the name or content)");
  convert->add_option("--charset", req.render.charset, "charset of text inputs (default UTF-8)");
  convert->add_option("--header", req.header, "fax header line above each page");
  convert->add_option("--cover", cover,
                      "cover page: ask (when a mail says X-Fax-Cover: yes) | always (unless it says no) | never");
  convert->add_option("--cover-to", req.cover_to, "the fax numbers the cover page names");
  convert->add_option("-o,--output", req.output, "output file: .tif or .pdf")->required();
  convert->add_option("--time-limit", req.limits.wall_seconds, "wall-clock seconds for the conversion");
  convert->add_option("--memory-limit-mb", req.limits.memory_bytes, "address space of the converter, MiB")
      ->transform([](std::string s) { return std::to_string(std::stoull(s) << 20); });
  convert->add_option("--jail-hide", req.jail_hide, "a directory the renderer must not see (the daemon's data)")
      ->group("");  // internal: what the daemon passes
  convert->add_option("INPUT", req.inputs, "documents, in order")->required();

  std::vector<std::string> server_hide;
  auto* render_srv = cli.add_subcommand("render-server", "the converter's warm render server (started by serve)");
  render_srv->group("");  // internal: serve starts it with its socket at descriptor 3
  render_srv->add_option("--jail-hide", server_hide, "a directory the renderer must not see");

  std::string inspect_file;
  auto* inspect = cli.add_subcommand("inspect", "describe a TIFF file as JSON");
  inspect->add_option("FILE", inspect_file, "the TIFF")->required();

  std::optional<std::string> config_path;
  bool print_default = false;
  auto* serve = cli.add_subcommand("serve", "run the gateway (the embedded default config without --config)");
  serve->add_option("--config", config_path, "TOML configuration file");
  serve->add_flag("--print-default-config", print_default, "print the embedded default configuration and exit");

  std::string address_text;
  auto* addr = cli.add_subcommand("address", "parse an e-mail address as a fax address (RFC 3191/3192)");
  addr->add_option("STRING", address_text, "the address")->required();

  app::Remote remote;
  std::optional<std::string> token_flag;
  std::string job_id;
  bool json = false;
  auto remote_options = [&](CLI::App* c) {
    c->add_option("--server", remote.server, "the node's HTTP API");
    c->add_option("--token", token_flag, "API token (else $FAXBRIDGE_TOKEN, else the node's admin.token)");
    c->add_option("--config", config_path, "the node's config: where its admin.token is");
  };
  auto* jobs = cli.add_subcommand("jobs", "list the jobs of a running node");
  jobs->add_flag("--json", json, "JSON array");
  remote_options(jobs);
  auto* job = cli.add_subcommand("job", "show one job");
  job->add_option("ID", job_id, "job id")->required();
  job->add_flag("--json", json, "JSON object");
  remote_options(job);
  auto* cancel = cli.add_subcommand("cancel", "cancel a job");
  cancel->add_option("ID", job_id, "job id")->required();
  remote_options(cancel);
  std::vector<std::string> send_to, send_files;
  bool no_wait = false;
  auto* send = cli.add_subcommand("send", "send documents as a fax through a running node, and follow it");
  send->add_option("--to", send_to, "a fax number (E.164, optional /T33S=subaddress); repeat for more")
      ->required()
      ->allow_extra_args(false);
  send->add_option("FILE", send_files, "documents: PDF, images, TIFF, text, Office, HTML")->required();
  send->add_flag("--no-wait", no_wait, "print the job ids and return");
  remote_options(send);

  std::string token_name;
  bool token_admin = false;
  std::vector<std::string> token_mailboxes;
  auto* token = cli.add_subcommand("token", "API users and their tokens, in the store");
  token->require_subcommand(1);
  auto* token_add = token->add_subcommand("add", "create a token (and its user); prints it once");
  token_add->add_option("NAME", token_name, "user name")->required();
  token_add->add_flag("--admin", token_admin, "the user sees and may change every job");
  token_add->add_option("--mailbox", token_mailboxes, "a mailbox whose received faxes the user sees");
  std::optional<std::string> token_webhook;
  token_add->add_option("--webhook", token_webhook, "an http(s) URL told of each fax received for the user's mailboxes");
  token_add->add_option("--config", config_path, "TOML configuration file (where the store is)");
  auto* token_list = token->add_subcommand("list", "list the users and how many tokens each has");
  token_list->add_option("--config", config_path, "TOML configuration file (where the store is)");
  auto* token_revoke = token->add_subcommand("revoke", "revoke every token of a user (and the user)");
  token_revoke->add_option("NAME", token_name, "user name")->required();
  token_revoke->add_option("--config", config_path, "TOML configuration file (where the store is)");

  std::string copy_from, copy_to;
  std::optional<std::string> copy_spool;
  auto* store_cmd = cli.add_subcommand("store", "the job store");
  store_cmd->require_subcommand(1);
  auto* store_copy = store_cmd->add_subcommand("copy", "copy a node's SQLite store and its spool's files into PostgreSQL");
  store_copy->add_option("--from", copy_from, "the source: sqlite:PATH (its node stopped)")->required();
  store_copy->add_option("--to", copy_to, "the target: postgresql://... (may hold other nodes' jobs)")->required();
  store_copy->add_option("--spool", copy_spool, "the source's spool directory (default: spool beside the database)");

  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return cli.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return cli.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string where = cli.get_subcommands().empty() ? "" : cli.get_subcommands().front()->get_name();
    std::cerr << "faxbridge" << (where.empty() ? "" : " " + where) << ": " << e.what() << "\n";
    return 2;
  }
  if (serve->parsed()) {
    if (print_default) {
      std::cout << config::embedded_default_toml();
      return 0;
    }
    return app::serve(config_path);
  }
  if (addr->parsed()) return cmd_address(address_text);
  if (jobs->parsed() || job->parsed() || cancel->parsed() || send->parsed()) {
    remote.token = app::find_token(token_flag, config_path, remote.server);
  }
  if (send->parsed()) return app::cmd_send(remote, send_to, send_files, no_wait);
  if (jobs->parsed()) return app::cmd_jobs(remote, json);
  if (job->parsed()) return app::cmd_job(remote, job_id, json);
  if (cancel->parsed()) return app::cmd_cancel(remote, job_id);
  if (token_add->parsed()) return app::cmd_token_add(config_path, token_name, token_admin, token_mailboxes, token_webhook);
  if (token_list->parsed()) return app::cmd_token_list(config_path);
  if (token_revoke->parsed()) return app::cmd_token_revoke(config_path, token_name);
  if (store_copy->parsed()) return app::cmd_store_copy(copy_from, copy_to, copy_spool);
  if (convert->parsed()) return cmd_convert(req, res, comp, paper, cover);
  if (inspect->parsed()) return cmd_inspect(inspect_file);
  if (render_srv->parsed()) return app::render_server(app::kRenderServerFd, server_hide);
  return 2;
}
