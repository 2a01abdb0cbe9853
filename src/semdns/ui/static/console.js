// semdns console. Plain JavaScript, no dependencies, nothing loaded from elsewhere. Every panel reads
// the gateway's /ui/api/* JSON; the live panel reads /ui/api/feed (server-sent events) only while it is
// shown, so a console left open on another panel costs the gateway's request path nothing.
"use strict";

const API = "/ui/api/";
const $ = (id) => document.getElementById(id);
const MAX_ROWS = 200;
const CHART_POINTS = 150; // 150 ticks of 2 s: the last 5 minutes

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function setState(id, text, kind) {
  const node = $(id);
  node.textContent = text || "";
  node.className = "state" + (kind ? " " + kind : "");
}

async function getJSON(path, options) {
  let response;
  try {
    response = await fetch(API + path, Object.assign({ headers: { accept: "application/json" } }, options));
  } catch (err) {
    throw new Error("cannot reach the gateway (" + err.message + ")");
  }
  let body = null;
  try { body = await response.json(); } catch (err) { body = null; }
  if (!response.ok) {
    const message = body && body.error ? body.error.message : response.statusText;
    throw new Error("the gateway answered " + response.status + ": " + message);
  }
  return body;
}

const fmt = {
  pct: (x) => (x === null || x === undefined ? "–" : (100 * x).toFixed(1) + " %"),
  num: (x) => (x === null || x === undefined ? "–" : Number(x).toLocaleString("en")),
  ms: (x) => (x === null || x === undefined ? "–" : x < 10 ? x.toFixed(2) + " ms" : x.toFixed(0) + " ms"),
  us: (x) => (x < 1000 ? x.toFixed(0) + " µs" : (x / 1000).toFixed(2) + " ms"),
  time: (t) => new Date(t * 1000).toLocaleTimeString("en-GB"),
};

function summary(target, pairs) {
  const node = $(target);
  node.replaceChildren();
  for (const [key, value] of pairs) node.append(el("dt", { text: key }), el("dd", { text: value }));
}

// ---- tabs (arrow keys move between them, as the ARIA tabs pattern says) ------------------------------

const panels = {
  namespace: { enter: () => Namespace.start(), leave: () => Namespace.stop() },
  dig: { enter: () => $("dig-query").focus(), leave: () => {} },
  live: { enter: () => Live.start(), leave: () => Live.stop() },
  caches: { enter: () => Caches.start(), leave: () => Caches.stop() },
};
let current = null;

function show(name, focusTab) {
  if (current === name) return;
  if (current) panels[current].leave();
  for (const key of Object.keys(panels)) {
    const selected = key === name;
    const tab = $("tab-" + key);
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    $("panel-" + key).hidden = !selected;
  }
  current = name;
  if (focusTab) $("tab-" + name).focus();
  history.replaceState(null, "", "#" + name);
  panels[name].enter();
}

function setupTabs() {
  const names = Object.keys(panels);
  for (const name of names) {
    const tab = $("tab-" + name);
    tab.addEventListener("click", () => show(name));
    tab.addEventListener("keydown", (event) => {
      const i = names.indexOf(name);
      let next = null;
      if (event.key === "ArrowRight") next = names[(i + 1) % names.length];
      else if (event.key === "ArrowLeft") next = names[(i + names.length - 1) % names.length];
      else if (event.key === "Home") next = names[0];
      else if (event.key === "End") next = names[names.length - 1];
      if (next) { event.preventDefault(); show(next, true); }
    });
  }
}

// ---- namespace -------------------------------------------------------------------------------------

