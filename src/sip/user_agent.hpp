// user_agent.hpp — the SIP user agent of a fax endpoint: calls (INVITE sessions and their
// dialogs), UAC and UAS, over the transaction layer; sans I/O.
//
// STANDARDS: RFC 3261 §12 (dialogs: route set, remote target, CSeq; §12.1.1 the INVITE's
// Record-Route copied into our 1xx/2xx), §13 (INVITE: 2xx
// retransmitted by the UAS until the ACK, ACK of a 2xx by the UAC, §13.3.1.4), §9 (CANCEL: sent
// after a provisional, answered 200 then 487), §15 (BYE), §14 (re-INVITE, 491 glare and the retry
// intervals of §14.1), §22 (401/407 answered once per challenge with digest.hpp), §11 (OPTIONS),
// §8.2.2 (405 for methods we know and refuse, 501 for unknown ones, 415, 420 with Unsupported,
// 481, 482 for a merged request §8.2.2.2, 483), §9.1 (an INVITE given up 64*T1 after our CANCEL),
// §13.2.2.4 (a forked second 2xx ACKed, then ended with BYE), §13.2.1 (delayed offer: an INVITE
// without SDP gets our offer in the 2xx, the ACK's answer goes to the handler), §22 also for our
// in-dialog requests (BYE, re-INVITE, UPDATE, REFER, NOTIFY) with the call's credentials, §18.1.1
// (an INVITE over 1300 bytes goes over TCP when we listen on it), RFC 3262 (100rel: Supported;
// a reliable provisional PRACKed, its SDP kept as the answer when the 2xx has none; a caller's
// Require: 100rel gets our 180 reliably, retransmitted until its PRACK, which our 2xx waits
// for), RFC 3311 (UPDATE, UAS
// side), RFC 4028 (Session-Expires: the refresher chosen by §9 (uac when the caller supports
// timers, else us, and Require: timer only to a caller that supports it); 422 with Min-SE below
// 90 s; the refresher refreshes at half the interval, with UPDATE when the peer allows it, else a
// re-INVITE with our current SDP; the other side sends BYE when no refresh came by the interval
// less min(32 s, interval/3), §10; a 2xx naming us refresher makes us refresh), RFC 5621 (a
// multipart body's SDP part is the offer or answer; other parts, ISUP, are left aside),
// RFC 3892 (Referred-By kept with the call: the initial INVITE is available to the handler),
// RFC 3515 (REFER: as transferor, an in-dialog REFER and its implicit subscription, each NOTIFY
// answered 200 and its message/sipfrag handed over; as transferee, the handler accepts a REFER
// and reports progress with NOTIFYs), RFC 5589 (the transferor hangs up after the final NOTIFY).
// The UA makes no media decision: the CallHandler (the gateway) gets each offer and returns the
// answer. A re-INVITE or UPDATE without a body (a session refresh) is answered with our current
// SDP without asking the handler — the fax in progress never notices it.
// THREADS: one thread; the owner feeds receive() and calls tick() when next_timer() is due.
// LIMITS: kMaxCalls live calls (beyond them new INVITEs get 503 with Retry-After); timers kept
// ordered (no scan of every call per event); kTimerC without a final after a provisional ends an
// outgoing INVITE (CANCEL); kMaxDialogAuth challenges answered per in-dialog request.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "sip/digest.hpp"
#include "sip/front_door.hpp"
#include "sip/transaction.hpp"

