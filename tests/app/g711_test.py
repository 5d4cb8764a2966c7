"""Fax calls as carriers make them (issue 12): G.711 audio fax between two nodes (PCMU, PCMA;
with 1% loss and 20 ms of jitter through the impairment relay), a peer whose sample clock runs
150 ppm fast, the switch from audio to T.38 by either side (two nodes, the fax test peer, SIPp),
a refused T.38 re-INVITE (SIPp's 488, and a fax that then goes on over G.711 and is remembered
for the next call), fax recognised by CNG played as audio, by an RFC 4733 event and by a T.38
re-INVITE, speech and music never taken for fax, and a shared voice/fax number transferring a
voice call with REFER (or mailing a missed-call notice when the transfer is refused).

Each class is one CTest entry (they run concurrently); the cases inside a class run in threads."""
import json
import os
import re
import subprocess
import threading
import time
import unittest

import fbtest
from fax_loop_test import normalised_rows
from fax_peer_test import Peer
from impair import Impairment, Relay
from offramp_test import Node
from onramp_test import wait_mails
from sip_peers_test import SIPP, free_udp_port

FINAL_OUT = ("done", "failed", "retry")
FINAL_IN = ("done", "failed")
SLOW = "[retry]\nfailure_delay_s = 600\nbusy_delay_s = 600\nno_answer_delay_s = 600\n"


