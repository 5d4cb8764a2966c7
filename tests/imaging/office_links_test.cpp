// office_links_test.cpp — external references out of OOXML and ODF packages: what goes, what
// stays, and a package that still opens.
#include "imaging/office_links.hpp"

#include <zip.h>

#include <map>

#include <gtest/gtest.h>

namespace imaging {
namespace {

// A zip with these parts, in order (ZIP_CM_STORE for "mimetype", as ODF wants).
std::string make_zip(const std::vector<std::pair<std::string, std::string>>& parts) {
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* dst = zip_source_buffer_create(nullptr, 0, 0, &err);
  zip_source_keep(dst);
  zip_t* z = zip_open_from_source(dst, ZIP_TRUNCATE, &err);
  for (const auto& [name, data] : parts) {
    zip_source_t* s = zip_source_buffer(z, data.data(), data.size(), 0);
    zip_int64_t i = zip_file_add(z, name.c_str(), s, 0);
    if (name == "mimetype") zip_set_file_compression(z, zip_uint64_t(i), ZIP_CM_STORE, 0);
  }
  zip_close(z);
  zip_stat_t st;
  zip_source_stat(dst, &st);
  std::string out(size_t(st.size), '\0');
  zip_source_open(dst);
  zip_source_read(dst, out.data(), out.size());
  zip_source_close(dst);
  zip_source_free(dst);
  return out;
}

std::map<std::string, std::string> read_zip(const std::string& bytes) {
  std::map<std::string, std::string> out;
  zip_error_t err;
  zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &err);
  zip_t* z = zip_open_from_source(src, ZIP_RDONLY, &err);
  if (!z) return out;
  for (zip_int64_t i = 0; i < zip_get_num_entries(z, 0); ++i) {
    zip_stat_t st;
    zip_stat_index(z, zip_uint64_t(i), 0, &st);
    std::string data(size_t(st.size), '\0');
    zip_file_t* f = zip_fopen_index(z, zip_uint64_t(i), 0);
    zip_fread(f, data.data(), data.size());
    zip_fclose(f);
    out[st.name] = data;
  }
  zip_discard(z);
  return out;
}

const std::string kRels =
    "<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
    "<Relationship Id=\"rId1\" Type=\"http://x/image\" Target=\"media/logo.png\"/>"
    "<Relationship Id=\"rId2\" Type=\"http://x/image\" Target=\"http://169.254.169.254/latest\" TargetMode=\"External\"/>"
    "<Relationship TargetMode='external' Id='rId3' Target='file:///etc/passwd' Type='http://x/image'></Relationship>"
    "<Relationship Id=\"rId4\" Type=\"http://x/hyperlink\" Target=\"https://example.com/\" TargetModeX=\"External\"/>"
    "</Relationships>";

TEST(OfficeLinks, ExternalRelationshipsGoTheDocumentsOwnPartsStay) {
  int removed = 0;
  std::string out = strip_external_relationships(kRels, removed);
  EXPECT_EQ(removed, 3);  // rId4's Target has a scheme: it goes too, whatever TargetModeX says
  EXPECT_EQ(out.find("169.254.169.254"), std::string::npos);
  EXPECT_EQ(out.find("/etc/passwd"), std::string::npos);
  EXPECT_EQ(out.find("rId4"), std::string::npos);
  EXPECT_NE(out.find("Target=\"media/logo.png\""), std::string::npos);
  EXPECT_NE(out.find("</Relationships>"), std::string::npos);
  // Nothing to take: the part is unchanged, byte for byte.
  removed = 0;
  const std::string plain = "<Relationships><Relationship Id=\"a\" Target=\"x.xml\"/></Relationships>";
  EXPECT_EQ(strip_external_relationships(plain, removed), plain);
  EXPECT_EQ(removed, 0);
  // Broken XML is passed on (LibreOffice judges it), never read past its end.
  for (std::string bad : {"<Relationship TargetMode=\"External\"", "<", "<Relationship TargetMode=External/>",
                          "<x:Relationship TargetMode=\"External\">unterminated"}) {
    removed = 0;
    (void)strip_external_relationships(bad, removed);
  }
}

TEST(OfficeLinks, TricksThatHideALinkFromASimpleScanDoNotWork) {
  int removed = 0;
  const std::string rels =
      "<Relationships>"
      "<Relationship Id=\"x>\" TargetMode=\"External\" Target=\"http://a/\"/>"                // '>' in a value
      "<Relationship Id=\"a TargetMode='x'\" TargetMode=\"External\" Target=\"media/b\"/>"  // a decoy inside a value
      "<Relationship Id=\"c\" TargetMode=\"&#69;xternal\" Target=\"../../etc/passwd\"/>"     // an encoded mode
      "<Relationship Id=\"d\" Target=\"&#104;ttp://e/\"/>"                                   // an encoded scheme
      "<!-- <Relationship Id=\"e\" TargetMode=\"External\"/> -->"
      "<Relationship Id=\"keep\" Target=\"../customXml/item1.xml\"/></Relationships>";
  std::string out = strip_external_relationships(rels, removed);
  EXPECT_EQ(removed, 4);
  EXPECT_EQ(out.find("http"), std::string::npos);
  EXPECT_EQ(out.find("passwd"), std::string::npos);
  EXPECT_NE(out.find("Id=\"keep\""), std::string::npos);
  removed = 0;
  out = strip_external_hrefs(
      "<text:p>xlink:href=\"</text:p><draw:image xlink:href=\"http://evil/\"/>"  // text that looks like an attribute
      "<draw:image x:href=\"file:///etc/passwd\"/><draw:image xlink:href=\"&#104;ttp://e/\"/>"
      "<draw:image xlink:href=\"Pictures/../../x\"/><draw:image xlink:href=\"Pictures/1.png\"/>"
      "<meta:template xlink:href=\"smb://host/t.ott\"/>",
      removed);
  EXPECT_EQ(removed, 5);
  EXPECT_EQ(out.find("evil"), std::string::npos);
  EXPECT_EQ(out.find("passwd"), std::string::npos);
  EXPECT_EQ(out.find("smb:"), std::string::npos);
  EXPECT_NE(out.find("Pictures/1.png"), std::string::npos);
}

TEST(OfficeLinks, OdfHrefsThatLeaveThePackageAreEmptied) {
  int removed = 0;
  std::string out = strip_external_hrefs(
      "<draw:image xlink:href=\"http://example.com/x.png\"/><draw:image xlink:href=\"Pictures/1.png\"/>"
      "<text:a xlink:href = 'file:///etc/passwd'>x</text:a><draw:image xlink:href=\"/etc/hosts\"/>"
      "<draw:object xlink:href=\"./Object 1\"/><draw:image xlink:href=\"../../secret.png\"/><x xlink:href=\"#mark\"/>",
      removed);
  EXPECT_EQ(removed, 4);
  EXPECT_EQ(out,
            "<draw:image xlink:href=\"\"/><draw:image xlink:href=\"Pictures/1.png\"/>"
            "<text:a xlink:href = ''>x</text:a><draw:image xlink:href=\"\"/>"
            "<draw:object xlink:href=\"./Object 1\"/><draw:image xlink:href=\"\"/><x xlink:href=\"#mark\"/>");
}

TEST(OfficeLinks, AnHrefInsideAnotherValueIsNotReadTwice) {
  // Found by fuzz_office_links: a value that runs on over a second xlink:href.
  int removed = 0;
  const std::string xml = "<a xlink:href='file:///x <b xlink:href=\"http://y\"/>'/>";
  std::string out = strip_external_hrefs(xml, removed);
  EXPECT_EQ(removed, 1);
  EXPECT_EQ(out, "<a xlink:href=''/>");
  EXPECT_LE(out.size(), xml.size());
}

TEST(OfficeLinks, APackageIsRewrittenWithEveryPartAndNoLink) {
  const std::string doc = "<w:document>Invoice</w:document>";
  std::string docx = make_zip({{"[Content_Types].xml", "<Types/>"}, {"word/document.xml", doc},
                               {"word/_rels/document.xml.rels", kRels}});
  auto r = strip_external_links(docx, "docx", "invoice.docx");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->removed, 3);  // kRels: two External, one Target with a scheme
  auto parts = read_zip(r->bytes);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts["word/document.xml"], doc);
  EXPECT_EQ(parts["word/_rels/document.xml.rels"].find("169.254"), std::string::npos);

  std::string clean = make_zip({{"word/document.xml", doc}});
  auto same = strip_external_links(clean, "docx", "clean.docx");
  ASSERT_TRUE(same);
  EXPECT_EQ(same->removed, 0);
  EXPECT_EQ(read_zip(same->bytes), read_zip(clean));  // rewritten, with the same parts

  // An ODF package named .docx (LibreOffice goes by the content): its hrefs go all the same.
  std::string disguised = make_zip({{"mimetype", "application/vnd.oasis.opendocument.text"},
                                    {"content.xml", "<draw:image xlink:href=\"http://example.com/x.png\"/>"}});
  auto d = strip_external_links(disguised, "docx", "disguised.docx");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->removed, 1);

  std::string odt = make_zip({{"mimetype", "application/vnd.oasis.opendocument.text"},
                              {"content.xml", "<draw:image xlink:href=\"http://example.com/x.png\"/>"}});
  auto o = strip_external_links(odt, "odt", "letter.odt");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->removed, 1);
  EXPECT_EQ(read_zip(o->bytes)["content.xml"], "<draw:image xlink:href=\"\"/>");

  // Not a zip: corrupt, naming the document. Other formats pass untouched.
  auto bad = strip_external_links("PK\x03\x04 not really", "docx", "broken.docx");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::corrupt);
  EXPECT_NE(bad.error().message.find("broken.docx"), std::string::npos);
  auto rtf = strip_external_links("{\\rtf1 INCLUDEPICTURE http://x}", "rtf", "a.rtf");
  ASSERT_TRUE(rtf);
  EXPECT_EQ(rtf->bytes, "{\\rtf1 INCLUDEPICTURE http://x}");
}

}  // namespace
}  // namespace imaging
