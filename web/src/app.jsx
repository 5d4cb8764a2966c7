// app.jsx — the faxbridge dashboard: a single page on the node's /api/v1 (INTERFACES.md).
//
// Views (location.hash): #/ the faxes, sent and received, updated live from /api/v1/events;
// #/fax/<id> one fax with its page images, attempts and page results; #/send the send form
// (drag and drop or pick documents); #/trunks the trunks and #/users the users and their tokens
// (admin tokens). The token is asked for
// once and kept in sessionStorage (this tab only). Every request carries it as a bearer token,
// so images and downloads are fetched as blobs, never linked with the token in a URL.
import { render } from "preact";
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";

const FINAL = new Set(["done", "failed", "cancelled"]);
const PAGES_READY = (j) => !["queued", "rendering", "receiving"].includes(j.state);

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function client(token, onUnauthorized) {
  const call = async (path, opts = {}) => {
    const r = await fetch(path, { ...opts, headers: { ...(opts.headers || {}), Authorization: "Bearer " + token } });
    if (r.status === 401) {
      onUnauthorized();
      throw new ApiError(401, "the token was not accepted");
    }
    if (!r.ok) {
      let message = r.status + " " + r.statusText;
      try {
        const body = await r.json();
        if (body && body.error) message = typeof body.error === "string" ? body.error : body.error.message;
      } catch (e) { /* not JSON */ }
      throw new ApiError(r.status, message);
    }
    return r;
  };
  return {
    json: async (path, opts) => (await call(path, opts)).json(),
    blob: async (path) => (await call(path)).blob(),
    raw: call,
  };
}

// Server-sent events read with fetch (EventSource cannot send the Authorization header); it
// reconnects after a pause, asking for what changed since the last event it saw.
function useJobEvents(token, onJob, onReconnect, onUnauthorized) {
  const handler = useRef(onJob);
  handler.current = onJob;
  const again = useRef(onReconnect);
  again.current = onReconnect;
  const refused = useRef(onUnauthorized);
  refused.current = onUnauthorized;
  const [live, setLive] = useState(false);
  useEffect(() => {
    if (!token) return undefined;
    let stopped = false;
    let since = Math.floor(Date.now() / 1000) - 5;
    const abort = new AbortController();
    let connected = false;
    const run = async () => {
      while (!stopped) {
        try {
          const r = await fetch("/api/v1/events?since=" + since, {
            headers: { Authorization: "Bearer " + token },
            signal: abort.signal,
          });
          if (r.status === 401) {  // revoked: sign out, not retry for ever
            refused.current();
            return;
          }
          if (!r.ok || !r.body) throw new Error("events: " + r.status);
          // Back after a gap longer than the stream's look-back: the list is read again.
          if (connected && Date.now() / 1000 - since > 3000) again.current();
          connected = true;
          setLive(true);
          const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
          let buf = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            since = Math.floor(Date.now() / 1000) - 10;  // heard up to now (events, keep-alives): resume here
            buf += value;
            let cut;
            while ((cut = buf.indexOf("\n\n")) >= 0) {
              const block = buf.slice(0, cut);
              buf = buf.slice(cut + 2);
              let kind = "message";
              let data = "";
              for (const line of block.split("\n")) {
                if (line.startsWith("event: ")) kind = line.slice(7);
                else if (line.startsWith("data: ")) data += line.slice(6);
              }
              if (kind === "job" && data) handler.current(JSON.parse(data));
            }
          }
        } catch (e) {
          if (stopped) return;
        }
        setLive(false);
        await new Promise((res) => setTimeout(res, 3000));
      }
    };
    run();
    return () => {
      stopped = true;
      abort.abort();
    };
  }, [token]);
  return live;
}

