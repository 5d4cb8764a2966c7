// user_agent.cpp — calls, dialogs, UAC and UAS (see user_agent.hpp).
#include "sip/user_agent.hpp"

#include <algorithm>

namespace sip {

std::string_view to_string(EndCause c) {
  switch (c) {
    case EndCause::remote_bye: return "remote hangup";
    case EndCause::local_bye: return "local hangup";
    case EndCause::cancelled: return "cancelled by the caller";
    case EndCause::no_ack: return "no ACK for our answer";
    case EndCause::rejected: return "rejected";
    case EndCause::session_expired: return "session timer expired";
  }
  return "ended";
}

namespace {

constexpr std::string_view kAllow = "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO, REFER, NOTIFY, PRACK";
constexpr std::string_view kSupported = "timer, 100rel";
// Methods we know and refuse with 405 (every other unknown one gets 501, §21.5.2).
constexpr std::string_view kKnownRefused[] = {"REGISTER", "SUBSCRIBE", "MESSAGE", "PUBLISH"};

bool has_option(const Message& m, std::string_view header, std::string_view tag) {
  for (const auto& v : m.all(header)) {
    if (iequals(v, tag)) return true;
  }
  return false;
}

// Session-Expires: "<seconds>[;refresher=uac|uas]" (RFC 4028 §4).
struct SessionExpires {
  int seconds = 0;
  std::string refresher;  // "", "uac" or "uas"
};
std::optional<SessionExpires> session_expires(const Message& m) {
  auto v = m.get("Session-Expires");
  if (!v) return std::nullopt;
  SessionExpires se;
  size_t i = 0;
  while (i < v->size() && std::isdigit(static_cast<unsigned char>((*v)[i]))) ++i;
  if (i == 0 || i > 9) return std::nullopt;
  se.seconds = std::atoi(v->substr(0, i).c_str());
  auto pos = v->find("refresher=");
  if (pos != std::string::npos) {
    std::string r = v->substr(pos + 10, 3);
    if (iequals(r, "uac")) se.refresher = "uac";
    else if (iequals(r, "uas")) se.refresher = "uas";
  }
  return se;
}

std::optional<Address> default_resolve(const Uri& u) {
  std::string host = u.host;
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  bool numeric = !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) || c == '.' || c == ':';
  }) && (host.find(':') != std::string::npos || std::count(host.begin(), host.end(), '.') == 3);
  if (!numeric) return std::nullopt;
  Address a;
  a.ip = host;
  auto t = u.params.get("transport");
  if (u.scheme == "sips" || (t && iequals(*t, "tls"))) a.transport = Transport::tls;
  else if (t && iequals(*t, "tcp")) a.transport = Transport::tcp;
  a.port = uint16_t(u.port ? u.port : (a.transport == Transport::tls ? 5061 : 5060));
  return a;
}

std::string without_tag(const std::string& name_addr) {
  auto na = parse_name_addr(name_addr);
  if (!na) return name_addr;
  na->params.remove("tag");
  return na->to_string();
}

std::optional<std::string> contact_uri(const Message& m) {
  auto c = m.get("Contact");
  if (!c) return std::nullopt;
  auto na = parse_name_addr(*c);
  if (!na) return std::nullopt;
  return na->uri.to_string();
}

// The message with its session description as the body (a multipart body's application/sdp part
// taken out, SIP-I/SIP-T's ISUP parts left aside); nullopt when the body carries no SDP.
std::optional<Message> with_sdp_body(const Message& m) {
  if (m.body.empty()) return m;
  auto sdp = session_description(m);
  if (!sdp) return std::nullopt;
  if (sdp->size() == m.body.size()) return m;
  Message out = m;
  out.body = *sdp;
  out.set("Content-Type", "application/sdp");
  return out;
}

}  // namespace

struct UserAgent::Call {
  CallId id = 0;
  bool outgoing = false;
  enum class St { calling, established, terminating, ended } st = St::calling;
  // Dialog (§12).
  std::string call_id, local_tag, remote_tag;
  std::string local_uri, remote_uri;  // name-addrs without tags
  uint32_t local_seq = 0;
  std::optional<uint32_t> remote_seq;
  std::string remote_target;
  std::vector<std::string> route_set;
  Transport transport = Transport::udp;
  Address first_hop;  // outgoing: the INVITE's next hop; incoming: where it came from
  Message invite;
  // Outgoing: moved to TCP for its size only (§18.1.1); the UDP form, should TCP fail.
  std::optional<Message> udp_invite;
  std::string local_sdp;
  bool dialog_registered = false;
  // UAC.
  TxnId invite_txn = 0;
  bool got_provisional = false, cancel_pending = false, cancelled = false, answered = false;
  int auth_attempts = 0;
  std::optional<Credentials> creds;
  std::string ack_bytes;  // the ACK of the last 2xx we received, for its retransmissions
  // UAS: our 2xx retransmitted until the ACK (§13.3.1.4).
  TxnId server_txn = 0;
  bool final_sent = false;
  std::string ok_bytes;
  Address ok_to;
  Ms ok_interval{0};
  std::optional<Time> ok_next, ok_deadline;
  bool initial_acked = false;
  // Our re-INVITE.
  TxnId reinvite_txn = 0;
  std::optional<std::string> reinvite_sdp;
  std::optional<Time> reinvite_retry_at;
  uint32_t reinvite_seq = 0;
  TxnId bye_txn = 0;
  TxnId update_txn = 0;
  TxnId refer_txn = 0;
  TxnId notify_txn = 0;
  std::optional<Time> linger_until;  // ended: erased at this time
  // RFC 4028.
  int se_interval = 0;  // seconds; 0: no session timer
  bool we_refresh = false;
  bool peer_allows_update = false;
  std::optional<Time> refresh_at, expire_at;
  // §9.1: the INVITE is given up this long after our CANCEL if no final came.
  std::optional<Time> cancel_deadline;
  std::optional<Time> timer_c;  // UAC: the last provisional plus kTimerC
  // RFC 3262, UAC: the last RSeq PRACKed, and the SDP a reliable provisional carried.
  uint32_t last_rseq = 0;
  std::optional<std::string> early_answer;
  // RFC 3262, UAS: our reliable 180 until its PRACK.
  bool reliable = false;
  uint32_t rseq = 0;
  std::string rel_bytes;
  Ms rel_interval{0};
  std::optional<Time> rel_next, rel_deadline;
  bool delayed_offer = false;  // UAS: the INVITE had no SDP: our 2xx offers, the ACK answers
  std::optional<std::string> held_answer;  // UAS: our 2xx waits for the PRACK of our reliable 180
  std::vector<std::string> redirect;  // UAC: a 3xx's Contacts
  int dialog_auth = 0;  // challenges answered for in-dialog requests
  std::string merge_key;
  std::vector<std::string> peer_ips;  // counted in dialog_ips_ while the call lives
  bool auto_refresh = false;          // the refresh in flight is our session timer's, not the handler's
  TxnId prack_txn = 0;
  std::map<std::string, uint32_t> last_rseq_by_tag;  // RFC 3262: RSeq per early dialog (forks)
  std::optional<Time> scheduled;  // its entry in call_timers_

  std::optional<Time> due() const {
    if (st == St::ended) return linger_until;
    std::optional<Time> d;
    for (const auto& t : {ok_next, ok_deadline, reinvite_retry_at, linger_until, refresh_at, expire_at,
                          cancel_deadline, timer_c, rel_next, rel_deadline}) {
      if (t && (!d || *t < *d)) d = t;
    }
    return d;
  }
};

struct UserAgent::Reg {
  Registration cfg;
  std::string call_id = random_token(24);
  std::string from_tag = random_token(12);
  uint32_t cseq = 0;
  int auth_attempts = 0;
  std::optional<Time> next;  // refresh or retry
  bool stopping = false;
};

UserAgent::UserAgent(CallHandler& handler, TransactionLayer::Send send, UaConfig cfg)
    : handler_(handler), cfg_(std::move(cfg)), layer_(*this, std::move(send), cfg_.timers), door_(cfg_.front_door) {
  if (!cfg_.resolve) cfg_.resolve = default_resolve;
}

