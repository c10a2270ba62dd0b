// Shared code of the portal pages: language, the session, API calls with the CSRF token,
// tables. The session cookie is HttpOnly; the CSRF token lives only in this page's memory.
"use strict";
const YKT = (() => {
  let lang = localStorage.getItem("ykt-lang") || "zh-CN";
  let session = null;

  function t(key) {
    const texts = window.YKT_TEXTS[lang] || window.YKT_TEXTS["zh-CN"];
    return texts[key] !== undefined ? texts[key] : key;
  }

  function translate(root) {
    document.documentElement.lang = lang;
    (root || document).querySelectorAll("[data-i18n]").forEach(el => {
      el.textContent = t(el.dataset.i18n);
    });
    (root || document).querySelectorAll("[data-i18n-ph]").forEach(el => {
      el.placeholder = t(el.dataset.i18nPh);
    });
    document.title = t(document.body.dataset.title || "title");
  }

  function setLang(l) {
    lang = l;
    localStorage.setItem("ykt-lang", l);
    translate();
    document.dispatchEvent(new Event("ykt-lang"));
  }

  async function api(method, path, body) {
    const opts = { method, credentials: "same-origin", headers: {} };
    if (method !== "GET") {
      opts.headers["Content-Type"] = "application/json";
      if (session) opts.headers["X-CSRF-Token"] = session.csrf;
      opts.body = JSON.stringify(body || {});
    }
    const resp = await fetch(path, opts);
    let data = {};
    try { data = await resp.json(); } catch (e) { data = { error: "BAD_REPLY" }; }
    if (resp.status === 401 && path !== "/api/login" && path !== "/api/session") {
      location.href = "/";
    }
    return { status: resp.status, data };
  }

  function errorText(r) {
    const code = r.data.error || String(r.status);
    const known = t("E_" + code);
    return (known !== "E_" + code ? known : code) +
      (r.data.message ? " — " + r.data.message : "");
  }

  function message(el, text, ok) {
    el.textContent = text;
    el.className = "msg " + (ok ? "ok" : "error");
  }

  // Loads the session; sends the browser to the sign-in page without one.
  async function start(roles) {
    translate();
    const sel = document.getElementById("lang");
    if (sel) {
      sel.value = lang;
      sel.addEventListener("change", () => setLang(sel.value));
    }
    const r = await api("GET", "/api/session");
    if (r.status !== 200) {
      if (roles) location.href = "/";
      return null;
    }
    session = r.data;
    const who = document.getElementById("who");
    if (who) who.textContent = session.name + " · " + session.role +
      (session.department ? " · " + session.department : "");
    nav();
    const out = document.getElementById("logout");
    if (out) out.addEventListener("click", async () => {
      await api("POST", "/api/logout");
      session = null;
      location.href = "/";
    });
    return session;
  }

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  // columns: [{key, label (i18n key), num, badge, fmt}]
  function table(container, rows, columns) {
    container.replaceChildren();
    if (!rows || rows.length === 0) {
      container.appendChild(el("p", t("none"), "muted"));
      return;
    }
    const tbl = el("table"), head = el("tr");
    columns.forEach(c => head.appendChild(el("th", t(c.label), c.num ? "num" : "")));
    tbl.appendChild(el("thead")).appendChild(head);
    const body = el("tbody");
    rows.forEach(row => {
      const tr = el("tr");
      columns.forEach(c => {
        const v = c.fmt ? c.fmt(row[c.key], row) : row[c.key];
        const td = el("td", null, c.num ? "num" : "");
        if (c.badge) td.appendChild(badge(v)); else if (v instanceof Node) td.appendChild(v);
        else td.textContent = v === null || v === undefined ? "" : String(v);
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    tbl.appendChild(body);
    container.appendChild(tbl);
  }

  // A value's translation under a prefix ("st_" statuses, "k_" record kinds), else itself.
  function tv(prefix, v) {
    const key = prefix + v;
    const s = t(key);
    return s === key ? v : s;
  }

  // The status as a coloured badge; data-status keeps the raw value for tests and styles.
  function badge(status) {
    const b = el("span", status ? tv("st_", status) : "—", "status " + (status || ""));
    b.dataset.status = status || "";
    return b;
  }

  // Links to the pages the role may open, in the header.
  const PAGES = [
    ["/holder.html", "nav_holder", ["holder"]],
    ["/guardian.html", "nav_guardian", ["guardian"]],
    ["/counter.html", "nav_counter", ["operator", "superuser"]],
    ["/head.html", "nav_head", ["dept_head"]],
    ["/finance.html", "nav_finance", ["finance", "superuser", "auditor"]],
    ["/admin.html", "nav_admin", ["superuser", "auditor"]],
    ["/staff.html", "nav_staff", ["operator", "finance", "dept_admin", "dept_head", "auditor",
                                  "superuser", "guardian"]],
  ];
  function nav() {
    const h1 = document.querySelector("header.top h1");
    if (!h1 || !session || document.getElementById("nav")) return;
    const n = el("nav"); n.id = "nav";
    PAGES.filter(p => p[2].includes(session.role)).forEach(([href, key]) => {
      const a = el("a", t(key)); a.href = href; a.dataset.i18n = key;
      if (location.pathname === href) a.setAttribute("aria-current", "page");
      n.appendChild(a);
    });
    if (n.children.length > 1) h1.after(n);
  }

  // A form that posts its fields: build() gives the body (or a string: an error to show);
  // password inputs are cleared after every submit. onOk(data) after a 200.
  function form(id, path, build, onOk) {
    const f = document.getElementById(id);
    const msg = f.querySelector(".msg");
    f.addEventListener("submit", async ev => {
      ev.preventDefault();
      const body = build();
      if (typeof body === "string") { message(msg, body, false); return; }
      const r = await api("POST", path, body);
      f.querySelectorAll("input[type=password]").forEach(i => { i.value = ""; });
      if (r.status === 200) {
        message(msg, (onOk && onOk(r.data)) || t("done"), true);
      } else {
        message(msg, errorText(r), false);
      }
    });
  }

  // A value of an input by id, trimmed; undefined when empty (so JSON leaves it out).
  function v(id) {
    const x = document.getElementById(id).value.trim();
    return x === "" ? undefined : x;
  }

  // Stacked bars (plain SVG): months on x, fen by category; each rect carries
  // data-month, data-category and data-fen.
  const COLORS = { canteen: "#0b6e4f", shop: "#2f6fb3", water: "#27a0c4", power: "#e0a800",
                   library: "#8e5cc2", rooms: "#d9534f", other: "#8a96a3" };
  function chart(container, d) {
    const NS = "http://www.w3.org/2000/svg";
    const W = 640, H = 240, left = 56, bottom = 28, top = 10;
    const totals = d.months.map(m => d.categories.reduce((s, c) => s + (d.fen[m][c] || 0), 0));
    const max = Math.max(100, ...totals);
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.setAttribute("role", "img");
    svg.setAttribute("class", "chart");
    const mk = (tag, attrs, text) => {
      const e = document.createElementNS(NS, tag);
      Object.entries(attrs).forEach(([k, val]) => e.setAttribute(k, val));
      if (text !== undefined) e.textContent = text;
      svg.appendChild(e);
      return e;
    };
    const plotH = H - bottom - top, slot = (W - left) / d.months.length, bw = slot * 0.6;
    for (let i = 0; i <= 4; i++) {
      const y = top + plotH - plotH * i / 4;
      mk("line", { x1: left, x2: W, y1: y, y2: y, stroke: "#d9e0e7" });
      mk("text", { x: left - 6, y: y + 4, "text-anchor": "end", "font-size": 11, fill: "#5d6b7a" },
         (max * i / 4 / 100).toFixed(0));
    }
    d.months.forEach((m, i) => {
      let y = top + plotH;
      const x = left + i * slot + (slot - bw) / 2;
      d.categories.forEach(c => {
        const fen = d.fen[m][c] || 0;
        if (fen <= 0) return;
        const h = plotH * fen / max;
        y -= h;
        const r = mk("rect", { x, y, width: bw, height: h, fill: COLORS[c] || "#999",
                               "data-month": m, "data-category": c, "data-fen": fen });
        const tip = document.createElementNS(NS, "title");
        tip.textContent = `${m} ${tv("cat_", c)} ${(fen / 100).toFixed(2)}`;
        r.appendChild(tip);
      });
      mk("text", { x: x + bw / 2, y: H - 8, "text-anchor": "middle", "font-size": 11,
                   fill: "#5d6b7a" }, m);
    });
    const legend = el("p", null, "legend");
    d.categories.forEach(c => {
      const k = el("span", tv("cat_", c), "key");
      const sw = el("i"); sw.style.background = COLORS[c];
      k.prepend(sw);
      legend.appendChild(k);
    });
    container.replaceChildren(svg, legend);
  }

  function yuan(fen) { return (fen / 100).toFixed(2); }
  function thisMonth() {
    const d = new Date();
    return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0");
  }

  return { t, tv, translate, api, start, message, errorText, table, badge, el, nav, form, v,
           chart, yuan, thisMonth, get session() { return session; } };
})();
