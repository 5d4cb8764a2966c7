// webhook_target.hpp — where a received fax is announced: a user's webhook (issue 16), chosen by
// the mailboxes the fax is routed to (UserStore::webhook_targets) and stored with the fax's
// deliveries in one transaction (JobStore::add_deliveries), so no announcement is lost.
#pragma once

#include <string>

namespace queue {

struct WebhookTarget {
  std::string user;  // whose webhook secret signs it
  std::string url;   // the user's webhook_url
};

}  // namespace queue
