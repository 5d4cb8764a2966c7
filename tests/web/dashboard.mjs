// dashboard.mjs — drives the dashboard in Debian's Chromium with playwright-core (from the build's
// web/node_modules), against a running node whose trunk is its own SIP port (real T.38 calls).
// Run by tests/app/dashboard_test.py, which reads its last line (JSON figures) and the screenshots.
//
// Environment: FB_URL (the node's HTTP base), FB_TOKEN (an admin token), FB_PDF (a one-page PDF),
// FB_OUT (where screenshots go), FB_WEB_MODULES (node_modules holding playwright-core),
// FB_NUMBER (the number to fax; the node's trunk answers it), FB_NODE (the node's [node] name),
// CHROMIUM (the browser).
// Exits 0 when every step held; otherwise prints the step that failed and exits 1.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const require = createRequire(process.env.FB_WEB_MODULES + "/");
const { chromium } = require("playwright-core");
const url = process.env.FB_URL;
const token = process.env.FB_TOKEN;
const out = process.env.FB_OUT;
const number = process.env.FB_NUMBER;
const pdf = process.env.FB_PDF;

let step = "start";
const check = (cond, what) => {
  if (!cond) throw new Error(what);
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],  // the test runs as root
});
const errors = [];
const figures = {};

async function open(viewport) {
  const ctx = await browser.newContext({ viewport });
  const page = await ctx.newPage();
  page.setDefaultTimeout(60000);
  page.on("console", (m) => m.type() === "error" && errors.push(`${viewport.width}px console: ${m.text()}`));
  page.on("pageerror", (e) => errors.push(`${viewport.width}px page error: ${e.message}`));
  return page;
}

async function signIn(page) {
  await page.goto(url + "/");
  await page.fill("#token", token);
  await page.press("#token", "Enter");
  await page.waitForSelector("nav[aria-label=Main]");
}

async function queuedId(page) {
  const note = await page.waitForSelector("main > .note:has-text('Queued')");
  const m = /fax #(\d+)/.exec(await note.textContent());
  check(m, "no job id in the note");
  return Number(m[1]);
}

async function pagesShown(page, count) {
  await page.waitForFunction((n) => {
    const imgs = [...document.querySelectorAll("img.page")];
    return imgs.length === n && imgs.every((i) => i.complete && i.naturalWidth > 0);
  }, count, { timeout: 60000 });
}

// Presses Tab until the focused element satisfies `pred` (evaluated in the page).
async function tabTo(page, pred, arg, what) {
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press("Tab");
    if (await page.evaluate(pred, arg)) return;
  }
  throw new Error("keyboard: Tab never reached " + what);
}

