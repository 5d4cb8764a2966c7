// transaction.cpp — the four RFC 3261 transaction state machines (see transaction.hpp).
#include "sip/transaction.hpp"

#include <algorithm>
#include <vector>

namespace sip {

std::string_view to_string(Transport t) {
  switch (t) {
    case Transport::udp: return "UDP";
    case Transport::tcp: return "TCP";
    case Transport::tls: return "TLS";
  }
  return "UDP";
}

std::string Address::to_string() const {
  std::string host = ip.find(':') != std::string::npos ? "[" + ip + "]" : ip;
  return host + ":" + std::to_string(port) + "/" + std::string(sip::to_string(transport));
}

namespace {

enum class State { calling, trying, proceeding, completed, confirmed, accepted };

bool has_cookie(std::string_view branch) { return branch.starts_with("z9hG4bK"); }

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string server_key(const Message& m) {
  auto via = m.top_via();
  if (!via) return {};
  std::string method = m.method == "ACK" ? "INVITE" : m.method;
  std::string key = via->branch() + "|" + lower(via->host) + ":" + std::to_string(via->port) + "|" + method;
  if (!has_cookie(via->branch())) key += "|" + m.call_id() + "|" + std::to_string(m.cseq().number);  // RFC 2543 peers
  return key;
}

std::string client_key(std::string_view branch, std::string_view method) {
  return std::string(branch) + "|" + std::string(method);
}

}  // namespace

struct TransactionLayer::Txn {
  TxnId id = 0;
  bool server = false;
  bool invite = false;
  State state = State::trying;
  Message request;
  Address peer;
  std::string key;
  std::string bytes;      // client: the request; server: the last response sent
  std::string ack_bytes;  // INVITE client: the ACK of its non-2xx final
  Ms interval{0};
  std::optional<Time> retransmit_at;
  std::optional<Time> end_at;
  std::optional<Time> scheduled;  // its entry in timers_
};

// The transaction's next deadline goes into deadlines_, so tick() and next_timer() cost a
// lookup of the earliest, not a scan of every transaction (a flood of them must not make each
// datagram slower).
void TransactionLayer::schedule(Txn& t) {
  if (t.scheduled) deadlines_.erase({*t.scheduled, t.id});
  t.scheduled.reset();
  std::optional<Time> due = t.retransmit_at;
  if (t.end_at && (!due || *t.end_at < *due)) due = t.end_at;
  if (!due) return;
  t.scheduled = due;
  deadlines_.insert({*due, t.id});
}

TransactionLayer::TransactionLayer(TransactionUser& tu, Send send, Timers timers)
    : tu_(tu), send_(std::move(send)), timers_(timers) {}

TransactionLayer::~TransactionLayer() = default;

size_t TransactionLayer::size() const { return txns_.size(); }

Address TransactionLayer::response_address(const Message& request, const Address& from) {
  auto via = request.top_via();
  if (!via || from.reliable() || via->params.has("rport")) return from;
  // §18.2.2: the source address (received=) and the port of sent-by, 5060 by default.
  Address a = from;
  a.port = uint16_t(via->port ? via->port : 5060);
  return a;
}

const Message* TransactionLayer::request_of(TxnId txn) const {
  auto it = txns_.find(txn);
  return it == txns_.end() ? nullptr : &it->second->request;
}

std::optional<TxnId> TransactionLayer::invite_for_cancel(const Message& cancel) const {
  Message probe = cancel;
  probe.method = "INVITE";
  auto it = server_keys_.find(server_key(probe));
  if (it == server_keys_.end()) return std::nullopt;
  return it->second;
}

void TransactionLayer::receive(std::string_view bytes, const Address& from, Time now) {
  ++stats_.received;
  auto parsed = parse(bytes);
  if (!parsed) {
    ++stats_.malformed;
    const auto& partial = parsed.error().partial;
    if (partial && partial->is_request() && partial->method != "ACK" && partial->top_via() && partial->from() &&
        partial->to() && !partial->call_id().empty() && parse_cseq(partial->get("CSeq").value_or(""))) {
      Message r = make_response(*partial, 400, parsed.error().reason);
      if (parse(r.serialize())) {
        send_(r.serialize(), response_address(*partial, from));
        ++stats_.answered_400;
      }
    }
    return;
  }
  Message m = std::move(*parsed);
  if (m.is_request()) {
    // §18.2.1 and RFC 3581: record where the request really came from on its top Via.
    auto via = m.top_via();
    if (via->host != from.ip && via->host != "[" + from.ip + "]") via->params.set("received", from.ip);
    if (via->params.has("rport")) via->params.set("rport", std::to_string(from.port));
    for (auto& h : m.headers) {
      if (h.name == "Via") {
        h.value = via->to_string();
        break;
      }
    }
    std::string key = server_key(m);
    if (auto it = server_keys_.find(key); it != server_keys_.end()) {
      Txn& t = *txns_.at(it->second);
      if (m.method == "ACK") {
        if (t.state == State::completed) {
          t.state = State::confirmed;
          t.retransmit_at.reset();
          t.end_at = now + (t.peer.reliable() ? Ms(0) : timers_.t4);
          schedule(t);
        } else if (t.state == State::accepted) {
          tu_.on_ack(m, from);
        }
        return;
      }
      if (m.method != t.request.method) return;  // a CANCEL shares the branch but is its own key
      // A retransmitted request: repeat the last response, if any (§17.2.1, §17.2.2).
      if (!t.bytes.empty() && t.state != State::accepted) {
        send_(t.bytes, t.peer);
        ++stats_.retransmissions;
      }
      return;
    }
    if (m.method == "ACK") {
      tu_.on_ack(m, from);
      return;
    }
    if (txns_.size() >= kMaxTransactions) {
      Message r = make_response(m, 503, "Too many transactions");
      r.add("Retry-After", "5");
      send_(r.serialize(), response_address(m, from));
      return;
    }
    auto t = std::make_unique<Txn>();
    t->id = next_id_++;
    t->server = true;
    t->invite = m.method == "INVITE";
    t->state = t->invite ? State::proceeding : State::trying;
    t->peer = response_address(m, from);
    t->key = key;
    t->request = m;
    TxnId id = t->id;
    if (t->invite) {
      t->bytes = make_response(m, 100).serialize();  // §17.2.1: at once, the TU may take a while
      send_(t->bytes, t->peer);
    }
    server_keys_[key] = id;
    txns_[id] = std::move(t);
    tu_.on_request(id, m, from);
    return;
  }
  auto via = m.top_via();
  auto it = client_keys_.find(client_key(via->branch(), m.cseq().method));
  if (it == client_keys_.end()) {
    tu_.on_stray_response(m, from);
    return;
  }
  deliver_response(*txns_.at(it->second), m, now);
}

void TransactionLayer::deliver_response(Txn& t, const Message& m, Time now) {
  bool provisional = m.status < 200;
  bool success = m.status >= 200 && m.status < 300;
  if (t.invite) {
    switch (t.state) {
      case State::calling:
      case State::proceeding:
        if (provisional) {
          t.state = State::proceeding;
          t.retransmit_at.reset();
          t.end_at.reset();  // the TU's ring timeout (and CANCEL) takes over from timer B
        } else if (success) {
          t.state = State::accepted;  // RFC 6026 timer M: later 2xx still reach the TU
          t.retransmit_at.reset();
          t.end_at = now + 64 * timers_.t1;
        } else {
          t.state = State::completed;
          t.retransmit_at.reset();
          t.end_at = now + (t.peer.reliable() ? Ms(0) : Ms(32000));
          send_ack_for(t, m);
        }
        schedule(t);
        tu_.on_response(t.id, m);
        return;
      case State::accepted:
        if (success) tu_.on_response(t.id, m);
        return;
      case State::completed:
        if (!provisional && !success) {
          send_(t.ack_bytes, t.peer);  // the final again: our ACK was lost
          ++stats_.retransmissions;
        }
        return;
      default: return;
    }
  }
  if (t.state == State::completed) return;
  if (provisional) {
    t.state = State::proceeding;
  } else {
    t.state = State::completed;
    t.retransmit_at.reset();
    t.end_at = now + (t.peer.reliable() ? Ms(0) : timers_.t4);
  }
  schedule(t);
  tu_.on_response(t.id, m);
}

void TransactionLayer::send_ack_for(Txn& t, const Message& response) {
  // §17.1.1.3: same Request-URI, Call-ID, From, top Via and Route; To from the response.
  Message ack = Message::request("ACK", t.request.uri);
  if (auto v = t.request.get("Via")) ack.add("Via", *v);
  ack.add("Max-Forwards", "70");
  if (auto f = t.request.get("From")) ack.add("From", *f);
  if (auto to = response.get("To")) ack.add("To", *to);
  ack.add("Call-ID", t.request.call_id());
  ack.add("CSeq", std::to_string(t.request.cseq().number) + " ACK");
  for (const auto& r : t.request.all("Route")) ack.add("Route", r);
  t.ack_bytes = ack.serialize();
  send_(t.ack_bytes, t.peer);
}

std::optional<TxnId> TransactionLayer::send_request(const Message& request, const Address& to, Time now) {
  if (txns_.size() >= kMaxTransactions) return std::nullopt;
  auto via = request.top_via();
  if (!via || via->branch().empty()) return std::nullopt;
  auto t = std::make_unique<Txn>();
  t->id = next_id_++;
  t->invite = request.method == "INVITE";
  t->state = t->invite ? State::calling : State::trying;
  t->request = request;
  t->peer = to;
  t->key = client_key(via->branch(), request.method);
  t->bytes = request.serialize();
  if (!send_(t->bytes, to)) return std::nullopt;
  if (!to.reliable()) {
    t->interval = timers_.t1;
    t->retransmit_at = now + timers_.t1;
  }
  t->end_at = now + 64 * timers_.t1;  // timer B or F
  TxnId id = t->id;
  client_keys_[t->key] = id;
  schedule(*t);
  txns_[id] = std::move(t);
  return id;
}

void TransactionLayer::respond(TxnId id, const Message& response, Time now) {
  auto it = txns_.find(id);
  if (it == txns_.end() || !it->second->server) return;
  Txn& t = *it->second;
  if (t.state == State::completed || t.state == State::confirmed || t.state == State::accepted) return;  // one final only
  t.bytes = response.serialize();
  send_(t.bytes, t.peer);
  if (response.status < 200) {
    if (!t.invite) t.state = State::proceeding;
    return;
  }
  if (t.invite && response.status < 300) {
    t.state = State::accepted;  // the UA retransmits the 2xx until the ACK (§13.3.1.4)
    t.end_at = now + 64 * timers_.t1;  // RFC 6026 timer L
    schedule(t);
    return;
  }
  t.state = State::completed;
  if (t.invite) {
    if (!t.peer.reliable()) {
      t.interval = timers_.t1;
      t.retransmit_at = now + timers_.t1;  // timer G
    }
    t.end_at = now + 64 * timers_.t1;  // timer H
  } else {
    t.end_at = now + (t.peer.reliable() ? Ms(0) : 64 * timers_.t1);  // timer J
  }
  schedule(t);
}

void TransactionLayer::fire(Txn& t, Time now) {
  if (t.retransmit_at && *t.retransmit_at <= now) {
    send_(t.bytes, t.peer);
    ++stats_.retransmissions;
    if (t.invite && !t.server) {
      t.interval *= 2;  // timer A doubles without a cap
    } else if (!t.server && t.state == State::proceeding) {
      t.interval = timers_.t2;
    } else {
      t.interval = std::min(t.interval * 2, timers_.t2);  // timers E and G
    }
    t.retransmit_at = now + t.interval;
  }
  schedule(t);
}

void TransactionLayer::tick(Time now) {
  std::vector<TxnId> due;
  for (auto it = deadlines_.begin(); it != deadlines_.end() && it->first <= now; ++it) due.push_back(it->second);
  for (TxnId id : due) {
    auto it = txns_.find(id);
    if (it == txns_.end()) continue;
    Txn& t = *it->second;
    if (t.end_at && *t.end_at <= now) {
      bool timed_out = !t.server && (t.state == State::calling || t.state == State::trying || t.state == State::proceeding);
      remove(id);
      if (timed_out) {
        ++stats_.timeouts;
        tu_.on_timeout(id);
      }
      continue;
    }
    fire(t, now);
  }
}

std::optional<Time> TransactionLayer::next_timer() const {
  if (deadlines_.empty()) return std::nullopt;
  return deadlines_.begin()->first;
}

void TransactionLayer::transport_error(const Address& to) {
  std::vector<TxnId> failed;
  for (const auto& [id, t] : txns_) {
    if (!t->server && t->peer == to && (t->state == State::calling || t->state == State::trying)) failed.push_back(id);
  }
  for (TxnId id : failed) {
    remove(id);
    tu_.on_transport_error(id);
  }
}

void TransactionLayer::remove(TxnId id) {
  auto it = txns_.find(id);
  if (it == txns_.end()) return;
  if (it->second->scheduled) deadlines_.erase({*it->second->scheduled, id});
  auto& keys = it->second->server ? server_keys_ : client_keys_;
  if (auto k = keys.find(it->second->key); k != keys.end() && k->second == id) keys.erase(k);
  txns_.erase(it);
}

}  // namespace sip
