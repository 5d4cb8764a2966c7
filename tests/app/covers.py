"""Fax cover pages for routing by reading (issue 18), made the way senders make them: HTML in
varied layouts, fonts and languages (English, German, French, Spanish), rendered to fax pages by
`faxbridge convert`, some with a QR or Code 128 code drawn by zint. The people they are addressed
to are in a test directory (an LDIF for slapd) with two pairs of people of the same surname; some
covers name people who are not in it.

Each cover knows where it should go: the person's mail, or None for the central mailbox (an
unknown name, or a surname two people share)."""
import base64
import html
import os
import random
import subprocess

import fbtest

# uid, given name, surname, mail, telephone (the extension is its last four digits)
PEOPLE = [
    ("anna", "Anna", "Schmidt", "anna.schmidt@example.com", "+49 30 5550 4711"),
    ("peter", "Peter", "Schmidt", "peter.schmidt@example.com", "+49 30 5550 4712"),
    ("jose", "José", "García López", "jose.garcia@example.com", "+34 91 555 2301"),
    ("francoise", "Françoise", "Dubois", "francoise.dubois@example.com", "+33 1 5550 3302"),
    ("carol", "Carol", "Martin", "carol.martin@example.com", "+1 202 555 0123"),
    ("sophie", "Sophie", "Martin", "sophie.martin@example.com", "+33 1 5550 3317"),
    ("hans", "Hans", "Müller", "hans.mueller@example.com", "+49 89 5550 2207"),
    ("marie", "Marie", "Lefèvre", "marie.lefevre@example.com", "+33 4 5550 6120"),
    ("lucia", "Lucía", "Fernández", "lucia.fernandez@example.com", "+34 93 555 7781"),
    ("emma", "Emma", "Johnson", "emma.johnson@example.com", "+1 312 555 0188"),
    ("klaus", "Klaus", "Weber", "klaus.weber@example.com", "+49 40 5550 9034"),
    ("wei", "Wei", "Zhang", "wei.zhang@example.com", "+1 415 555 0142"),
    ("james", "James", "Whitaker", "james.whitaker@example.com", "+44 20 5550 1276"),
    ("ines", "Inés", "Navarro", "ines.navarro@example.com", "+34 96 555 4410"),
    ("olaf", "Olaf", "Brandt", "olaf.brandt@example.com", "+49 221 5550 8819"),
    ("claire", "Claire", "Rousseau", "claire.rousseau@example.com", "+33 5 5550 2290"),
]
# Names not in the directory (none of them near a surname that is).
UNKNOWN = ["Laura Martinez", "Robert Fischer", "Olivia Brown", "Jean Moreau", "Pablo Ruiz", "Greta Wagner",
           "Thomas Becker", "Isabel Ortega", "Nathalie Girard", "George Collins"]
SHARED_SURNAMES = {"Schmidt", "Martin"}

LDIF_HEAD = """dn: dc=example,dc=com
objectClass: dcObject
objectClass: organization
o: Example
dc: example
"""


def ldif():
    out = [LDIF_HEAD]
    for uid, given, sn, mail, tel in PEOPLE:
        out.append("dn: uid=%s,dc=example,dc=com\nobjectClass: inetOrgPerson\nobjectClass: faxRecipient\nuid: %s\n"
                   "cn: %s %s\ngivenName: %s\nsn: %s\nmail: %s\ntelephoneNumber: %s\nfaxEnabled: TRUE\n"
                   % (uid, uid, given, sn, given, sn, mail, tel))
    # Someone who may not receive faxes: never routed to.
    out.append("dn: uid=dan,dc=example,dc=com\nobjectClass: inetOrgPerson\nobjectClass: faxRecipient\nuid: dan\n"
               "cn: Dan Kowalski\ngivenName: Dan\nsn: Kowalski\nmail: dan@example.com\n"
               "telephoneNumber: +1 202 555 0177\nfaxEnabled: FALSE\n")
    return "\n".join(out)