namespace sip {

inline constexpr size_t kMaxCalls = 20000;
inline constexpr int kMinSessionExpires = 90;
// RFC 3261 §16.6 timer C, used by our UAC too: a provisional with no final after it for this long
// (a peer that answered 100 and died) gives the INVITE up with CANCEL, then 408.
inline constexpr std::chrono::seconds kTimerC{180};
inline constexpr int kMaxDialogAuth = 2;
// §18.1.1: a request this large goes over TCP when we can (a fragmented UDP datagram is lost).
inline constexpr size_t kUdpRequestLimit = 1300;

using CallId = uint64_t;

struct Credentials {
  std::string username;
  std::string password;
};

struct OutgoingCall {
  std::string request_uri;  // "sip:+15550100@127.0.0.1:5060"
  Address next_hop;         // where the INVITE goes (the trunk's proxy or peer)
  std::string from_user;    // caller id ("" -> "anonymous")
  std::string from_display;
  std::string to_uri;       // "" -> request_uri
  std::string sdp;          // the offer
  std::vector<Header> extra_headers;
  std::optional<Credentials> credentials;
};

enum class EndCause {
  remote_bye,      // the peer hung up
  local_bye,       // we hung up (our BYE answered or timed out)
  cancelled,       // the caller cancelled before we answered
  no_ack,          // we answered and the ACK never came (64*T1)
  rejected,        // an incoming call we rejected
  session_expired, // RFC 4028 §10: the peer did not refresh the session in time: we sent BYE
};
std::string_view to_string(EndCause c);

class CallHandler {
 public:
  virtual ~CallHandler() = default;
  // An INVITE that starts a call. Answer it now or later with ringing/answer/reject.
  virtual void on_incoming(CallId call, const Message& invite, const Address& from) = 0;
  // Outgoing: a provisional response (180, 183).
  virtual void on_progress(CallId, const Message&) {}
  // Outgoing: answered; `answer` is the 2xx (its body the SDP answer). The ACK is sent.
  virtual void on_answered(CallId call, const Message& answer) = 0;
  // Outgoing: failed before an answer: the final status (408 for a timeout, 503 for a transport
  // failure) and reason phrase. The call is gone after this.
  virtual void on_failed(CallId call, int status, const std::string& reason) = 0;
  // Incoming: the ACK of our 2xx arrived.
  virtual void on_confirmed(CallId) {}
  // The SDP answer an ACK carried (RFC 3261 §13.2.1: an INVITE without an offer, a "delayed
  // offer", gets our offer in the 2xx and the answer in the ACK). Called before on_confirmed.
  virtual void on_ack_answer(CallId, const std::string& /*sdp*/) {}
  // A re-INVITE or UPDATE with an SDP offer: the SDP answer, or nullopt to refuse it (488).
  virtual std::optional<std::string> on_offer(CallId call, const std::string& offer) = 0;
  // Our own re-INVITE ended: 2xx (its body the answer), 488/606, 408...
  virtual void on_reinvite_result(CallId, const Message&) {}
  // Our REFER (refer()) was answered: 202 or another final status (408 for no response).
  virtual void on_refer_result(CallId, int /*status*/) {}
  // A NOTIFY in the call's dialog (already answered 200): for a REFER, the sipfrag status line of
  // the transfer's progress and whether the subscription ended.
  virtual void on_notify(CallId, const Message&) {}
  // A REFER in the call's dialog: the status to answer (202 to accept; the handler then reports
  // with notify()). The default refuses it: 603.
  virtual int on_refer(CallId, const Message&) { return 603; }
  // The call is over; nothing more will be said about it.
  virtual void on_ended(CallId call, EndCause cause) = 0;
  // A registration (register_at) succeeded (status 200, granted seconds) or failed (status,
  // reason; it is tried again after kRegisterRetry).
  virtual void on_registration(const std::string& /*aor*/, int /*status*/, const std::string& /*reason*/,
                               int /*expires*/) {}
};

// RFC 3261 §10: a binding of our Contact to an address-of-record at a registrar, kept fresh.
struct Registration {
  std::string registrar_uri;  // Request-URI: "sip:registrar.example.com"
  Address next_hop;
  std::string aor_user;       // "acct123" -> To/From sip:acct123@<registrar host>
  std::optional<Credentials> credentials;
  int expires = 3600;         // asked for; the registrar's answer rules
};
inline constexpr std::chrono::seconds kRegisterRetry{60};

struct UaConfig {
  std::string user_agent = "faxbridge";
  // Our address for Via and Contact, per transport.
  std::map<Transport, std::pair<std::string, uint16_t>> local;
  Timers timers;
  // The next hop for an in-dialog request (the route set's first URI or the remote target).
  // Default: numeric hosts only, the transport= parameter, port 5060.
  std::function<std::optional<Address>(const Uri&)> resolve;
  // Who may make us do work (front_door.hpp); by default everyone.
  FrontDoorConfig front_door;
  // [sip] advertise: the host written in Via, Contact, From and Call-ID ("" = the bound address).
  std::string advertise;
  // Bound on a wildcard (0.0.0.0, ::): the local address the system routes toward a peer's IP.
  std::function<std::string(const std::string& peer_ip)> source_for;
};

class UserAgent final : public TransactionUser {
 public:
  UserAgent(CallHandler& handler, TransactionLayer::Send send, UaConfig cfg);
  ~UserAgent() override;

