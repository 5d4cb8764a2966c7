// fax_calls.hpp — fax call control over SIP trunks: sending a rendered job to a number, and
// receiving the faxes that call in, whether the call carries T.38 or G.711 audio. A call is SIP
// signalling here plus a media session (media_session.hpp: the transport and the fax terminal, on
// one of the media threads).
//
// STANDARDS: RFC 3261/3264 through sip/, RFC 3515 (REFER) for shared voice/fax numbers, SDP for
// fax through sip/fax_sdp.hpp, ../shared/specs/t38-sip.md, ITU-T T.30 through fax/terminal.hpp,
// INTERFACES.md ([[trunk]] t38/codecs, [fax] detect_s, [[route]] voice_uri, the job's `media` and
// `detected_by`).
// Per trunk, `t38` decides (../shared/specs/t38-sip.md, "Negotiation rules"):
//   prefer  calls start as audio (PCMU/PCMA, red, telephone-event offered). When the fax shows
//           itself (CNG, CED/ANSam or V.21 flags heard, an RFC 4733 fax event) we re-INVITE to
//           T.38 — the caller after kCallerReinviteDelay, to let the answerer go first and spare a
//           glare; a peer's T.38 re-INVITE is accepted. Refused (488/606), unanswered, or failing
//           before T.30 phase B, the fax goes on over G.711 (back by re-INVITE when T.38 had been
//           accepted) and the destination is remembered (t38_memory.hpp): its next call stays on
//           audio and says why. One T.38 attempt per call. An INVITE offering T.38 gets T.38.
//   only    the first INVITE offers T.38 alone; an audio call from a peer is re-INVITEd to T.38 at
//           once and a refusal ends it ("T.38 refused"); never a fax on audio.
//   off     audio only: our offers carry no T.38, a T.38 offer (INVITE or re-INVITE) gets 488.
// Outbound: the trunks whose `prefixes` match the number, longest prefix first then in config
// order, each tried in turn on 503, a timeout or no free channel (failover; channel_ledger.hpp),
// a trunk whose OPTIONS pings go unanswered skipped until it answers again; a 3xx is followed to
// its Contacts (up to kMaxRedirects, on the same trunk: its credentials, policy and channel);
// INVITE to sip:<number>@<trunk host>, From the trunk's caller_id, digest credentials for 401/407,
// the RFC 3192 /T33S= subaddress sent as the T.30 SUB frame. The result names its failure class:
// busy (486/600), no answer (ring timeout/480/408/487 after our CANCEL), invalid number
// (404/484/604), congestion (503/5xx/no channel/all trunks failed), T.38 refused (488/606 or an
// answer without a stream we can carry), T.30 failure or a partial send (with the pages the far
// end confirmed).
// SIP toward the Internet: requests from no trunk's host or accept_from are refused before any
// state (sip/front_door.hpp); [sip] advertise is written in Via, Contact and SDP; media latches
// to where it really comes from (media_session.hpp). The trunk's credentials also answer
// challenges to our in-dialog requests (an SBC challenging BYE). Outbound calls assert the caller
// id (P-Asserted-Identity); inbound, a trunk's P-Asserted-Identity names the caller, and
// Privacy: id keeps it out of the fax's record.
// An INVITE without SDP (delayed offer) gets our offer in the 200 (T.38 for a trunk that takes
// only T.38, else audio) and the fax starts on the ACK's answer.
// Inbound: an INVITE from a trunk's host or its accept_from (else 403) and not from a [reject]
// caller (else 603), with a stream the trunk's policy takes (else 488 saying why), gets an inbound
// job in the store BEFORE it is answered (a fax we accept is never unrecorded), then 200, and is
// received into <spool>/in/<job>.tif. The called DID is the Request-URI user (else the To user)
// in E.164 by the trunk's country_code/national_prefix (address/e164.hpp). An audio call to a
// fax-only number is answered as a fax machine answers (CED, then DIS: detected_by `answered`).
// Shared voice/fax numbers: when the DID's route names a voice_uri, an audio call is answered and
// listened to; a fax sign within detect_s makes it a fax (detected_by tone, rfc4733 or reinvite);
// without one it is a voice call, transferred there by REFER. A transferred call leaves no job
// (hooks.discard_inbound); a refused transfer ends the call and the route's mailbox gets a
// missed-call notice (the job ends with outcome `voice`, never as a failed fax).
// A re-INVITE that keeps the media (a session refresh, a moved address, hold) leaves the fax
// alone; one that changes it after T.30 phase B restarts T.30, which the result says (restarts).
// A receiver refuses a change of media once a page has arrived (488): its file is never begun twice.
// A far end that goes silent is ended by the terminals' idle timeout; a call that has not finished
// its T.30 session ends with BYE after it. The receiver leaves the hang-up to the sender and ends
// the call itself kHangupGrace after its fax ended.
// THREADS: SIP and call control on the io_context given; media sessions on the media threads
// ([sip] media_threads, media_thread.hpp); store work goes through the Hooks, which post to the
// store thread and back.
// DIAGNOSTICS: registrations on stderr; the rest through the results and the job's events.
// LIMITS: each trunk's max_channels; media ports from media_port_min..max; one T.38 attempt a call.
#pragma once

