// report.hpp — what the sender of a fax mail is told about each fax recipient, and when
// (../shared/specs/dsn-and-status.md). Pure functions; onramp.cpp composes and delivers.
//
// STANDARDS: RFC 3461 §4.1 (NOTIFY: NEVER, or SUCCESS/FAILURE/DELAY; absent: failures, and
// delays/successes per [dsn]), RFC 3463 (enhanced status codes), RFC 3464 (Action).
// The outcome → status table of dsn-and-status.md:
//   done 2.0.0 delivered; busy/no answer 4.4.1 → 5.4.1; congestion 4.4.5 → 5.4.5; T.30 failure
//   and partial send 4.4.2 → 5.4.2; give-up time 5.4.7; invalid number 5.1.1; T.38 refused 5.6.3;
//   rendering failed 5.6.1; rejected by the trunk 5.4.0; cancelled 5.0.0.
#pragma once

#include <optional>
#include <string>

#include "queue/job_store.hpp"

namespace gateway {

struct ReportLine {
  std::string action;      // delivered | failed | delayed
  std::string status;      // "5.4.1"
  std::string diagnostic;  // "busy"
};

// The report for a job in its current state: a final job (done, failed, cancelled) or one waiting
// for a retry (delayed).
ReportLine report_line(const queue::Job& job);

struct NotifyDefaults {
  bool success = false;  // [dsn] success
  bool delay = true;     // [dsn] delay
};
// Whether the sender wants to hear of `action` for this job.
bool wants_report(const std::optional<std::string>& notify, const std::string& action, const NotifyDefaults& d);

}  // namespace gateway