  // Bytes from the network: through the front door (front_door.hpp) to the transaction layer.
  void receive(std::string_view bytes, const Address& from, Time now);
  // The connection to `to` failed (the endpoint's word): its client transactions end.
  void transport_error(const Address& to, Time now) {
    now_ = now;
    layer_.transport_error(to);
  }
  void tick(Time now);
  std::optional<Time> next_timer() const;

  // Outgoing calls. nullopt when the INVITE could not be sent at all.
  std::optional<CallId> invite(const OutgoingCall& call, Time now);
  // Incoming calls.
  void ringing(CallId call, Time now);
  void answer(CallId call, const std::string& sdp, Time now);
  void reject(CallId call, int status, const std::string& reason, Time now,
              const std::vector<Header>& extra = {});
  // Ends a call in any state: CANCEL (outgoing, before the answer), 480 (incoming, before ours),
  // BYE (established). on_ended/on_failed follow.
  void hangup(CallId call, Time now);
  // Our re-INVITE with a new offer (glare: 491 is retried after the §14.1 interval).
  bool reinvite(CallId call, const std::string& sdp, Time now);
  // A session refresh (RFC 4028) as the refresher: a re-INVITE offering our current description
  // again, or an UPDATE without a body; both with Session-Expires. The answer arrives as
  // on_reinvite_result. Used by the fax test peer; false when the call cannot take it now.
  bool refresh(CallId call, bool use_update, int session_expires, Time now);
  // The description a refresh without an offer is answered with, when the handler knows better
  // than the last exchange (our offer was answered 2xx but its new stream refused).
  void set_local_sdp(CallId call, std::string sdp);
  // Forgets a re-INVITE of ours that waits to be retried after a 491 (glare): the peer's own
  // offer has since settled the media.
  void cancel_reinvite_retry(CallId call);
  // Transfers the peer elsewhere (RFC 3515): an in-dialog REFER with Refer-To `target` and
  // Referred-By our address. The answer arrives as on_refer_result, progress as on_notify.
  bool refer(CallId call, const std::string& target, Time now);
  // As transferee: the progress of a REFER we accepted, "SIP/2.0 200 OK" and the like, with
  // `terminated` on the last one.
  bool notify_refer(CallId call, const std::string& status_line, bool terminated, Time now);
  // Registers and keeps the binding fresh (refreshed at half the granted time, retried after a
  // failure); 401/407 answered once per challenge. unregister_all() sends Expires: 0 for each.
  void register_at(const Registration& r, Time now);
  // The registration of `aor_user` at `registrar_uri` goes to `next_hop` from its next REGISTER
  // on (its registrar's addresses changed, or the last one stopped answering).
  void move_registration(const std::string& registrar_uri, const std::string& aor_user, const Address& next_hop);
  void unregister_all(Time now);
  void unregister(const std::string& registrar_uri, const std::string& aor_user, Time now);  // one (Expires: 0)

  void set_local(std::map<Transport, std::pair<std::string, uint16_t>> local) { cfg_.local = std::move(local); }
  void set_advertise(std::string host) { cfg_.advertise = std::move(host); }
  void set_source_for(std::function<std::string(const std::string&)> f) { cfg_.source_for = std::move(f); }
  // Whether a live call's dialog runs over a connection to `peer` (a TCP/TLS connection carrying
  // one is kept open however long it is idle).
  bool carries_dialog(const Address& peer) const;
  // An OPTIONS to `uri` via `to` (RFC 3261 §11; a trunk's health ping): `done` gets the final
  // status, 408 when nothing came, 503 when it could not be sent.
  void ping(const std::string& uri, const Address& to, Time now, std::function<void(int status)> done);
  // The credentials for digest challenges to our requests inside the call (an incoming call's BYE
  // or re-INVITE challenged by the carrier's SBC): set by the handler from the trunk.
  void set_credentials(CallId call, Credentials creds);
  // An outgoing call that failed with 3xx: its Contact URIs in order of q (read in on_failed).
  std::vector<std::string> redirect_targets(CallId call) const;
  // Our address for a transport (for SDP c= lines and media sockets).
  std::optional<std::pair<std::string, uint16_t>> local(Transport t) const {
    auto it = cfg_.local.find(t);
    if (it == cfg_.local.end()) return std::nullopt;
    return it->second;
  }
  const Message* initial_invite(CallId call) const;  // the INVITE that started it (either way)
  std::optional<Address> remote_address(CallId call) const;
  size_t calls() const { return calls_.size(); }
  const TransactionStats& stats() const { return layer_.stats(); }
  const FrontDoor& front_door() const { return door_; }
  void set_front_door(FrontDoorConfig cfg) { door_ = FrontDoor(std::move(cfg)); }
  TransactionLayer& layer() { return layer_; }