#include <chrono>
#include <functional>
#include <deque>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio.hpp>

#include "fax/terminal.hpp"
#include "gateway/channel_ledger.hpp"
#include "gateway/media_session.hpp"
#include "gateway/media_thread.hpp"
#include "gateway/page_writer.hpp"
#include "gateway/t38_memory.hpp"
#include "gateway/trunk_addresses.hpp"
#include "media/udptl.hpp"
#include "queue/job_store.hpp"
#include "sip/endpoint.hpp"
#include "sip/fax_sdp.hpp"

namespace gateway {

enum class T38Policy { prefer, only, off };

struct Trunk {
  std::string name;
  sip::Uri uri;            // where calls go: located by RFC 3263 (trunk_addresses.hpp)
  sip::Location location;  // as found at start-up (empty, with its error, when DNS gave nothing)
  std::string host_port;   // for Request-URIs: "127.0.0.1:5060"
  T38Policy t38 = T38Policy::prefer;
  udptl::Mode ec = udptl::Mode::redundancy;
  int max_channels = 30;
  // New calls a second at most (0: no limit). Carriers refuse INVITEs beyond their contracted rate,
  // and calls that all start together all reach their page ends together (bench/calls): a
  // trunk's INVITEs go out at least 1/calls_per_second apart, in the order they were dialled,
  // each waiting call holding its channel.
  int calls_per_second = 20;
  std::vector<std::string> prefixes = {"+"};
  std::function<bool(const std::string& ip)> accepts;  // accept_from; the uri's host is always accepted
  std::string caller_id;
  std::string country_code;
  std::string national_prefix;
  int ring_timeout_s = 60;
  std::optional<sip::Credentials> credentials;
  bool register_ = false;  // keep a registration at the uri (aor: username, else caller_id)
  std::vector<fax_sdp::Codec> codecs = {fax_sdp::Codec::pcmu, fax_sdp::Codec::pcma};  // offered/accepted, in order
  std::string host;            // the uri's host as written (a name: checked in its TLS certificate, sent as SNI)
  int options_interval_s = 0;  // OPTIONS health pings (0: off)
  int t38_max_datagram = 0;    // our UDPTL datagrams to it at most this large (0: as its SDP says)
  bool latch_media = true;     // symmetric latching (media_session.hpp); false: asymmetric RTP
  bool removed = false;        // gone from the configuration at a reload: no new call (reload_trunks)
};

// A trunk's health as its OPTIONS pings tell it: down after one that got no answer at all (any
// response, 4xx/5xx included, means something is there), up again at the next answer.
inline constexpr int kMaxRedirects = 5;  // 3xx targets followed per call

struct FaxCallsOptions {
  std::vector<Trunk> trunks;
  std::string station_id = "+15550100";
  bool t30_trace = false;  // [log] t30_trace: spandsp's T.30 trace of every call on stderr
  std::string header;
  std::vector<std::string> reject_callers;  // E.164 prefixes
  int media_port_min = 20000;
  int media_port_max = 29999;
  int media_threads = 0;  // 0: one per core
  std::chrono::milliseconds idle_timeout{15000};
  std::chrono::seconds detect{8};  // [fax] detect_s: how long a call to a shared number may show no fax sign
  int64_t t38_memory_s = 86400;    // how long a destination's T.38 failure is remembered (0: never)
  int t38_memory_digits = 0;       // the remembered prefix's digits (0: the whole number)
  std::string advertise;     // [sip] advertise: Via, Contact ("" = the bound address)
  std::string advertise_ip; // the same as an IP address, for SDP ("" = the bound or routed address)
  sip::UnknownSources unknown_sources = sip::UnknownSources::reject;
  // Why received faxes cannot be stored now ([node] min_free_mb), if so: inbound calls get 503.
  std::function<std::optional<std::string>()> storage_low;
  // [fax] max_inbound_pages, max_inbound_call_s: an inbound call past either is cut (the fax
  // aborted, the call hung up), the pages received so far kept and delivered as incomplete with
  // the cap as the reason. 0: no cap.
  int max_inbound_pages = 0;
  std::chrono::seconds max_inbound_call{0};
  // Whether an INVITE from `ip` may carry an Exchange UM referral ([exchange] servers); empty: none may.
  std::function<bool(const std::string& ip)> exchange_server;
  // Whether an E.164 number has a [[route]] of its own (a diverted call is routed by the number
  // it was first dialled to when that has one: RFC 5806 Diversion).
  std::function<bool(const std::string& did)> routed;
  // The voice_uri of the route of an inbound DID (a shared voice/fax number), if any.
  std::function<std::optional<std::string>(const std::string& did)> voice_uri;
};

// The calling side waits this long after it recognised a fax before it re-INVITEs to T.38: the
// answering side, which heard the CNG earlier, usually asks first (no glare, one negotiation).
inline constexpr std::chrono::milliseconds kCallerReinviteDelay{1500};
// Attempts to send our T.38 re-INVITE while the dialog is busy with another (1 s apart).
inline constexpr int kT38OfferRetries = 5;
// A REFER accepted (202) whose final NOTIFY does not come within this long counts as done
// (RFC 5589 lets the transferor hang up; FreeSWITCH waits 10 s too).
inline constexpr std::chrono::seconds kReferWait{10};

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

// not_allowed: the dialling policy refuses the number (re-checked when a job is dialled).
enum class Outcome { done, busy, no_answer, invalid_number, congestion, t38_refused, t30_failure, partial, rejected, not_allowed };
std::string_view to_string(Outcome o);

// What a call carried (INTERFACES.md `media`): "t38", "pcmu", "pcma", "pcmu+t38", "pcma+t38".
// What made it a fax (`detected_by`): "offer", "reinvite", "rfc4733", "tone", "answered".
struct CallMedia {
  std::string media;
  std::string detected_by;
  int restarts = 0;          // T.30 restarted after phase B by a media switch
  std::string note;          // why the call stayed on audio, a fallback, ... ("" none)
  std::string stats;         // the audio stream's figures
};

struct CallResult {
  Outcome outcome = Outcome::congestion;
  CallMedia media;
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
  CallMedia media;
  bool voice = false;  // a voice call to a shared number that could not be transferred
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
  std::vector<fax::PageResult> page_results;  // as T.30 completed each page
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
  // A page of a reception was appended to its file (`bytes`: the file now, a readable TIFF).
  // Called on the page writer's thread; unset, nothing is done (page_writer.hpp on_appended).
  std::function<void(const std::string& path, std::string bytes)> page_appended;
  // A voice call to a shared number was transferred to its voice_uri: the job made for it goes
  // (the call was never a fax); `seconds` for the accounting record.
  std::function<void(int64_t job, const std::string& trunk, const std::string& voice_uri, const std::string& media,
                     int seconds)>
      discard_inbound;
};

class FaxCalls final : public sip::CallHandler {
 public:
  FaxCalls(asio::io_context& io, FaxCallsOptions opt, Hooks hooks);
  ~FaxCalls() override;
  void start(const std::vector<sip::ListenSpec>& listen, const sip::TlsFiles& tls = {});
  void stop();  // hangs up every call, stops the media threads
  sip::Endpoint& endpoint() { return endpoint_; }

