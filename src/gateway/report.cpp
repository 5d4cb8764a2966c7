#include "gateway/report.hpp"

namespace gateway {

ReportLine report_line(const queue::Job& j) {
  const std::string o = j.outcome.value_or("");
  if (j.state == queue::state::done) return {"delivered", "2.0.0", ""};
  if (j.state == queue::state::cancelled) return {"failed", "5.0.0", "cancelled"};
  const bool final = j.state != queue::state::retry;
  auto two = [&](const char* delayed, const char* failed, const char* words) -> ReportLine {
    return final ? ReportLine{"failed", failed, words} : ReportLine{"delayed", delayed, words};
  };
  if (o == "busy") return two("4.4.1", "5.4.1", "busy");
  if (o == "no_answer") return two("4.4.1", "5.4.1", "no answer");
  if (o == "congestion") return two("4.4.5", "5.4.5", "congestion");
  if (o == "t30_failure") return two("4.4.2", "5.4.2", "fax transmission failed");
  if (o == "partial") return two("4.4.2", "5.4.2", "partial transmission");
  if (o == "expired") return {"failed", "5.4.7", "give-up time reached"};
  if (o == "invalid_number") return {"failed", "5.1.1", "invalid number"};
  if (o == "t38_refused") return {"failed", "5.6.3", "T.38 refused"};
  if (o == "rejected") return {"failed", "5.4.0", "rejected by the trunk"};
  if (o == "not_allowed") return {"failed", "5.7.1", "not allowed by the dialling policy"};
  if (o == "over_cap") return {"failed", "5.7.1", "over the daily cap on fax calls or pages"};
  if (o.empty() && j.dials == 0 && j.tries == 0) return two("4.6.1", "5.6.1", "the document could not be rendered");
  return two("4.4.0", "5.4.0", o.empty() ? "failed" : o.c_str());
}

bool wants_report(const std::optional<std::string>& notify, const std::string& action, const NotifyDefaults& d) {
  if (!notify) return action == "failed" || (action == "delayed" && d.delay) || (action == "delivered" && d.success);
  if (*notify == "NEVER") return false;
  const char* word = action == "failed" ? "FAILURE" : action == "delayed" ? "DELAY" : "SUCCESS";
  return notify->find(word) != std::string::npos;
}

}  // namespace gateway