def concurrently(test, *fns):
    """Runs each fn in a thread; returns {name: result}; any exception fails the test."""
    results, errors = {}, {}

    def run(fn):
        try:
            results[fn.__name__] = fn()
        except Exception as e:  # reported below with its name
            import traceback
            errors[fn.__name__] = "".join(traceback.format_exception(e))

    threads = [threading.Thread(target=run, args=(f,)) for f in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    test.assertEqual(errors, {}, "\n".join(errors.values()))
    return results


def events(node, job_id):
    """The job's events, one per line, from the node's store."""
    with node.db() as db:
        return "\n".join(e for (e,) in db.execute("SELECT text FROM events WHERE job_id = ? ORDER BY id", (job_id,)))


def sox(*args):
    subprocess.run(["sox", *args], check=True, capture_output=True)


def sipp_uas(d, scenario, port):
    """SIPp answering one call with `scenario`, its @CED@ filled with 3.5 s of CED as raw PCMU."""
    ced = os.path.join(d, "ced.ul")
    sox("-n", "-r", "8000", "-c", "1", "-e", "mu-law", "-t", "raw", ced, "synth", "3.5", "sine", "2100", "vol", "0.4")
    with open(os.path.join(SIPP, scenario)) as f:
        xml = f.read().replace("@CED@", ced)
    path = os.path.join(d, scenario)
    with open(path, "w") as f:
        f.write(xml)
    msg = os.path.join(d, "sipp.msg")
    proc = subprocess.Popen(["sipp", "-sf", path, "-i", "127.0.0.1", "-p", str(port), "-mp", str(free_udp_port()),
                             "-nostdin", "-m", "1", "-timeout", "80s", "-timeout_error", "-trace_msg",
                             "-message_file", msg],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, msg


class AudioFiles:
    """8 kHz 16-bit mono WAVs made by sox and espeak-ng: CNG, silence, a minute of speech and a
    minute of music-like chords."""

    def __init__(self, d):
        self.dir = d
        self.cng = os.path.join(d, "cng.wav")  # T.30: 1100 Hz, 0.5 s on, 3 s off
        sox("-n", "-r", "8000", "-c", "1", "-b", "16", self.cng, "synth", "0.5", "sine", "1100", "vol", "0.4",
            "pad", "0", "3", "repeat", "20")
        self.silence = os.path.join(d, "silence.wav")
        sox("-n", "-r", "8000", "-c", "1", "-b", "16", self.silence, "trim", "0", "5")

    def speech(self):
        raw = os.path.join(self.dir, "speech22k.wav")
        text = ("Hello, this is a call about the invoice we sent last week. Could you please call me back "
                "when you have a moment? The number is five five five, zero one nine nine. I will be in the "
                "office until six this evening, and tomorrow from nine. Thank you, and have a good day. ") * 4
        subprocess.run(["espeak-ng", "-s", "150", "-w", raw, text], check=True, capture_output=True)
        out = os.path.join(self.dir, "speech.wav")
        sox(raw, "-r", "8000", "-c", "1", "-b", "16", out)
        return out

    def music(self):
        chords = [("C3", "E4", "G4"), ("A2", "C4", "E4"), ("F2", "A3", "C5"), ("G2", "B3", "D4"), ("E3", "G3", "B4"),
                  ("D3", "F#4", "A4"), ("C#3", "E3", "A3"), ("B2", "D#4", "F#4")]
        parts = []
        for i in range(32):
            a, b, c = chords[i % len(chords)]
            p = os.path.join(self.dir, "chord%d.wav" % i)
            sox("-n", "-r", "8000", "-c", "1", "-b", "16", p, "synth", "1.9", "pluck", a, "pluck", b, "pluck", c,
                "tremolo", "6", "30", "remix", "-", "vol", "0.5")
            parts.append(p)
        out = os.path.join(self.dir, "music.wav")
        sox(*parts, out)
        return out


class Pair:
    """Node A sends through its trunk to node B (optionally through the impairment relay)."""

    def __init__(self, d, a_trunk_extra="", b_trunk_extra="", relay=None, b_extra=""):
        os.makedirs(os.path.join(d, "a"))
        os.makedirs(os.path.join(d, "b"))
        self.b = Node(os.path.join(d, "b"), trunk="self", trunk_extra=b_trunk_extra, extra=b_extra)
        self.relay = Relay(self.b.sip_port, relay) if relay else None
        target = self.relay.port if self.relay else self.b.sip_port
        self.a = Node(os.path.join(d, "a"), trunk="sip:127.0.0.1:%d" % target, trunk_extra=a_trunk_extra, extra=SLOW)

    def send_and_settle(self, tif, number="+15550100", timeout=300):
        self.a.send_tiff("FAX=%s@fax.test" % number, tif)
        deadline = time.time() + timeout
        while time.time() < deadline:
            out, inn = self.a.jobs(), self.b.jobs()
            if out and all(j["state"] in FINAL_OUT for j in out) and inn and all(j["state"] in FINAL_IN for j in inn):
                return out[0], inn[0]
            time.sleep(1)
        raise AssertionError("did not settle: %s %s\n%s" % (self.a.jobs(), self.b.jobs(),
                                                          open(self.a.log.name).read()[-3000:]))

    def stop(self):
        self.a.stop()
        self.b.stop()
        if self.relay:
            self.relay.close()


class G711Case(fbtest.TempDirTest):
    def setUp(self):
        super().setUp()
        if not fbtest.have_itu():
            self.skipTest("no ITU corpus")
        self.charts = self.path("charts.tif")
        fbtest.run("convert", "-o", self.charts, fbtest.itu_chart(1), fbtest.itu_chart(4), check=0)
        self.one = self.path("one.tif")
        fbtest.run("convert", "-o", self.one, fbtest.itu_chart(1), check=0)

    def sub(self, name):
        d = self.path(name)
        os.makedirs(d)
        return d

    def assert_bit_exact(self, pair, out, inn, pages):
        # Decoded beside each node (cases in threads must not share the decoded files' names).
        spool_a = os.path.join(pair.a.dir, "var", "spool")
        sent = fbtest.decode_with_libtiff(os.path.join(spool_a, "fax", "%d.tif" % out["id"]), pair.a.dir)
        got = fbtest.decode_with_libtiff(fbtest.received_tiff(pair.b.dir, inn["id"]), pair.b.dir)
        self.assertEqual(len(got), pages)
        for n, (s, g) in enumerate(zip(sent, got), 1):
            srows, grows = normalised_rows(s), normalised_rows(g)
            header = len(grows) - len(srows)
            self.assertTrue(0 < header < 100, "page %d: the header line adds rows above the page" % n)
            self.assertEqual(grows[header:], srows, "page %d differs below the header line" % n)


class G711BetweenNodesTest(G711Case):
    def test_charts_arrive_bit_exact_over_pcmu_and_over_pcma(self):
        def over(codec):
            def run():
                p = Pair(self.sub(codec), a_trunk_extra='t38 = "off"\ncodecs = ["%s"]' % codec,
                         b_trunk_extra='t38 = "off"')
                try:
                    out, inn = p.send_and_settle(self.charts)
                    self.assert_bit_exact(p, out, inn, 2)
                    return out, inn
                finally:
                    p.stop()
            run.__name__ = codec
            return run

        r = concurrently(self, over("pcmu"), over("pcma"))
        for codec in ("pcmu", "pcma"):
            out, inn = r[codec]
            with self.subTest(codec):
                self.assertEqual((out["state"], out["pages_done"], out["bad_rows"], out["media"]), ("done", 2, 0, codec), out)
                self.assertEqual((inn["pages"], inn["bad_rows"], inn["media"], inn["detected_by"]), (2, 0, codec, "answered"), inn)
                self.assertEqual(out["detected_by"], "tone", "the caller heard the answerer's CED")


class G711ImpairedTest(G711Case):
    def test_one_percent_loss_and_20ms_jitter_through_the_relay(self):
        p = Pair(self.sub("lossy"), a_trunk_extra='t38 = "off"', b_trunk_extra='t38 = "off"',
                 relay=Impairment(loss=0.01, jitter_ms=20, seed=12))
        try:
            out, inn = p.send_and_settle(self.charts)
            stats = dict(p.relay.stats)
            self.assertEqual((out["state"], out["pages_done"], out["media"]), ("done", 2, "pcmu"), out)
            self.assertEqual((inn["pages"], inn["bad_rows"]), (2, 0), inn)
            self.assert_bit_exact(p, out, inn, 2)
            # The relay really lost about 1% of the packets both ways (RFC 2198 red carried them).
            self.assertGreater(stats["media"], 2000, stats)
            self.assertGreater(stats["lost"], 0.005 * stats["media"], stats)
            self.assertLess(stats["lost"], 0.02 * stats["media"], stats)
        finally:
            p.stop()


class ClockSkewTest(G711Case):
    def test_ten_ecm_pages_from_a_peer_whose_clock_runs_150_ppm_fast(self):
        ten = self.path("ten.tif")
        fbtest.run("convert", "-o", ten, *[fbtest.itu_chart(n) for n in (1, 2, 3, 4, 5, 6, 7, 8, 1, 2)], check=0)
        node = Node(self.sub("node"), trunk="self", trunk_extra='t38 = "off"')
        try:
            peer = Peer(self.path("node"), "call", "--to", "sip:+15550100@127.0.0.1:%d" % node.sip_port, "--tiff", ten,
                        "--media", "audio", "--clock-ppm", "150", "--timeout", "600")
            report = peer.result(timeout=650)
            [job] = node.settle(FINAL_IN, timeout=120)
            self.assertEqual((report["success"], report["pages"]), (True, 10), report)
            self.assertEqual((job["pages"], job["bad_rows"], job["media"]), (10, 0, "pcmu"), job)
            log = open(node.log.name).read()
            m = re.search(r"audio: (\d+) packets in, (\d+) out, (\d+) late, (\d+) ms missing", log)
            self.assertTrue(m, log[-2000:])
            packets_in, packets_out = int(m.group(1)), int(m.group(2))
            # 150 ppm: the peer sent more packets than we did over the same call.
            self.assertGreater(packets_in, packets_out, log[-1000:])
            self.assertEqual(int(m.group(4)), 0, "the playout buffer never ran dry")
        finally:
            node.stop()


class T38SwitchTest(G711Case):
    def test_audio_calls_move_to_t38_whoever_asks(self):
        def two_nodes():
            # B (the answerer) hears A's CNG and re-INVITEs: B switches, A is switched.
            p = Pair(self.sub("nodes"))
            try:
                out, inn = p.send_and_settle(self.one)
                return out, inn, events(p.a, out["id"]), events(p.b, inn["id"])
            finally:
                p.stop()

        def peer_reinvites():
            node = Node(self.sub("peer"), trunk="self")
            try:
                peer = Peer(node.dir, "call", "--to", "sip:+15550100@127.0.0.1:%d" % node.sip_port, "--tiff", self.one,
                            "--media", "audio", "--reinvite-t38-at", "0.1")
                report = peer.result()
                [job] = node.settle(FINAL_IN)
                return report, job
            finally:
                node.stop()

        def sipp_sees_our_reinvite():
            d = self.sub("sipp")
            port = free_udp_port()
            uas, msg = sipp_uas(d, "uas_audio_then_t38.xml", port)
            node = Node(d, trunk="sip:127.0.0.1:%d" % port, extra=SLOW)
            try:
                node.send_tiff("FAX=+15550100@fax.test", self.one)
                out, _ = uas.communicate(timeout=100)
                [job] = node.settle(FINAL_OUT)
                return uas.returncode, out, open(msg).read(), job
            finally:
                if uas.poll() is None:
                    uas.kill()
                node.stop()

        r = concurrently(self, two_nodes, peer_reinvites, sipp_sees_our_reinvite)
        with self.subTest("two nodes"):
            out, inn, ev_a, ev_b = r["two_nodes"]
            self.assertEqual((out["state"], out["media"], out["detected_by"]), ("done", "pcmu+t38", "reinvite"), out)
            self.assertEqual((inn["pages"], inn["bad_rows"], inn["media"]), (1, 0, "pcmu+t38"), inn)
            self.assertRegex(ev_b, r"CNG heard after \d+ ms")  # B heard A's CNG, then asked for T.38
        with self.subTest("the fax test peer re-INVITEs"):
            report, job = r["peer_reinvites"]
            self.assertEqual((report["success"], report["pages"], report["media"]), (True, 1, "pcmu+t38"), report)
            self.assertEqual((job["pages"], job["media"]), (1, "pcmu+t38"), job)
        with self.subTest("SIPp answers our T.38 re-INVITE"):
            code, out, msgs, job = r["sipp_sees_our_reinvite"]
            self.assertEqual(code, 0, out + msgs[-3000:])
            reinvite = msgs[msgs.rindex("INVITE sip:"):]
            self.assertRegex(reinvite, r"m=image \d+ udptl t38")
            self.assertIn("T38FaxUdpEC:t38UDPRedundancy", reinvite)
            self.assertEqual(job["media"], "pcmu+t38", job)
            self.assertEqual(job["detected_by"], "tone", job)


class T38RefusedTest(G711Case):
    def test_a_refused_t38_reinvite_leaves_the_fax_on_g711_and_the_next_call_starts_there(self):
        def sipp_refuses():
            d = self.sub("sipp")
            port = free_udp_port()
            uas, msg = sipp_uas(d, "uas_audio_refuses_t38.xml", port)
            node = Node(d, trunk="sip:127.0.0.1:%d" % port, extra=SLOW)
            try:
                node.send_tiff("FAX=+15550100@fax.test", self.one)
                out, _ = uas.communicate(timeout=100)
                [job] = node.settle(FINAL_OUT)
                return uas.returncode, out, job, events(node, job["id"])
            finally:
                if uas.poll() is None:
                    uas.kill()
                node.stop()

        def peer_refuses():
            # The same peer port twice: the node's trunk points there.
            d = self.sub("peer")
            port = free_udp_port()
            peer = Peer(d, "answer", "--listen", "127.0.0.1:%d" % port, "--media", "audio", "--refuse-t38",
                        "--rx", os.path.join(d, "rx.tif"))
            node = Node(d, trunk="sip:127.0.0.1:%d" % port, extra=SLOW)
            try:
                node.send_tiff("FAX=+15550123@fax.test", self.one)
                first_report = peer.result()
                [first] = node.settle(FINAL_OUT)
                first_events = events(node, first["id"])
                trunks = node.api("/api/trunks")
                d2 = self.sub("peer2")
                peer2 = Peer(d2, "answer", "--listen", "127.0.0.1:%d" % port, "--media", "audio", "--refuse-t38",
                             "--rx", os.path.join(d2, "rx.tif"))
                node.send_tiff("FAX=+15550123@fax.test", self.one)
                second_report = peer2.result()
                jobs = node.settle(FINAL_OUT)
                second = max(jobs, key=lambda j: j["id"])
                return first_report, first, first_events, trunks, second_report, second, events(node, second["id"])
            finally:
                node.stop()

        r = concurrently(self, sipp_refuses, peer_refuses)
        with self.subTest("SIPp answers 488: no second re-INVITE, the call stays on audio"):
            code, out, job, ev = r["sipp_refuses"]
            self.assertEqual(code, 0, out)
            self.assertEqual(job["media"], "pcmu", job)
            self.assertIn("T.38 refused (488", ev)
        report, job, ev, trunks, report2, job2, ev2 = r["peer_refuses"]
        with self.subTest("a refusal: the fax goes on and completes over G.711"):
            self.assertEqual(report.get("t38_offers"), 1, report)
            self.assertEqual((report["success"], report["pages"], report["media"]), (True, 1, "pcmu"), report)
            self.assertEqual((job["state"], job["media"]), ("done", "pcmu"), job)
            self.assertIn("T.38 refused (488", ev)
        with self.subTest("remembered, and visible through the API"):
            [t] = trunks
            self.assertEqual(t["t38"], "prefer")
            self.assertEqual([m["prefix"] for m in t["t38_memory"]], ["+15550123"], t)
            self.assertIn("488", t["t38_memory"][0]["reason"])
        with self.subTest("the next call there starts on audio, asks for no T.38, and says why"):
            self.assertNotIn("t38_offers", report2, report2)
            self.assertEqual((report2["success"], job2["state"], job2["media"]), (True, "done", "pcmu"), job2)
            self.assertIn("T.38 not tried: T.38 refused (488", ev2)


class DetectionTest(G711Case):
    def test_cng_as_audio_as_an_event_and_a_t38_reinvite_are_each_recognised(self):
        files = AudioFiles(self.dir)
        node = Node(self.sub("node"), trunk="self",
                    extra='[[route]]\ndid = "+15550100"\nmailbox = "fax@test"\nvoice_uri = "sip:voicemail@127.0.0.1"\n')
        to = "sip:+15550100@127.0.0.1:%d" % node.sip_port
        try:
            peers = {
                "tone": Peer(self.sub("tone"), "call", "--to", to, "--media", "audio", "--play", files.cng, "--no-red"),
                "rfc4733": Peer(self.sub("event"), "call", "--to", to, "--media", "audio", "--play", files.silence,
                                "--send-event", "cng"),
                "reinvite": Peer(self.sub("reinvite"), "call", "--to", to, "--media", "audio", "--play", files.silence,
                                 "--reinvite-t38-at", "1"),
            }
            reports = {k: p.result(timeout=120) for k, p in peers.items()}
            jobs = node.settle(FINAL_IN, timeout=120)
            self.assertEqual(len(jobs), 3, jobs)
            by = {j["detected_by"]: j for j in jobs}
            self.assertEqual(sorted(by), ["reinvite", "rfc4733", "tone"], jobs)
            for how in ("tone", "rfc4733"):
                ev = events(node, by[how]["id"])
                m = re.search(r"fax recognised by (?:an RFC 4733 )?CNG(?: event)? after (\d+) ms", ev)
                self.assertTrue(m, ev)
                self.assertLess(int(m.group(1)), 5000, "within 5 s of the first tone")
            self.assertEqual(by["reinvite"]["media"], "pcmu+t38")
            for k, r in reports.items():
                self.assertNotIn("refer_to", r, "%s: a fax is never transferred as voice: %s" % (k, r))
        finally:
            node.stop()


class NotFaxTest(G711Case):
    def test_a_minute_of_speech_and_of_music_is_never_taken_for_fax(self):
        files = AudioFiles(self.dir)
        speech, music = files.speech(), files.music()
        node = Node(self.sub("node"), trunk="self",
                    extra='[fax]\ndetect_s = 62\n[[route]]\ndid = "+15550100"\nmailbox = "fax@test"\n'
                          'voice_uri = "sip:voicemail@127.0.0.1"\n')
        to = "sip:+15550100@127.0.0.1:%d" % node.sip_port
        try:
            peers = {name: Peer(self.sub(name), "call", "--to", to, "--media", "audio", "--play", f,
                                "--refer-result", "200", "--timeout", "120")
                     for name, f in (("speech", speech), ("music", music))}
            reports = {k: p.result(timeout=150) for k, p in peers.items()}
            for name, r in reports.items():
                with self.subTest(name):
                    self.assertEqual(r.get("refer_to"), "<sip:voicemail@127.0.0.1>", r)
                    self.assertGreaterEqual(r["refer_after_s"], 61.5, r)
                    self.assertLess(r["refer_after_s"], 64, r)
                    self.assertNotIn("tone_heard_after_s", r)
            # Transferred voice calls leave no job; each is in the accounting as transferred.
            deadline = time.time() + 20
            while time.time() < deadline and node.jobs():
                time.sleep(0.5)
            self.assertEqual(node.jobs(), [])
            with open(os.path.join(node.dir, "var", "accounting.jsonl")) as f:
                acc = [json.loads(line) for line in f]
            self.assertEqual(sorted(a["outcome"] for a in acc), ["transferred", "transferred"], acc)
        finally:
            node.stop()


class SharedNumberTest(G711Case):
    def test_a_voice_call_is_referred_to_voice_uri_or_its_mailbox_hears_of_it(self):
        files = AudioFiles(self.dir)
        speech = files.speech()
        node = Node(self.sub("node"), trunk="self",
                    extra='[fax]\ndetect_s = 8\n[[route]]\ndid = "+15550100"\nmailbox = "front@test"\n'
                          'voice_uri = "sip:reception@127.0.0.1:5099"\n')
        to = "sip:+15550100@127.0.0.1:%d" % node.sip_port
        try:
            taken = Peer(self.sub("taken"), "call", "--to", to, "--media", "audio", "--play", speech,
                         "--refer-result", "200", "--timeout", "60")
            refused = Peer(self.sub("refused"), "call", "--to", to, "--media", "audio", "--play", speech, "--timeout", "60")
            t, r = taken.result(timeout=90), refused.result(timeout=90)
            with self.subTest("REFERred within detect_s + 1 s"):
                self.assertEqual(t.get("refer_to"), "<sip:reception@127.0.0.1:5099>", t)
                self.assertGreaterEqual(t["refer_after_s"], 7.5, t)
                self.assertLess(t["refer_after_s"], 9.0, t)
            with self.subTest("a refused transfer ends the call and mails a missed-call notice"):
                self.assertIn("refer_to", r)
                self.assertEqual(r["end"], "remote hangup", r)
                [mail] = wait_mails(os.path.join(node.dir, "var", "mail"), "front@test", 1, log=node.log.name)
                self.assertTrue(mail["Subject"].startswith("Missed call from +15550199"), mail["Subject"])
                body = mail.get_body(("plain",)).get_content()
                self.assertIn("voice call", body)
                self.assertIn("603", body)
                [job] = node.settle(FINAL_IN)
                self.assertEqual(job["state"], "done", "a voice call is never recorded as a failed fax")
                self.assertIsNone(job["detected_by"], job)
        finally:
            node.stop()


if __name__ == "__main__":
    unittest.main()