  // Outbound. `done` is called once, on the io thread.
  void send(const OutboundFax& fax, std::function<void(CallResult)> done);
  int free_channels() const;
  // A trunk's channels across the nodes of a shared store (channel_grants.hpp). use_grants():
  // from now on calls start only within this node's grant per trunk (none until set_granted).
  // want_channel, when set: an inbound call that finds its trunk full here asks for more and
  // tries again when `then` runs (io thread), told how the asking went: synced (no room still:
  // 486, the trunk is full), store_unavailable (no room: 503 with Retry-After, as for any call
  // the store cannot take) or stopping (503). Unset, the call gets 486 at once.
  void use_grants() { ledger_.use_grants(); }
  void set_granted(size_t trunk, int granted) { ledger_.set_granted(trunk, granted); }
  struct Channels {
    std::string trunk;
    int max = 0;
    int in_use = 0;
    std::optional<int> granted;
    bool removed = false;  // gone from the configuration: its live calls only
  };
  std::vector<Channels> channels() const;  // per trunk, in config order (io thread)
  enum class ChannelAnswer { synced, store_unavailable, stopping };
  std::function<void(size_t trunk, std::function<void(ChannelAnswer)> then)> want_channel;
  // Per trunk, in config order: the prefixes it serves and its free channels now. The dispatcher
  // takes a job only if a trunk serving its number has room.
  std::vector<TrunkRoom> room() const;
  // The user cancelled an outbound job: its live call, if any, is hung up (BYE, or CANCEL while
  // ringing) and not failed over; its result still arrives through send()'s callback. Returns
  // whether a call was found.
  bool cancel_job(int64_t job_id);
  size_t active() const { return calls_.size(); }
  // Destinations where T.38 did not work (io thread).
  std::vector<T38Memory::Entry> t38_memory() const;
  struct TrunkState {
    std::string name;
    std::string t38;  // prefer | only | off
    int channels_in_use = 0;
    int max_channels = 0;
    std::string state = "up";  // up | down (OPTIONS unanswered, or no address)
    std::string state_reason;  // why it is down
    std::vector<std::string> addresses;  // its uri's RFC 3263 location: "192.0.2.1:5060/UDP"
    std::string dns_error;               // the last lookup's failure ("" when it worked)
    std::vector<std::string> down_addresses;  // those whose OPTIONS went unanswered
    std::optional<int> channels_granted;      // on a shared store: this node's grant (channel_grants.hpp)
  };
  std::vector<TrunkState> trunks() const;
  // Whether `ip` is one of the trunks' hosts or accept_from (the SIP front door lets it in).
  bool trusted(const std::string& ip) const;

