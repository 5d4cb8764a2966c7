// store_copy_test.cpp — how `store copy` renames a node's spool files as their jobs and
// deliveries are renumbered (the copy itself runs against PostgreSQL in cli.cluster.StoreCopyTest).
#include "queue/store_copy.hpp"

#include <gtest/gtest.h>

namespace {

TEST(StoreCopy, SpoolFilesFollowTheirRenumberedJobsAndDeliveries) {
  const std::map<int64_t, int64_t> jobs = {{1, 41}, {2, 42}};
  const std::map<int64_t, int64_t> deliveries = {{7, 107}};
  using queue::renamed_document;
  EXPECT_EQ(renamed_document("fax/1.tif", jobs, deliveries), "fax/41.tif");
  EXPECT_EQ(renamed_document("in/2.tif", jobs, deliveries), "in/42.tif");
  EXPECT_EQ(renamed_document("archive/2.tif", jobs, deliveries), "in/42.tif");  // a shared store's name for it
  EXPECT_EQ(renamed_document("out/2.eml", jobs, deliveries), "out/42.eml");
  EXPECT_EQ(renamed_document("out/2.pdf", jobs, deliveries), "out/42.pdf");
  EXPECT_EQ(renamed_document("out/2-7.eml", jobs, deliveries), "out/42-107.eml");
  EXPECT_EQ(renamed_document("out/2-8.eml", jobs, deliveries), "out/42-8.eml");  // not a delivery copied
  EXPECT_EQ(renamed_document("out/api-1-cover.pdf", jobs, deliveries), "out/api-41-cover.pdf");
  // Named by a message or a report: kept as they are.
  EXPECT_EQ(renamed_document("msg/0123456789abcdef.eml", jobs, deliveries), "msg/0123456789abcdef.eml");
  EXPECT_EQ(renamed_document("out/dsn-0123456789abcdef-1-failed.eml", jobs, deliveries),
            "out/dsn-0123456789abcdef-1-failed.eml");
  EXPECT_EQ(renamed_document("out/postmaster-0123456789abcdef.eml", jobs, deliveries),
            "out/postmaster-0123456789abcdef.eml");
  // A job not copied (gone from the store): its files are not either.
  EXPECT_EQ(renamed_document("fax/3.tif", jobs, deliveries), "");
  EXPECT_EQ(renamed_document("out/3-7.eml", jobs, deliveries), "");
  // Not ours, or too long for an id: kept as named.
  EXPECT_EQ(renamed_document("fax/1.tif.tmp", jobs, deliveries), "fax/1.tif.tmp");
  EXPECT_EQ(renamed_document("fax/1234567890123456789012.tif", jobs, deliveries), "fax/1234567890123456789012.tif");
}

}  // namespace
