// The addressee of a cover page: fields found next to their labels in the words tesseract gives
// (boxes and line numbers), matched against a directory with two people of one surname, and the
// decisions that must not misroute.
#include "gateway/cover_routing.hpp"

#include <gtest/gtest.h>

namespace {

using gateway::Addressee;
using gateway::CoverPage;
using gateway::decide_cover;

// A page of lines as tesseract would give them: words 20 px a character, a space of 20 px between
// words, 30 px high; "|" in a line stands for a wide gap (a second column).
ocr::PageText page(const std::vector<std::string>& lines) {
  ocr::PageText t;
  for (size_t n = 0; n < lines.size(); ++n) {
    int x = 100;
    const int y = 100 + int(n) * 60;
    std::string word;
    auto flush = [&] {
      if (word.empty()) return;
      t.words.push_back({word, x, y, x + 20 * int(word.size()), y + 30, 90, int(n)});
      x += 20 * int(word.size()) + 20;
      word.clear();
    };
    for (char c : lines[n]) {
      if (c == ' ') flush();
      else if (c == '|') {
        flush();
        x += 400;
      } else word += c;
    }
    flush();
    t.lines.push_back(lines[n]);
  }
  return t;
}

std::vector<Addressee> directory() {
  return {
      {"Anna Schmidt", "Anna", "Schmidt", {"anna.schmidt@example.com"}, {"+49 30 1234 4711"}, {}},
      {"Peter Schmidt", "Peter", "Schmidt", {"peter.schmidt@example.com"}, {"+49 30 1234 4712"}, {}},
      {"José García López", "José", "García López", {"jose.garcia@example.com"}, {"+34 91 555 0199"}, {}},
      {"Françoise Dubois", "Françoise", "Dubois", {"f.dubois@example.com"}, {"+33 1 5555 0123"}, {}},
      {"Carol Martin", "Carol", "Martin", {"carol@example.com"}, {"+1 555 0123"}, {}},
      {"route +15550177", "", "", {"sales@example.com"}, {"+15550177"}, {"+15550177", "42"}},
  };
}

// The decision on a page of these lines and codes, among `people`.
gateway::CoverDecision decide_among(const std::vector<Addressee>& people, const std::vector<std::string>& lines,
                                    std::vector<ocr::Barcode> codes = {}) {
  CoverPage p;
  p.text = page(lines);
  p.read = true;
  p.barcodes = std::move(codes);
  return decide_cover(p, people);
}

gateway::CoverDecision decide(const std::vector<std::string>& lines, std::vector<ocr::Barcode> codes = {}) {
  return decide_among(directory(), lines, std::move(codes));
}

TEST(CoverFields, AreTheWordsAfterALabelUpToTheNextLabelOrAWideGap) {
  EXPECT_EQ(gateway::addressee_fields(page({"FAX COVER SHEET", "To: Anna Schmidt | From: John Doe", "Pages: 1"})),
            std::vector<std::string>{"Anna Schmidt"});
  EXPECT_EQ(gateway::addressee_fields(page({"An: Frau Anna Schmidt Fax: +49 30 1234 0"})),
            std::vector<std::string>{"Frau Anna Schmidt"});
  // The label alone on its line: the next line is the field; a colon of its own; no colon at
  // the start of a line; "À" and "Para".
  EXPECT_EQ(gateway::addressee_fields(page({"TO:", "Peter Schmidt", "Accounting"})), std::vector<std::string>{"Peter Schmidt"});
  EXPECT_EQ(gateway::addressee_fields(page({"Attn : Carol Martin"})), std::vector<std::string>{"Carol Martin"});
  EXPECT_EQ(gateway::addressee_fields(page({"Attention Carol Martin"})), std::vector<std::string>{"Carol Martin"});
  EXPECT_EQ(gateway::addressee_fields(page({"À : Françoise Dubois"})), std::vector<std::string>{"Françoise Dubois"});
  EXPECT_EQ(gateway::addressee_fields(page({"Para: José García López"})), std::vector<std::string>{"José García López"});
  EXPECT_EQ(gateway::addressee_fields(page({"To:Anna Schmidt"})), std::vector<std::string>{"Anna Schmidt"});
  EXPECT_EQ(gateway::addressee_fields(page({"An; Emma Johnson", "Von; Ken Sato"})), std::vector<std::string>{"Emma Johnson"});
  // A table read column by column: the label's column first, the values' after it, level with
  // their labels.
  {
    ocr::PageText t = page({"To:", "From:", "Anna Schmidt", "Ken Sato"});
    for (auto& w : t.words) {
      if (w.line >= 2) {  // the value column: right of the labels, on their rows
        w.x0 += 600, w.x1 += 600;
        w.y0 -= 120, w.y1 -= 120;
      }
    }
    EXPECT_EQ(gateway::addressee_fields(t), std::vector<std::string>{"Anna Schmidt"});
  }
  // A table: the label's cell, then the value's far to the right.
  EXPECT_EQ(gateway::addressee_fields(page({"An: | | | Herrn Hans Müller", "Von: | | | Ken Sato"})),
            std::vector<std::string>{"Herrn Hans Müller"});
  EXPECT_EQ(gateway::addressee_fields(page({"À l'attention de : Mme Dubois"})), std::vector<std::string>{"Mme Dubois"});
  EXPECT_EQ(gateway::addressee_fields(page({"z. Hd.: Herrn Schmidt"})), std::vector<std::string>{"Herrn Schmidt"});
  // Prose is not a label: "to" inside a line, "Para" without a colon.
  EXPECT_TRUE(gateway::addressee_fields(page({"Please send this to Anna Schmidt", "Para más información"})).empty());
}

TEST(CoverRouting, AFullNameRoutesToItsPersonEvenWithOcrSlips) {
  auto d = decide({"To: Anna Schmidt"});
  ASSERT_TRUE(d.chosen);
  EXPECT_EQ(*d.chosen, 0u);
  EXPECT_EQ(d.by, "ocr");
  EXPECT_EQ(d.matched, "Anna Schmidt");
  EXPECT_GE(d.score, 0.99);
  // "rn" for "m", accents lost, upper case, surname first.
  d = decide({"TO: Mr. Peter Schrnidt"});
  ASSERT_TRUE(d.chosen);
  EXPECT_EQ(*d.chosen, 1u);
  d = decide({"Para: Sr. JOSE GARCIA LOPEZ"});
  ASSERT_TRUE(d.chosen);
  EXPECT_EQ(*d.chosen, 2u);
  d = decide({"À: Dubois, Francoise"});
  ASSERT_TRUE(d.chosen);
  EXPECT_EQ(*d.chosen, 3u);
  d = decide({"Attn: C. Martin"});
  ASSERT_TRUE(d.chosen);
  EXPECT_EQ(*d.chosen, 4u);
}

TEST(CoverRouting, AnAddressAnExtensionOrANumberRoutes) {
  auto d = decide({"To: anna.schmidt @ example.com"});
  ASSERT_TRUE(d.chosen);
  EXPECT_EQ(*d.chosen, 0u);
  d = decide({"To: Ext. 4712"});
  ASSERT_TRUE(d.chosen);
  EXPECT_EQ(*d.chosen, 1u);
  d = decide({"Attn: x0199"});
  ASSERT_TRUE(d.chosen);
  EXPECT_EQ(*d.chosen, 2u);
  d = decide({"To: +1 555 0123"});
  ASSERT_TRUE(d.chosen);
  EXPECT_EQ(*d.chosen, 4u);
}

TEST(CoverRouting, WhenInDoubtNobodyButTheCandidatesAreNamed) {
  // Two Schmidts: the surname alone could be either.
  auto d = decide({"To: Herr Schmidt"});
  EXPECT_FALSE(d.chosen);
  ASSERT_EQ(d.candidates.size(), 2u);
  EXPECT_NE(d.why.find("could be any of 2 people"), std::string::npos) << d.why;
  // A Schmidt who is neither: not routed; both named.
  d = decide({"To: Klaus Schmidt"});
  EXPECT_FALSE(d.chosen);
  EXPECT_EQ(d.candidates.size(), 2u);
  // Nobody of that name.
  d = decide({"To: Laura Martinez"});
  EXPECT_FALSE(d.chosen);
  EXPECT_TRUE(d.candidates.empty());
  EXPECT_NE(d.why.find("is no one in the directory"), std::string::npos) << d.why;
  // No label at all; the sender's own name does not count.
  d = decide({"Invoice 2026-114", "From: Anna Schmidt"});
  EXPECT_FALSE(d.chosen);
  EXPECT_NE(d.why.find("no addressee line"), std::string::npos) << d.why;
  // Two fields naming two people.
  d = decide({"To: Anna Schmidt", "Attn: Carol Martin"});
  EXPECT_FALSE(d.chosen);
  ASSERT_GE(d.candidates.size(), 2u);
  EXPECT_EQ(d.candidates[0].index + d.candidates[1].index, 0u + 4u);
  // A number that only ends like someone's: "+1 555 0123" is Carol's, not "+33 1 5555 0123".
  d = decide({"To: +33 1 4444 555 0123"});
  EXPECT_FALSE(d.chosen);
  // A unique surname alone routes.
  d = decide({"Attn: Mme Dubois"});
  ASSERT_TRUE(d.chosen);
  EXPECT_EQ(*d.chosen, 3u);
}

TEST(CoverRouting, ABarcodeOfAKnownAddressOrRouteKeyRoutesAndAnUnknownAddressNever) {
  auto d = decide({"garbled"}, {{"QR-Code", "mailto:Peter.Schmidt@example.com"}});
  ASSERT_TRUE(d.chosen);
  EXPECT_EQ(*d.chosen, 1u);
  EXPECT_EQ(d.by, "barcode");
  d = decide({}, {{"CODE-128", "route:42"}});
  ASSERT_TRUE(d.chosen);
  EXPECT_EQ(*d.chosen, 5u);
  d = decide({}, {{"CODE-128", "+1 555 0177"}});
  ASSERT_TRUE(d.chosen);
  EXPECT_EQ(*d.chosen, 5u);
  // An address nobody has: not a relay; the text still decides.
  d = decide({"To: Carol Martin"}, {{"QR-Code", "victim@elsewhere.example"}});
  ASSERT_TRUE(d.chosen);
  EXPECT_EQ(d.by, "ocr");
  EXPECT_EQ(*d.chosen, 4u);
  // Two codes for two people: not by code.
  d = decide({}, {{"QR-Code", "anna.schmidt@example.com"}, {"QR-Code", "carol@example.com"}});
  EXPECT_FALSE(d.chosen);
}

TEST(CoverRouting, ReviewedCornersNeverRouteOnAGuess) {
  auto people = directory();
  people.push_back({"Martin Weber", "Martin", "Weber", {"martin.weber@example.com"}, {"+49 40 5550 9034"}, {}});
  people.push_back({"Dan Kowalski", "Dan", "Kowalski", {"dan@example.com"}, {"+1 202 555 0177"}, {}, false});
  // A person and the route of their own number are one destination, not two.
  Addressee own{"route +15550150", "", "", {"carol@example.com"}, {"+15550150"}, {"+15550150"}};
  own.route = 7;
  people.push_back(own);
  auto decide_with = [&](std::vector<std::string> lines, std::vector<ocr::Barcode> codes = {}) {
    return decide_among(people, lines, std::move(codes));
  };
  // "Martin" alone: Carol's surname, Martin Weber's given name.
  auto d = decide_with({"Attn: Martin"});
  EXPECT_FALSE(d.chosen);
  EXPECT_EQ(d.candidates.size(), 2u);
  // A number after "Phone" is a number, and its first group no extension (Anna's is 4711).
  d = decide_with({"To: Sales, Phone 4711 9999"});
  EXPECT_FALSE(d.chosen) << people[*d.chosen].name;
  d = decide_with({"To: Sales, Ext. 4711 9999"});
  EXPECT_FALSE(d.chosen) << people[*d.chosen].name;
  // Someone who may not receive faxes is never routed to, however surely named.
  d = decide_with({"To: Dan Kowalski"});
  EXPECT_FALSE(d.chosen);
  EXPECT_NE(d.why.find("Dan Kowalski, who may not receive faxes"), std::string::npos) << d.why;
  // Carol's address in a code: her entry and her route are one.
  d = decide_with({}, {{"QR-Code", "mailto:carol@example.com"}});
  ASSERT_TRUE(d.chosen);
  EXPECT_EQ(people[*d.chosen].mails.front(), "carol@example.com");
  EXPECT_EQ(d.by, "barcode");
  // Prose wrapped before a lower-case "to" is no label; "TO" in capitals is.
  d = decide_with({"Please forward this", "to Peter Schmidt by Friday"});
  EXPECT_FALSE(d.chosen);
  d = decide_with({"TO Peter Schmidt"});
  ASSERT_TRUE(d.chosen);
  EXPECT_EQ(*d.chosen, 1u);
  // What a sender put in a code reaches the mail printable only.
  d = decide_with({}, {{"QR-Code", "route:42\r\nX-Evil: yes"}});
  EXPECT_FALSE(d.chosen);
  d = decide_with({}, {{"QR-Code", "route:42"}});
  ASSERT_TRUE(d.chosen);
  EXPECT_EQ(d.matched, "route:42");
}

TEST(CoverRouting, WhatTheRoutingTestSetFoundTesseractDoing) {
  // "ü" read as "ii"; a lower-case speck after the name; a stray mark after the label, the name
  // on the next line; digits run up to the next column's label.
  auto people = directory();
  people.push_back({"Hans Müller", "Hans", "Müller", {"hans.mueller@example.com"}, {"+49 89 5550 2207"}, {}});
  auto decide_with = [&](std::vector<std::string> lines) { return decide_among(people, lines); };
  auto d = decide_with({"To: Mr. Hans Miiller"});
  ASSERT_TRUE(d.chosen);
  EXPECT_EQ(people[*d.chosen].name, "Hans Müller");
  d = decide_with({"Para: Sr. Müller u"});
  ASSERT_TRUE(d.chosen);
  EXPECT_EQ(people[*d.chosen].name, "Hans Müller");
  EXPECT_EQ(gateway::addressee_fields(page({"AN: | o", "Herrn Hans Müller"})), std::vector<std::string>{"Herrn Hans Müller"});
  EXPECT_EQ(gateway::addressee_fields(page({"To: Ext. 0188 From: John Doe"})), std::vector<std::string>{"Ext. 0188"});
  EXPECT_EQ(gateway::addressee_fields(page({"7. Hd.: Inés Navarro"})), std::vector<std::string>{"Inés Navarro"});
  EXPECT_TRUE(gateway::addressee_fields(page({"7. Pages: 4"})).empty());
  // A capitalised other name is still someone else, and so is a longer lower-case one.
  d = decide_with({"To: Klaus Müller"});
  EXPECT_FALSE(d.chosen);
  d = decide_with({"To: jan dubois"});
  EXPECT_FALSE(d.chosen);
  // A field read from a second column's "Sent by:" is no addressee.
  EXPECT_TRUE(gateway::addressee_fields(page({"To: | o | Sent by: Hans Müller"})).empty());
  // A space read after a dot in an address.
  d = decide_with({"To: hans. mueller@example.com"});
  ASSERT_TRUE(d.chosen);
  EXPECT_EQ(people[*d.chosen].name, "Hans Müller");
  // An address past the 80 bytes shown is still matched.
  d = decide_with({"To: Accounts payable department of the northern region, second floor, room 4711, "
                   "attention hans.mueller@example.com"});
  ASSERT_TRUE(d.chosen);
  EXPECT_EQ(people[*d.chosen].name, "Hans Müller");
  EXPECT_LE(d.matched.size(), 83u);
}

TEST(CoverRouting, ASkewedTablesValueIsFoundLevelWithItsLabel) {
  // A page fed 1.5° askew: a wide line gives the slope; the value column sits 16 px lower than
  // its label, 600 px to the right, and the next row's value 40 px lower still.
  ocr::PageText t;
  auto word = [&](const char* text, int x, int y, int line) {
    t.words.push_back({text, x, y, x + 20 * int(std::string(text).size()), y + 24, 90, line});
  };
  word("Please", 100, 500, 0);
  word("sign", 1000, 524, 0);
  word("To:", 100, 100, 1);
  word("From:", 100, 140, 2);
  word("Anna", 700, 116, 3);
  word("Schmidt", 800, 118, 3);
  word("Ken", 700, 156, 4);
  word("Sato", 780, 158, 4);
  EXPECT_EQ(gateway::addressee_fields(t), std::vector<std::string>{"Anna Schmidt"});
}

TEST(CoverRouting, AGivenNameWithAnotherWordIsNoSurnameMatch) {
  auto people = directory();
  people.push_back({"Martin Weber", "Martin", "Weber", {"martin.weber@example.com"}, {"+49 40 5550 9034"}, {}});
  // People without an address are each their own (none of them can be chosen).
  people.push_back({"Computer One", "", "One", {}, {}, {}, false});
  people.push_back({"Olga Petrova", "Olga", "Petrova", {}, {}, {}, false});
  for (const char* f : {"Attn: Martin dringend", "Attn: Martin u"}) EXPECT_FALSE(decide_among(people, {f}).chosen) << f;
  auto d = decide_among(people, {"To: Olga Petrova"});
  EXPECT_FALSE(d.chosen);
  EXPECT_NE(d.why.find("Olga Petrova, who may not receive faxes"), std::string::npos) << d.why;
}

TEST(CoverRouting, APageNotReadIsNotRouted) {
  CoverPage p;
  auto d = decide_cover(p, directory());
  EXPECT_FALSE(d.chosen);
  EXPECT_EQ(d.why, "the cover page was not read in time");
}

TEST(CoverRouting, FoldsAccentsCaseAndOcrSlips) {
  EXPECT_EQ(gateway::fold_name("Müller"), "muller");
  EXPECT_EQ(gateway::fold_name("STRAßE"), "strasse");
  EXPECT_EQ(gateway::fold_name("Schrnidt"), gateway::fold_name("Schmidt"));
  EXPECT_EQ(gateway::fold_name("J0sé"), "jose");
  EXPECT_EQ(gateway::fold_name("\xff\xfe"), "");
}

}  // namespace
