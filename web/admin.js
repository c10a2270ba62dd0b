// Administrators (information centre, auditors): terminals and their health, the plugins
// loaded, the Lua rules with their last (re)load — read-only.
"use strict";
(async () => {
  if (!await YKT.start(["superuser", "auditor"])) return;
  let d = null;
  const box = id => document.getElementById(id);

  function keyValues(container, obj) {
    if (!obj || obj.error) { container.replaceChildren(YKT.el("p", obj ? obj.error : "—", "muted")); return; }
    const t = YKT.el("table"), b = YKT.el("tbody");
    Object.entries(obj).forEach(([k, v]) => {
      const tr = YKT.el("tr"); tr.appendChild(YKT.el("th", k));
      tr.appendChild(YKT.el("td", v === null ? "" : v)); b.appendChild(tr); });
    t.appendChild(b); container.replaceChildren(t);
  }
  function rows(container, list) {
    if (!list || list.error) { container.replaceChildren(YKT.el("p", list ? list.error : "—", "muted")); return; }
    const cols = list.length ? Object.keys(list[0]).map(k => ({ key: k, label: k })) : [];
    YKT.table(container, list, cols);
  }
  function render() {
    if (!d) return;
    keyValues(box("a-status"), d.status);
    rows(box("a-terminals"), d.terminals);
    rows(box("a-plugins"), d.plugins);
    rows(box("a-rules"), d.rules);
  }
  const r = await YKT.api("GET", "/api/admin/overview");
  if (r.status === 200) { d = r.data; render(); }
  document.addEventListener("ykt-lang", render);
})();