void UserAgent::receive(std::string_view bytes, const Address& from, Time now) {
  now_ = now;
  auto verdict = door_.admit(bytes, from, now);
  // The far end of a live dialog is heard wherever it is (a redirect target, a gateway that sends
  // its BYE from its own address rather than through the trunk's proxy).
  if (verdict != FrontDoor::Verdict::pass && dialog_ips_.count(from.ip)) verdict = FrontDoor::Verdict::pass;
  switch (verdict) {
    case FrontDoor::Verdict::pass:
      layer_.receive(bytes, from, now);
      return;
    case FrontDoor::Verdict::drop:
      return;
    case FrontDoor::Verdict::refuse: {
      // No transaction, no 100: one stateless 403 to the datagram's own source.
      auto m = parse(bytes);
      if (!m || !m->is_request() || m->method == "ACK") return;
      Message r = make_response(*m, 403, "Forbidden: " + from.ip + " is not a trunk of this node", random_token(10));
      Address to = from;
      layer_.send_direct(r, to);
      door_.note_refused(from, m->method);
      return;
    }
  }
}

UserAgent::~UserAgent() = default;

UserAgent::Call* UserAgent::find(CallId id) {
  auto it = calls_.find(id);
  if (it == calls_.end() || it->second->st == Call::St::ended) return nullptr;
  touch(id);
  return it->second.get();
}

// Every call whose timers an event may have changed gets its place in the ordered set again.
void UserAgent::flush_timers() const {
  for (CallId id : touched_) {
    auto it = calls_.find(id);
    if (it == calls_.end()) continue;
    Call& c = *it->second;
    auto d = c.due();
    if (d == c.scheduled) continue;
    if (c.scheduled) call_timers_.erase({*c.scheduled, id});
    c.scheduled = d;
    if (d) call_timers_.insert({*d, id});
  }
  touched_.clear();
}

void UserAgent::set_credentials(CallId id, Credentials creds) {
  if (Call* c = find(id)) c->creds = std::move(creds);
}

std::vector<std::string> UserAgent::redirect_targets(CallId id) const {
  auto it = calls_.find(id);
  return it == calls_.end() ? std::vector<std::string>{} : it->second->redirect;
}

void UserAgent::add_peer_ip(Call& c, const std::string& ip) {
  if (ip.empty() || std::find(c.peer_ips.begin(), c.peer_ips.end(), ip) != c.peer_ips.end()) return;
  c.peer_ips.push_back(ip);
  ++dialog_ips_[ip];
}

Message UserAgent::dialog_response(const Call& c, const Message& req, int status) {
  Message r = make_response(req, status, "", c.local_tag);
  // §12.1.1: a response that can make a dialog carries the request's Record-Route as it came.
  if (req.method == "INVITE") {
    for (const auto& rr : req.all("Record-Route")) r.add("Record-Route", rr);
  }
  return r;
}

std::string UserAgent::dialog_key(const std::string& call_id, const std::string& local_tag,
                                  const std::string& remote_tag) const {
  return call_id + "|" + local_tag + "|" + remote_tag;
}

UserAgent::Call* UserAgent::find_dialog(const Message& m, bool incoming) {
  auto from = m.from();
  auto to = m.to();
  if (!from || !to) return nullptr;
  std::string local = incoming ? to->tag().value_or("") : from->tag().value_or("");
  std::string remote = incoming ? from->tag().value_or("") : to->tag().value_or("");
  auto it = dialogs_.find(dialog_key(m.call_id(), local, remote));
  if (it == dialogs_.end()) return nullptr;
  auto c = calls_.find(it->second);
  if (c == calls_.end()) return nullptr;
  touch(c->first);
  return c->second.get();
}

// The host we write in Via, Contact, From and Call-ID toward `peer`: [sip] advertise when set;
// else the bound address, or, bound on a wildcard, the address the system routes toward the peer.
std::string UserAgent::host_for(Transport t, const std::string& peer) const {
  if (!cfg_.advertise.empty()) return cfg_.advertise;
  auto it = cfg_.local.find(t);
  std::string host = it == cfg_.local.end() ? "127.0.0.1" : it->second.first;
  if ((host == "0.0.0.0" || host == "::") && cfg_.source_for && !peer.empty()) {
    if (auto s = cfg_.source_for(peer); !s.empty()) host = s;
  }
  return host;
}

std::string UserAgent::via(Transport t, const std::string& branch, const std::string& peer) const {
  auto it = cfg_.local.find(t);
  std::string host = host_for(t, peer);
  uint16_t port = it == cfg_.local.end() ? 5060 : it->second.second;
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  return "SIP/2.0/" + std::string(to_string(t)) + " " + host + ":" + std::to_string(port) + ";branch=" + branch + ";rport";
}

std::string UserAgent::contact(Transport t, const std::string& user, const std::string& peer) const {
  auto it = cfg_.local.find(t);
  std::string host = host_for(t, peer);
  uint16_t port = it == cfg_.local.end() ? 5060 : it->second.second;
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  std::string uri = "sip:" + (user.empty() ? std::string() : user + "@") + host + ":" + std::to_string(port);
  if (t == Transport::tcp) uri += ";transport=tcp";
  if (t == Transport::tls) uri += ";transport=tls";
  return "<" + uri + ">";
}

std::optional<Address> UserAgent::next_hop(const Call& c) const {
  std::optional<Uri> target;
  if (!c.route_set.empty()) {
    if (auto na = parse_name_addr(c.route_set.front())) target = na->uri;
  } else if (auto u = parse_uri(c.remote_target)) {
    target = *u;
  }
  if (target) {
    if (auto a = cfg_.resolve(*target)) {
      if (a->transport == c.first_hop.transport) return a;
    }
  }
  return c.first_hop;  // where the dialog started: right for peers behind NAT and for TCP
}

Message UserAgent::in_dialog_request(Call& c, const std::string& method) {
  Message m = Message::request(method, c.remote_target.empty() ? c.invite.uri : c.remote_target);
  m.add("Via", via(c.transport, new_branch(), c.first_hop.ip));
  m.add("Max-Forwards", "70");
  m.add("From", c.local_uri + ";tag=" + c.local_tag);
  m.add("To", c.remote_uri + (c.remote_tag.empty() ? "" : ";tag=" + c.remote_tag));
  m.add("Call-ID", c.call_id);
  if (method != "ACK") ++c.local_seq;
  m.add("CSeq", std::to_string(c.local_seq) + " " + method);
  for (const auto& r : c.route_set) m.add("Route", r);
  if (method == "INVITE" || method == "UPDATE") m.add("Contact", contact(c.transport, "", c.first_hop.ip));
  m.add("User-Agent", cfg_.user_agent);
  return m;
}

Message UserAgent::build_invite(Call& c, const std::string& uri) {
  Message m = Message::request("INVITE", uri);
  m.add("Via", via(c.transport, new_branch(), c.first_hop.ip));
  m.add("Max-Forwards", "70");
  m.add("From", c.local_uri + ";tag=" + c.local_tag);
  m.add("To", c.remote_uri);
  m.add("Call-ID", c.call_id);
  m.add("CSeq", std::to_string(c.local_seq) + " INVITE");
  m.add("Contact", contact(c.transport, "", c.first_hop.ip));
  m.add("Allow", std::string(kAllow));
  m.add("Supported", std::string(kSupported));
  m.add("User-Agent", cfg_.user_agent);
  return m;
}

std::optional<CallId> UserAgent::invite(const OutgoingCall& oc, Time now) {
  now_ = now;
  if (calls_.size() >= kMaxCalls) return std::nullopt;
  auto c = std::make_unique<Call>();
  c->id = next_id_++;
  c->outgoing = true;
  c->transport = oc.next_hop.transport;
  c->first_hop = oc.next_hop;
  auto local = host_for(c->transport, oc.next_hop.ip);
  // RFC 3261 §8.1.1.4: random alone (165 bits), no "@host": the Call-ID, which proxies pass on
  // and both ends log, shows no address of ours behind a proxy that hides the topology.
  c->call_id = random_token(32);
  c->local_tag = random_token(12);
  std::string user = oc.from_user.empty() ? "anonymous" : oc.from_user;
  NameAddr from;
  from.display = oc.from_display;
  from.uri.user = user;
  from.uri.host = local.find(':') != std::string::npos ? "[" + local + "]" : local;
  c->local_uri = from.to_string();
  c->remote_uri = "<" + (oc.to_uri.empty() ? oc.request_uri : oc.to_uri) + ">";
  c->local_seq = 1;
  c->local_sdp = oc.sdp;
  c->creds = oc.credentials;
  auto build = [&] {
    Message m = build_invite(*c, oc.request_uri);
    for (const auto& h : oc.extra_headers) m.add(h.name, h.value);
    m.add("Content-Type", "application/sdp");
    m.body = oc.sdp;
    return m;
  };
  Message m = build();
  if (c->transport == Transport::udp && cfg_.local.count(Transport::tcp) && m.serialize().size() > kUdpRequestLimit) {
    c->udp_invite = m;
    c->transport = Transport::tcp;  // §18.1.1
    c->first_hop.transport = Transport::tcp;
    m = build();
  }
  c->invite = m;
  auto txn = layer_.send_request(m, c->first_hop, now);
  if (!txn && c->udp_invite) {
    // §18.1.1: the peer takes no TCP: the request goes over UDP after all.
    c->transport = Transport::udp;
    c->first_hop.transport = Transport::udp;
    c->invite = std::move(*c->udp_invite);
    c->udp_invite.reset();
    txn = layer_.send_request(c->invite, c->first_hop, now);
  }
  if (!txn) return std::nullopt;
  c->invite_txn = *txn;
  client_txns_[*txn] = c->id;
  CallId id = c->id;
  touch(id);
  add_peer_ip(*c, c->first_hop.ip);
  calls_[id] = std::move(c);
  return id;
}