LABELS = {
    "en": {"to": "To:", "attn": "Attn:", "from": "From:", "date": "Date:", "pages": "Pages:", "subject": "Subject:",
           "title": "FAX", "text": "Please find attached the signed order confirmation and the delivery schedule.",
           "mr": "Mr.", "ms": "Ms.", "ext": "Ext."},
    "de": {"to": "An:", "attn": "z. Hd.:", "from": "Von:", "date": "Datum:", "pages": "Seiten:",
           "subject": "Betreff:", "title": "TELEFAX",
           "text": "Anbei erhalten Sie die unterschriebene Auftragsbestätigung und den Lieferplan.",
           "mr": "Herrn", "ms": "Frau", "ext": "Durchwahl"},
    "fr": {"to": "À :", "attn": "À l'attention de :", "from": "De :", "date": "Date :", "pages": "Pages :",
           "subject": "Objet :", "title": "TÉLÉCOPIE",
           "text": "Veuillez trouver ci-joint la confirmation de commande signée et le calendrier de livraison.",
           "mr": "M.", "ms": "Mme", "ext": "Poste"},
    "es": {"to": "Para:", "attn": "Atención:", "from": "De:", "date": "Fecha:", "pages": "Páginas:",
           "subject": "Asunto:", "title": "FAX",
           "text": "Adjuntamos la confirmación del pedido firmada y el calendario de entregas.",
           "mr": "Sr.", "ms": "Sra.", "ext": "Ext."},
}
FONTS = ["DejaVu Sans", "DejaVu Serif", "Nimbus Roman", "Nimbus Sans", "Noto Sans", "DejaVu Sans Mono"]
LAYOUTS = ["lines", "table", "columns", "stacked", "attn"]
SENDERS = ["John Doe, Contoso Ltd", "Maria Rossi, Fabrikam SpA", "Ken Sato, Northwind Traders",
           "Eva Novak, Tailspin Toys"]
FEMALE = {"Anna", "Françoise", "Sophie", "Marie", "Lucía", "Emma", "Inés", "Claire", "Carol", "Laura", "Olivia",
          "Greta", "Isabel", "Nathalie"}


class Cover:
    def __init__(self, n, lang, layout, font, size, resolution, addressee, expect, kind, code=None, noise=False):
        self.n, self.lang, self.layout, self.font, self.size = n, lang, layout, font, size
        self.resolution, self.addressee, self.expect, self.kind = resolution, addressee, expect, kind
        self.code, self.noise = code, noise  # code: (zint symbology, data)

    def __repr__(self):
        return "cover %d (%s, %s, %s, %s, %s: %r -> %s)" % (self.n, self.kind, self.lang, self.layout, self.font,
                                                           self.resolution, self.addressee, self.expect)

    def html(self, workdir):
        lab = LABELS[self.lang]
        esc = html.escape
        sender = SENDERS[self.n % len(SENDERS)]
        rows = [(lab["from"], sender), (lab["date"], "05.12.2026"), (lab["pages"], "1"),
                (lab["subject"], "Order %d" % (4000 + self.n))]
        if self.layout == "attn":
            rows = [(lab["to"], "Example Corporation"), (lab["attn"], self.addressee)] + rows
        else:
            rows = [(lab["to"], self.addressee)] + rows
        if self.layout in ("lines", "attn"):
            body = "".join("<p>%s %s</p>" % (esc(k), esc(v)) for k, v in rows)
        elif self.layout == "table":
            body = "<table>%s</table>" % "".join(
                "<tr><td style='padding-right:1em'><b>%s</b></td><td>%s</td></tr>" % (esc(k), esc(v)) for k, v in rows)
        elif self.layout == "columns":
            body = ("<table style='width:100%%'><tr><td>%s %s</td><td>%s %s</td></tr>"
                    "<tr><td>%s %s</td><td>%s %s</td></tr></table><p>%s %s</p>"
                    % (esc(rows[0][0]), esc(rows[0][1]), esc(rows[1][0]), esc(rows[1][1]), esc(rows[2][0]),
                       esc(rows[2][1]), esc(rows[3][0]), esc(rows[3][1]), esc(rows[4][0]), esc(rows[4][1])))
        else:  # stacked: the label on its own line, the name under it
            body = "<p><b>%s</b><br>%s<br>Example Corporation</p>" % (esc(rows[0][0].upper()), esc(rows[0][1]))
            body += "".join("<p>%s %s</p>" % (esc(k), esc(v)) for k, v in rows[1:])
        code = ""
        if self.code:
            png = os.path.join(workdir, "code-%d.png" % self.n)
            subprocess.run(["zint", "-b", self.code[0], "--scale=4", "--filetype=PNG", "-o", png, "-d", self.code[1]],
                           check=True, capture_output=True)
            with open(png, "rb") as f:
                code = "<p><img src='data:image/png;base64,%s' style='width:%s'></p>" % (
                    base64.b64encode(f.read()).decode(), "1.6in" if self.code[0] == "QRCODE" else "3in")
        return ("<!DOCTYPE html><html><head><meta charset='utf-8'><style>body { font-family: '%s'; font-size: %dpt }"
                " h1 { font-size: %dpt }</style></head><body><h1>%s</h1>%s%s<p>%s</p></body></html>"
                % (self.font, self.size, self.size * 2, esc(lab["title"]), code, body, esc(lab["text"])))

    def tiff(self, workdir):
        """The cover as a fax page (TIFF-F at its resolution)."""
        src = os.path.join(workdir, "cover-%d.html" % self.n)
        with open(src, "w", encoding="utf-8") as f:
            f.write(self.html(workdir))
        out = os.path.join(workdir, "cover-%d.tif" % self.n)
        fbtest.run("convert", "--resolution", self.resolution, "-o", out, src, check=0)
        return out


