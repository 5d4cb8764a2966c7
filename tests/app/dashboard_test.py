"""The web dashboard (issue 16, api/dashboard.hpp, web/): driven in Debian's Chromium by
playwright-core (tests/web/dashboard.mjs) against a node whose trunk is its own SIP port, so each
fax is a real T.38 call and its reception a received fax.

- DashboardTest: sign in with a token; send a PDF by drag and drop; its row goes to done live
  (server-sent events, no reload), showing sending on the way; the sent fax's page image and its
  attempt; the received fax's page image; the trunks; an admin making a user's token, the user
  signing in with it (seeing neither the trunks nor the admin's fax), and revoking it; phone width with nothing wider than the
  screen; sending with the keyboard only; no console error. Screenshots at desktop and phone
  width are kept in <build>/test-artifacts/dashboard/ for review."""
import json
import os
import shutil
import struct
import subprocess

import fbtest
from offramp_test import Node

BUILD = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(fbtest.FAXBRIDGE)), ".."))


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])


class DashboardTest(fbtest.TempDirTest):
    def test_send_watch_and_open_faxes_in_a_browser(self):
        node = Node(self.dir, trunk="self", node_extra='name = "dash1"')
        self.addCleanup(node.stop)
        pdf = self.path("letter.pdf")
        with open(pdf, "wb") as f:
            f.write(fbtest.pdf_with_pages(["DASHBOARD FAX"])[0])
        out = os.path.join(BUILD, "test-artifacts", "dashboard")
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        env = dict(os.environ, FB_URL=node.server, FB_TOKEN=node.token(), FB_PDF=pdf, FB_OUT=out,
                   FB_NUMBER="+15550100", FB_NODE="dash1", FB_WEB_MODULES=os.path.join(BUILD, "web", "node_modules"),
                   CHROMIUM=shutil.which("chromium") or "/usr/bin/chromium")
        p = subprocess.run(["node", os.path.join(fbtest.SOURCE, "tests", "web", "dashboard.mjs")], env=env,
                           capture_output=True, text=True, timeout=900)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr + open(node.log.name).read()[-3000:])
        figures = json.loads(p.stdout.strip().splitlines()[-1])
        print("dashboard:", figures)
        # What the browser showed is what the node did: the sent fax done, the received one kept.
        sent = node.api("/api/v1/faxes/%d" % figures["sent_job"])
        self.assertEqual((sent["state"], sent["pages_done"]), ("done", 1))
        received = node.api("/api/v1/faxes/%d" % figures["received_job"])
        self.assertEqual((received["direction"], received["pages"]), ("in", 1))
        self.assertEqual(node.api("/api/v1/faxes/%d" % figures["keyboard_job"])["number"], "+15550100")
        # The user the admin made in the browser, and revoked there, is gone from the store.
        self.assertEqual(figures["user_made_and_revoked"], "erin")
        listed = subprocess.run([fbtest.FAXBRIDGE, "token", "list", "--config", node.config], capture_output=True, text=True)
        self.assertNotIn("erin", listed.stdout)
        for name, width in (("desktop-faxes", 1280), ("desktop-sent-fax", 1280), ("desktop-received-fax", 1280),
                            ("desktop-trunks", 1280), ("desktop-users", 1280), ("phone-faxes", 390), ("phone-fax", 390)):
            w, h = png_size(os.path.join(out, name + ".png"))
            self.assertEqual(w, width, name)
        # Small: the page, its script and its style sheet.
        self.assertGreater(figures["bytes_shipped"], 10 * 1024)  # the script was counted
        self.assertLess(figures["bytes_shipped"], 100 * 1024)
