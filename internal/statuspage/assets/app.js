// mcpmux status page: polls /status.json and renders it. Every value is
// put in the page as text (textContent), never as HTML: server names,
// tool names and errors come from upstreams and are not trusted.
"use strict";

(function () {
  const csrf = document.querySelector('meta[name="mcpmux-csrf"]').content;
  const every = 1000; // ms between polls while the page is visible
  let canAct = false;
  let failures = 0;

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "text") e.textContent = v;
      else if (k === "class") e.className = v;
      else e.setAttribute(k, v);
    }
    for (const kid of kids) if (kid) e.append(kid);
    return e;
  }

  function td(label, content, cls) {
    const cell = el("td", { "data-label": label, class: cls });
    if (content instanceof Node) cell.append(content);
    else if (content !== undefined && content !== null) cell.textContent = String(content);
    return cell;
  }

  function ago(iso) {
    const t = Date.parse(iso);
    if (!t || t < 0) return null;
    const s = Math.max(0, Math.round((Date.now() - t) / 1000));
    let text;
    if (s < 60) text = s + "s ago";
    else if (s < 3600) text = Math.floor(s / 60) + "m ago";
    else if (s < 86400) text = Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m ago";
    else text = Math.floor(s / 86400) + "d ago";
    return el("time", { datetime: iso, title: new Date(t).toLocaleString(), text: text });
  }

  function clock(iso) {
    const t = new Date(iso);
    return el("time", { datetime: iso, title: t.toLocaleString(), text: t.toLocaleTimeString() });
  }

  function ms(v) {
    if (!v) return "–";
    if (v < 1) return v.toFixed(2) + " ms";
    if (v < 1000) return Math.round(v) + " ms";
    return (v / 1000).toFixed(v < 10000 ? 2 : 1) + " s";
  }

  function badge(text, cls) { return el("span", { class: "badge " + cls, text: text }); }

  function fill(table, rows, empty, columns) {
    const body = document.querySelector("#" + table + " tbody");
    if (rows.length === 0) {
      rows = [el("tr", {}, el("td", { colspan: String(columns), class: "empty", text: empty }))];
    }
    body.replaceChildren(...rows);
  }

  async function act(path, body, button) {
    if (button) button.disabled = true;
    try {
      const r = await fetch(path, {
        method: "POST", credentials: "same-origin", cache: "no-store",
        headers: { "Content-Type": "application/json", "X-Mcpmux-Csrf": csrf },
        body: JSON.stringify(body || {}),
      });
      if (!r.ok) problem((await r.text()).trim() || r.statusText);
      else problem(null);
    } catch (e) {
      problem("the action did not reach mcpmux: " + e.message);
    } finally {
      if (button) button.disabled = false;
      poll();
    }
  }

  function problem(text) {
    const p = document.getElementById("problem");
    p.hidden = !text;
    p.textContent = text || "";
  }

  function since(u) {
    const when = u.since ? ago(u.since) : null;
    if (!when) return "–";
    if (!u.pid) return when;
    const s = el("span", {}, when);
    s.append(el("span", { class: "sub", text: "pid " + u.pid }));
    return s;
  }

  function upstreamRow(u) {
    const state = el("span", {}, badge(u.state, "s-" + u.state));
    if (u.needsLogin) state.append(badge("needs login", "login"));
    const withheld = (u.withheld || []).filter((w) => w.withheld).length;
    if (withheld) state.append(badge(withheld + " withheld", "s-backoff"));
    let err = null;
    if (u.lastError || u.needsLogin) {
      err = el("span", { text: u.lastError || (u.login && u.login.reason) || "" });
      if (u.needsLogin && u.login && u.login.command) err.append(el("span", { class: "sub", text: "run: " + u.login.command }));
      else if (u.state === "backoff" && u.attempt) err.append(el("span", { class: "sub", text: "attempt " + u.attempt }));
    }
    let action = null;
    if (canAct && u.state !== "invalid") {
      action = el("button", { type: "button", text: "Restart", "aria-label": "Restart " + u.server });
      action.addEventListener("click", () => act("/status/restart", { server: u.server }, action));
    }
    return el("tr", { "data-server": u.server },
      td("Server", u.server, "server"),
      td("State", state, "state"),
      td("Since", since(u), "since"),
      td("Tools", u.tools, "num tools"),
      td("Calls", u.calls || 0, "num calls"),
      td("Errors", u.errors || 0, "num errors"),
      td("p95", ms(u.p95ms), "num p95"),
      td("Restarts", u.restarts || 0, "num restarts"),
      td("Last error", err, "err"),
      td("", action, "act"));
  }

  function withheldRows(ups) {
    const rows = [];
    for (const u of ups) {
      for (const w of u.withheld || []) {
        let action = null;
        if (canAct) {
          action = el("button", { type: "button", text: "Trust", "aria-label": "Trust " + w.name + " of " + u.server });
          action.addEventListener("click", () => act("/status/trust", { server: u.server, name: w.name }, action));
        }
        const why = el("span", { text: w.reason });
        why.append(el("span", { class: "sub", text: w.withheld ? w.approve : "listed (policy warn)" }));
        rows.push(el("tr", { "data-server": u.server, "data-name": w.name },
          td("Server", u.server, "server"), td("Kind", w.kind), td("Name", w.name, "name"),
          td("Why", why), td("", action, "act")));
      }
    }
    return rows;
  }

  function render(v) {
    canAct = v.canAct;
    document.getElementById("version").textContent = v.version || "";
    document.getElementById("tools-bar").hidden = !canAct;
    const ready = v.upstreams.filter((u) => u.state === "ready").length;
    const calls = v.upstreams.reduce((n, u) => n + (u.calls || 0), 0);
    document.title = "mcpmux · " + ready + "/" + v.upstreams.length + " ready";
    document.getElementById("summary").textContent =
      ready + " of " + v.upstreams.length + " upstreams ready · " +
      v.sessions.length + (v.sessions.length === 1 ? " session · " : " sessions · ") +
      calls + (calls === 1 ? " call" : " calls");
    fill("upstreams", v.upstreams.map(upstreamRow), "No upstream is configured.", 10);
    const held = withheldRows(v.upstreams);
    document.getElementById("withheld-section").hidden = held.length === 0;
    fill("withheld", held, "", 5);
    fill("sessions", v.sessions.map((s) => el("tr", {},
      td("Client", s.client ? s.client + (s.clientVersion ? " " + s.clientVersion : "") : "(unnamed)", "server"),
      td("Protocol", s.protocol || "–"),
      td("Opened", ago(s.opened) || "–"),
      td("Calls", s.calls, "num calls"))), "No client session is open.", 4);
    fill("calls", v.calls.map((c) => el("tr", {},
      td("Time", clock(c.at)),
      td("Server", c.server, "server"),
      td("Tool", c.tool, "tool"),
      td("Duration", ms(c.ms), "num"),
      td("Outcome", badge(c.outcome, "o-" + c.outcome)))), "No call yet.", 5);
  }

  let timer = null;
  async function poll() {
    clearTimeout(timer);
    const live = document.getElementById("live");
    try {
      const r = await fetch("/status.json", { credentials: "same-origin", cache: "no-store", headers: { "X-Mcpmux-Csrf": csrf } });
      if (!r.ok) throw new Error((await r.text()).trim() || r.statusText);
      render(await r.json());
      failures = 0;
      live.className = "live";
      document.getElementById("updated").textContent = "live · updated " + new Date().toLocaleTimeString();
    } catch (e) {
      failures++;
      live.className = "stale";
      document.getElementById("updated").textContent = "not reachable (" + e.message + "), retrying";
    }
    const wait = document.hidden ? 5 * every : every * Math.min(1 + failures, 5);
    timer = setTimeout(poll, wait);
  }

  document.getElementById("reload").addEventListener("click", (e) => act("/status/reload", {}, e.currentTarget));
  document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
  poll();
})();