const Namespace = {
  timer: null,
  data: null,
  rendered: false,
  collapsed: new Set(),
  start() { this.load(); this.timer = setInterval(() => this.load(), 5000); },
  stop() { clearInterval(this.timer); this.timer = null; },
  async load() {
    try {
      this.data = await getJSON("namespace");
    } catch (err) {
      setState("ns-state", err.message + " — retrying every 5 s.", "error");
      gatewayState(false, "not answering");
      return;
    }
    gatewayState(this.data.ready, this.data.ready ? "" : "starting");
    this.render();
    if (!this.rendered) {
      this.rendered = true;
      performance.mark("semdns:tree-rendered");
      document.body.dataset.treeRenderedMs = String(Math.round(performance.now()));
    }
  },
  render() {
    const data = this.data;
    if (!data) return;
    const filter = $("ns-filter").value.trim().toLowerCase();
    const nodes = data.nodes;
    const down = data.names_down.length;
    const plural = (n, word) => n + " " + word + (n === 1 ? "" : "s");
    $("ns-summary").textContent = plural(nodes.length, "name") + " in " + plural(data.zones.length, "zone") +
      (down ? ", " + down + " with no replica available" : "") + (data.probes ? "" : " (health probes off)");
    if (!nodes.length) { setState("ns-state", "This gateway serves no names.", "empty"); return; }
    setState("ns-state", down ? down + " name(s) have no available replica: " + data.names_down.join(", ") : "",
      down ? "error" : "");
    $("ns-zones-box").hidden = false;
    $("ns-zones").replaceChildren(...data.zones.map((z) => el("li", { "data-zone": z.origin },
      el("span", { class: "mono", text: z.origin }), " · " + plural(z.names, "name") + " · serial ",
      el("span", { class: "mono", text: z.serial === null || z.serial === undefined ? "not recorded" : z.serial }))));
    const serials = new Map(data.zones.map((z) => [z.origin, z.serial]));
    const byParent = new Map();
    for (const node of nodes) {
      const key = node.parent || "";
      if (!byParent.has(key)) byParent.set(key, []);
      byParent.get(key).push(node);
    }
    const matches = (n) => !filter || [n.name, n.dn, n.description].some((s) => s.toLowerCase().includes(filter));
    const visible = new Set();
    if (filter) {
      const index = new Map(nodes.map((n) => [n.name, n]));
      for (const n of nodes) {
        if (!matches(n)) continue;
        for (let p = n; p; p = index.get(p.parent)) visible.add(p.name);
      }
    }
    const build = (node) => {
      if (filter && !visible.has(node.name)) return null;
      const kids = (byParent.get(node.name) || []).map(build).filter(Boolean);
      const expanded = filter ? true : !this.collapsed.has(node.name);
      const item = el("li", { class: "node" + (expanded ? "" : " collapsed"), "data-name": node.name });
      const head = el("div", { class: "head" });
      if (kids.length) {
        const toggle = el("button", { class: "toggle", type: "button", "aria-expanded": String(expanded),
          "aria-label": "Names under " + node.name, text: expanded ? "▾" : "▸" });
        toggle.addEventListener("click", () => {
          if (this.collapsed.has(node.name)) this.collapsed.delete(node.name); else this.collapsed.add(node.name);
          this.render();
        });
        head.append(toggle);
      }
      head.append(el("span", { class: "name", text: node.name }), el("span", { class: "dn", text: node.dn }));
      if (node.zone === node.name) {
        const serial = serials.get(node.zone);
        head.append(el("span", { class: "badge", text: "zone apex" + (serial === null || serial === undefined ? "" : " · serial " + serial) }));
      }
      item.append(head, el("div", { class: "desc", text: node.description || "(no description)" }));
      if (node.replicas.length) {
        const reps = el("div", { class: "replicas", "aria-label": "Replicas of " + node.name });
        for (const r of node.replicas) {
          const problems = [];
          if (!r.healthy) problems.push("probe: down");
          if (r.breaker !== "closed") problems.push("breaker " + r.breaker);
          const kind = !r.healthy || r.breaker === "open" ? "bad" : r.breaker === "half-open" ? "warn" : "ok";
          const fine = data.probes ? "healthy" : "up (not probed)";
          const text = r.label + " — " + (problems.length ? problems.join(", ") : fine) +
            (r.outstanding ? ", " + r.outstanding + " in flight" : "");
          reps.append(el("span", { class: "badge replica " + kind, "data-healthy": String(r.ok), text }));
        }
        item.append(reps);
      } else if (!node.delegation) {
        item.append(el("div", { class: "muted", text: "no engines here: served by its nearest ancestor with engines" }));
      }
      if (node.delegation) {
        const d = node.delegation;
        item.append(el("div", { class: "deleg" }, "delegated to ", el("span", { class: "mono", text: d.servers.join(", ") }), " ",
          el("span", { class: "badge " + (d.signed ? "ok" : "warn"), text: d.signed ? "signed (key pinned)" : "unsigned" }),
          " ttl " + d.ttl + " s"));
      }
      if (kids.length) item.append(el("ul", {}, kids));
      return item;
    };
    const roots = byParent.get("") || [];
    const tree = roots.map(build).filter(Boolean);
    // a refresh must not take the keyboard focus away from the toggle it was on
    const active = document.activeElement;
    const focused = active && active.classList.contains("toggle") ? active.closest("li.node").dataset.name : null;
    $("ns-tree").replaceChildren(...tree);
    if (focused) {
      const again = [...$("ns-tree").querySelectorAll("li.node")].find((li) => li.dataset.name === focused);
      const toggle = again && again.querySelector(":scope > .head > .toggle");
      if (toggle) toggle.focus();
    }
    if (filter && !tree.length) setState("ns-state", "No name matches “" + filter + "”.", "empty");
  },
};