function useHash() {
  const [hash, setHash] = useState(location.hash || "#/");
  useEffect(() => {
    const on = () => setHash(location.hash || "#/");
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return hash;
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");

function StateBadge({ state }) {
  return <span class={"state state-" + state}>{state}</span>;
}

function Login({ onToken }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState("");
  const submit = async (e) => {
    e.preventDefault();
    setError("");
    const t = token.trim();
    try {
      await client(t, () => {}).json("/api/v1/faxes?limit=1");
      onToken(t);
    } catch (err) {
      setError(err.status === 401 ? "That token is not known to this node." : err.message);
    }
  };
  return (
    <main class="login">
      <h1>faxbridge</h1>
      <form onSubmit={submit}>
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required
               value={token} onInput={(e) => setToken(e.target.value)} placeholder="fbt_…" />
        <button type="submit">Sign in</button>
        {error && <p class="error" role="alert">{error}</p>}
      </form>
      <p class="hint">An admin token is in the node's data directory (admin.token); users get theirs
        from <code>faxbridge token add</code>.</p>
    </main>
  );
}

function Faxes({ jobs, loaded, filter, setFilter, more, loadMore }) {
  const shown = useMemo(() => {
    const list = [...jobs.values()].filter((j) =>
      (!filter.direction || j.direction === filter.direction) && (!filter.state || j.state === filter.state));
    return list.sort((a, b) => b.id - a.id);
  }, [jobs, filter]);
  return (
    <section aria-labelledby="faxes-h">
      <h2 id="faxes-h">Faxes</h2>
      <div class="filters" role="group" aria-label="Show">
        {[["", "All"], ["out", "Sent"], ["in", "Received"]].map(([d, label]) => (
          <button type="button" aria-pressed={filter.direction === d ? "true" : "false"}
                  onClick={() => setFilter({ ...filter, direction: d })}>{label}</button>
        ))}
        <label>State{" "}
          <select value={filter.state} onChange={(e) => setFilter({ ...filter, state: e.target.value })}>
            <option value="">any</option>
            {["rendering", "ready", "sending", "retry", "done", "failed", "cancelled", "receiving", "delivering"].map(
              (s) => <option value={s}>{s}</option>)}
          </select>
        </label>
      </div>
      {!loaded ? <p>Loading faxes…</p> : shown.length === 0 ? <p class="empty">No faxes here yet.</p> : (
        <table class="jobs">
          <thead><tr><th>Fax</th><th>Direction</th><th>Number</th><th>State</th><th>Pages</th><th>Updated</th></tr></thead>
          <tbody>
            {shown.map((j) => (
              <tr data-job={j.id} data-state={j.state}>
                <td data-label="Fax"><a href={"#/fax/" + j.id}>#{j.id}</a></td>
                <td data-label="Direction">{j.direction === "out" ? "sent" : "received"}</td>
                <td data-label="Number">{j.direction === "out" ? j.number : j.caller || "unknown"}</td>
                <td data-label="State"><StateBadge state={j.state} />{j.error && <span class="why"> {j.error}</span>}</td>
                <td data-label="Pages">{j.direction === "out" ? `${j.pages_done} of ${j.pages}` : j.pages}</td>
                <td data-label="Updated">{when(j.updated)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {more && <button type="button" onClick={loadMore}>Older faxes</button>}
    </section>
  );
}

function PageImage({ api, id, n }) {
  const [url, setUrl] = useState(null);
  const [error, setError] = useState("");
  useEffect(() => {
    let u = null;
    let gone = false;
    api.blob(`/api/v1/faxes/${id}/pages/${n}.png?width=600`).then((b) => {
      u = URL.createObjectURL(b);
      if (gone) URL.revokeObjectURL(u);
      else setUrl(u);
    }).catch((e) => !gone && setError(e.message));
    return () => {
      gone = true;
      if (u) URL.revokeObjectURL(u);
    };
  }, [id, n]);
  if (error) return <p class="error">Page {n}: {error}</p>;
  return url ? <img class="page" src={url} alt={`Page ${n} of fax ${id}`} /> : <div class="page loading">Page {n}…</div>;
}

function Fax({ api, id, version, isAdmin }) {
  const [fax, setFax] = useState(null);
  const [error, setError] = useState("");
  const [note, setNote] = useState("");
  const load = useCallback(() => api.json(`/api/v1/faxes/${id}`).then(setFax, (e) => setError(e.message)), [id]);
  useEffect(() => { load(); }, [id, version]);
  const act = async (what) => {
    setNote("");
    try {
      setFax({ ...fax, ...(await api.json(`/api/v1/faxes/${id}/${what}`, { method: "POST" })) });
      setNote(what === "cancel" ? "Cancelled." : "It will be tried now.");
    } catch (e) {
      setNote(e.message);
    }
  };
  const download = async (kind) => {
    try {
      const b = await api.blob(`/api/v1/faxes/${id}/document.${kind}`);
      const a = document.createElement("a");
      a.href = URL.createObjectURL(b);
      a.download = `fax-${id}.${kind}`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    } catch (e) {
      setNote(e.message);
    }
  };
  if (error) return <p class="error" role="alert">{error}</p>;
  if (!fax) return <p>Loading fax {id}…</p>;
  const pages = PAGES_READY(fax) ? Array.from({ length: fax.pages }, (_, i) => i + 1) : [];
  return (
    <section aria-labelledby="fax-h">
      <p><a href="#/">← All faxes</a></p>
      <h2 id="fax-h">Fax #{fax.id} {fax.direction === "out" ? "to " + fax.number : "from " + (fax.caller || "unknown")}</h2>
      <dl class="facts">
        <dt>State</dt><dd><StateBadge state={fax.state} />{fax.error && <span class="why"> {fax.error}</span>}</dd>
        <dt>Pages</dt><dd>{fax.direction === "out" ? `${fax.pages_done} of ${fax.pages} sent` : `${fax.pages} received`}</dd>
        {fax.remote_ident && <><dt>Remote station</dt><dd>{fax.remote_ident}</dd></>}
        {fax.retry_at && <><dt>Next try</dt><dd>{when(fax.retry_at)}</dd></>}
        <dt>Created</dt><dd>{when(fax.created)}</dd>
        <dt>Updated</dt><dd>{when(fax.updated)}</dd>
      </dl>
      <div class="actions">
        {fax.direction === "out" && !FINAL.has(fax.state) && <button type="button" onClick={() => act("cancel")}>Cancel</button>}
        {fax.state === "retry" && <button type="button" onClick={() => act("retry")}>Retry now</button>}
        {pages.length > 0 && <button type="button" onClick={() => download("pdf")}>Download PDF</button>}
        {pages.length > 0 && <button type="button" onClick={() => download("tif")}>Download TIFF</button>}
      </div>
      <p aria-live="polite" class="note">{note}</p>
      <h3>Pages</h3>
      {pages.length === 0 ? <p>The pages are not complete yet.</p> : (
        <div class="pages">{pages.map((n) => <PageImage api={api} id={fax.id} n={n} key={fax.id + "/" + n} />)}</div>
      )}
      {fax.attempts && fax.attempts.length > 0 && (
        <>
          <h3>Attempts</h3>
          <table class="attempts">
            <thead><tr><th>Time</th><th>Node</th><th>Trunk</th><th>Media</th><th>SIP</th><th>Result</th><th>Pages</th></tr></thead>
            <tbody>{fax.attempts.map((a) => (
              <tr><td data-label="Time">{when(a.time)}</td><td data-label="Node">{a.node}</td><td data-label="Trunk">{a.trunk}</td>
                <td data-label="Media">{a.media}</td><td data-label="SIP">{a.sip_status}</td>
                <td data-label="Result">{a.result}</td><td data-label="Pages">{a.pages_sent}</td></tr>))}
            </tbody>
          </table>
        </>
      )}
      {fax.page_results && fax.page_results.length > 0 && (
        <>
          <h3>Page results</h3>
          <table class="page-results">
            <thead><tr><th>Page</th><th>State</th><th>Rows</th><th>Bad rows</th></tr></thead>
            <tbody>{fax.page_results.map((p) => (
              <tr><td data-label="Page">{p.page}</td><td data-label="State">{p.state}</td>
                <td data-label="Rows">{p.rows}</td><td data-label="Bad rows">{p.bad_rows}</td></tr>))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

function Send({ api, onSent }) {
  const [files, setFiles] = useState([]);
  const [to, setTo] = useState("");
  const [cover, setCover] = useState("");
  const [withCover, setWithCover] = useState(false);
  const [priority, setPriority] = useState("normal");
  const [after, setAfter] = useState("");
  const [over, setOver] = useState(false);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const add = (list) => setFiles((f) => [...f, ...Array.from(list || [])]);
  const drop = (e) => {
    e.preventDefault();
    setOver(false);
    add(e.dataTransfer && e.dataTransfer.files);
  };
  const submit = async (e) => {
    e.preventDefault();
    setError("");
    const numbers = to.split(/[\s,;]+/).filter(Boolean);
    if (numbers.length === 0) return setError("Give at least one number, e.g. +12025550100.");
    if (files.length === 0) return setError("Add at least one document.");
    const form = new FormData();
    numbers.forEach((n) => form.append("to", n));
    files.forEach((f) => form.append("document", f, f.name));
    if (withCover) form.append("cover", cover);
    if (priority !== "normal") form.append("priority", priority);
    if (after) form.append("send_after", new Date(after).toISOString().replace(/\.\d+Z$/, "Z"));
    setBusy(true);
    try {
      const r = await api.json("/api/v1/faxes", { method: "POST", body: form });
      onSent(r.items);
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="send-h">
      <h2 id="send-h">Send a fax</h2>
      <form onSubmit={submit} class="send">
        <div class={"drop" + (over ? " over" : "")} data-testid="drop"
             onDragOver={(e) => { e.preventDefault(); setOver(true); }}
             onDragLeave={() => setOver(false)} onDrop={drop}>
          <p>Drop documents here (PDF, images, TIFF, text, Office), or</p>
          <label for="files">Choose documents</label>
          <input id="files" type="file" multiple onChange={(e) => { add(e.target.files); e.target.value = ""; }} />
        </div>
        {files.length > 0 && (
          <ul class="files" aria-label="Documents, in the order they are faxed">
            {files.map((f, i) => (
              <li>{f.name} ({Math.ceil(f.size / 1024)} KiB){" "}
                <button type="button" aria-label={"Remove " + f.name}
                        onClick={() => setFiles(files.filter((_, k) => k !== i))}>Remove</button></li>))}
          </ul>
        )}
        <label for="to">To (one or more numbers, e.g. +12025550100 or +4930123456/T33S=12)</label>
        <input id="to" name="to" required value={to} onInput={(e) => setTo(e.target.value)} inputmode="tel" />
        <label class="check"><input type="checkbox" checked={withCover} onChange={(e) => setWithCover(e.target.checked)} />
          {" "}A cover page first</label>
        {withCover && (<>
          <label for="cover">Cover page comment</label>
          <textarea id="cover" rows="3" value={cover} onInput={(e) => setCover(e.target.value)} />
        </>)}
        <label for="priority">Priority</label>
        <select id="priority" value={priority} onChange={(e) => setPriority(e.target.value)}>
          <option value="urgent">urgent</option><option value="normal">normal</option><option value="non-urgent">non-urgent</option>
        </select>
        <label for="after">Not before (optional)</label>
        <input id="after" type="datetime-local" value={after} onInput={(e) => setAfter(e.target.value)} />
        <button type="submit" disabled={busy}>{busy ? "Sending…" : "Send fax"}</button>
        {error && <p class="error" role="alert">{error}</p>}
      </form>
    </section>
  );
}

function Trunks({ api }) {
  const [trunks, setTrunks] = useState(null);
  const [error, setError] = useState("");
  useEffect(() => {
    const load = () => api.json("/api/v1/trunks").then(setTrunks, (e) => setError(e.message));
    load();
    const t = setInterval(load, 5000);
    return () => clearInterval(t);
  }, []);
  if (error) return <p class="error" role="alert">{error}</p>;
  if (!trunks) return <p>Loading trunks…</p>;
  return (
    <section aria-labelledby="trunks-h">
      <h2 id="trunks-h">Trunks</h2>
      <table class="trunks">
        <thead><tr><th>Trunk</th><th>State</th><th>Channels in use</th><th>T.38</th><th>Addresses</th></tr></thead>
        <tbody>{trunks.map((t) => (
          <tr><td data-label="Trunk">{t.name}</td>
            <td data-label="State"><span class={"state state-" + (t.state === "up" ? "done" : "failed")}>{t.state}</span>
              {t.state_reason && <span class="why"> {t.state_reason}</span>}</td>
            <td data-label="Channels in use">{t.channels_in_use} of {t.max_channels}</td>
            <td data-label="T.38">{t.t38 ? "yes" : "no"}</td>
            <td data-label="Addresses">{(t.addresses || []).join(", ")}</td></tr>))}
        </tbody>
      </table>
    </section>
  );
}

function Users({ api }) {
  const [users, setUsers] = useState(null);
  const [error, setError] = useState("");
  const [made, setMade] = useState(null);
  const [name, setName] = useState("");
  const [admin, setAdminFlag] = useState(false);
  const [boxes, setBoxes] = useState("");
  const [hook, setHook] = useState("");
  const [confirming, setConfirming] = useState("");
  const load = () => api.json("/api/v1/users").then((r) => setUsers(r.items), (e) => setError(e.message));
  useEffect(() => { load(); }, []);
  const add = async (e) => {
    e.preventDefault();
    setError("");
    const mailboxes = boxes.split(/[\s,;]+/).filter(Boolean);
    try {
      setMade(await api.json("/api/v1/users", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name: name.trim(), admin, mailboxes, ...(hook.trim() ? { webhook_url: hook.trim() } : {}) }),
      }));
      setName("");
      setBoxes("");
      setHook("");
      setAdminFlag(false);
      load();
    } catch (err) {
      setError(err.message);
    }
  };
  const revoke = async (who) => {
    setConfirming("");
    try {
      await api.json("/api/v1/users/" + encodeURIComponent(who), { method: "DELETE" });
      if (made && made.name === who) setMade(null);
      load();
    } catch (err) {
      setError(err.message);
    }
  };
  return (
    <section aria-labelledby="users-h">
      <h2 id="users-h">Users and tokens</h2>
      {error && <p class="error" role="alert">{error}</p>}
      {users && (users.length === 0 ? <p>No users yet: only the node's admin token works.</p> : (
        <table class="users">
          <thead><tr><th>User</th><th>Admin</th><th>Mailboxes</th><th>Webhook</th><th>Tokens</th><th>Created</th><th></th></tr></thead>
          <tbody>{users.map((u) => (
            <tr data-user={u.name}><td data-label="User">{u.name}</td><td data-label="Admin">{u.admin ? "yes" : "no"}</td>
              <td data-label="Mailboxes">{u.mailboxes.join(", ")}</td><td data-label="Webhook">{u.webhook_url || ""}</td>
              <td data-label="Tokens">{u.tokens}</td>
              <td data-label="Created">{when(u.created)}</td>
              <td>{confirming === u.name
                ? <button type="button" onClick={() => revoke(u.name)}>Confirm: revoke {u.name}</button>
                : <button type="button" class="quiet" onClick={() => setConfirming(u.name)}>Revoke</button>}</td></tr>))}
          </tbody>
        </table>
      ))}
      <h3>New token</h3>
      <form onSubmit={add} class="user">
        <label for="user-name">User name</label>
        <input id="user-name" required value={name} onInput={(e) => setName(e.target.value)} pattern="[A-Za-z0-9._@\-]{1,64}" />
        <label for="user-boxes">Mailboxes whose received faxes the user sees (optional)</label>
        <input id="user-boxes" value={boxes} onInput={(e) => setBoxes(e.target.value)} />
        <label for="user-hook">Webhook told of each fax received for those mailboxes (optional)</label>
        <input id="user-hook" type="url" value={hook} onInput={(e) => setHook(e.target.value)} placeholder="https://…" />
        <label class="check"><input type="checkbox" checked={admin} onChange={(e) => setAdminFlag(e.target.checked)} /> Admin</label>
        <button type="submit">Make a token</button>
      </form>
      {made && (
        <div class="made" role="status">
          <p>The token for <strong>{made.name}</strong>, shown this once (the node keeps only its hash):</p>
          <output class="secret" data-testid="new-token">{made.token}</output>
          <p>Its webhook secret (signs this user's webhooks):</p>
          <output class="secret">{made.webhook_secret}</output>
        </div>
      )}
    </section>
  );
}

function App() {
  const [token, setToken] = useState(sessionStorage.getItem("faxbridge.token") || "");
  const hash = useHash();
  const [jobs, setJobs] = useState(new Map());
  const [cursor, setCursor] = useState(null);
  const [loaded, setLoaded] = useState(false);
  const [filter, setFilter] = useState({ direction: "", state: "" });
  const [isAdmin, setAdmin] = useState(false);
  const [who, setWho] = useState("");
  const [versions, setVersions] = useState({});
  const [flash, setFlashFor] = useState({ hash: "", text: "" });
  const setFlash = (text, where) => setFlashFor({ hash: where || location.hash || "#/", text });  // shown in that view only
  const logout = useCallback(() => {
    sessionStorage.removeItem("faxbridge.token");
    setToken("");
  }, []);
  const api = useMemo(() => client(token, logout), [token]);
  const merge = (list) => setJobs((m) => {
    const next = new Map(m);
    for (const j of list) next.set(j.id, j);
    return next;
  });
  const load = async (from) => {
    const page = await api.json("/api/v1/faxes?limit=100" + (from ? "&cursor=" + from : ""));
    merge(page.items);
    setCursor(page.next_cursor);
    setLoaded(true);
  };
  useEffect(() => {
    if (!token) return;
    setJobs(new Map());
    setLoaded(false);
    load(null).catch((e) => setFlash(e.message));
    api.json("/api/v1/me").then((me) => { setAdmin(me.admin); setWho(me.user); }, () => setAdmin(false));
  }, [token]);
  const live = useJobEvents(token, (j) => {
    merge([j]);
    setVersions((v) => ({ ...v, [j.id]: (v[j.id] || 0) + 1 }));
  }, () => load(null).catch((e) => setFlash(e.message)), logout);
  if (!token) {
    return <Login onToken={(t) => { sessionStorage.setItem("faxbridge.token", t); setToken(t); }} />;
  }
  const faxId = hash.startsWith("#/fax/") ? Number(hash.slice(6)) : null;
  const view = faxId ? "fax" : { "#/send": "send", "#/trunks": "trunks", "#/users": "users" }[hash] || "faxes";
  const link = (href, label, name) => (
    <a href={href} aria-current={view === name ? "page" : undefined}>{label}</a>);
  return (
    <>
      <header>
        <span class="brand">faxbridge</span>
        <nav aria-label="Main">
          {link("#/", "Faxes", "faxes")}
          {link("#/send", "Send", "send")}
          {isAdmin && link("#/trunks", "Trunks", "trunks")}
          {isAdmin && link("#/users", "Users", "users")}
        </nav>
        <span class={"live" + (live ? " on" : "")} title={live ? "live updates" : "reconnecting"}>
          {live ? "live" : "offline"}</span>
        <span class="who">{who}</span>
        <button type="button" class="link" onClick={logout}>Sign out</button>
      </header>
      <main>
        <p aria-live="polite" class="note">{flash.hash === hash ? flash.text : ""}</p>
        {view === "faxes" && <Faxes jobs={jobs} loaded={loaded} filter={filter} setFilter={setFilter} more={!!cursor}
                                    loadMore={() => load(cursor).catch((e) => setFlash(e.message))} />}
        {view === "fax" && <Fax api={api} id={faxId} version={versions[faxId] || 0} isAdmin={isAdmin} />}
        {view === "send" && <Send api={api} onSent={(items) => {
          merge(items);
          setFlash("Queued: " + items.map((j) => `fax #${j.id} to ${j.number}`).join(", ") + ".", "#/");
          location.hash = "#/";
        }} />}
        {view === "trunks" && <Trunks api={api} />}
        {view === "users" && <Users api={api} />}
      </main>
    </>
  );
}

render(<App />, document.getElementById("app"));