  // TransactionUser
  void on_request(TxnId txn, const Message& request, const Address& from) override;
  void on_ack(const Message& ack, const Address& from) override;
  void on_response(TxnId txn, const Message& response) override;
  void on_timeout(TxnId txn) override;
  void on_transport_error(TxnId txn) override;
  void on_stray_response(const Message& response, const Address& from) override;

 private:
  struct Call;
  Call* find(CallId id);
  void touch(CallId id) const { touched_.push_back(id); }
  void flush_timers() const;
  void negotiate_uas_timer(Call& c, const Message& req, Message& response);
  void take_uac_timer(Call& c, const Message& response);
  void session_timer_fired(Call& c);
  void refresh_failed(Call& c, int status);
  void send_bye(Call& c);
  void add_peer_ip(Call& c, const std::string& ip);
  bool retry_with_auth(Call& c, TxnId txn, const Message& r);
  void prack(Call& c, const Message& provisional);
  void end_fork(Call& c, const Message& ok);
  Message dialog_response(const Call& c, const Message& req, int status);
  Call* find_dialog(const Message& m, bool incoming);
  std::string dialog_key(const std::string& call_id, const std::string& local_tag, const std::string& remote_tag) const;
  Message in_dialog_request(Call& c, const std::string& method);
  Message build_invite(Call& c, const std::string& uri);
  void send_in_dialog(Call& c, Message m, Time now, bool is_invite);
  void end(Call& c, EndCause cause);
  void fail(Call& c, int status, const std::string& reason);
  void answer_refresh(TxnId txn, Call& c, const Message& req, std::optional<std::string> offer);
  void handle_invite_response(Call& c, const Message& r);
  void handle_reinvite_response(Call& c, const Message& r);
  std::optional<Address> next_hop(const Call& c) const;
  std::string host_for(Transport t, const std::string& peer) const;
  std::string via(Transport t, const std::string& branch, const std::string& peer = "") const;
  std::string contact(Transport t, const std::string& user, const std::string& peer = "") const;
  Time now_ = {};

  CallHandler& handler_;
  UaConfig cfg_;
  TransactionLayer layer_;
  FrontDoor door_;
  CallId next_id_ = 1;
  std::map<CallId, std::unique_ptr<Call>> calls_;
  std::map<std::string, CallId> dialogs_;
  std::map<TxnId, CallId> client_txns_;  // our INVITE/CANCEL/BYE/re-INVITE -> call
  std::map<TxnId, CallId> server_invites_;
  std::map<std::string, CallId> merge_keys_;
  std::map<std::string, int> dialog_ips_;  // far ends of live calls (heard despite the front door)  // Call-ID|From tag|CSeq of live incoming INVITEs (§8.2.2.2)
  mutable std::vector<CallId> touched_;  // calls whose timers may have changed
  mutable std::set<std::pair<Time, CallId>> call_timers_;
  struct Reg;
  void send_register(Reg& r, Time now, std::optional<std::pair<int, Challenge>> auth);
  std::vector<std::unique_ptr<Reg>> regs_;
  std::map<TxnId, Reg*> reg_txns_;
  std::map<TxnId, std::function<void(int)>> pings_;
  bool transport_failed_ = false;  // on_timeout is reporting a transport error
  std::mt19937 rng_{std::random_device{}()};
};

}  // namespace sip