  // SIGHUP (io thread; fax_calls_reload.cpp): the trunks as the configuration now says, matched
  // by name. A new trunk is added (located, registered and pinged like one from the start); a
  // trunk still there takes its new settings (channels, prefixes, T.38, codecs, pacing, caller
  // id, timers...) except its uri, credentials and registration, which stay as they were until a
  // restart; a trunk gone takes no new call, its live calls going on (its pings, lookups and
  // registration stop; it leaves the trunks list once its last call is over). No live call is touched.
  // Returns one line per change, and per setting not reloaded, for the log.
  std::vector<std::string> reload_trunks(std::vector<Trunk> trunks);
  // SIGHUP (io thread): the routes' DIDs and voice_uris (FaxCallsOptions::routed, voice_uri).
  void set_routing(std::function<bool(const std::string&)> routed,
                   std::function<std::optional<std::string>(const std::string&)> voice_uri);

  // sip::CallHandler
  void on_incoming(sip::CallId call, const sip::Message& invite, const sip::Address& from) override;
  void on_progress(sip::CallId, const sip::Message&) override {}
  void on_answered(sip::CallId call, const sip::Message& answer) override;
  void on_failed(sip::CallId call, int status, const std::string& reason) override;
  void on_confirmed(sip::CallId call) override;
  void on_ack_answer(sip::CallId call, const std::string& sdp) override;
  std::optional<std::string> on_offer(sip::CallId call, const std::string& offer) override;
  void on_reinvite_result(sip::CallId call, const sip::Message& r) override;
  void on_refer_result(sip::CallId call, int status) override;
  void on_notify(sip::CallId call, const sip::Message& notify) override;
  void on_ended(sip::CallId call, sip::EndCause cause) override;
  void on_registration(const std::string& aor, int status, const std::string& reason, int expires) override;