void UserAgent::ringing(CallId id, Time now) {
  now_ = now;
  Call* c = find(id);
  if (!c || c->outgoing || c->final_sent) return;
  // RFC 3262 §5: for an INVITE without an offer, the first reliable provisional would have to carry
  // ours: we send no provisional at all then (the 2xx offers).
  if (c->reliable && c->delayed_offer) return;
  Message r = dialog_response(*c, c->invite, 180);
  r.add("Contact", contact(c->transport, "", c->first_hop.ip));
  if (c->reliable) {
    if (!c->rel_bytes.empty()) return;  // one reliable provisional at a time (RFC 3262 §3)
    r.add("Require", "100rel");
    r.add("RSeq", std::to_string(++c->rseq));
    c->rel_bytes = r.serialize();
    c->rel_deadline = now + 64 * cfg_.timers.t1;
    if (!c->first_hop.reliable()) {
      c->rel_interval = cfg_.timers.t1;
      c->rel_next = now + cfg_.timers.t1;
    }
  }
  layer_.respond(c->server_txn, r, now);
}

void UserAgent::answer(CallId id, const std::string& sdp, Time now) {
  now_ = now;
  Call* c = find(id);
  if (!c || c->outgoing || c->final_sent) return;
  if (c->reliable && !c->rel_bytes.empty()) {
    c->held_answer = sdp;  // RFC 3262 §3: sent once the reliable 180 is PRACKed (one thing at a time)
    return;
  }
  c->local_sdp = sdp;
  Message r = dialog_response(*c, c->invite, 200);
  r.add("Contact", contact(c->transport, "", c->first_hop.ip));
  r.add("Allow", std::string(kAllow));
  r.add("Supported", std::string(kSupported));
  negotiate_uas_timer(*c, c->invite, r);
  c->rel_bytes.clear();  // a final ends the reliable provisional's retransmissions
  c->rel_next.reset();
  c->rel_deadline.reset();
  r.add("Content-Type", "application/sdp");
  r.body = sdp;
  layer_.respond(c->server_txn, r, now);
  c->final_sent = true;
  c->st = Call::St::established;
  c->ok_bytes = r.serialize();
  c->ok_to = TransactionLayer::response_address(c->invite, c->first_hop);
  c->ok_deadline = now + 64 * cfg_.timers.t1;
  if (!c->first_hop.reliable()) {
    c->ok_interval = cfg_.timers.t1;
    c->ok_next = now + cfg_.timers.t1;
  }
}

void UserAgent::reject(CallId id, int status, const std::string& reason, Time now, const std::vector<Header>& extra) {
  now_ = now;
  Call* c = find(id);
  if (!c || c->outgoing || c->final_sent) return;
  Message r = make_response(c->invite, status, reason, c->local_tag);
  for (const auto& h : extra) r.add(h.name, h.value);
  layer_.respond(c->server_txn, r, now);
  c->final_sent = true;
  c->rel_bytes.clear();
  c->rel_next.reset();
  c->rel_deadline.reset();
  end(*c, EndCause::rejected);
}

void UserAgent::hangup(CallId id, Time now) {
  now_ = now;
  Call* c = find(id);
  if (!c || c->st == Call::St::terminating) return;
  if (c->outgoing && c->st == Call::St::calling) {
    if (c->cancelled) return;
    c->cancelled = true;
    if (!c->got_provisional) {
      c->cancel_pending = true;  // §9.1: a CANCEL waits for a provisional response
      return;
    }
    const Message& inv = c->invite;
    Message cancel = Message::request("CANCEL", inv.uri);
    cancel.add("Via", *inv.get("Via"));
    cancel.add("Max-Forwards", "70");
    cancel.add("From", *inv.get("From"));
    cancel.add("To", *inv.get("To"));
    cancel.add("Call-ID", inv.call_id());
    cancel.add("CSeq", std::to_string(inv.cseq().number) + " CANCEL");
    for (const auto& r : inv.all("Route")) cancel.add("Route", r);
    if (auto t = layer_.send_request(cancel, c->first_hop, now)) client_txns_[*t] = c->id;
    c->cancel_deadline = now + 64 * cfg_.timers.t1;  // §9.1: then the INVITE is given up
    c->timer_c.reset();
    return;
  }
  if (!c->outgoing && !c->final_sent) {
    reject(id, 480, "", now);
    return;
  }
  Message bye = in_dialog_request(*c, "BYE");
  c->st = Call::St::terminating;
  auto hop = next_hop(*c);
  auto t = hop ? layer_.send_request(bye, *hop, now) : std::nullopt;
  if (!t) {
    end(*c, EndCause::local_bye);
    return;
  }
  c->bye_txn = *t;
  client_txns_[*t] = c->id;
}

bool UserAgent::reinvite(CallId id, const std::string& sdp, Time now) {
  now_ = now;
  Call* c = find(id);
  if (!c || c->st != Call::St::established || c->reinvite_txn || c->update_txn) return false;
  Message m = in_dialog_request(*c, "INVITE");
  m.add("Allow", std::string(kAllow));
  m.add("Supported", std::string(kSupported));
  if (c->se_interval) m.add("Session-Expires", std::to_string(c->se_interval) + ";refresher=" + (c->we_refresh ? "uac" : "uas"));
  m.add("Content-Type", "application/sdp");
  m.body = sdp;
  auto hop = next_hop(*c);
  auto t = hop ? layer_.send_request(m, *hop, now) : std::nullopt;
  if (!t) return false;
  c->reinvite_txn = *t;
  c->reinvite_sdp = sdp;
  c->reinvite_seq = c->local_seq;
  client_txns_[*t] = c->id;
  return true;
}

bool UserAgent::refresh(CallId id, bool use_update, int session_expires, Time now) {
  now_ = now;
  Call* c = find(id);
  if (!c || c->st != Call::St::established || c->reinvite_txn || c->update_txn) return false;
  c->auto_refresh = false;
  Message m = in_dialog_request(*c, use_update ? "UPDATE" : "INVITE");
  m.add("Supported", std::string(kSupported));
  m.add("Session-Expires", std::to_string(session_expires) + ";refresher=uac");
  if (!use_update) {
    m.add("Allow", std::string(kAllow));
    m.add("Content-Type", "application/sdp");
    m.body = c->local_sdp;
  }
  auto hop = next_hop(*c);
  auto t = hop ? layer_.send_request(m, *hop, now) : std::nullopt;
  if (!t) return false;
  client_txns_[*t] = c->id;
  if (!use_update) {
    c->reinvite_txn = *t;
    c->reinvite_sdp = c->local_sdp;
    c->reinvite_seq = c->local_seq;
  } else {
    c->update_txn = *t;
  }
  return true;
}

void UserAgent::set_local_sdp(CallId id, std::string sdp) {
  if (Call* c = find(id)) c->local_sdp = std::move(sdp);
}

void UserAgent::cancel_reinvite_retry(CallId id) {
  Call* c = find(id);
  if (!c || !c->reinvite_retry_at) return;
  c->reinvite_retry_at.reset();
  c->reinvite_sdp.reset();
}

bool UserAgent::refer(CallId id, const std::string& target, Time now) {
  now_ = now;
  Call* c = find(id);
  if (!c || c->st != Call::St::established || c->refer_txn) return false;
  Message m = in_dialog_request(*c, "REFER");
  m.add("Refer-To", "<" + target + ">");
  m.add("Referred-By", contact(c->transport, "", c->first_hop.ip));
  m.add("Contact", contact(c->transport, "", c->first_hop.ip));
  auto hop = next_hop(*c);
  auto t = hop ? layer_.send_request(m, *hop, now) : std::nullopt;
  if (!t) return false;
  c->refer_txn = *t;
  client_txns_[*t] = c->id;
  return true;
}

