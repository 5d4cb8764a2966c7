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
  }
  return "ended";
}

namespace {

constexpr std::string_view kAllow = "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO, REFER, NOTIFY";

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

bool is_sdp(const Message& m) {
  auto ct = m.get("Content-Type");
  if (!ct) return true;  // a body without a type: assume SDP, as peers in the field do
  std::string v = *ct;
  auto semi = v.find(';');
  if (semi != std::string::npos) v = v.substr(0, semi);
  while (!v.empty() && v.back() == ' ') v.pop_back();
  return iequals(v, "application/sdp");
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
  std::optional<Time> linger_until;  // ended: erased at this time
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
    : handler_(handler), cfg_(std::move(cfg)), layer_(*this, std::move(send), cfg_.timers) {
  if (!cfg_.resolve) cfg_.resolve = default_resolve;
}

UserAgent::~UserAgent() = default;

UserAgent::Call* UserAgent::find(CallId id) {
  auto it = calls_.find(id);
  return it == calls_.end() || it->second->st == Call::St::ended ? nullptr : it->second.get();
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
  return c == calls_.end() ? nullptr : c->second.get();
}

std::string UserAgent::via(Transport t, const std::string& branch) const {
  auto it = cfg_.local.find(t);
  std::string host = it == cfg_.local.end() ? "127.0.0.1" : it->second.first;
  uint16_t port = it == cfg_.local.end() ? 5060 : it->second.second;
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  return "SIP/2.0/" + std::string(to_string(t)) + " " + host + ":" + std::to_string(port) + ";branch=" + branch + ";rport";
}

std::string UserAgent::contact(Transport t, const std::string& user) const {
  auto it = cfg_.local.find(t);
  std::string host = it == cfg_.local.end() ? "127.0.0.1" : it->second.first;
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
  m.add("Via", via(c.transport, new_branch()));
  m.add("Max-Forwards", "70");
  m.add("From", c.local_uri + ";tag=" + c.local_tag);
  m.add("To", c.remote_uri + (c.remote_tag.empty() ? "" : ";tag=" + c.remote_tag));
  m.add("Call-ID", c.call_id);
  if (method != "ACK") ++c.local_seq;
  m.add("CSeq", std::to_string(c.local_seq) + " " + method);
  for (const auto& r : c.route_set) m.add("Route", r);
  if (method == "INVITE" || method == "UPDATE") m.add("Contact", contact(c.transport, ""));
  m.add("User-Agent", cfg_.user_agent);
  return m;
}

Message UserAgent::build_invite(Call& c, const std::string& uri) {
  Message m = Message::request("INVITE", uri);
  m.add("Via", via(c.transport, new_branch()));
  m.add("Max-Forwards", "70");
  m.add("From", c.local_uri + ";tag=" + c.local_tag);
  m.add("To", c.remote_uri);
  m.add("Call-ID", c.call_id);
  m.add("CSeq", std::to_string(c.local_seq) + " INVITE");
  m.add("Contact", contact(c.transport, ""));
  m.add("Allow", std::string(kAllow));
  m.add("Supported", "timer");
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
  auto local = cfg_.local.count(c->transport) ? cfg_.local.at(c->transport).first : std::string("127.0.0.1");
  c->call_id = random_token(24) + "@" + local;
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
  Message m = build_invite(*c, oc.request_uri);
  for (const auto& h : oc.extra_headers) m.add(h.name, h.value);
  m.add("Content-Type", "application/sdp");
  m.body = oc.sdp;
  c->invite = m;
  auto txn = layer_.send_request(m, oc.next_hop, now);
  if (!txn) return std::nullopt;
  c->invite_txn = *txn;
  client_txns_[*txn] = c->id;
  CallId id = c->id;
  calls_[id] = std::move(c);
  return id;
}

void UserAgent::ringing(CallId id, Time now) {
  now_ = now;
  Call* c = find(id);
  if (!c || c->outgoing || c->final_sent) return;
  Message r = make_response(c->invite, 180, "", c->local_tag);
  r.add("Contact", contact(c->transport, ""));
  layer_.respond(c->server_txn, r, now);
}

void UserAgent::answer(CallId id, const std::string& sdp, Time now) {
  now_ = now;
  Call* c = find(id);
  if (!c || c->outgoing || c->final_sent) return;
  c->local_sdp = sdp;
  Message r = make_response(c->invite, 200, "", c->local_tag);
  r.add("Contact", contact(c->transport, ""));
  r.add("Allow", std::string(kAllow));
  if (auto se = c->invite.get("Session-Expires")) {
    std::string v = *se;
    if (v.find("refresher") == std::string::npos) v += ";refresher=uac";
    r.add("Session-Expires", v);
    r.add("Require", "timer");
  }
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
  if (!c || c->st != Call::St::established || c->reinvite_txn) return false;
  Message m = in_dialog_request(*c, "INVITE");
  m.add("Allow", std::string(kAllow));
  m.add("Supported", "timer");
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
  if (!c || c->st != Call::St::established || c->reinvite_txn) return false;
  Message m = in_dialog_request(*c, use_update ? "UPDATE" : "INVITE");
  m.add("Supported", "timer");
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
  m.add("Referred-By", contact(c->transport, ""));
  m.add("Contact", contact(c->transport, ""));
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
  m.add("Contact", contact(c->transport, ""));
  m.add("Content-Type", "message/sipfrag;version=2.0");
  m.body = status_line + "\r\n";
  auto hop = next_hop(*c);
  auto t = hop ? layer_.send_request(m, *hop, now) : std::nullopt;
  if (!t) return false;
  client_txns_[*t] = c->id;
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
  // Kept a while to absorb retransmissions (a 2xx to re-ACK, a repeated BYE).
  c.linger_until = now_ + 64 * cfg_.timers.t1;
  handler_.on_ended(c.id, cause);
}

void UserAgent::fail(Call& c, int status, const std::string& reason) {
  if (c.st == Call::St::ended) return;
  c.st = Call::St::ended;
  c.linger_until = now_ + 64 * cfg_.timers.t1;
  handler_.on_failed(c.id, status, reason);
}

void UserAgent::register_at(const Registration& r, Time now) {
  now_ = now;
  auto reg = std::make_unique<Reg>();
  reg->cfg = r;
  send_register(*reg, now, std::nullopt);
  regs_.push_back(std::move(reg));
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
  m.add("Via", via(r.cfg.next_hop.transport, new_branch()));
  m.add("Max-Forwards", "70");
  m.add("From", aor + ";tag=" + r.from_tag);
  m.add("To", aor);
  m.add("Call-ID", r.call_id);
  m.add("CSeq", std::to_string(++r.cseq) + " REGISTER");
  m.add("Contact", contact(r.cfg.next_hop.transport, r.cfg.aor_user));
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
  if (txn == c.invite_txn) {
    handle_invite_response(c, r);
  } else if (txn == c.reinvite_txn || (r.cseq().method == "INVITE" && r.status >= 200 && r.status < 300)) {
    handle_reinvite_response(c, r);
  } else if (txn == c.bye_txn && r.status >= 200) {
    if (c.st != Call::St::ended) end(c, EndCause::local_bye);
  } else if (txn == c.update_txn && r.status >= 200) {
    c.update_txn = 0;
    handler_.on_reinvite_result(c.id, r);
  } else if (txn == c.refer_txn && r.status >= 200) {
    c.refer_txn = 0;
    handler_.on_refer_result(c.id, r.status);
  }
  if (r.status >= 200 && !(r.cseq().method == "INVITE" && r.status < 300)) client_txns_.erase(txn);
}

void UserAgent::handle_invite_response(Call& c, const Message& r) {
  if (r.status < 200) {
    c.got_provisional = true;
    if (c.cancel_pending) {
      c.cancel_pending = false;
      c.cancelled = false;
      hangup(c.id, now_);
    }
    if (!c.cancelled && c.st == Call::St::calling) handler_.on_progress(c.id, r);
    return;
  }
  if (r.status < 300) {
    std::string tag = r.to() ? r.to()->tag().value_or("") : "";
    if (c.answered) {
      if (tag == c.remote_tag) layer_.send_direct(Message(*parse(c.ack_bytes)), *next_hop(c));
      return;  // a retransmission (or a forked answer, left alone)
    }
    c.answered = true;
    c.remote_tag = tag;
    if (auto u = contact_uri(r)) c.remote_target = *u;
    auto rr = r.all("Record-Route");
    c.route_set.assign(rr.rbegin(), rr.rend());
    c.remote_uri = without_tag(r.get("To").value_or(c.remote_uri));
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
      Message bye = in_dialog_request(c, "BYE");
      if (auto hop = next_hop(c)) {
        if (auto t = layer_.send_request(bye, *hop, now_)) client_txns_[*t] = c.id;
      }
      c.st = Call::St::ended;
      c.linger_until = now_ + 64 * cfg_.timers.t1;
      return;
    }
    handler_.on_answered(c.id, r);
    return;
  }
  if ((r.status == 401 || r.status == 407) && c.creds && c.auth_attempts < 2 && !c.cancelled) {
    auto ch = parse_challenge(r.get(r.status == 401 ? "WWW-Authenticate" : "Proxy-Authenticate").value_or(""));
    if (ch) {
      ++c.auth_attempts;
      ++c.local_seq;
      Message m = c.invite;
      m.set("Via", via(c.transport, new_branch()));
      m.set("CSeq", std::to_string(c.local_seq) + " INVITE");
      DigestRequest dr{c.creds->username, c.creds->password, "INVITE", m.uri, 1, ""};
      m.set(r.status == 401 ? "Authorization" : "Proxy-Authorization", authorization(*ch, dr));
      c.invite = m;
      c.got_provisional = false;
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

void UserAgent::handle_reinvite_response(Call& c, const Message& r) {
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
    handler_.on_reinvite_result(c.id, r);
    return;
  }
  c.reinvite_txn = 0;
  if (r.status == 491 && c.st == Call::St::established) {
    // §14.1: the owner of the Call-ID waits 2.1-4 s, the other side 0-2 s.
    int ms = c.outgoing ? std::uniform_int_distribution<int>(2100, 4000)(rng_) : std::uniform_int_distribution<int>(0, 2000)(rng_);
    c.reinvite_retry_at = now_ + Ms(ms);
    return;
  }
  c.reinvite_sdp.reset();
  handler_.on_reinvite_result(c.id, r);
}

void UserAgent::on_transport_error(TxnId txn) {
  transport_failed_ = true;
  on_timeout(txn);
  transport_failed_ = false;
}

void UserAgent::on_timeout(TxnId txn) {
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
  if (txn == c.invite_txn) {
    if (transport_failed_) fail(c, 503, "the connection to the next hop failed");
    else fail(c, 408, "no response to the INVITE");
  } else if (txn == c.bye_txn) {
    end(c, EndCause::local_bye);
  } else if (txn == c.reinvite_txn) {
    c.reinvite_txn = 0;
    c.reinvite_sdp.reset();
    handler_.on_reinvite_result(c.id, Message::response(408, "no response to the re-INVITE"));
  } else if (txn == c.update_txn) {
    c.update_txn = 0;
    handler_.on_reinvite_result(c.id, Message::response(408, "no response to the UPDATE"));
  } else if (txn == c.refer_txn) {
    c.refer_txn = 0;
    handler_.on_refer_result(c.id, 408);
  }
}

void UserAgent::on_stray_response(const Message& r, const Address&) {
  if (r.cseq().method != "INVITE" || r.status < 200 || r.status >= 300) return;
  Call* c = find_dialog(r, false);
  if (c && !c->ack_bytes.empty()) {
    if (auto hop = next_hop(*c)) layer_.send_direct(Message(*parse(c->ack_bytes)), *hop);
  }
}

void UserAgent::on_ack(const Message& ack, const Address&) {
  Call* c = find_dialog(ack, true);
  if (!c || c->ok_bytes.empty()) return;
  c->ok_next.reset();
  c->ok_deadline.reset();
  c->ok_bytes.clear();
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
  r.add("Contact", contact(c.transport, ""));
  r.add("Allow", std::string(kAllow));
  if (auto se = req.get("Session-Expires")) {
    std::string v = *se;
    if (v.find("refresher") == std::string::npos) v += ";refresher=uac";
    r.add("Session-Expires", v);
    r.add("Require", "timer");
  }
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
    reply(200, {{"Allow", std::string(kAllow)}, {"Accept", "application/sdp"}, {"Supported", "timer"}});
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
      end(*c, EndCause::cancelled);
    }
    return;
  }
  if (method == "INVITE" && !has_to_tag) {
    if (auto req_hdr = req.get("Require")) {
      for (const auto& r : req.all("Require")) {
        if (!iequals(r, "timer")) {
          reply(420, {{"Unsupported", r}});
          return;
        }
      }
    }
    if (!req.body.empty() && !is_sdp(req)) {
      reply(415, {{"Accept", "application/sdp"}});
      return;
    }
    if (auto se = req.get("Session-Expires")) {
      std::string v = *se;
      int secs = std::atoi(v.c_str());
      if (secs > 0 && secs < kMinSessionExpires) {
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
    c->invite = req;
    c->server_txn = txn;
    CallId id = c->id;
    dialogs_[dialog_key(c->call_id, c->local_tag, c->remote_tag)] = id;
    c->dialog_registered = true;
    server_invites_[txn] = id;
    calls_[id] = std::move(c);
    handler_.on_incoming(id, req, from);
    return;
  }
  if (method == "INVITE" || method == "BYE" || method == "UPDATE" || method == "INFO" || method == "NOTIFY" ||
      method == "REFER") {
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
      reply(status, status == 202 ? std::vector<Header>{{"Contact", contact(c->transport, "")}} : std::vector<Header>{},
            c->local_tag);
      return;
    }
    if (!req.body.empty() && !is_sdp(req)) {
      reply(415, {{"Accept", "application/sdp"}}, c->local_tag);
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
    if (!req.body.empty()) offer = req.body;
    answer_refresh(txn, *c, req, offer);
    return;
  }
  reply(405, {{"Allow", std::string(kAllow)}});
}

void UserAgent::tick(Time now) {
  now_ = now;
  layer_.tick(now);
  std::vector<CallId> erase;
  std::vector<CallId> retry;
  for (auto& [id, cp] : calls_) {
    Call& c = *cp;
    if (c.st == Call::St::ended) {
      if (c.linger_until && *c.linger_until <= now) erase.push_back(id);
      continue;
    }
    if (c.ok_deadline && *c.ok_deadline <= now) {
      c.ok_bytes.clear();
      c.ok_next.reset();
      c.ok_deadline.reset();
      retry.push_back(id);  // hang up below: §13.3.1.4
      continue;
    }
    if (c.ok_next && *c.ok_next <= now && !c.ok_bytes.empty()) {
      layer_.send_direct(Message(*parse(c.ok_bytes)), c.ok_to);
      c.ok_interval = std::min(c.ok_interval * 2, cfg_.timers.t2);
      c.ok_next = now + c.ok_interval;
    }
    if (c.reinvite_retry_at && *c.reinvite_retry_at <= now) {
      c.reinvite_retry_at.reset();
      if (c.reinvite_sdp) {
        std::string sdp = *c.reinvite_sdp;
        c.reinvite_sdp.reset();
        if (!reinvite(id, sdp, now)) handler_.on_reinvite_result(id, Message::response(500, "the re-INVITE could not be sent"));
      }
    }
  }
  for (auto& r : regs_) {
    if (r->next && *r->next <= now) {
      r->next.reset();
      r->auth_attempts = 0;
      send_register(*r, now, std::nullopt);
    }
  }
  for (CallId id : retry) {
    Call* c = find(id);
    if (!c) continue;
    Message bye = in_dialog_request(*c, "BYE");
    if (auto hop = next_hop(*c)) layer_.send_request(bye, *hop, now);
    end(*c, EndCause::no_ack);
  }
  for (CallId id : erase) {
    auto it = calls_.find(id);
    if (it == calls_.end()) continue;
    Call& c = *it->second;
    if (c.dialog_registered) dialogs_.erase(dialog_key(c.call_id, c.local_tag, c.remote_tag));
    if (c.server_txn) server_invites_.erase(c.server_txn);
    std::erase_if(client_txns_, [&](const auto& kv) { return kv.second == id; });
    calls_.erase(it);
  }
}

std::optional<Time> UserAgent::next_timer() const {
  auto next = layer_.next_timer();
  auto consider = [&](const std::optional<Time>& t) {
    if (t && (!next || *t < *next)) next = t;
  };
  for (const auto& [id, c] : calls_) {
    consider(c->ok_next);
    consider(c->ok_deadline);
    consider(c->reinvite_retry_at);
    consider(c->linger_until);
  }
  for (const auto& r : regs_) consider(r->next);
  return next;
}

}  // namespace sip