 private:
  struct Call;
  void dial(std::shared_ptr<Call> c);
  void invite(std::shared_ptr<Call> c);
  void run_pace(size_t trunk);
  void drop_waiting(std::shared_ptr<Call> c, const std::string& why);
  void next_trunk_or_fail(std::shared_ptr<Call> c, Outcome o, int status, const std::string& reason);
  void finish_outbound(std::shared_ptr<Call> c, CallResult r);
  void finish_inbound(std::shared_ptr<Call> c);
  void cut_inbound(const std::shared_ptr<Call>& c, const std::string& why);
  void answer_inbound(std::shared_ptr<Call> c, int64_t job);
  void create_inbound(const std::shared_ptr<Call>& c, sip::CallId id, const queue::NewInbound& in);
  bool open_media(const std::shared_ptr<Call>& c, const std::string& peer_ip);
  void begin_inbound(const std::shared_ptr<Call>& c, const std::optional<fax_sdp::RemoteT38>& image,
                     const std::optional<fax_sdp::RemoteAudio>& audio, bool answered_t38, const sdp::T38Params& ours);
  bool redirect(const std::shared_ptr<Call>& c);
  bool next_address(const std::shared_ptr<Call>& c, const std::string& why);
  void addresses_changed(size_t trunk);
  void register_trunk(size_t trunk);
  void move_registration(size_t trunk, const sip::Address& hop);
  std::string aor_user(const Trunk& t) const;
  void ping(size_t trunk);
  void update_health(size_t trunk);
  void forget_health(size_t trunk);  // pings stop: the trunk's down marks go (fax_calls_reload.cpp)
  fax::Options fax_options(const Call& c) const;
  void start_t38(Call& c, const fax_sdp::RemoteT38& remote, const sdp::T38Params& agreed, uint16_t port);
  void start_audio(Call& c, const fax_sdp::RemoteAudio& remote, bool with_fax, uint16_t port);
  audio::StreamConfig stream_config(const Call& c, const fax_sdp::RemoteAudio& remote) const;
  void begin_fax(Call& c);
  bool wants_signs(const Call& c) const;
  void on_fax_finished(const std::shared_ptr<Call>& c, const FaxOutcome& out);
  void report_fax_end(const std::shared_ptr<Call>& c, const FaxOutcome& out);
  void end_for_t38(const std::shared_ptr<Call>& c, const std::string& why);
  void on_detected(const std::shared_ptr<Call>& c, const Detection& d);
  void fax_recognised(const std::shared_ptr<Call>& c, const std::string& by, const std::string& what);
  void offer_t38(const std::shared_ptr<Call>& c);
  void fall_back_to_audio(const std::shared_ptr<Call>& c, const std::string& why);
  void voice_timeout(const std::shared_ptr<Call>& c);
  void on_confirmed_call(const std::shared_ptr<Call>& c);
  void transfer_done(const std::shared_ptr<Call>& c, bool ok, const std::string& why);
  std::optional<std::string> answer_reoffer(const std::shared_ptr<Call>& c, const sdp::Session& offer);
  fax_sdp::Origin origin(Call& c, uint16_t port);
  std::string sdp_offer(Call& c);
  std::shared_ptr<Call> find(sip::CallId id);
  void forget(const std::shared_ptr<Call>& c);
  void release_channel(Call& c);
  int64_t unix_now() const;

  asio::io_context& io_;
  FaxCallsOptions opt_;
  Hooks hooks_;
  sip::Endpoint endpoint_;
  ChannelLedger ledger_;
  PortRange ports_;
  MediaPool media_;
  PageWriter pages_;
  T38Memory memory_;
  std::map<sip::CallId, std::shared_ptr<Call>> calls_;
  // Per trunk: calls waiting for their turn under calls_per_second, and when the next may go.
  struct Pace {
    explicit Pace(asio::io_context& io) : timer(io) {}
    std::deque<std::shared_ptr<Call>> waiting;
    asio::steady_timer timer;
    std::chrono::steady_clock::time_point next{};
    bool armed = false;
  };
  std::vector<std::unique_ptr<Pace>> pace_;
  struct Health {
    explicit Health(asio::io_context& io) : timer(io) {}
    asio::steady_timer timer;
    bool down = false;  // every address silent
    std::string reason;
    std::string last_silence;          // why the last silent address was
    std::set<sip::Address> pending;    // addresses whose OPTIONS is out
  };
  std::vector<std::unique_ptr<Health>> health_;
  TrunkAddresses addresses_;
  std::vector<bool> registered_;  // per trunk: its registration was started
  std::vector<std::optional<sip::Address>> reg_hop_;  // per trunk: where it registers now
  bool stopped_ = false;
};

// fsync of a received fax and its directory (blocking: never on an io thread).
void sync_received(const std::string& path);

}  // namespace gateway
