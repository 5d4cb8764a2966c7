// transaction.hpp — the SIP transaction layer (RFC 3261 §17), sans I/O.
//
// STANDARDS: RFC 3261 §17.1.1 (INVITE client: timers A, B, D), §17.1.2 (non-INVITE client: E, F,
// K), §17.2.1 (INVITE server: G, H, I; 100 Trying at once), §17.2.2 (non-INVITE server: J),
// §17.1.3/§17.2.3 (matching by branch, sent-by and method; ACK matches its INVITE), §18.2.1
// (received= on the top Via), §18.2.2 (where responses go), RFC 3581 (rport), RFC 6026 (the
// Accepted state: a 2xx ends neither side's INVITE transaction at once, later 2xx pass up).
// The layer owns no socket and no clock: the transport calls receive() with the bytes and their
// source, the owner calls tick(now) when next_timer() is due, and every datagram to send goes out
// through the Send function. Retransmissions happen only on UDP (Address::reliable() false).
// The transaction user (the UA, user_agent.hpp) gets new requests, responses and timeouts.
// Requests that do not parse get a 400 naming the problem when they carry enough to answer
// (Via, From, To, Call-ID, CSeq); anything else that does not parse is dropped and counted.
// LIMITS: kMaxTransactions live transactions (beyond them a new request gets 503 with
// Retry-After, a new client transaction is refused).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "sip/message.hpp"

namespace sip {

inline constexpr size_t kMaxTransactions = 100000;

enum class Transport { udp, tcp, tls };
std::string_view to_string(Transport t);  // "UDP", "TCP", "TLS"

struct Address {
  std::string ip;  // numeric, without brackets
  uint16_t port = 0;
  Transport transport = Transport::udp;
  bool reliable() const { return transport != Transport::udp; }
  std::string to_string() const;
  bool operator==(const Address&) const = default;
  auto operator<=>(const Address&) const = default;
};

using Clock = std::chrono::steady_clock;
using Time = Clock::time_point;
using Ms = std::chrono::milliseconds;

struct Timers {
  Ms t1{500};
  Ms t2{4000};
  Ms t4{5000};
};

using TxnId = uint64_t;

class TransactionUser {
 public:
  virtual ~TransactionUser() = default;
  // A new request (not a retransmission, not an ACK): answer it with respond().
  virtual void on_request(TxnId txn, const Message& request, const Address& from) = 0;
  // An ACK that matched no INVITE server transaction: the ACK of a 2xx (a dialog's business).
  virtual void on_ack(const Message& ack, const Address& from) = 0;
  // A response in a client transaction: provisional, final, and (RFC 6026) later 2xx of an INVITE.
  virtual void on_response(TxnId txn, const Message& response) = 0;
  // Timer B or F fired (or the transport failed): treat as 408 (§8.1.3.1).
  virtual void on_timeout(TxnId txn) = 0;
  // A response that matched no transaction (a 2xx retransmitted after ours ended).
  virtual void on_stray_response(const Message&, const Address&) {}
  // The transport could not deliver a client transaction's request (§17.1.4): a refused
  // connection, a failed TLS handshake. The transaction is gone.
  virtual void on_transport_error(TxnId txn) { on_timeout(txn); }
};

struct TransactionStats {
  uint64_t received = 0, malformed = 0, answered_400 = 0, retransmissions = 0, timeouts = 0;
};

class TransactionLayer {
 public:
  using Send = std::function<bool(const std::string& bytes, const Address& to)>;
  TransactionLayer(TransactionUser& tu, Send send, Timers timers = {});
  ~TransactionLayer();

  void receive(std::string_view bytes, const Address& from, Time now);
  // Starts a client transaction. The request's top Via must carry the branch. nullopt when
  // the layer is full or the transport refused the first send (then no callback follows).
  std::optional<TxnId> send_request(const Message& request, const Address& to, Time now);
  // Answers a server transaction (1xx any number of times, then one final).
  void respond(TxnId txn, const Message& response, Time now);
  // Sends outside any transaction: the ACK of a 2xx, a 2xx retransmitted by the UA.
  bool send_direct(const Message& m, const Address& to) { return send_(m.serialize(), to); }
  // Where the responses to a request from `from` go (§18.2.2, RFC 3581).
  static Address response_address(const Message& request, const Address& from);

  // Forgets a client transaction without a word to the TU (an INVITE given up after our CANCEL
  // brought no final, RFC 3261 §9.1).
  void abandon(TxnId txn) { remove(txn); }
  // The connection to `to` failed: every client transaction still waiting on it ends (§17.1.4).
  void transport_error(const Address& to);
  void tick(Time now);
  std::optional<Time> next_timer() const;
  size_t size() const;
  const TransactionStats& stats() const { return stats_; }
  const Timers& timers() const { return timers_; }
  // The INVITE server transaction a CANCEL refers to (§9.2), if still there.
  std::optional<TxnId> invite_for_cancel(const Message& cancel) const;
  // The request that opened a server or client transaction.
  const Message* request_of(TxnId txn) const;

 private:
  struct Txn;
  void fire(Txn& t, Time now);
  void deliver_response(Txn& t, const Message& m, Time now);
  void send_ack_for(Txn& t, const Message& response);
  void remove(TxnId id);
  void schedule(Txn& t);

  TransactionUser& tu_;
  Send send_;
  Timers timers_;
  TxnId next_id_ = 1;
  std::map<TxnId, std::unique_ptr<Txn>> txns_;
  std::map<std::string, TxnId> server_keys_, client_keys_;
  std::set<std::pair<Time, TxnId>> deadlines_;  // each transaction's next deadline
  TransactionStats stats_;
};

}  // namespace sip
