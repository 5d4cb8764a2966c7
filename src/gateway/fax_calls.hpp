// fax_calls.hpp — fax call control over SIP trunks: sending a rendered job to a number, and
// receiving the faxes that call in. A call is SIP signalling here plus a media session
// (media_session.hpp: the transport and the fax terminal, on a media thread).
//
// STANDARDS: RFC 3261/3264 through sip/, SDP for fax through sip/fax_sdp.hpp,
// ../shared/specs/t38-sip.md (re-INVITEs without a media change leave the fax alone), ITU-T T.30
// through fax/terminal.hpp, INTERFACES.md ([[trunk]] keys, [fax] station_id/header).
// Outbound: the trunks whose `prefixes` match the number, longest prefix first then in config
// order, each tried in turn on 503, a timeout or no free channel (failover; channel_ledger.hpp);
// INVITE offering T.38 to sip:<number>@<trunk host>, From the trunk's caller_id, digest
// credentials for 401/407, the RFC 3192 /T33S= subaddress sent as the T.30 SUB frame. The result
// names its failure class: busy (486/600), no answer (ring timeout/480/408/487 after our CANCEL),
// invalid number (404/484/604), congestion (503/5xx/no channel/all trunks failed), T.38 refused
// (488/606 or an answer without image/t38), T.30 failure or a partial send (with the pages the far
// end confirmed).
// Inbound: an INVITE from a trunk's host or its accept_from (else 403) and not from a [reject]
// caller (else 603), offering image/t38 (else 488 saying why), gets an inbound job in the store
// BEFORE it is answered (a fax we accept is never unrecorded), then 200 with our T.38 answer, and
// is received into <spool>/in/<job>.tif. The called DID is the Request-URI user (else the To
// user) in E.164 by the trunk's country_code/national_prefix (address/e164.hpp).
// A far end that goes silent is ended by the terminal's idle timeout (15 s); a call that has not
// finished its T.30 session ends with BYE after it. The receiver leaves the hang-up to the sender
// and ends the call itself kHangupGrace after its fax ended.
// THREADS: SIP and call control on the io_context given; media sessions on the media threads;
// store work goes through the Hooks, which post to the store thread and back.
// LIMITS: each trunk's max_channels; media ports from media_port_min..max.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio.hpp>

#include "fax/terminal.hpp"
#include "gateway/channel_ledger.hpp"
#include "gateway/media_session.hpp"
#include "gateway/media_thread.hpp"
#include "media/udptl.hpp"
#include "queue/job_store.hpp"
#include "sip/endpoint.hpp"
#include "sip/fax_sdp.hpp"

namespace gateway {

enum class T38Policy { prefer, only, off };

struct Trunk {
  std::string name;
  sip::Address next_hop;   // the uri's host, resolved
  std::string host_port;   // for Request-URIs: "127.0.0.1:5060"
  T38Policy t38 = T38Policy::prefer;
  udptl::Mode ec = udptl::Mode::redundancy;
  int max_channels = 30;
  std::vector<std::string> prefixes = {"+"};
  std::function<bool(const std::string& ip)> accepts;  // accept_from; the uri's host is always accepted
  std::string caller_id;
  std::string country_code;
  std::string national_prefix;
  int ring_timeout_s = 60;
  std::optional<sip::Credentials> credentials;
  bool register_ = false;  // keep a registration at the uri (aor: username, else caller_id)
};

struct FaxCallsOptions {
  std::vector<Trunk> trunks;
  std::string station_id = "+15550100";
  std::string header;
  std::vector<std::string> reject_callers;  // E.164 prefixes
  int media_port_min = 20000;
  int media_port_max = 29999;
  std::chrono::milliseconds idle_timeout{15000};
};

// How long the receiving side leaves the hang-up to the sender after its fax ended.
inline constexpr std::chrono::seconds kHangupGrace{3};

struct OutboundFax {
  int64_t job_id = 0;
  std::string number;
  std::optional<std::string> subaddress;
  std::string tiff;
  int first_page = 0;  // 0-based: pages before it were confirmed by an earlier call
  // Each page the far end confirms (MCF), with the count so far in this call (io thread): the
  // dispatcher stores it at once, so a crash mid-call resends at most the page in flight.
  std::function<void(int pages)> on_page;
};

enum class Outcome { done, busy, no_answer, invalid_number, congestion, t38_refused, t30_failure, partial, rejected };
std::string_view to_string(Outcome o);

struct CallResult {
  Outcome outcome = Outcome::congestion;
  int sip_status = 0;
  std::string reason;  // one sentence
  std::string trunk;
  int pages_total = 0;
  int pages_sent = 0;  // confirmed by the far end
  int bad_rows = 0;
  std::string remote_ident;
  std::vector<fax::PageResult> pages;
  int seconds = 0;
  int bit_rate = 0;
  bool ecm = false;
};

struct ReceivedFax {
  int64_t job_id = 0;
  std::string path;  // <spool>/in/<job>.tif, absent when no page arrived
  bool success = false;
  int pages = 0;
  int bad_rows = 0;
  std::string remote_ident;
  std::string subaddress;
  std::string reason;
  int bit_rate = 0;
  bool ecm = false;
  int seconds = 0;
  std::string trunk;
};

struct Hooks {
  // Creates the inbound job; calls back on the io thread with its id (nullopt: store failure).
  std::function<void(const queue::NewInbound&, std::function<void(std::optional<int64_t>)>)> create_inbound;
  // The path a received fax goes to.
  std::function<std::string(int64_t job)> received_path;
  // A reception ended (the file, if any, is closed). Called on the io thread: the hook makes the
  // file durable with sync_received() on its own thread before recording it (an fsync per fax
  // on the io thread stalled every other call: hundreds finishing together cost seconds).
  std::function<void(const ReceivedFax&)> received;
};

class FaxCalls final : public sip::CallHandler {
 public:
  FaxCalls(asio::io_context& io, FaxCallsOptions opt, Hooks hooks);
  ~FaxCalls() override;
  void start(const std::vector<sip::ListenSpec>& listen, const sip::TlsFiles& tls = {});
  void stop();  // hangs up every call
  sip::Endpoint& endpoint() { return endpoint_; }