bool UserAgent::notify_refer(CallId id, const std::string& status_line, bool terminated, Time now) {
  now_ = now;
  Call* c = find(id);
  if (!c || c->st != Call::St::established) return false;
  Message m = in_dialog_request(*c, "NOTIFY");
  m.add("Event", "refer");
  m.add("Subscription-State", terminated ? "terminated;reason=noresource" : "active;expires=60");
  m.add("Contact", contact(c->transport, "", c->first_hop.ip));
  m.add("Content-Type", "message/sipfrag;version=2.0");
  m.body = status_line + "\r\n";
  auto hop = next_hop(*c);
  auto t = hop ? layer_.send_request(m, *hop, now) : std::nullopt;
  if (!t) return false;
  client_txns_[*t] = c->id;
  c->notify_txn = *t;
  return true;
}

const Message* UserAgent::initial_invite(CallId id) const {
  auto it = calls_.find(id);
  return it == calls_.end() ? nullptr : &it->second->invite;
}

std::optional<Address> UserAgent::remote_address(CallId id) const {
  auto it = calls_.find(id);
  if (it == calls_.end()) return std::nullopt;
  return it->second->first_hop;
}

void UserAgent::end(Call& c, EndCause cause) {
  if (c.st == Call::St::ended) return;
  c.st = Call::St::ended;
  c.ok_next.reset();
  c.ok_deadline.reset();
  c.reinvite_retry_at.reset();
  c.refresh_at.reset();
  c.expire_at.reset();
  c.rel_next.reset();
  c.rel_deadline.reset();
  c.cancel_deadline.reset();
  c.timer_c.reset();
  touch(c.id);
  // Kept a while to absorb retransmissions (a 2xx to re-ACK, a repeated BYE).
  c.linger_until = now_ + 64 * cfg_.timers.t1;
  handler_.on_ended(c.id, cause);
}

void UserAgent::fail(Call& c, int status, const std::string& reason) {
  if (c.st == Call::St::ended) return;
  c.st = Call::St::ended;
  c.cancel_deadline.reset();
  c.timer_c.reset();
  c.refresh_at.reset();
  c.expire_at.reset();
  touch(c.id);
  c.linger_until = now_ + 64 * cfg_.timers.t1;
  handler_.on_failed(c.id, status, reason);
}

bool UserAgent::carries_dialog(const Address& peer) const {
  return std::any_of(calls_.begin(), calls_.end(), [&](const auto& kv) {
    return kv.second->st != Call::St::ended && kv.second->first_hop == peer;
  });
}

void UserAgent::ping(const std::string& uri, const Address& to, Time now, std::function<void(int)> done) {
  now_ = now;
  Message m = Message::request("OPTIONS", uri);
  m.add("Via", via(to.transport, new_branch(), to.ip));
  m.add("Max-Forwards", "70");
  std::string host = host_for(to.transport, to.ip);
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  m.add("From", "<sip:ping@" + host + ">;tag=" + random_token(10));
  m.add("To", "<" + uri + ">");
  m.add("Call-ID", random_token(32));  // as an INVITE's: no address in it
  m.add("CSeq", "1 OPTIONS");
  m.add("Accept", "application/sdp");
  m.add("User-Agent", cfg_.user_agent);
  auto t = layer_.send_request(m, to, now);
  if (!t) {
    done(503);
    return;
  }
  pings_[*t] = std::move(done);
}

void UserAgent::register_at(const Registration& r, Time now) {
  now_ = now;
  auto reg = std::make_unique<Reg>();
  reg->cfg = r;
  send_register(*reg, now, std::nullopt);
  regs_.push_back(std::move(reg));
}

void UserAgent::move_registration(const std::string& registrar_uri, const std::string& aor_user, const Address& next_hop) {
  for (auto& r : regs_) {
    if (r->cfg.registrar_uri == registrar_uri && r->cfg.aor_user == aor_user) r->cfg.next_hop = next_hop;
  }
}

void UserAgent::unregister(const std::string& registrar_uri, const std::string& aor_user, Time now) {
  now_ = now;
  for (auto& r : regs_) {
    if (r->cfg.registrar_uri != registrar_uri || r->cfg.aor_user != aor_user || r->stopping) continue;
    r->stopping = true;
    r->next.reset();
    send_register(*r, now, std::nullopt);
  }
}

void UserAgent::unregister_all(Time now) {
  now_ = now;
  for (auto& r : regs_) {
    r->stopping = true;
    r->next.reset();
    send_register(*r, now, std::nullopt);
  }
}

void UserAgent::send_register(Reg& r, Time now, std::optional<std::pair<int, Challenge>> auth) {
  auto ru = parse_uri(r.cfg.registrar_uri);
  std::string host = ru ? ru->host : r.cfg.next_hop.ip;
  std::string aor = "<sip:" + r.cfg.aor_user + "@" + host + ">";
  Message m = Message::request("REGISTER", r.cfg.registrar_uri);
  m.add("Via", via(r.cfg.next_hop.transport, new_branch(), r.cfg.next_hop.ip));
  m.add("Max-Forwards", "70");
  m.add("From", aor + ";tag=" + r.from_tag);
  m.add("To", aor);
  m.add("Call-ID", r.call_id);
  m.add("CSeq", std::to_string(++r.cseq) + " REGISTER");
  m.add("Contact", contact(r.cfg.next_hop.transport, r.cfg.aor_user, r.cfg.next_hop.ip));
  m.add("Expires", std::to_string(r.stopping ? 0 : r.cfg.expires));
  m.add("Allow", std::string(kAllow));
  m.add("User-Agent", cfg_.user_agent);
  if (auth && r.cfg.credentials) {
    DigestRequest dr{r.cfg.credentials->username, r.cfg.credentials->password, "REGISTER", m.uri, 1, ""};
    m.add(auth->first == 401 ? "Authorization" : "Proxy-Authorization", authorization(auth->second, dr));
  }
  auto t = layer_.send_request(m, r.cfg.next_hop, now);
  if (!t) {
    r.next = now + kRegisterRetry;
    return;
  }
  reg_txns_[*t] = &r;
}

void UserAgent::on_response(TxnId txn, const Message& r) {
  if (auto p = pings_.find(txn); p != pings_.end()) {
    if (r.status < 200) return;
    auto done = std::move(p->second);
    pings_.erase(p);
    done(r.status);
    return;
  }
  if (auto rt = reg_txns_.find(txn); rt != reg_txns_.end()) {
    if (r.status < 200) return;
    Reg& reg = *rt->second;
    reg_txns_.erase(rt);
    std::string aor = reg.cfg.aor_user;
    if (r.status < 300) {
      reg.auth_attempts = 0;
      if (reg.stopping) return;
      // The granted time: our Contact's expires parameter, else Expires, else what we asked.
      int granted = reg.cfg.expires;
      if (auto e = r.get("Expires")) granted = std::atoi(e->c_str());
      for (const auto& c : r.all("Contact")) {
        auto na = parse_name_addr(c);
        if (na && na->params.get("expires") && na->uri.user == reg.cfg.aor_user) granted = std::atoi(na->params.get("expires")->c_str());
      }
      granted = std::max(granted, 10);
      reg.next = now_ + std::chrono::seconds(granted / 2);
      handler_.on_registration(aor, r.status, r.reason, granted);
      return;
    }
    if ((r.status == 401 || r.status == 407) && reg.cfg.credentials && reg.auth_attempts < 2) {
      auto ch = parse_challenge(r.get(r.status == 401 ? "WWW-Authenticate" : "Proxy-Authenticate").value_or(""));
      if (ch) {
        ++reg.auth_attempts;
        send_register(reg, now_, std::make_pair(r.status, *ch));
        return;
      }
    }
    if (r.status == 423) {  // Interval Too Brief: ask for the registrar's minimum
      if (auto me = r.get("Min-Expires")) {
        reg.cfg.expires = std::atoi(me->c_str());
        send_register(reg, now_, std::nullopt);
        return;
      }
    }
    reg.auth_attempts = 0;
    if (!reg.stopping) reg.next = now_ + kRegisterRetry;
    handler_.on_registration(aor, r.status, r.reason, 0);
    return;
  }
  auto it = client_txns_.find(txn);
  if (it == client_txns_.end()) return;
  auto ci = calls_.find(it->second);
  if (ci == calls_.end()) return;
  Call& c = *ci->second;
  touch(c.id);
  const bool final = r.status >= 200;
  if (final && txn != c.invite_txn && retry_with_auth(c, txn, r)) {
    client_txns_.erase(txn);
    return;
  }
  if (final && r.status < 300) c.dialog_auth = 0;
  if (txn == c.invite_txn) {
    c.udp_invite.reset();  // the peer spoke over TCP: no UDP retry
    handle_invite_response(c, r);
  } else if (txn == c.reinvite_txn || (r.cseq().method == "INVITE" && r.status >= 200 && r.status < 300)) {
    handle_reinvite_response(c, r);
  } else if (txn == c.bye_txn && final) {
    if (c.st != Call::St::ended) end(c, EndCause::local_bye);
  } else if (txn == c.update_txn && final) {
    c.update_txn = 0;
    const bool ours = std::exchange(c.auto_refresh, false);
    if (r.status < 300) {
      take_uac_timer(c, r);
    } else if (r.status == 408 || r.status == 481) {
      if (!ours) handler_.on_reinvite_result(c.id, r);
      session_timer_fired(c);  // RFC 4028 §10: the session is gone
      return;
    } else if (ours) {
      refresh_failed(c, r.status);
    }
    // Our session timer's refreshes are its own business: the handler's offers never see them.
    if (!ours) handler_.on_reinvite_result(c.id, r);
  } else if (txn == c.refer_txn && final) {
    c.refer_txn = 0;
    handler_.on_refer_result(c.id, r.status);
  } else if (txn == c.notify_txn && final) {
    c.notify_txn = 0;
  } else if (txn == c.prack_txn && final) {
    c.prack_txn = 0;
  }
  if (final && !(r.cseq().method == "INVITE" && r.status < 300)) client_txns_.erase(txn);
}

