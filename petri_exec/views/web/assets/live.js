// The live page of `petri-exec serve`: applies the server's Server-Sent Events, opens logs
// and explanations, and sends actions with the token. Loads nothing from elsewhere; every
// text from the server is either HTML the server escaped or set with textContent.
"use strict";
(() => {
  const root = document.getElementById("live");
  const base = root.dataset.base;
  const view = root.dataset.view;
  const statusEl = document.getElementById("live-status");
  const errorEl = document.getElementById("live-error");
  const actionEl = document.getElementById("action-status");
  const panel = document.getElementById("panel");
  const panelTitle = document.getElementById("panel-title");
  const panelText = document.getElementById("panel-text");
  const KEY = "petri-exec-token";
  let token = null;
  const found = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (found) {
    token = decodeURIComponent(found[1]);
    try { sessionStorage.setItem(KEY, token); } catch (e) { /* private mode */ }
    history.replaceState(null, "", location.pathname + location.search);
  } else {
    try { token = sessionStorage.getItem(KEY); } catch (e) { token = null; }
  }
  const state = window.petriExec = {
    loadedAt: Date.now(), updates: 0, version: null, hasToken: !!token, open: null, busy: false,
  };
  const shown = {};

  function duration(s) {
    if (s < 1) return (Math.max(s, 0) * 1000).toFixed(0) + " ms";
    if (s < 60) return s.toFixed(1) + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + String(Math.floor(s % 60)).padStart(2, "0") + " s";
    return Math.floor(s / 3600) + " h " + String(Math.floor(s % 3600 / 60)).padStart(2, "0") + " min";
  }

  function tick() {
    const now = Date.now() / 1000;
    for (const el of document.querySelectorAll("[data-since]")) {
      el.textContent = "running " + duration(now - parseFloat(el.dataset.since));
    }
  }

  function replace(id, html) {
    const el = document.getElementById(id);
    if (!el || shown[id] === html) return;
    const box = el.querySelector(".net");
    const scroll = box ? [box.scrollLeft, box.scrollTop] : null;
    const input = el.querySelector("#abandon-reason");
    const typed = input ? input.value : null;
    el.innerHTML = html;
    shown[id] = html;
    const box2 = el.querySelector(".net");
    if (scroll && box2) { box2.scrollLeft = scroll[0]; box2.scrollTop = scroll[1]; }
    const input2 = el.querySelector("#abandon-reason");
    if (input2 && typed) input2.value = typed;
  }

  function apply(p) {
    state.updates += 1;
    state.version = p.version;
    if (p.error) {
      errorEl.textContent = p.error;
      errorEl.hidden = false;
    } else {
      errorEl.textContent = "";
      errorEl.hidden = true;
    }
    for (const [id, html] of Object.entries(p.sections || {})) replace(id, html);
    if (p.title) document.title = p.title + " \u00b7 petri-exec";
    tick();
    if (state.open && state.open.kind === "log") show(state.open);
  }

  function connect() {
    const url = base + "/stream" + (view ? "?view=" + encodeURIComponent(view) : "");
    const es = new EventSource(url);
    es.addEventListener("sections", (ev) => apply(JSON.parse(ev.data)));
    es.onopen = () => { statusEl.textContent = "live"; statusEl.className = "ok"; };
    es.onerror = () => {
      statusEl.textContent = "disconnected: reconnecting\u2026";
      statusEl.className = "failed";
    };
  }

  async function show(what) {
    state.open = what;
    let url;
    if (what.kind === "log") {
      panelTitle.textContent = "log " + what.arg;
      url = base + "/log?path=" + encodeURIComponent(what.arg);
    } else {
      panelTitle.textContent = "why " + what.arg;
      url = base + "/why?" + what.kind + "=" + encodeURIComponent(what.arg);
    }
    panel.hidden = false;
    state.busy = true;
    try {
      const r = await fetch(url, { cache: "no-store" });
      let text = await r.text();
      if (what.kind !== "log") {
        try { text = JSON.parse(text).text; } catch (e) { /* a plain-text refusal */ }
      }
      if (state.open !== what) return;
      const atEnd = panelText.scrollTop + panelText.clientHeight >= panelText.scrollHeight - 4;
      panelText.textContent = text;
      panelText.dataset.status = String(r.status);
      if (atEnd) panelText.scrollTop = panelText.scrollHeight;
    } catch (e) {
      panelText.textContent = "cannot reach the server: " + e;
    } finally {
      state.busy = false;
    }
  }

  async function act(button) {
    const action = button.dataset.action;
    const body = action === "abandon"
      ? { reason: (document.getElementById("abandon-reason") || {}).value || "" }
      : { target: button.dataset.target };
    const headers = { "Content-Type": "application/json" };
    if (token) headers["X-Petri-Exec-Token"] = token;
    actionEl.hidden = false;
    actionEl.className = "";
    actionEl.textContent = action + " " + (body.target || "") + "\u2026";
    try {
      const r = await fetch(base + "/actions/" + encodeURIComponent(action), {
        method: "POST", headers, body: JSON.stringify(body), cache: "no-store",
      });
      const text = await r.text();
      let answer;
      try { answer = JSON.parse(text); } catch (e) { answer = { ok: false, message: text }; }
      actionEl.textContent = (answer.ok ? "done: " : "refused: ") + answer.message;
      actionEl.className = answer.ok ? "ok" : "failed";
    } catch (e) {
      actionEl.textContent = "cannot reach the server: " + e;
      actionEl.className = "failed";
    }
  }

  document.addEventListener("click", (ev) => {
    const button = ev.target.closest("button");
    if (button) {
      if (button.id === "panel-close") { panel.hidden = true; state.open = null; return; }
      if (button.id === "fit") {
        const fit = document.getElementById("picture").classList.toggle("fit");
        button.textContent = fit ? "actual size" : "fit the picture";
        return;
      }
      if (button.classList.contains("log")) show({ kind: "log", arg: button.dataset.path });
      else if (button.classList.contains("why")) show({ kind: "transition", arg: button.dataset.target });
      else if (button.classList.contains("act")) act(button);
      return;
    }
    const node = ev.target.closest("#picture g.node");
    if (!node || !node.id) return;
    ev.preventDefault();
    if (node.id.startsWith("t:")) show({ kind: "transition", arg: node.id.slice(2) });
    else if (node.id.startsWith("s:")) show({ kind: "slice", arg: node.id.slice(2) });
  });

  setInterval(() => {
    tick();
    if (state.open && state.open.kind === "log" && !state.busy) show(state.open);  // a log grows
  }, 1000);
  connect();
})();
