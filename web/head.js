// The department head's approvals: pending leave of their own department; leave balances.
"use strict";
(async () => {
  if (!await YKT.start(["dept_head"])) return;
  let leaves = [], balances = null, balPerson = "";

  function decide(row, verb) {
    return async () => {
      const note = document.getElementById("note-" + row.id).value.trim();
      const body = { id: row.id };
      if (note) body.note = note;
      const r = await YKT.api("POST", "/api/head/leave-" + verb, body);
      const msg = document.getElementById("leave-msg");
      if (r.status === 200) {
        YKT.message(msg, YKT.t(verb) + " #" + row.id + ": " + YKT.tv("st_", r.data.status), true);
        await load();
        await loadBalances(row.person);
      } else {
        YKT.message(msg, YKT.errorText(r), false);
      }
    };
  }

  function render() {
    YKT.table(document.getElementById("leaves"), leaves, [
      { key: "id", label: "#" }, { key: "person", label: "person_no" },
      { key: "type", label: "leave_type" }, { key: "from", label: "from" },
      { key: "to", label: "to" }, { key: "days", label: "days", num: true },
      { key: "reason", label: "reason" }, { key: "applied_by", label: "applied_by" },
      { key: "id", label: "note", fmt: id => {
          const i = YKT.el("input"); i.id = "note-" + id; i.maxLength = 200; return i; } },
      { key: "id", label: "", fmt: (id, row) => {
          const box = YKT.el("span");
          const ok = YKT.el("button", YKT.t("approve")); ok.id = "approve-" + id;
          ok.addEventListener("click", decide(row, "approve"));
          const no = YKT.el("button", YKT.t("reject"), "secondary"); no.id = "reject-" + id;
          no.addEventListener("click", decide(row, "reject"));
          box.append(ok, " ", no);
          return box; } }]);
    if (balances) YKT.table(document.getElementById("balances"), balances, [
      { key: "type", label: "leave_type" }, { key: "days", label: "granted", num: true },
      { key: "used", label: "used", num: true }, { key: "pending", label: "pending", num: true },
      { key: "left", label: "left", num: true }]);
  }

  async function load() {
    const r = await YKT.api("GET", "/api/head/leaves?status=pending");
    leaves = r.status === 200 ? r.data : [];
    if (r.status !== 200) YKT.message(document.getElementById("leave-msg"), YKT.errorText(r), false);
    render();
  }

  async function loadBalances(person) {
    balPerson = person;
    document.getElementById("bal-person").value = person;
    const r = await YKT.api("GET", "/api/head/balances?person=" + encodeURIComponent(person));
    balances = r.status === 200 ? r.data : [];
    render();
  }

  document.getElementById("bal-form").addEventListener("submit", async ev => {
    ev.preventDefault();
    await loadBalances(document.getElementById("bal-person").value.trim());
  });
  document.addEventListener("ykt-lang", render);
  await load();
  if (leaves.length) await loadBalances(leaves[0].person);
  void balPerson;

  // ---- overtime approvals, department statistics ----
  let overtimes = [], stats = null;
  function decideOt(row, verb) {
    return async () => {
      const note = document.getElementById("otnote-" + row.id).value.trim();
      const body = { id: row.id };
      if (note) body.note = note;
      const r = await YKT.api("POST", "/api/head/overtime-" + verb, body);
      const msg = document.getElementById("ot-msg");
      if (r.status === 200) {
        YKT.message(msg, YKT.t(verb) + " #" + row.id + ": " + YKT.tv("st_", r.data.status), true);
        await loadOvertimes();
      } else YKT.message(msg, YKT.errorText(r), false);
    };
  }
  function renderMore() {
    YKT.table(document.getElementById("overtimes"), overtimes, [
      { key: "id", label: "#" }, { key: "person", label: "person_no" },
      { key: "date", label: "date" }, { key: "reason", label: "reason" },
      { key: "applied_by", label: "applied_by" },
      { key: "id", label: "note", fmt: id => {
          const i = YKT.el("input"); i.id = "otnote-" + id; i.maxLength = 200; return i; } },
      { key: "id", label: "", fmt: (id, row) => {
          const box = YKT.el("span");
          const ok = YKT.el("button", YKT.t("approve")); ok.id = "ot-approve-" + id;
          ok.addEventListener("click", decideOt(row, "approve"));
          const no = YKT.el("button", YKT.t("reject"), "secondary"); no.id = "ot-reject-" + id;
          no.addEventListener("click", decideOt(row, "reject"));
          box.append(ok, " ", no);
          return box; } }]);
    if (stats) YKT.table(document.getElementById("stats"), stats, [
      { key: "person", label: "person_no" }, { key: "name", label: "name" },
      { key: "workdays", label: "workdays", num: true }, { key: "present", label: "present", num: true },
      { key: "late", label: "late", num: true }, { key: "early", label: "early", num: true },
      { key: "absent", label: "absent", num: true }, { key: "leave_days", label: "leave_days", num: true },
      { key: "overtime_hours", label: "overtime_hours", num: true }]);
  }
  async function loadOvertimes() {
    const r = await YKT.api("GET", "/api/head/overtimes?status=pending");
    overtimes = r.status === 200 ? r.data : [];
    renderMore();
  }
  async function loadStats() {
    const m = document.getElementById("stats-month").value;
    const r = await YKT.api("GET", "/api/head/stats?month=" + encodeURIComponent(m));
    stats = r.status === 200 ? r.data : [];
    if (r.status !== 200) YKT.message(document.getElementById("stats-msg"), YKT.errorText(r), false);
    else document.getElementById("stats-msg").textContent = "";
    renderMore();
  }
  document.getElementById("stats-month").value = YKT.thisMonth();
  document.getElementById("stats-form").addEventListener("submit", ev => { ev.preventDefault(); loadStats(); });
  document.addEventListener("ykt-lang", renderMore);
  await Promise.all([loadOvertimes(), loadStats()]);
})();