// §22.2 for a request inside the call (or our CANCEL's INVITE's dialog): a 401/407 is answered
// once per challenge, up to kMaxDialogAuth times, with a new CSeq; the new transaction takes the
// old one's role. False when it is not a challenge we can answer.
bool UserAgent::retry_with_auth(Call& c, TxnId txn, const Message& r) {
  if ((r.status != 401 && r.status != 407) || !c.creds || c.dialog_auth >= kMaxDialogAuth) return false;
  if (c.st == Call::St::ended && txn != c.bye_txn) return false;
  const Message* req = layer_.request_of(txn);
  if (!req || req->method == "CANCEL" || req->method == "ACK") return false;
  auto ch = parse_challenge(r.get(r.status == 401 ? "WWW-Authenticate" : "Proxy-Authenticate").value_or(""));
  if (!ch) return false;
  ++c.dialog_auth;
  Message m = *req;
  m.set("Via", via(c.transport, new_branch(), c.first_hop.ip));
  m.set("CSeq", std::to_string(++c.local_seq) + " " + m.method);
  DigestRequest dr{c.creds->username, c.creds->password, m.method, m.uri, 1, ""};
  m.remove("Authorization");
  m.remove("Proxy-Authorization");
  m.set(r.status == 401 ? "Authorization" : "Proxy-Authorization", authorization(*ch, dr));
  auto hop = next_hop(c);
  auto t = hop ? layer_.send_request(m, *hop, now_) : std::nullopt;
  if (!t) return false;
  client_txns_[*t] = c.id;
  if (txn == c.bye_txn) c.bye_txn = *t;
  if (txn == c.reinvite_txn) {
    c.reinvite_txn = *t;
    c.reinvite_seq = c.local_seq;
  }
  if (txn == c.update_txn) c.update_txn = *t;
  if (txn == c.refer_txn) c.refer_txn = *t;
  if (txn == c.notify_txn) c.notify_txn = *t;
  if (txn == c.prack_txn) c.prack_txn = *t;
  return true;
}

// RFC 3262 §4: a reliable provisional is PRACKed once (in RSeq order) in its early dialog.
void UserAgent::prack(Call& c, const Message& p) {
  auto rseq_v = p.get("RSeq");
  if (!rseq_v) return;
  uint32_t rseq = uint32_t(std::strtoul(rseq_v->c_str(), nullptr, 10));
  const std::string tag = p.to() ? p.to()->tag().value_or("") : "";
  uint32_t& last = c.last_rseq_by_tag[tag];  // each fork numbers its own (RFC 3262 §3)
  if (rseq == 0 || (last && rseq <= last)) return;  // a retransmission: its PRACK retransmits itself
  last = rseq;
  c.last_rseq = rseq;
  Call early = c;  // the early dialog this provisional makes: its tag, target and route set
  early.remote_tag = p.to() ? p.to()->tag().value_or("") : "";
  if (auto u = contact_uri(p)) early.remote_target = *u;
  auto rr = p.all("Record-Route");
  early.route_set.assign(rr.rbegin(), rr.rend());
  Message m = in_dialog_request(early, "PRACK");
  c.local_seq = early.local_seq;
  m.add("RAck", std::to_string(rseq) + " " + std::to_string(c.invite.cseq().number) + " INVITE");
  auto hop = next_hop(early);
  if (!hop) return;
  if (auto t = layer_.send_request(m, *hop, now_)) {
    client_txns_[*t] = c.id;  // a challenge to the PRACK is answered like any other
    c.prack_txn = *t;
  }
}

// §13.2.2.4: a second 2xx from another branch of a fork makes a dialog we do not want: it is
// ACKed (the answerer retransmits until then) and ended with BYE at once.
void UserAgent::end_fork(Call& c, const Message& ok) {
  Call fork = c;
  fork.remote_tag = ok.to() ? ok.to()->tag().value_or("") : "";
  if (auto u = contact_uri(ok)) fork.remote_target = *u;
  auto rr = ok.all("Record-Route");
  fork.route_set.assign(rr.rbegin(), rr.rend());
  fork.remote_uri = without_tag(ok.get("To").value_or(c.remote_uri));
  fork.local_seq = ok.cseq().number;
  Message ack = in_dialog_request(fork, "ACK");
  ack.set("CSeq", std::to_string(ok.cseq().number) + " ACK");
  ack.remove("Contact");
  auto hop = next_hop(fork);
  if (!hop) return;
  layer_.send_direct(ack, *hop);
  Message bye = in_dialog_request(fork, "BYE");
  layer_.send_request(bye, *hop, now_);
}