// ---- dig -------------------------------------------------------------------------------------------

const Dig = {
  async run(event) {
    event.preventDefault();
    const query = $("dig-query").value.trim();
    if (!query) { setState("dig-state", "Type a query first.", "empty"); return; }
    setState("dig-state", "Resolving…");
    $("send-result").hidden = true;
    try {
      const result = await getJSON("dig?q=" + encodeURIComponent(query));
      this.render(result);
      setState("dig-state", "");
    } catch (err) {
      $("dig-result").hidden = true;
      setState("dig-state", err.message, "error");
      return;
    }
    if ($("dig-send").checked) await this.send(query);
  },
  render(result) {
    const d = result.decision;
    summary("dig-summary", [
      ["answer", d.answers.map((a) => a.name + " (" + a.confidence.toFixed(3) + ")").join(", ")],
      ["DN", d.answers.map((a) => a.dn || "–").join(", ")],
      ["stage", d.stage],
      ["confidence", d.confidence.toFixed(4)],
      ["decision cache", d.cache],
      ["resolver time", fmt.us(d.elapsed_us)],
      ["ttl", d.ttl + " s"],
    ]);
    $("dig-trace").tBodies[0].replaceChildren(...d.trace.map((level) => el("tr", {},
      el("td", { class: "mono", text: level.node }),
      el("td", { text: level.outcome }),
      el("td", { class: "mono", text: level.chosen.join(", ") || "–" }),
      el("td", { text: level.stages_tried.join(" + ") || "–" }),
      el("td", { class: "mono", text: level.scores.slice(0, 3).map((s) => s.name + " " + s.score.toFixed(3)).join("  ") || "–" }),
      el("td", { class: "num", text: fmt.us(level.elapsed_us) }))));
    $("dig-text").textContent = result.text;
    $("dig-result").hidden = false;
  },
  async send(query) {
    setState("dig-state", "Sending through the gateway…");
    let result;
    try {
      result = await getJSON("send", { method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ query, model: $("dig-model").value.trim() || "auto" }) });
    } catch (err) {
      setState("dig-state", err.message, "error");
      return;
    }
    setState("dig-state", "");
    const body = result.body;
    let answer = "–";
    if (body && body.choices && body.choices.length) {
      const c = body.choices[0];
      answer = (c.message && c.message.content) || c.text || "";
    } else if (body && body.error) {
      answer = "error " + body.error.code + ": " + body.error.message;
    }
    summary("send-summary", [["status", String(result.status)], ["time", fmt.ms(result.elapsed_ms)],
      ["served by", result.headers["x-semdns-name"] || "–"]]);
    $("send-headers").tBodies[0].replaceChildren(...Object.entries(result.headers).map(([k, v]) =>
      el("tr", {}, el("th", { scope: "row", class: "mono", text: k }), el("td", { class: "mono", text: v }))));
    $("send-body").textContent = answer;
    $("send-result").hidden = false;
  },
};