def addressed(rng, person, lang):
    """How a cover names a directory person: a full name (in either order, with a title), an address,
    or an extension."""
    uid, given, sn, mail, tel = person
    lab = LABELS[lang]
    title = lab["ms"] if given in FEMALE else lab["mr"]
    r = rng.random()
    if r < 0.45:
        return "%s %s" % (given, sn)
    if r < 0.65:
        return "%s %s %s" % (title, given, sn)
    if r < 0.75:
        return "%s, %s" % (sn, given)
    if r < 0.85:
        return mail
    if r < 0.92:
        return "%s %s" % (lab["ext"], tel.replace(" ", "")[-4:])
    return "%s %s. %s" % (title, given[0], sn)


def test_set(count=200, seed=18, noise=True):
    """`count` covers: about 74% to unique known people, 6% by a unique surname alone, 8% by a shared
    surname alone, 12% to unknown names; half at standard and half at fine resolution; with
    noise, a third of them skewed and speckled (noise.py)."""
    rng = random.Random(seed)
    unique_surnames = [p for p in PEOPLE if p[2] not in SHARED_SURNAMES]
    covers = []
    for n in range(count):
        lang = ["en", "de", "fr", "es"][n % 4]
        layout = LAYOUTS[(n // 4) % len(LAYOUTS)]
        font = FONTS[rng.randrange(len(FONTS))]
        size = rng.choice([11, 12, 13, 14, 16])
        res = "standard" if n % 2 else "fine"
        r = rng.random()
        lab = LABELS[lang]
        if r < 0.74:
            person = PEOPLE[rng.randrange(len(PEOPLE))]
            covers.append(Cover(n, lang, layout, font, size, res, addressed(rng, person, lang), person[3], "known"))
        elif r < 0.80:
            person = unique_surnames[rng.randrange(len(unique_surnames))]
            title = lab["ms"] if person[1] in FEMALE else lab["mr"]
            covers.append(Cover(n, lang, layout, font, size, res, "%s %s" % (title, person[2]), person[3], "surname"))
        elif r < 0.88:
            sn = sorted(SHARED_SURNAMES)[rng.randrange(2)]
            covers.append(Cover(n, lang, layout, font, size, res, "%s %s" % (lab["mr"], sn), None, "shared"))
        else:
            covers.append(Cover(n, lang, layout, font, size, res, UNKNOWN[rng.randrange(len(UNKNOWN))], None,
                                "unknown"))
        covers[-1].noise = noise and n % 3 == 2
    return covers


def barcode_set(count=20, seed=28):
    """Covers whose addressee is only in a code (the text names nobody): QR codes with mailto: and
    Code 128 with a route key, all at standard resolution, the coarser one."""
    rng = random.Random(seed)
    covers = []
    for n in range(count):
        lang = ["en", "de", "fr", "es"][n % 4]
        if n % 2:
            person = PEOPLE[rng.randrange(len(PEOPLE))]
            code, expect = ("QRCODE", "mailto:" + person[3]), person[3]
        else:
            code, expect = ("CODE128", "route:42"), "sales@example.com"
        covers.append(Cover(1000 + n, lang, "lines", FONTS[n % len(FONTS)], 12, "standard", "Reception", expect,
                            "barcode", code=code))
    return covers