void UserAgent::handle_invite_response(Call& c, const Message& r0) {
  auto parsed = with_sdp_body(r0);
  const Message& r = parsed ? *parsed : r0;
  if (r.status < 200) {
    c.got_provisional = true;
    if (!c.cancelled && !c.cancel_pending) c.timer_c = now_ + kTimerC;
    if (has_option(r, "Require", "100rel") && r.status > 100 && c.st == Call::St::calling) {
      if (!r.body.empty() && !c.early_answer && parsed) c.early_answer = r.body;  // RFC 3262 §5
      prack(c, r);
    }
    if (c.cancel_pending) {
      c.cancel_pending = false;
      c.cancelled = false;
      hangup(c.id, now_);
    }
    if (!c.cancelled && c.st == Call::St::calling) handler_.on_progress(c.id, r);
    return;
  }
  c.timer_c.reset();
  c.cancel_deadline.reset();
  if (r.status < 300) {
    std::string tag = r.to() ? r.to()->tag().value_or("") : "";
    if (c.answered) {
      if (tag == c.remote_tag) layer_.send_direct(Message(*parse(c.ack_bytes)), *next_hop(c));
      else end_fork(c, r);
      return;
    }
    c.answered = true;
    c.remote_tag = tag;
    if (auto u = contact_uri(r)) {
      c.remote_target = *u;
      if (auto pu = parse_uri(*u); pu && cfg_.resolve) {
        if (auto a = cfg_.resolve(*pu)) add_peer_ip(c, a->ip);
      }
    }
    auto rr = r.all("Record-Route");
    c.route_set.assign(rr.rbegin(), rr.rend());
    c.remote_uri = without_tag(r.get("To").value_or(c.remote_uri));
    c.peer_allows_update = has_option(r, "Allow", "UPDATE");
    dialogs_[dialog_key(c.call_id, c.local_tag, c.remote_tag)] = c.id;
    c.dialog_registered = true;
    // §13.2.2.4: the ACK of a 2xx is its own transaction-less request, CSeq of the INVITE.
    Message ack = in_dialog_request(c, "ACK");
    ack.set("CSeq", std::to_string(c.invite.cseq().number) + " ACK");
    ack.remove("Contact");
    c.ack_bytes = ack.serialize();
    if (auto hop = next_hop(c)) layer_.send_direct(ack, *hop);
    c.st = Call::St::established;
    if (c.cancelled || c.cancel_pending) {
      // The answer crossed our CANCEL: the call was given up, so end it at once.
      handler_.on_failed(c.id, 487, "Request Terminated");
      send_bye(c);
      c.st = Call::St::ended;
      c.linger_until = now_ + 64 * cfg_.timers.t1;
      return;
    }
    take_uac_timer(c, r);
    if (r.body.empty() && c.early_answer) {
      Message with = r;  // the answer came in a reliable provisional (RFC 3262 §5)
      with.body = *c.early_answer;
      with.set("Content-Type", "application/sdp");
      handler_.on_answered(c.id, with);
      return;
    }
    handler_.on_answered(c.id, r);
    return;
  }
  if (r.status < 400) {
    // 3xx: the handler may follow these (RFC 3261 §8.1.3.4), highest q first.
    std::vector<std::pair<double, std::string>> targets;
    for (const auto& v : r.all("Contact")) {
      auto na = parse_name_addr(v);
      if (!na || (na->uri.scheme != "sip" && na->uri.scheme != "sips")) continue;
      double q = 1.0;
      if (auto qv = na->params.get("q")) q = std::atof(qv->c_str());
      targets.emplace_back(q, na->uri.to_string());
    }
    std::stable_sort(targets.begin(), targets.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    c.redirect.clear();
    for (auto& t : targets) c.redirect.push_back(t.second);
  }
  if ((r.status == 401 || r.status == 407) && c.creds && c.auth_attempts < 2 && !c.cancelled) {
    auto ch = parse_challenge(r.get(r.status == 401 ? "WWW-Authenticate" : "Proxy-Authenticate").value_or(""));
    if (ch) {
      ++c.auth_attempts;
      ++c.local_seq;
      Message m = c.invite;
      m.set("Via", via(c.transport, new_branch(), c.first_hop.ip));
      m.set("CSeq", std::to_string(c.local_seq) + " INVITE");
      DigestRequest dr{c.creds->username, c.creds->password, "INVITE", m.uri, 1, ""};
      m.set(r.status == 401 ? "Authorization" : "Proxy-Authorization", authorization(*ch, dr));
      c.invite = m;
      c.got_provisional = false;
      c.last_rseq = 0;
      c.last_rseq_by_tag.clear();
      c.early_answer.reset();
      if (auto t = layer_.send_request(m, c.first_hop, now_)) {
        c.invite_txn = *t;
        client_txns_[*t] = c.id;
        return;
      }
      fail(c, 503, "the INVITE could not be sent again");
      return;
    }
  }
  fail(c, r.status, r.reason);
}

void UserAgent::handle_reinvite_response(Call& c, const Message& r0) {
  auto parsed = with_sdp_body(r0);
  const Message& r = parsed ? *parsed : r0;
  if (r.status < 200) return;
  if (r.status < 300) {
    uint32_t seq = r.cseq().number;
    Message ack = in_dialog_request(c, "ACK");
    ack.set("CSeq", std::to_string(seq) + " ACK");
    ack.remove("Contact");
    c.ack_bytes = ack.serialize();
    if (auto hop = next_hop(c)) layer_.send_direct(ack, *hop);
    if (c.reinvite_txn == 0 || seq != c.reinvite_seq) return;  // a retransmitted 2xx: ACKed again
    if (c.reinvite_sdp) c.local_sdp = *c.reinvite_sdp;
    c.reinvite_txn = 0;
    c.reinvite_sdp.reset();
    take_uac_timer(c, r);
    if (!std::exchange(c.auto_refresh, false)) handler_.on_reinvite_result(c.id, r);
    return;
  }
  c.reinvite_txn = 0;
  if (std::exchange(c.auto_refresh, false)) {
    c.reinvite_sdp.reset();
    if ((r.status == 408 || r.status == 481) && c.st == Call::St::established) session_timer_fired(c);
    else refresh_failed(c, r.status);
    return;
  }
  if (r.status == 491 && c.st == Call::St::established) {
    // §14.1: the owner of the Call-ID waits 2.1-4 s, the other side 0-2 s.
    int ms = c.outgoing ? std::uniform_int_distribution<int>(2100, 4000)(rng_) : std::uniform_int_distribution<int>(0, 2000)(rng_);
    c.reinvite_retry_at = now_ + Ms(ms);
    return;
  }
  c.reinvite_sdp.reset();
  if ((r.status == 408 || r.status == 481) && c.we_refresh && c.st == Call::St::established) {
    handler_.on_reinvite_result(c.id, r);
    session_timer_fired(c);  // RFC 4028 §10: our refresh found no session: it is over
    return;
  }
  handler_.on_reinvite_result(c.id, r);
}

// RFC 4028 §9 as the UAS of a request carrying Session-Expires: the refresher is the one the
// request names, else the UAC when it supports timers, else us; Require: timer only to a UAC that
// supports it. Sets the call's timer to match.
void UserAgent::negotiate_uas_timer(Call& c, const Message& req, Message& response) {
  auto se = session_expires(req);
  const bool uac_supports = has_option(req, "Supported", "timer") || has_option(req, "Require", "timer");
  if (!se || se->seconds <= 0) return;
  std::string refresher = se->refresher;
  if (refresher.empty() || (refresher == "uac" && !uac_supports)) refresher = uac_supports ? "uac" : "uas";
  response.add("Session-Expires", std::to_string(se->seconds) + ";refresher=" + refresher);
  if (uac_supports) response.add("Require", "timer");
  c.se_interval = se->seconds;
  // Roles of this transaction: we are its UAS.
  c.we_refresh = refresher == "uas";
  if (c.we_refresh) {
    c.refresh_at = now_ + std::chrono::seconds(std::max(1, se->seconds / 2));
    c.expire_at.reset();
  } else {
    c.refresh_at.reset();
    c.expire_at = now_ + std::chrono::seconds(se->seconds - std::min(32, se->seconds / 3));
  }
  c.peer_allows_update = c.peer_allows_update || has_option(req, "Allow", "UPDATE");
}

// RFC 4028 §7.2 as the UAC of a transaction whose 2xx came: the 2xx's Session-Expires rules;
// without one there is no session timer.
void UserAgent::take_uac_timer(Call& c, const Message& r) {
  auto se = session_expires(r);
  if (!se || se->seconds <= 0) {
    c.se_interval = 0;
    c.refresh_at.reset();
    c.expire_at.reset();
    return;
  }
  c.se_interval = se->seconds;
  c.we_refresh = se->refresher != "uas";  // "uac" (us), or unsaid: §7.2 makes the UAC refresh
  if (c.we_refresh) {
    c.refresh_at = now_ + std::chrono::seconds(std::max(1, se->seconds / 2));
    c.expire_at.reset();
  } else {
    c.refresh_at.reset();
    c.expire_at = now_ + std::chrono::seconds(se->seconds - std::min(32, se->seconds / 3));
  }
  if (has_option(r, "Allow", "UPDATE")) c.peer_allows_update = true;
}

// The session is over: no refresh came (we are not the refresher), or our refresh found no
// dialog (408/481). BYE, and the handler hears why.
// Our refresh was refused (491, 500, 405...): tried again shortly, by re-INVITE when UPDATE is not
// allowed after all, while the session has time left.
void UserAgent::refresh_failed(Call& c, int status) {
  if (c.st != Call::St::established || !c.se_interval) return;
  if (status == 405 || status == 501) c.peer_allows_update = false;
  c.refresh_at = now_ + std::chrono::seconds(status == 491 ? 3 : 2);
}

// A BYE the call's transaction map knows, so that a challenge to it is answered (retry_with_auth).
void UserAgent::send_bye(Call& c) {
  Message bye = in_dialog_request(c, "BYE");
  auto hop = next_hop(c);
  if (!hop) return;
  if (auto t = layer_.send_request(bye, *hop, now_)) {
    client_txns_[*t] = c.id;
    c.bye_txn = *t;
  }
}

void UserAgent::session_timer_fired(Call& c) {
  c.refresh_at.reset();
  c.expire_at.reset();
  if (c.st != Call::St::established) return;
  send_bye(c);
  end(c, EndCause::session_expired);
}

void UserAgent::on_transport_error(TxnId txn) {
  transport_failed_ = true;
  on_timeout(txn);
  transport_failed_ = false;
}

void UserAgent::on_timeout(TxnId txn) {
  if (auto p = pings_.find(txn); p != pings_.end()) {
    auto done = std::move(p->second);
    pings_.erase(p);
    done(transport_failed_ ? 503 : 408);
    return;
  }
  if (auto rt = reg_txns_.find(txn); rt != reg_txns_.end()) {
    Reg& reg = *rt->second;
    reg_txns_.erase(rt);
    if (!reg.stopping) reg.next = now_ + kRegisterRetry;
    handler_.on_registration(reg.cfg.aor_user, 408, "no response from the registrar", 0);
    return;
  }
  auto it = client_txns_.find(txn);
  if (it == client_txns_.end()) return;
  CallId id = it->second;
  client_txns_.erase(it);
  auto ci = calls_.find(id);
  if (ci == calls_.end()) return;
  Call& c = *ci->second;
  touch(id);
  if (txn == c.invite_txn) {
    if (transport_failed_ && c.udp_invite) {
      // §18.1.1: a request sent over TCP only for its size, whose connection was refused, is
      // retried over UDP.
      c.transport = Transport::udp;
      c.first_hop.transport = Transport::udp;
      c.invite = std::move(*c.udp_invite);
      c.udp_invite.reset();
      if (auto again = layer_.send_request(c.invite, c.first_hop, now_)) {
        c.invite_txn = *again;
        client_txns_[*again] = id;
        return;
      }
    }
    if (transport_failed_) fail(c, 503, "the connection to the next hop failed");
    else fail(c, 408, "no response to the INVITE");
  } else if (txn == c.bye_txn) {
    end(c, EndCause::local_bye);
  } else if (txn == c.reinvite_txn || txn == c.update_txn) {
    const bool update = txn == c.update_txn;
    (update ? c.update_txn : c.reinvite_txn) = 0;
    if (!update) c.reinvite_sdp.reset();
    const bool ours = std::exchange(c.auto_refresh, false);
    if (!ours) {
      handler_.on_reinvite_result(c.id, Message::response(408, update ? "no response to the UPDATE" : "no response to the re-INVITE"));
    }
    if (c.we_refresh && c.se_interval) session_timer_fired(c);  // RFC 4028 §10
  } else if (txn == c.refer_txn) {
    c.refer_txn = 0;
    handler_.on_refer_result(c.id, 408);
  } else if (txn == c.notify_txn) {
    c.notify_txn = 0;
  }
}

void UserAgent::on_stray_response(const Message& r, const Address&) {
  if (r.cseq().method != "INVITE" || r.status < 200 || r.status >= 300) return;
  Call* c = find_dialog(r, false);
  if (c && !c->ack_bytes.empty()) {
    if (auto hop = next_hop(*c)) layer_.send_direct(Message(*parse(c->ack_bytes)), *hop);
  }
}

void UserAgent::on_ack(const Message& ack0, const Address&) {
  Call* c = find_dialog(ack0, true);
  if (!c || c->ok_bytes.empty()) return;
  c->ok_next.reset();
  c->ok_deadline.reset();
  c->ok_bytes.clear();
  // §13.2.1: our 2xx carried the offer (the INVITE had none): the ACK carries the answer.
  if (c->delayed_offer && c->st != Call::St::ended) {
    c->delayed_offer = false;
    auto ack = with_sdp_body(ack0);
    if (ack && !ack->body.empty()) handler_.on_ack_answer(c->id, ack->body);
  }
  if (!c->initial_acked) {
    c->initial_acked = true;
    if (c->st != Call::St::ended) handler_.on_confirmed(c->id);
  }
}

void UserAgent::answer_refresh(TxnId txn, Call& c, const Message& req, std::optional<std::string> offer) {
  if (offer) {
    auto ans = handler_.on_offer(c.id, *offer);
    if (!ans) {
      layer_.respond(txn, make_response(req, 488, "", c.local_tag), now_);
      return;
    }
    c.local_sdp = *ans;
  }
  Message r = make_response(req, 200, "", c.local_tag);
  r.add("Contact", contact(c.transport, "", c.first_hop.ip));
  r.add("Allow", std::string(kAllow));
  r.add("Supported", std::string(kSupported));
  // A refresh (re-INVITE or UPDATE) renews the session timer as it negotiates it again (RFC 4028
  // §9); one without Session-Expires ends it.
  if (session_expires(req)) {
    negotiate_uas_timer(c, req, r);
  } else {
    c.se_interval = 0;
    c.refresh_at.reset();
    c.expire_at.reset();
  }
  // A re-INVITE without an offer is a delayed offer: ours goes in the 200, the answer in the ACK.
  if (req.method == "INVITE" && !offer) c.delayed_offer = true;
  if (req.method == "INVITE" || offer) {
    r.add("Content-Type", "application/sdp");
    r.body = c.local_sdp;  // a refresh without an offer gets our current description again
  }
  layer_.respond(txn, r, now_);
  if (req.method == "INVITE") {
    c.ok_bytes = r.serialize();
    c.ok_to = TransactionLayer::response_address(req, c.first_hop);
    c.ok_deadline = now_ + 64 * cfg_.timers.t1;
    if (!c.first_hop.reliable()) {
      c.ok_interval = cfg_.timers.t1;
      c.ok_next = now_ + cfg_.timers.t1;
    }
  }
}

void UserAgent::on_request(TxnId txn, const Message& req, const Address& from) {
  auto reply = [&](int status, std::vector<Header> extra = {}, std::string tag = "") {
    Message r = make_response(req, status, "", tag.empty() ? random_token(10) : tag);
    for (auto& h : extra) r.add(h.name, h.value);
    layer_.respond(txn, r, now_);
  };
  if (auto mf = req.get("Max-Forwards"); mf && *mf == "0" && req.method != "ACK") {
    reply(483);
    return;
  }
  bool has_to_tag = req.to() && req.to()->tag();
  const std::string& method = req.method;
  if (method == "OPTIONS") {
    reply(200, {{"Allow", std::string(kAllow)}, {"Accept", "application/sdp"}, {"Supported", std::string(kSupported)}});
    return;
  }
  if (method == "CANCEL") {
    auto inv = layer_.invite_for_cancel(req);
    auto si = inv ? server_invites_.find(*inv) : server_invites_.end();
    if (si == server_invites_.end()) {
      reply(481);
      return;
    }
    reply(200);
    Call* c = find(si->second);
    if (c && !c->final_sent) {
      layer_.respond(c->server_txn, make_response(c->invite, 487, "", c->local_tag), now_);
      c->final_sent = true;
      c->rel_bytes.clear();
      c->rel_next.reset();
      c->rel_deadline.reset();
      end(*c, EndCause::cancelled);
    }
    return;
  }
  auto sdp_req = with_sdp_body(req);
  if (method == "INVITE" && !has_to_tag) {
    // §8.2.2.2: the same request reaching us by two paths (a forking proxy) is one call.
    std::string merge = req.call_id() + "|" + req.from()->tag().value_or("") + "|" + std::to_string(req.cseq().number);
    if (merge_keys_.count(merge)) {
      reply(482);
      return;
    }
    for (const auto& r : req.all("Require")) {
      if (!iequals(r, "timer") && !iequals(r, "100rel")) {
        reply(420, {{"Unsupported", r}});
        return;
      }
    }
    if (!sdp_req) {
      reply(415, {{"Accept", "application/sdp, multipart/mixed"}});
      return;
    }
    if (auto se = session_expires(req)) {
      if (se->seconds > 0 && se->seconds < kMinSessionExpires) {
        reply(422, {{"Min-SE", std::to_string(kMinSessionExpires)}});
        return;
      }
    }
    if (calls_.size() >= kMaxCalls) {
      reply(503, {{"Retry-After", "10"}});
      return;
    }
    auto c = std::make_unique<Call>();
    c->id = next_id_++;
    c->outgoing = false;
    c->st = Call::St::calling;
    c->call_id = req.call_id();
    c->remote_tag = req.from()->tag().value_or("");
    c->local_tag = random_token(12);
    c->local_uri = without_tag(*req.get("To"));
    c->remote_uri = without_tag(*req.get("From"));
    c->remote_seq = req.cseq().number;
    c->remote_target = contact_uri(req).value_or("");
    c->route_set = req.all("Record-Route");
    c->transport = from.transport;
    c->first_hop = from;
    c->invite = *sdp_req;
    c->server_txn = txn;
    c->reliable = has_option(req, "Require", "100rel");
    c->delayed_offer = sdp_req->body.empty();
    c->merge_key = merge;
    CallId id = c->id;
    merge_keys_[merge] = id;
    dialogs_[dialog_key(c->call_id, c->local_tag, c->remote_tag)] = id;
    c->dialog_registered = true;
    server_invites_[txn] = id;
    touch(id);
    calls_[id] = std::move(c);
    handler_.on_incoming(id, *sdp_req, from);
    return;
  }
  if (method == "INVITE" || method == "BYE" || method == "UPDATE" || method == "INFO" || method == "NOTIFY" ||
      method == "REFER" || method == "PRACK") {
    Call* c = has_to_tag ? find_dialog(req, true) : nullptr;
    if (!c || c->st == Call::St::ended) {
      reply(481);
      return;
    }
    uint32_t seq = req.cseq().number;
    if (c->remote_seq && seq <= *c->remote_seq) {
      reply(500, {{"Reason", "SIP;cause=500;text=\"CSeq out of order\""}}, c->local_tag);
      return;
    }
    c->remote_seq = seq;
    if (method == "PRACK") {
      // RFC 3262 §3: the PRACK of our reliable provisional (RAck: RSeq, CSeq and method of it).
      auto rack = req.get("RAck").value_or("");
      const std::string want = std::to_string(c->rseq) + " " + std::to_string(c->invite.cseq().number) + " INVITE";
      std::string got;
      for (char ch : rack) {
        if (ch == ' ' || ch == '\t') {
          if (!got.empty() && got.back() != ' ') got += ' ';
        } else {
          got += ch;
        }
      }
      if (!c->reliable || c->rseq == 0 || !iequals(got, want)) {
        reply(481, {}, c->local_tag);
        return;
      }
      c->rel_bytes.clear();
      c->rel_next.reset();
      c->rel_deadline.reset();
      reply(200, {}, c->local_tag);
      if (c->held_answer) {
        std::string sdp = std::move(*c->held_answer);
        c->held_answer.reset();
        answer(c->id, sdp, now_);
      }
      return;
    }
    if (method == "BYE") {
      reply(200, {}, c->local_tag);
      end(*c, EndCause::remote_bye);
      return;
    }
    if (method == "INFO") {
      reply(200, {}, c->local_tag);
      return;
    }
    if (method == "NOTIFY") {
      reply(200, {}, c->local_tag);
      handler_.on_notify(c->id, req);
      return;
    }
    if (method == "REFER") {
      if (req.all("Refer-To").size() != 1) {
        reply(400, {}, c->local_tag);  // RFC 3515 §2.4.1: exactly one Refer-To
        return;
      }
      int status = handler_.on_refer(c->id, req);
      reply(status, status == 202 ? std::vector<Header>{{"Contact", contact(c->transport, "", c->first_hop.ip)}} : std::vector<Header>{},
            c->local_tag);
      return;
    }
    if (!sdp_req) {
      reply(415, {{"Accept", "application/sdp, multipart/mixed"}}, c->local_tag);
      return;
    }
    if (method == "INVITE") {
      if (c->reinvite_txn) {
        reply(491, {}, c->local_tag);  // glare (§14.2)
        return;
      }
      if (!c->ok_bytes.empty() && !c->initial_acked && !c->outgoing) {
        reply(500, {{"Retry-After", "1"}}, c->local_tag);  // our 2xx is not ACKed yet
        return;
      }
      if (auto u = contact_uri(req)) c->remote_target = *u;
    }
    std::optional<std::string> offer;
    if (!sdp_req->body.empty()) offer = sdp_req->body;
    answer_refresh(txn, *c, req, offer);
    return;
  }
  for (auto known : kKnownRefused) {
    if (method == known) {
      reply(405, {{"Allow", std::string(kAllow)}});
      return;
    }
  }
  reply(501, {{"Allow", std::string(kAllow)}});  // §21.5.2: a method we do not implement
}

void UserAgent::tick(Time now) {
  now_ = now;
  layer_.tick(now);
  flush_timers();
  std::vector<CallId> due;
  for (auto it = call_timers_.begin(); it != call_timers_.end() && it->first <= now; ++it) due.push_back(it->second);
  std::vector<CallId> erase;
  for (CallId id : due) {
    auto ci = calls_.find(id);
    if (ci == calls_.end()) continue;
    Call& c = *ci->second;
    touch(id);
    if (c.st == Call::St::ended) {
      if (c.linger_until && *c.linger_until <= now) erase.push_back(id);
      continue;
    }
    auto is_due = [&](std::optional<Time>& t) {
      if (!t || *t > now) return false;
      t.reset();
      return true;
    };
    if (is_due(c.ok_deadline)) {
      c.ok_bytes.clear();
      c.ok_next.reset();
      // §13.3.1.4: no ACK for our 2xx: the call is confirmed by nobody, so it ends with BYE.
      send_bye(c);
      end(c, EndCause::no_ack);
      continue;
    }
    if (is_due(c.ok_next) && !c.ok_bytes.empty()) {
      layer_.send_direct(Message(*parse(c.ok_bytes)), c.ok_to);
      c.ok_interval = std::min(c.ok_interval * 2, cfg_.timers.t2);
      c.ok_next = now + c.ok_interval;
    }
    if (is_due(c.rel_deadline)) {
      // RFC 3262 §3: no PRACK for our reliable provisional: the INVITE is refused.
      c.rel_bytes.clear();
      c.rel_next.reset();
      if (!c.final_sent) {
        layer_.respond(c.server_txn, make_response(c.invite, 504, "No PRACK for the reliable provisional", c.local_tag), now);
        c.final_sent = true;
        end(c, EndCause::rejected);
        continue;
      }
    }
    if (is_due(c.rel_next) && !c.rel_bytes.empty()) {
      layer_.send_direct(Message(*parse(c.rel_bytes)), TransactionLayer::response_address(c.invite, c.first_hop));
      c.rel_interval = c.rel_interval * 2;
      c.rel_next = now + c.rel_interval;
    }
    if (is_due(c.timer_c) && c.st == Call::St::calling) {
      c.cancelled = false;
      hangup(id, now);  // CANCEL; the INVITE is given up 64*T1 later if that brings no final
    }
    if (is_due(c.cancel_deadline) && c.st == Call::St::calling) {
      client_txns_.erase(c.invite_txn);
      layer_.abandon(c.invite_txn);
      fail(c, 408, "no final response to the INVITE after our CANCEL");
      continue;
    }
    if (is_due(c.reinvite_retry_at) && c.reinvite_sdp) {
      std::string sdp = *c.reinvite_sdp;
      c.reinvite_sdp.reset();
      if (!reinvite(id, sdp, now)) handler_.on_reinvite_result(id, Message::response(500, "the re-INVITE could not be sent"));
    }
    if (is_due(c.expire_at)) {
      session_timer_fired(c);  // RFC 4028 §10: the refresher did not refresh in time
      continue;
    }
    if (is_due(c.refresh_at) && c.st == Call::St::established && c.we_refresh) {
      // Our refresh: UPDATE when the peer allows it (no media touched), else a re-INVITE
      // offering our description again; a busy dialog is tried again shortly.
      if (refresh(id, c.peer_allows_update, c.se_interval, now)) c.auto_refresh = true;
      else c.refresh_at = now + std::chrono::seconds(2);
    }
  }
  for (auto& r : regs_) {
    if (r->next && *r->next <= now) {
      r->next.reset();
      r->auth_attempts = 0;
      send_register(*r, now, std::nullopt);
    }
  }
  for (CallId id : erase) {
    auto it = calls_.find(id);
    if (it == calls_.end()) continue;
    Call& c = *it->second;
    if (c.dialog_registered) dialogs_.erase(dialog_key(c.call_id, c.local_tag, c.remote_tag));
    if (c.server_txn) server_invites_.erase(c.server_txn);
    if (!c.merge_key.empty()) merge_keys_.erase(c.merge_key);
    for (const auto& ip : c.peer_ips) {
      if (auto it = dialog_ips_.find(ip); it != dialog_ips_.end() && --it->second <= 0) dialog_ips_.erase(it);
    }
    if (c.scheduled) call_timers_.erase({*c.scheduled, id});
    std::erase_if(client_txns_, [&](const auto& kv) { return kv.second == id; });
    calls_.erase(it);
  }
  flush_timers();
}

std::optional<Time> UserAgent::next_timer() const {
  flush_timers();
  auto next = layer_.next_timer();
  auto consider = [&](const std::optional<Time>& t) {
    if (t && (!next || *t < *next)) next = t;
  };
  if (!call_timers_.empty()) consider(call_timers_.begin()->first);
  for (const auto& r : regs_) consider(r->next);
  return next;
}

}  // namespace sip