// ---- live decisions ----------------------------------------------------------------------------------

const Live = {
  source: null,
  paused: false,
  received: 0,
  dropped: 0,
  stages: new Set(),
  series: new Map(), // name -> [req/s per tick]
  lastTotals: null,
  lastT: null,
  start() {
    if (this.source) return;
    setState("live-state", "Connecting to the feed…");
    const source = new EventSource(API + "feed");
    this.source = source;
    source.addEventListener("open", () => setState("live-state", this.received ? "" :
      "Connected. Waiting for requests: every request the gateway serves appears here."));
    source.addEventListener("error", () => setState("live-state",
      "The feed is disconnected; the browser reconnects by itself.", "error"));
    source.addEventListener("decision", (event) => this.decision(JSON.parse(event.data)));
    source.addEventListener("rates", (event) => this.rates(JSON.parse(event.data)));
  },
  stop() { if (this.source) { this.source.close(); this.source = null; } },
  filters() {
    return {
      name: $("live-name").value.trim().toLowerCase(), stage: $("live-stage").value,
      tenant: $("live-tenant").value.trim().toLowerCase(), errors: $("live-errors").checked,
      degraded: $("live-degraded").checked,
    };
  },
  keep(e, f) {
    if (f.name && !e.name.toLowerCase().includes(f.name)) return false;
    if (f.stage && e.stage !== f.stage) return false;
    if (f.tenant && !e.tenant.toLowerCase().includes(f.tenant)) return false;
    if (f.errors && e.status < 400) return false;
    if (f.degraded && !e.degraded) return false;
    return true;
  },
  decision(e) {
    this.received += 1;
    if (!this.stages.has(e.stage)) {
      this.stages.add(e.stage);
      $("live-stage").append(el("option", { value: e.stage, text: e.stage }));
    }
    this.counts();
    if (this.paused || !this.keep(e, this.filters())) return;
    setState("live-state", "");
    const path = e.fallback || (e.delegated_to ? "→ " + e.delegated_to : e.degraded ? "degraded" : "");
    const row = el("tr", { class: (e.status >= 400 ? "err" : "") + (e.degraded ? " degraded" : ""), "data-name": e.name },
      el("td", { class: "mono", text: fmt.time(e.t) }),
      el("td", { class: "mono", text: e.name }),
      el("td", { text: e.stage }),
      el("td", { class: "num", text: e.confidence === null ? "–" : e.confidence.toFixed(3) }),
      el("td", { text: e.decision_cache }),
      el("td", { text: e.response_cache }),
      el("td", { class: "num", text: e.status }),
      el("td", { class: "num", text: fmt.ms(e.latency_ms) + (e.stream ? " (head)" : "") }),
      el("td", { class: "mono", text: path }),
      el("td", { text: e.tenant }));
    const body = $("live-table").tBodies[0];
    body.prepend(row);
    while (body.rows.length > MAX_ROWS) body.deleteRow(-1);
  },
  rates(r) {
    this.dropped = r.dropped;
    this.counts();
    if (this.lastTotals && r.t > this.lastT) {
      const dt = r.t - this.lastT;
      const names = new Set([...Object.keys(r.totals), ...this.series.keys()]);
      for (const name of names) {
        const rate = Math.max(0, ((r.totals[name] || 0) - (this.lastTotals[name] || 0)) / dt);
        if (!this.series.has(name)) this.series.set(name, []);
        const s = this.series.get(name);
        s.push(rate);
        if (s.length > CHART_POINTS) s.shift();
      }
      this.charts();
    }
    this.lastTotals = r.totals;
    this.lastT = r.t;
  },
  counts() {
    $("live-counts").textContent = this.received + " received" + (this.dropped ? ", " + this.dropped + " dropped (this view was too slow)" : "");
  },
  charts() {
    const boxes = [];
    const sorted = [...this.series.entries()].sort((a, b) => a[0].localeCompare(b[0]));
    for (const [name, s] of sorted) {
      if (!s.some((v) => v > 0)) continue;
      const max = Math.max(...s, 0.001);
      const w = 180, h = 36;
      // newest point at the right edge; the axis always spans the last 5 minutes
      const x = (i) => ((CHART_POINTS - s.length + i) * w) / (CHART_POINTS - 1);
      const y = (v) => h - 3 - (v / max) * (h - 6);
      const points = s.map((v, i) => x(i).toFixed(1) + "," + y(v).toFixed(1)).join(" ");
      const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("viewBox", "0 0 " + w + " " + h);
      svg.setAttribute("role", "img");
      svg.setAttribute("aria-label", name + ": " + s[s.length - 1].toFixed(1) + " requests per second now, peak " + max.toFixed(1));
      const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
      line.setAttribute("points", points);
      const dot = document.createElementNS("http://www.w3.org/2000/svg", "circle");
      dot.setAttribute("cx", x(s.length - 1).toFixed(1));
      dot.setAttribute("cy", y(s[s.length - 1]).toFixed(1));
      dot.setAttribute("r", "2.5");
      const base = document.createElementNS("http://www.w3.org/2000/svg", "line");
      for (const [k, v] of [["x1", 0], ["x2", w], ["y1", h - 3], ["y2", h - 3]]) base.setAttribute(k, String(v));
      base.setAttribute("class", "axis");
      svg.append(base, line, dot);
      boxes.push(el("div", { class: "chart" },
        el("div", { class: "label" }, el("span", { class: "mono", text: name }), el("span", { text: s[s.length - 1].toFixed(1) + " /s" })), svg));
    }
    $("live-charts").replaceChildren(...boxes);
  },
};