  // Outbound. `done` is called once, on the io thread.
  void send(const OutboundFax& fax, std::function<void(CallResult)> done);
  int free_channels() const;
  // Per trunk, in config order: the prefixes it serves and its free channels now (t38 = off
  // trunks have none). The dispatcher takes a job only if a trunk serving its number has room.
  std::vector<TrunkRoom> room() const;
  // The user cancelled an outbound job: its live call, if any, is hung up (BYE, or CANCEL while
  // ringing) and not failed over; its result still arrives through send()'s callback. Returns
  // whether a call was found.
  bool cancel_job(int64_t job_id);
  size_t active() const { return calls_.size(); }

  // sip::CallHandler
  void on_incoming(sip::CallId call, const sip::Message& invite, const sip::Address& from) override;
  void on_progress(sip::CallId, const sip::Message&) override {}
  void on_answered(sip::CallId call, const sip::Message& answer) override;
  void on_failed(sip::CallId call, int status, const std::string& reason) override;
  void on_confirmed(sip::CallId) override {}
  std::optional<std::string> on_offer(sip::CallId call, const std::string& offer) override;
  void on_ended(sip::CallId call, sip::EndCause cause) override;
  void on_registration(const std::string& aor, int status, const std::string& reason, int expires) override;

 private:
  struct Call;
  void dial(std::shared_ptr<Call> c);
  void next_trunk_or_fail(std::shared_ptr<Call> c, Outcome o, int status, const std::string& reason);
  void finish_outbound(std::shared_ptr<Call> c, CallResult r);
  void finish_inbound(std::shared_ptr<Call> c);
  void answer_inbound(std::shared_ptr<Call> c, int64_t job);
  bool open_media(const std::shared_ptr<Call>& c);
  void start_fax(Call& c, const fax_sdp::RemoteT38& remote, const sdp::T38Params& answered);
  void on_fax_finished(const std::shared_ptr<Call>& c, const fax::Result& r, bool aborted);
  std::string sdp_offer(const Call& c) const;
  std::shared_ptr<Call> find(sip::CallId id);
  void forget(const std::shared_ptr<Call>& c);
  void release_channel(Call& c);

  asio::io_context& io_;
  FaxCallsOptions opt_;
  Hooks hooks_;
  sip::Endpoint endpoint_;
  ChannelLedger ledger_;
  PortRange ports_;
  MediaThread media_thread_;
  std::map<sip::CallId, std::shared_ptr<Call>> calls_;
  bool stopped_ = false;
};

// fsync of a received fax and its directory (blocking: never on an io thread).
void sync_received(const std::string& path);

}  // namespace gateway
