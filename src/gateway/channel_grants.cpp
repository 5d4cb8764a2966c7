// channel_grants.cpp — a trunk's channels across nodes (channel_grants.hpp).
#include "gateway/channel_grants.hpp"

#include <algorithm>
#include <ctime>

#include "core/log.hpp"

namespace gateway {

namespace {

int64_t unix_now() { return int64_t(std::time(nullptr)); }

// Stop starting calls this long before the grant in the store runs out unrenewed.
constexpr int64_t kMargin = 2;

}  // namespace

int channels_wanted(const FaxCalls::Channels& trunk, int waiting, int spare) {
  if (trunk.removed) return std::min(trunk.in_use, trunk.max);
  return std::clamp(trunk.in_use + std::max(0, waiting) + std::max(0, spare), 0, trunk.max);
}

ChannelGrants::ChannelGrants(asio::io_context& io, asio::any_io_executor store, queue::JobStore& db, FaxCalls& calls,
                             std::function<std::vector<int>()> waiting, std::function<bool()> taking,
                             ChannelGrantOptions options)
    : io_(io),
      store_(std::move(store)),
      db_(db),
      calls_(calls),
      waiting_(std::move(waiting)),
      taking_(std::move(taking)),
      opt_(std::move(options)),
      timer_(io),
      watch_timer_(io) {}

void ChannelGrants::start() {
  calls_.use_grants();
  calls_.want_channel = [this](size_t trunk, std::function<void(FaxCalls::ChannelAnswer)> then) {
    want(trunk, std::move(then));
  };
  watch();
  syncing_ = true;  // the first sync waits for the old grants to go
  asio::post(store_, [this] {
    queue::logged(db_.drop_channel_grants(opt_.node));
    asio::post(io_, [this] {
      syncing_ = false;
      sync();
    });
  });
}

void ChannelGrants::stop() {
  stopped_ = true;
  timer_.cancel();
  watch_timer_.cancel();
  calls_.want_channel = nullptr;
  for (auto& [trunk, then] : pending_) then(FaxCalls::ChannelAnswer::stopping);
  pending_.clear();
  asio::post(store_, [this] { queue::logged(db_.drop_channel_grants(opt_.node)); });
}

void ChannelGrants::watch() {
  const int64_t now = unix_now();
  for (size_t i = 0; i < expires_.size(); ++i) {
    if (now >= expires_[i] - kMargin) calls_.set_granted(i, 0);
  }
  watch_timer_.expires_after(opt_.period);
  watch_timer_.async_wait([this](std::error_code ec) {
    if (!ec && !stopped_) watch();
  });
}

void ChannelGrants::want(size_t trunk, std::function<void(FaxCalls::ChannelAnswer)> then) {
  pending_.emplace_back(trunk, std::move(then));
  if (syncing_) {
    again_ = true;
  } else {
    sync();
  }
}

void ChannelGrants::sync() {
  if (stopped_) return;
  if (syncing_) {
    again_ = true;
    return;
  }
  syncing_ = true;
  again_ = false;
  const auto channels = calls_.channels();
  const auto waiting = waiting_ ? waiting_() : std::vector<int>{};
  const bool taking = taking_ && taking_();
  auto pending = std::move(pending_);
  pending_.clear();
  struct Ask {
    std::string trunk;
    int want = 0;
    int max = 0;
  };
  std::vector<Ask> asks;
  for (size_t i = 0; i < channels.size(); ++i) {
    int asked = int(std::count_if(pending.begin(), pending.end(), [&](const auto& p) { return p.first == i; }));
    int want = channels_wanted(channels[i], (i < waiting.size() ? waiting[i] : 0) + asked, opt_.spare);
    if (channels[i].granted && want < *channels[i].granted) {
      if (taking) {
        want = *channels[i].granted;  // the dispatcher may be about to use them: not now
      } else {
        calls_.set_granted(i, want);  // lowered here first: no call starts in what goes back
      }
    }
    asks.push_back({channels[i].trunk, want, channels[i].max});
  }
  asio::post(store_, [this, asks = std::move(asks), pending = std::move(pending)]() mutable {
    // Timed here, when the store writes them (this thread may have been held up).
    const int64_t now = unix_now();
    const int64_t expires = now + opt_.lease_s;
    std::vector<std::optional<int>> got;
    std::string error;
    for (const auto& a : asks) {
      auto r = db_.grant_channels(opt_.node, a.trunk, a.want, a.max, now, expires);
      if (!r && error.empty()) error = r.error().message;
      got.push_back(r ? std::optional<int>(*r) : std::nullopt);
    }
    asio::post(io_, [this, got = std::move(got), error, expires, pending = std::move(pending)] {
      syncing_ = false;
      if (!error.empty() && !failing_) {
        fb::log(fb::LogLevel::warn, "store", "channel grants cannot be renewed: " + error +
                                                 "; no new call starts once this node's grants run out");
      } else if (error.empty() && failing_) {
        fb::log(fb::LogLevel::info, "store", "channel grants renewed again");
      }
      failing_ = !error.empty();
      applied(got, expires);
      const auto answer = stopped_         ? FaxCalls::ChannelAnswer::stopping
                          : error.empty() ? FaxCalls::ChannelAnswer::synced
                                          : FaxCalls::ChannelAnswer::store_unavailable;
      for (const auto& [trunk, then] : pending) then(answer);
      if (stopped_) return;
      if (again_) {
        sync();
        return;
      }
      timer_.expires_after(opt_.period);
      timer_.async_wait([this](std::error_code ec) {
        if (!ec) sync();
      });
    });
  });
}

void ChannelGrants::applied(const std::vector<std::optional<int>>& got, int64_t expires) {
  if (expires_.size() < got.size()) expires_.resize(got.size(), 0);
  const int64_t now = unix_now();
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] && now < expires - kMargin) {
      calls_.set_granted(i, *got[i]);
      expires_[i] = expires;
    } else if (now >= expires_[i] - kMargin) {
      calls_.set_granted(i, 0);  // the store may give this share to another node soon
    }
  }
}

}  // namespace gateway