// ---- caches and limits -----------------------------------------------------------------------------

const Caches = {
  timer: null,
  start() { this.load(); this.timer = setInterval(() => this.load(), 5000); },
  stop() { clearInterval(this.timer); this.timer = null; },
  async load() {
    let caches, tenants;
    try {
      [caches, tenants] = await Promise.all([getJSON("caches"), getJSON("tenants")]);
    } catch (err) {
      setState("caches-state", err.message + " — retrying every 5 s.", "error");
      return;
    }
    setState("caches-state", "");
    $("caches-when").textContent = "updated " + new Date().toLocaleTimeString("en-GB");
    const dc = caches.decision_cache;
    if (dc) {
      summary("decision-cache", [["entries", fmt.num(dc.entries) + " of " + fmt.num(dc.max_entries)], ["hit rate", fmt.pct(dc.hit_rate)],
        ["hits", fmt.num(dc.hits)], ["negative hits", fmt.num(dc.negative_hits)], ["misses", fmt.num(dc.misses)],
        ["evictions", fmt.num(dc.evictions)], ["expired", fmt.num(dc.expired)], ["stale served", fmt.num(dc.stale_served)]]);
    } else {
      summary("decision-cache", [["status", "this resolver has no decision cache"]]);
    }
    const rc = caches.response_cache;
    const body = $("cache-names").tBodies[0];
    if (!rc.enabled) {
      summary("response-cache", [["status", "off in this gateway"]]);
      summary("shadow", []);
      body.replaceChildren(el("tr", {}, el("td", { colspan: 8, class: "muted", text: "The response cache is off." })));
    } else {
      summary("response-cache", [["semantic index entries", fmt.num(rc.entries)], ["lookups", fmt.num(rc.lookups)], ["hit rate", fmt.pct(rc.hit_rate)],
        ["exact tier", fmt.pct(rc.hit_rate_exact)], ["semantic tier", fmt.pct(rc.hit_rate_semantic)],
        ["judge rejects", fmt.num(rc.judge_rejects)], ["shared state", rc.state ? rc.state.backend + (rc.state.reachable === false ? " (unreachable)" : "") : "–"]]);
      summary("shadow", [["would have hit", fmt.num(rc.shadow.would_hit)], ["agreed with the engine", fmt.num(rc.shadow.agree)],
        ["false hits", fmt.num(rc.shadow.false_hits)], ["judge caught", fmt.num(rc.shadow_judge.caught)], ["judge missed", fmt.num(rc.shadow_judge.missed)]]);
      const names = new Set([...Object.keys(rc.by_name || {}), ...Object.keys(rc.entries_by_name || {})]);
      const rows = [...names].sort().map((name) => {
        const c = (rc.by_name || {})[name] || {};
        const lookups = (c.hit || 0) + (c["semantic-hit"] || 0) + (c.miss || 0) + (c.stale || 0);
        const rate = lookups ? ((c.hit || 0) + (c["semantic-hit"] || 0)) / lookups : null;
        return el("tr", {}, el("td", { class: "mono", text: name }), el("td", { class: "num", text: fmt.num((rc.entries_by_name || {})[name] || 0) }),
          el("td", { class: "num", text: fmt.num(c.hit || 0) }), el("td", { class: "num", text: fmt.num(c["semantic-hit"] || 0) }),
          el("td", { class: "num", text: fmt.num(c.miss || 0) }), el("td", { class: "num", text: fmt.num(c.stale || 0) }),
          el("td", { class: "num", text: fmt.num(c.bypass || 0) }), el("td", { class: "num", text: fmt.pct(rate) }));
      });
      body.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 8, class: "muted", text: "No lookups yet." }))]));
    }
    const table = $("tenants");
    if (tenants.mode === "open") {
      table.hidden = true;
      setState("tenants-state", "No tenants file: the gateway is open (every key is its own cache scope, no limits).", "empty");
    } else {
      table.hidden = false;
      setState("tenants-state", "");
      const left = (remaining, limit) => (limit === null ? "no limit" : fmt.num(remaining) + " of " + fmt.num(limit));
      table.tBodies[0].replaceChildren(...tenants.tenants.map((t) => el("tr", { "data-tenant": t.name },
        el("td", { class: "mono", text: t.name }), el("td", { class: "mono", text: t.subtrees.join(", ") }),
        el("td", { class: "num", text: left(t.remaining.requests, t.limits.requests_per_min) }),
        el("td", { class: "num", text: left(t.remaining.tokens, t.limits.tokens_per_min) }),
        el("td", { class: "num", text: left(t.remaining.daily_tokens, t.limits.daily_tokens) }),
        el("td", { text: t.admin ? "yes" : "no" }))));
    }
  },
};

// ---- the whole page --------------------------------------------------------------------------------

function gatewayState(ok, detail) {
  const pill = $("gateway-state");
  pill.textContent = ok ? "gateway ready" : "gateway " + (detail || "not ready");
  pill.className = "pill " + (ok ? "ok" : "bad");
}

function setup() {
  setupTabs();
  $("ns-filter").addEventListener("input", () => Namespace.render());
  $("ns-refresh").addEventListener("click", () => Namespace.load());
  $("dig-form").addEventListener("submit", (event) => Dig.run(event));
  $("caches-refresh").addEventListener("click", () => Caches.load());
  $("live-pause").addEventListener("click", () => {
    Live.paused = !Live.paused;
    $("live-pause").setAttribute("aria-pressed", String(Live.paused));
    $("live-pause").textContent = Live.paused ? "Resume" : "Pause";
  });
  document.addEventListener("visibilitychange", () => {
    if (current === "live") { if (document.hidden) Live.stop(); else Live.start(); }
  });
  const wanted = location.hash.slice(1);
  show(panels[wanted] ? wanted : "namespace");
  if (current !== "namespace") Namespace.load(); // the header's gateway state comes from here
}

setup();
