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

  return { t, tv, translate, api, start, message, errorText, table, badge, el,
           get session() { return session; } };
})();