try {
  // Desktop: sign in; bytes shipped and first paint.
  step = "desktop sign-in";
  const page = await open({ width: 1280, height: 800 });
  await page.goto(url + "/");
  await page.waitForSelector("#token");
  figures.first_contentful_paint_ms = await page.evaluate(() => {
    const p = performance.getEntriesByName("first-contentful-paint")[0];
    return p ? Math.round(p.startTime) : null;
  });
  await page.fill("#token", token);
  await page.press("#token", "Enter");
  await page.waitForSelector("nav[aria-label=Main]");
  // The page and what it loaded from the node, API calls aside (no compression: bodies as sent).
  figures.bytes_shipped = await page.evaluate(() => [...performance.getEntriesByType("navigation"),
    ...performance.getEntriesByType("resource")].filter((e) => !e.name.includes("/api/"))
    .reduce((n, e) => n + e.encodedBodySize, 0));
  await page.evaluate(() => { window.__sameDocument = true; });

  // Send by drag and drop: a File in a DataTransfer, dropped on the zone.
  step = "drag and drop";
  await page.click("nav >> text=Send");
  const b64 = readFileSync(pdf).toString("base64");
  const dt = await page.evaluateHandle(([data, name]) => {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    const t = new DataTransfer();
    t.items.add(new File([bytes], name, { type: "application/pdf" }));
    return t;
  }, [b64, "letter.pdf"]);
  await page.dispatchEvent("[data-testid=drop]", "dragover", { dataTransfer: dt });
  await page.dispatchEvent("[data-testid=drop]", "drop", { dataTransfer: dt });
  await page.waitForSelector("ul.files >> text=letter.pdf");
  await page.fill("#to", number);
  await page.click("form.send button[type=submit]");
  const id = await queuedId(page);
  figures.sent_job = id;

  // Live: the row's states as the page shows them, recorded in the page, with no reload.
  step = "live states";
  await page.evaluate((jid) => {
    window.__states = [];
    const record = () => {
      const row = document.querySelector(`tr[data-job="${jid}"]`);
      const s = row && row.dataset.state;
      if (s && window.__states[window.__states.length - 1] !== s) window.__states.push(s);
    };
    record();
    new MutationObserver(record).observe(document.body, { subtree: true, childList: true, attributes: true });
  }, id);
  await page.waitForSelector(`tr[data-job="${id}"][data-state="done"]`, { timeout: 240000 });
  const states = await page.evaluate(() => window.__states);
  figures.states_seen = states;
  check(await page.evaluate(() => window.__sameDocument === true), "the page was reloaded");
  check(states[states.length - 1] === "done", "did not end done: " + states);
  check(["queued", "rendering", "ready"].includes(states[0]), "first state seen was " + states[0]);
  check(states.includes("sending"), "sending was never shown: " + states);
  await page.screenshot({ path: join(out, "desktop-faxes.png"), fullPage: true });

  // The sent fax: its page image and its attempt.
  step = "sent fax page";
  await page.click(`a[href="#/fax/${id}"]`);
  await page.waitForSelector("h2:has-text('Fax #" + id + "')");
  await pagesShown(page, 1);
  await page.waitForSelector("table.attempts td[data-label=Result] >> text=done");
  // Which node made the attempt (in a cluster, any node's dashboard shows every node's).
  const nodeShown = await page.textContent("table.attempts td[data-label=Node]");
  check(nodeShown === process.env.FB_NODE, "the attempt's node shown is " + JSON.stringify(nodeShown));
  await page.screenshot({ path: join(out, "desktop-sent-fax.png"), fullPage: true });

  // A received fax: the node received its own call; open it from the Received list.
  step = "received fax";
  await page.click("text=← All faxes");
  await page.click("button:has-text('Received')");
  const received = await page.waitForSelector("tr[data-state='done'] a, tr[data-state='delivering'] a");
  const rid = Number((await received.textContent()).replace("#", ""));
  figures.received_job = rid;
  await received.click();
  await page.waitForSelector("h2:has-text('from')");
  await pagesShown(page, 1);
  await page.screenshot({ path: join(out, "desktop-received-fax.png"), fullPage: true });

  // Trunks (an admin token).
  step = "trunks";
  await page.click("nav >> text=Trunks");
  await page.waitForSelector("table.trunks >> text=up");
  await page.screenshot({ path: join(out, "desktop-trunks.png"), fullPage: true });

  // Users and tokens (an admin token): make one, sign in with it elsewhere, revoke it.
  step = "users";
  await page.click("nav >> text=Users");
  await page.fill("#user-name", "erin");
  await page.fill("#user-boxes", "erin@example.com");
  await page.fill("#user-hook", "https://hooks.example.com/erin");
  await page.click("form.user button[type=submit]");
  const erinToken = (await (await page.waitForSelector("[data-testid=new-token]")).textContent()).trim();
  check(/^fbt_[0-9a-f]{64}$/.test(erinToken), "no token shown: " + erinToken);
  await page.waitForSelector("tr[data-user=erin] >> text=erin@example.com");
  await page.waitForSelector("tr[data-user=erin] >> text=https://hooks.example.com/erin");
  await page.screenshot({ path: join(out, "desktop-users.png"), fullPage: true });
  const erin = await open({ width: 1280, height: 800 });
  await erin.goto(url + "/");
  await erin.fill("#token", erinToken);
  await erin.press("#token", "Enter");
  await erin.waitForSelector("header .who >> text=erin");
  check(await erin.locator("nav >> text=Trunks").count() === 0, "a user's dashboard shows the trunks");
  await erin.waitForSelector("section p.empty");  // her list, loaded: none of the admin's faxes
  await page.click("tr[data-user=erin] button:has-text('Revoke')");
  await page.click("tr[data-user=erin] button:has-text('Confirm')");
  await page.waitForSelector("tr[data-user=erin]", { state: "detached" });
  figures.user_made_and_revoked = "erin";

  // Phone width: the list and a fax, nothing wider than the screen.
  step = "phone";
  const phone = await open({ width: 390, height: 844 });
  await signIn(phone);
  await phone.waitForSelector(`tr[data-job="${id}"]`);
  const wide = await phone.evaluate(() => document.documentElement.scrollWidth);
  check(wide <= 390, "the list is " + wide + " px wide at phone width");
  await phone.screenshot({ path: join(out, "phone-faxes.png"), fullPage: true });
  await phone.click(`a[href="#/fax/${id}"]`);
  await pagesShown(phone, 1);
  const wideFax = await phone.evaluate(() => document.documentElement.scrollWidth);
  check(wideFax <= 390, "a fax is " + wideFax + " px wide at phone width");
  await phone.screenshot({ path: join(out, "phone-fax.png"), fullPage: true });

  // Keyboard only: sign in, reach Send, choose a file, type the number, send.
  step = "keyboard";
  const kb = await open({ width: 1280, height: 800 });
  await kb.goto(url + "/");
  await kb.waitForSelector("#token");
  await tabTo(kb, () => document.activeElement && document.activeElement.id === "token", null, "the token field");
  await kb.keyboard.type(token);
  await kb.keyboard.press("Enter");
  await kb.waitForSelector("nav[aria-label=Main]");
  await tabTo(kb, () => document.activeElement && document.activeElement.textContent === "Send", null, "Send");
  await kb.keyboard.press("Enter");
  await kb.waitForSelector("#files");
  await tabTo(kb, () => document.activeElement && document.activeElement.id === "files", null, "the file picker");
  const [chooser] = await Promise.all([kb.waitForEvent("filechooser"), kb.keyboard.press("Space")]);
  await chooser.setFiles(pdf);
  await kb.waitForSelector("ul.files >> text=letter.pdf");
  await tabTo(kb, () => document.activeElement && document.activeElement.id === "to", null, "the number");
  await kb.keyboard.type(number);
  await tabTo(kb, () => document.activeElement && document.activeElement.type === "submit", null, "Send fax");
  await kb.keyboard.press("Enter");
  const kid = await queuedId(kb);
  await kb.waitForSelector(`tr[data-job="${kid}"]`);
  figures.keyboard_job = kid;

  step = "console";
  check(errors.length === 0, "console errors: " + errors.join(" | "));
  console.log(JSON.stringify(figures));
  await browser.close();
  process.exit(0);
} catch (e) {
  console.log(`step "${step}" failed: ${e.message}`);
  if (errors.length) console.log("console errors: " + errors.join(" | "));
  await browser.close();
  process.exit(1);
}
