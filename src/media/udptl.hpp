// udptl.hpp — UDPTL, the UDP transport of T.38 fax (packet codec, sender, receiver), sans I/O.
//
// STANDARDS: ITU-T T.38 Annex (UDPTL packet, ASN.1 aligned PER; error recovery by redundancy
// or parity FEC), ITU-T X.691 (PER length determinants, open types: an empty open type is sent
// as one zero octet, §10.1), RFC 3362 (image/t38).
//
//   UDPTLPacket ::= SEQUENCE { seq-number INTEGER (0..65535), primary-ifp-packet (open type),
//     error-recovery CHOICE { secondary-ifp-packets SEQUENCE OF (open type),
//                             fec-info SEQUENCE { fec-npackets INTEGER, fec-data SEQUENCE OF OCTET STRING } } }
//
// Wire: 2 octets sequence number (big endian); the primary IFP as a length determinant and its
// octets; one octet whose top bit chooses redundancy (0) or FEC (1); then a count and that many
// IFPs (newest first), or fec-npackets as a length-prefixed integer, a count and the parity
// entries. FEC entry m of packet s is the XOR of the `span` packets s + m - span*entries + k*entries.
//
// Sender (Encoder): numbers IFPs, repeats the last N as secondaries (default 3), dropping the
// oldest until the datagram fits the peer's T38FaxMaxDatagram (spandsp does not bound this);
// or sends FEC. Receiver (Decoder): delivers IFPs in sequence order, fills gaps from
// secondaries or FEC, drops duplicates and late copies, waits up to kReorderWindow later
// packets for a missing one before declaring it lost (T.30 then sees the gap). A stream that
// starts again elsewhere in sequence space (an SBC failover, a peer restarting at 0 after a
// re-INVITE moved it) is followed: a jump beyond kResyncJump either way, or kResyncRun datagrams
// in a row that continue each other but lie behind what was delivered and are not copies of it
// (late duplicates never count), start the sequence again there (restart() does so at once, for a
// stream the SDP moved).
// LIMITS: kMaxEntries secondaries/FEC entries per packet, kMaxIfp octets per IFP; fragmented
// (>= 16K) lengths are refused.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace udptl {

inline constexpr size_t kMaxEntries = 16;
inline constexpr size_t kMaxIfp = 16383;
inline constexpr int kReorderWindow = 4;
inline constexpr int kFecHistory = 64;  // delivered IFPs kept for parity repair
inline constexpr int kResyncJump = 500;   // a sequence jump this far (either way) is a new stream
inline constexpr int kResyncRun = 3;      // consecutive datagrams behind the delivered ones: a restart

using Bytes = std::vector<uint8_t>;

struct Packet {
  uint16_t seq = 0;
  Bytes primary;
  bool fec = false;               // false: redundancy (secondary IFPs)
  std::vector<Bytes> secondary;   // redundancy: secondary[k] is the IFP of seq - 1 - k
  int fec_span = 0;               // FEC: packets XOR-ed into each entry
  std::vector<Bytes> fec_entries;
  bool operator==(const Packet&) const = default;
};

struct DecodeError {
  std::string reason;
};

fb::Result<Packet, DecodeError> decode(std::span<const uint8_t> datagram);
Bytes encode(const Packet& p);

enum class Mode { none, redundancy, fec };

struct EncoderConfig {
  Mode mode = Mode::redundancy;
  int redundancy = 3;     // secondaries per packet
  int fec_span = 3;       // packets per parity entry
  int fec_entries = 3;    // parity entries per packet
  size_t max_datagram = 400;  // the peer's T38FaxMaxDatagram
};

class Encoder {
 public:
  explicit Encoder(EncoderConfig cfg) : cfg_(cfg) {}
  Bytes next(std::span<const uint8_t> ifp);  // the datagram carrying this IFP
  uint16_t next_seq() const { return seq_; }

 private:
  EncoderConfig cfg_;
  uint16_t seq_ = 0;
  std::map<uint16_t, Bytes> history_;  // recent IFPs by sequence number
};

struct Ifp {
  uint16_t seq;
  Bytes data;
  bool recovered = false;  // rebuilt from redundancy or FEC
  bool operator==(const Ifp&) const = default;
};

struct DecoderStats {
  uint64_t received = 0, delivered = 0, recovered = 0, duplicates = 0, lost = 0, malformed = 0, resyncs = 0;
};

class Decoder {
 public:
  // IFPs that became deliverable, in sequence order. Malformed datagrams deliver nothing.
  std::vector<Ifp> receive(std::span<const uint8_t> datagram);
  const DecoderStats& stats() const { return stats_; }
  // The next datagram starts the sequence anew (the stream moved).
  void restart() {
    started_ = false;
    pending_.clear();
    recent_.clear();
    behind_run_ = 0;
  }

 private:
  void resync(uint16_t first);
  void store(uint16_t seq, Bytes data, bool recovered);
  void try_fec(const Packet& p);
  void release(std::vector<Ifp>& out);

  bool started_ = false;
  uint16_t next_ = 0;              // the next sequence number to deliver
  std::map<int64_t, Ifp> pending_;  // held back past a gap, keyed by unwrapped sequence
  std::map<int64_t, Bytes> recent_;  // delivered IFPs still needed as FEC terms
  int64_t base_ = 0;               // unwrapped value of next_
  int behind_run_ = 0;             // datagrams in a row behind next_, each following the last
  uint16_t behind_first_ = 0, behind_last_ = 0;
  DecoderStats stats_;
};

}  // namespace udptl
