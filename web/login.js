// The sign-in page: holders with card or person number and query password, staff with
// their operator account. The password goes to ykt-web once and is not kept anywhere.
"use strict";
(async () => {
  let kind = "holder";

  function go(sess) {
    const pages = { holder: "/holder.html", operator: "/counter.html", superuser: "/counter.html",
                    dept_head: "/head.html", guardian: "/guardian.html", finance: "/finance.html",
                    auditor: "/admin.html" };
    location.href = sess.must_change_password ? "/staff.html" : pages[sess.role] || "/staff.html";
  }

  function setKind(k) {
    kind = k;
    document.getElementById("tab-holder").setAttribute("aria-pressed", k === "holder");
    document.getElementById("tab-staff").setAttribute("aria-pressed", k === "staff");
    document.getElementById("login-label").dataset.i18n = k === "holder" ? "login_id" : "operator";
    document.getElementById("password-label").dataset.i18n = k === "holder" ? "query_pw" : "password";
    YKT.translate();
  }
  document.getElementById("tab-holder").addEventListener("click", () => setKind("holder"));
  document.getElementById("tab-staff").addEventListener("click", () => setKind("staff"));

  document.getElementById("login-form").addEventListener("submit", async ev => {
    ev.preventDefault();
    const login = document.getElementById("login").value.trim();
    const pw = document.getElementById("password");
    const r = await YKT.api("POST", "/api/login", { kind, login, password: pw.value });
    pw.value = "";
    if (r.status === 200) return go(r.data);
    YKT.message(document.getElementById("login-msg"), YKT.errorText(r), false);
  });

  // Only now may the form be sent (the button is disabled in the page until here).
  const s = await YKT.start(null);
  if (s) return go(s);
  document.getElementById("signin").disabled = false;
})();
