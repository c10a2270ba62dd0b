/*
 * The HTTP side of ykt-web: static pages with a role check per page, and the JSON API with
 * sessions, CSRF tokens, login rate limits and a role check per call (docs/web.md).
 */
#include "web.h"

#include "common.h"
#include "secret.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_BODY        16384
#define MAX_STATIC_SIZE (4 << 20)
#define MAX_TEXT        200
#define COOKIE_NAME     "ykt_sid"

/* Roles as ykt-web checks them; yktd checks its own again for staff. */
enum {
    R_HOLDER = 1 << 0,
    R_OPERATOR = 1 << 1,
    R_FINANCE = 1 << 2,
    R_DEPT_ADMIN = 1 << 3,
    R_DEPT_HEAD = 1 << 4,
    R_AUDITOR = 1 << 5,
    R_SUPERUSER = 1 << 6,
    R_GUARDIAN = 1 << 7,
    R_STAFF =
        R_OPERATOR | R_FINANCE | R_DEPT_ADMIN | R_DEPT_HEAD | R_AUDITOR | R_SUPERUSER | R_GUARDIAN,
    R_PUBLIC = 0,
};

static unsigned role_bit(const char *role)
{
    static const struct {
        const char *name;
        unsigned bit;
    } roles[] = {{"holder", R_HOLDER},         {"operator", R_OPERATOR},   {"finance", R_FINANCE},
                 {"dept_admin", R_DEPT_ADMIN}, {"dept_head", R_DEPT_HEAD}, {"auditor", R_AUDITOR},
                 {"superuser", R_SUPERUSER},   {"guardian", R_GUARDIAN}};
    for (size_t i = 0; i < YKT_ARRAY_LEN(roles); i++)
        if (strcmp(roles[i].name, role) == 0)
            return roles[i].bit;
    return 0;
}

static const web_config *cfg;

/* ---- responses ---- */

static void secure_headers(struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
}

static enum MHD_Result send_buffer(struct MHD_Connection *c, unsigned status, const char *type,
                                   const void *data, size_t len, const char *cookie,
                                   const char *location, bool no_store)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    secure_headers(resp);
    MHD_add_response_header(resp, "Content-Type", type);
    if (no_store)
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (cookie != NULL)
        MHD_add_response_header(resp, "Set-Cookie", cookie);
    if (location != NULL)
        MHD_add_response_header(resp, "Location", location);
    enum MHD_Result rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *body,
                                 const char *cookie)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (text == NULL)
        return MHD_NO;
    enum MHD_Result rc = send_buffer(c, status, "application/json; charset=utf-8", text,
                                     strlen(text), cookie, NULL, true);
    free(text);
    return rc;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *code,
                                  const char *message)
{
    return send_json(c, status, json_pack("{ssss}", "error", code, "message", message), NULL);
}

static enum MHD_Result send_page_error(struct MHD_Connection *c, unsigned status, const char *text)
{
    char html[512];
    int n = snprintf(html, sizeof html,
                     "<!doctype html><meta charset=utf-8><title>%u</title>"
                     "<link rel=stylesheet href=/style.css><main class=card><h1>%u</h1>"
                     "<p>%s</p><p><a href=/>登录 / Sign in</a></p></main>",
                     status, status, text);
    return send_buffer(c, status, "text/html; charset=utf-8", html, (size_t)n, NULL, NULL, true);
}

/* ---- the API ---- */

struct api_route;

typedef struct api_call {
    struct MHD_Connection *conn;
    const struct api_route *route;
    web_session *s;
    json_t *body; /* POST: the JSON object sent */
    unsigned status;
    json_t *out;
    char cookie[256];
} api_call;

static void set_error(api_call *ac, unsigned status, const char *code, const char *message)
{
    ac->status = status;
    json_decref(ac->out);
    ac->out = json_pack("{ssss}", "error", code, "message", message);
}

/* A refusal from yktd: "-CODE message" -> an HTTP status and {error, message}. */
static void set_ykt_error(api_call *ac, const char *line)
{
    char code[40];
    size_t n = strcspn(line, " ");
    if (n >= sizeof code)
        n = sizeof code - 1;
    memcpy(code, line, n);
    code[n] = '\0';
    const char *message = line[n] ? line + n + 1 : "";
    unsigned status = 409;
    if (strcmp(code, "BAD_REQUEST") == 0 || strcmp(code, "BAD_PASSWORD") == 0)
        status = 400;
    else if (strcmp(code, "NOAUTH") == 0)
        status = 401;
    else if (strncmp(code, "FORBIDDEN", 9) == 0 || strcmp(code, "NOT_YOUR_DEPARTMENT") == 0 ||
             strcmp(code, "NOT_DEPT_HEAD") == 0)
        status = 403;
    else if (strcmp(code, "NOT_FOUND") == 0)
        status = 404;
    else if (strcmp(code, "WRONG_PASSWORD") == 0 || strcmp(code, "BAD_PIN") == 0)
        status = 422;
    else if (strcmp(code, "LOCKED") == 0 || strcmp(code, "PASSWORD_LOCKED") == 0)
        status = 423;
    else if (strcmp(code, "STORAGE_ERROR") == 0 || strcmp(code, "INTERNAL") == 0)
        status = 503;
    set_error(ac, status, code, message);
}

/*
 * Runs a command for the caller: a staff session's own connection, or the service
 * connection (the `portal` operator) for holders. On success returns the reply (free it);
 * on failure sets the error response and returns NULL.
 */
static ykt_reply *call(api_call *ac, int argc, const char *const *argv)
{
    char err[256] = "";
    bool staff = ac->s != NULL && ac->s->kind == WEB_STAFF;
    ykt_reply *r = staff ? web_staff_call(ac->s, argc, argv, err, sizeof err)
                         : web_service_call(argc, argv, err, sizeof err);
    if (r == NULL) {
        fprintf(stderr, "ykt-web: yktd: %s\n", err);
        if (staff) {
            web_session_end(ac->s);
            set_error(ac, 401, "NOAUTH", "the connection to yktd closed; sign in again");
        } else {
            set_error(ac, 503, "UNAVAILABLE", "yktd cannot be reached");
        }
        return NULL;
    }
    if (r->type == YKT_REPLY_ERROR) {
        set_ykt_error(ac, r->str);
        ykt_reply_free(r);
        return NULL;
    }
    return r;
}

/* Calls and answers with the reply as JSON. */
static void call_json(api_call *ac, int argc, const char *const *argv)
{
    ykt_reply *r = call(ac, argc, argv);
    if (r == NULL)
        return;
    ac->status = 200;
    ac->out = web_reply_json(r);
    ykt_reply_free(r);
}

/* A string member of the body: present, at most max bytes, no control characters. */
static const char *body_str(api_call *ac, const char *name, size_t max, bool required)
{
    json_t *v = json_object_get(ac->body, name);
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    if (s != NULL && *s == '\0')
        s = NULL;
    bool bad = s == NULL ? required : strlen(s) > max;
    for (const char *p = s; s != NULL && *p; p++)
        if ((unsigned char)*p < 0x20)
            bad = true;
    if (bad) {
        char msg[96];
        snprintf(msg, sizeof msg, "'%s' is required (at most %zu bytes, one line)", name, max);
        set_error(ac, 400, "BAD_REQUEST", msg);
        return NULL;
    }
    return s;
}

static const char *query(api_call *ac, const char *name)
{
    const char *v = MHD_lookup_connection_value(ac->conn, MHD_GET_ARGUMENT_KIND, name);
    if (v == NULL || *v == '\0' || strlen(v) > MAX_TEXT)
        return NULL;
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20)
            return NULL;
    return v;
}

static json_t *session_json(const web_session *s)
{
    return json_pack("{sssssssssssbss}", "kind", s->kind == WEB_HOLDER ? "holder" : "staff", "role",
                     s->role, "name", s->name, "person_no", s->person_no, "department",
                     s->department, "must_change_password", s->must_change_password, "csrf",
                     s->csrf);
}

static void cookie_for(api_call *ac, const char *value, bool clear)
{
    snprintf(ac->cookie, sizeof ac->cookie,
             COOKIE_NAME "=%s; Path=/; HttpOnly; SameSite=Strict%s%s", value,
             cfg->secure_cookies ? "; Secure" : "", clear ? "; Max-Age=0" : "");
}

static void client_address(struct MHD_Connection *c, char *out, size_t len)
{
    const char *real =
        cfg->trust_proxy ? MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Real-IP") : NULL;
    if (real != NULL && strlen(real) < len) {
        ykt_strlcpy(out, real, len);
        return;
    }
    ykt_strlcpy(out, "?", len);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || ci->client_addr == NULL)
        return;
    if (ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr,
                  out, (socklen_t)len);
    else if (ci->client_addr->sa_family == AF_INET6)
        inet_ntop(AF_INET6,
                  &((const struct sockaddr_in6 *)(const void *)ci->client_addr)->sin6_addr, out,
                  (socklen_t)len);
}

static void api_session(api_call *ac)
{
    if (ac->s == NULL) {
        set_error(ac, 401, "NOAUTH", "not signed in");
        return;
    }
    ac->status = 200;
    ac->out = session_json(ac->s);
}

static void login_holder(api_call *ac, const char *login, const char *password)
{
    const char *argv[] = {"portal", "verify", "--", login, password};
    ykt_reply *r = call(ac, 5, argv);
    if (r == NULL) {
        if (ac->status == 422) /* a wrong password at sign-in is "not authenticated" */
            ac->status = 401;
        return;
    }
    json_t *who = web_reply_json(r);
    ykt_reply_free(r);
    web_session *s = web_session_new(WEB_HOLDER);
    if (s == NULL) {
        json_decref(who);
        set_error(ac, 503, "BUSY", "too many sessions");
        return;
    }
    ykt_strlcpy(s->role, "holder", sizeof s->role);
    ykt_strlcpy(s->name, json_string_value(json_object_get(who, "name")) ?: "", sizeof s->name);
    ykt_strlcpy(s->person_no, json_string_value(json_object_get(who, "person_no")) ?: "",
                sizeof s->person_no);
    ykt_strlcpy(s->department, json_string_value(json_object_get(who, "department")) ?: "",
                sizeof s->department);
    json_decref(who);
    ac->s = s; /* released by the caller */
}

static void login_staff(api_call *ac, const char *user, const char *password)
{
    web_session *s = web_session_new(WEB_STAFF);
    if (s == NULL) {
        set_error(ac, 503, "BUSY", "too many sessions");
        return;
    }
    char err[256] = "";
    if (ykt_client_connect_unix(&s->conn, cfg->admin_socket) != 0) {
        fprintf(stderr, "ykt-web: yktd: %s\n", s->conn.err);
        web_session_end(s);
        web_session_put(s);
        set_error(ac, 503, "UNAVAILABLE", "yktd cannot be reached");
        return;
    }
    s->conn_open = true;
    ac->s = s;
    const char *argv[] = {"login", user, password};
    ykt_reply *r = web_staff_call(s, 3, argv, err, sizeof err);
    bool ok = r != NULL && r->type == YKT_REPLY_STATUS;
    if (r != NULL && !ok)
        set_ykt_error(ac, r->str);
    else if (r == NULL)
        set_error(ac, 503, "UNAVAILABLE", "yktd cannot be reached");
    if (r != NULL)
        ykt_reply_free(r);
    const char *who_argv[] = {"whoami"};
    r = ok ? web_staff_call(s, 1, who_argv, err, sizeof err) : NULL;
    if (r == NULL || r->type != YKT_REPLY_ARRAY) {
        if (ok)
            set_error(ac, 503, "UNAVAILABLE", "whoami failed");
        if (r)
            ykt_reply_free(r);
        /* A connection whose login failed is never used: it may be the local superuser's. */
        web_session_end(s);
        web_session_put(s);
        ac->s = NULL;
        return;
    }
    json_t *who = web_reply_json(r);
    ykt_reply_free(r);
    const char *role = json_string_value(json_object_get(who, "role")) ?: "";
    if (role_bit(role) == 0 || role_bit(role) == R_HOLDER) {
        /* The portal's own service account (role portal) is not a person: it has no pages. */
        fprintf(stderr, "ykt-web: staff sign-in as %s refused: role %s has no pages\n", user, role);
        set_error(ac, 403, "FORBIDDEN", "this account cannot sign in to the portal");
        json_decref(who);
        web_session_end(s);
        web_session_put(s);
        ac->s = NULL;
        return;
    }
    ykt_strlcpy(s->role, role, sizeof s->role);
    ykt_strlcpy(s->name, json_string_value(json_object_get(who, "operator")) ?: user,
                sizeof s->name);
    ykt_strlcpy(s->department, json_string_value(json_object_get(who, "department")) ?: "",
                sizeof s->department);
    const char *must = json_string_value(json_object_get(who, "must_change_password"));
    s->must_change_password = must != NULL && strcmp(must, "yes") == 0;
    json_decref(who);
}

static void api_login(api_call *ac)
{
    const char *kind = body_str(ac, "kind", 16, true);
    const char *login = kind ? body_str(ac, "login", 64, true) : NULL;
    const char *password = login ? body_str(ac, "password", 128, true) : NULL;
    if (password == NULL)
        return;
    char ip[64], key[96];
    client_address(ac->conn, ip, sizeof ip);
    snprintf(key, sizeof key, "ip:%s", ip);
    bool allowed = web_rate_allow(key, cfg->login_per_minute * 3);
    snprintf(key, sizeof key, "id:%s:%.64s", kind, login);
    allowed = allowed && web_rate_allow(key, cfg->login_per_minute);
    if (!allowed) {
        fprintf(stderr, "ykt-web: login rate limit for %s from %s\n", kind, ip);
        set_error(ac, 429, "RATE_LIMITED", "too many sign-in attempts; wait a minute");
        return;
    }
    web_session *old = ac->s;
    ac->s = NULL;
    if (strcmp(kind, "holder") == 0)
        login_holder(ac, login, password);
    else if (strcmp(kind, "staff") == 0)
        login_staff(ac, login, password);
    else
        set_error(ac, 400, "BAD_REQUEST", "kind is holder or staff");
    if (ac->s == NULL) {
        ac->s = old;
        fprintf(stderr, "ykt-web: %s sign-in refused from %s\n", kind, ip);
        return;
    }
    if (old != NULL) { /* a new sign-in replaces the browser's old session */
        web_session_end(old);
        web_session_put(old);
    }
    fprintf(stderr, "ykt-web: %s %s (%s) signed in from %s\n", kind, ac->s->name, ac->s->role, ip);
    cookie_for(ac, ac->s->id, false);
    ac->status = 200;
    json_decref(ac->out);
    ac->out = session_json(ac->s);
}

static void api_logout(api_call *ac)
{
    web_session_end(ac->s);
    cookie_for(ac, "", true);
    ac->status = 200;
    ac->out = json_pack("{sb}", "ok", 1);
}

/* ---- holders ---- */

/* A person, their cards, balance and latest movements (`limit` of them): the holder's home
 * page and the counter's lookup show the same. */
static void person_overview(api_call *ac, const char *no, const char *limit)
{
    const char *person_argv[] = {"person", "show", "--", no};
    const char *cards_argv[] = {"card", "list", "--person", no};
    const char *account_argv[] = {"account", "show", "--limit", limit, "--", no};
    ykt_reply *person = call(ac, 4, person_argv);
    ykt_reply *cards = person ? call(ac, 4, cards_argv) : NULL;
    ykt_reply *account = cards ? call(ac, 6, account_argv) : NULL;
    if (account != NULL && account->type == YKT_REPLY_ARRAY && account->nelem == 2) {
        ac->status = 200;
        ac->out = json_object();
        json_object_set_new(ac->out, "person", web_reply_json(person));
        json_object_set_new(ac->out, "cards", web_reply_json(cards));
        json_object_set_new(ac->out, "balance", web_reply_json(account->elem[0]));
        json_object_set_new(ac->out, "records", web_reply_json(account->elem[1]));
    } else if (account != NULL) {
        set_error(ac, 502, "BAD_REPLY", "unexpected reply to account show");
    }
    if (person)
        ykt_reply_free(person);
    if (cards)
        ykt_reply_free(cards);
    if (account)
        ykt_reply_free(account);
}

static void api_holder_home(api_call *ac)
{
    person_overview(ac, ac->s->person_no, "20");
}

static void api_holder_loss(api_call *ac)
{
    const char *password = body_str(ac, "password", 16, true);
    const char *medium = password ? body_str(ac, "medium", 8, false) : NULL;
    if (password == NULL)
        return;
    const char *argv[] = {"portal", "report-loss",    "--medium", medium ? medium : "card",
                          "--",     ac->s->person_no, password};
    ykt_reply *r = call(ac, 7, argv);
    if (r == NULL)
        return;
    ac->status = 200;
    ac->out = json_pack("{sbss}", "ok", 1, "message", r->str ? r->str : "OK");
    ykt_reply_free(r);
}

static void api_holder_password(api_call *ac)
{
    const char *which = body_str(ac, "which", 8, true);
    const char *old = which ? body_str(ac, "old", 16, true) : NULL;
    const char *fresh = old ? body_str(ac, "new", 16, true) : NULL;
    if (fresh == NULL)
        return;
    const char *argv[] = {"portal", "passwd", "--", ac->s->person_no, which, old, fresh};
    ykt_reply *r = call(ac, 7, argv);
    if (r == NULL)
        return;
    ykt_reply_free(r);
    ac->status = 200;
    ac->out = json_pack("{sb}", "ok", 1);
}

/* ---- the card centre's counter ---- */

static void api_counter_person(api_call *ac)
{
    const char *no = query(ac, "no");
    if (no == NULL) {
        set_error(ac, 400, "BAD_REQUEST", "?no=PERSON is required");
        return;
    }
    person_overview(ac, no, "5");
}

static void api_counter_replace(api_call *ac)
{
    const char *card = body_str(ac, "card", 16, true);
    const char *id_number = card ? body_str(ac, "id_number", 24, true) : NULL;
    const char *defect = id_number ? body_str(ac, "defect", MAX_TEXT, false) : NULL;
    const char *pay = id_number ? body_str(ac, "pay", 8, false) : NULL;
    if (id_number == NULL || ac->out != NULL)
        return;
    const char *argv[12];
    int n = 0;
    argv[n++] = "card";
    argv[n++] = "replace";
    argv[n++] = "--id-number";
    argv[n++] = id_number;
    if (defect) {
        argv[n++] = "--defect";
        argv[n++] = defect;
    }
    if (pay) {
        argv[n++] = "--pay";
        argv[n++] = pay;
    }
    argv[n++] = "--";
    argv[n++] = card;
    call_json(ac, n, argv);
}

/* ---- department heads ---- */

static void api_head_leaves(api_call *ac)
{
    const char *status = query(ac, "status");
    const char *argv[] = {"attendance",      "leaves",   "--department",
                          ac->s->department, "--status", status ?: "pending"};
    call_json(ac, 6, argv);
}

static void api_head_balances(api_call *ac)
{
    const char *person = query(ac, "person");
    const char *year = query(ac, "year");
    if (person == NULL) {
        set_error(ac, 400, "BAD_REQUEST", "?person=NO is required");
        return;
    }
    char this_year[16];
    time_t now = (time_t)(ykt_now_ms() / 1000); /* the gateway's clock (tests shift it) */
    struct tm tm;
    localtime_r(&now, &tm);
    snprintf(this_year, sizeof this_year, "%04d", tm.tm_year + 1900);
    const char *argv[] = {"attendance", "balances", "--year", year ?: this_year, "--", person};
    call_json(ac, 6, argv);
}

static void head_decide(api_call *ac, const char *verb, bool note_required)
{
    json_t *idv = json_object_get(ac->body, "id");
    char id[24];
    if (json_is_integer(idv) && json_integer_value(idv) > 0)
        snprintf(id, sizeof id, "%lld", (long long)json_integer_value(idv));
    else {
        set_error(ac, 400, "BAD_REQUEST", "'id' is the application's number");
        return;
    }
    const char *note = body_str(ac, "note", MAX_TEXT, note_required);
    if (ac->out != NULL)
        return;
    const char *argv[6];
    int n = 0;
    argv[n++] = "attendance";
    argv[n++] = verb;
    if (note != NULL) {
        argv[n++] = "--note";
        argv[n++] = note;
    }
    argv[n++] = "--";
    argv[n++] = id;
    call_json(ac, n, argv);
}

static void api_head_approve(api_call *ac)
{
    head_decide(ac, "leave-approve", false);
}

static void api_head_reject(api_call *ac)
{
    head_decide(ac, "leave-reject", true);
}

/* ---- staff ---- */

static void api_staff_password(api_call *ac)
{
    const char *old = body_str(ac, "old", 128, true);
    const char *fresh = old ? body_str(ac, "new", 128, true) : NULL;
    if (fresh == NULL)
        return;
    const char *argv[] = {"passwd", "--", old, fresh};
    ykt_reply *r = call(ac, 4, argv);
    if (r == NULL)
        return;
    ykt_reply_free(r);
    ac->s->must_change_password = false;
    ac->status = 200;
    ac->out = json_pack("{sb}", "ok", 1);
}

/* ---- commands from templates ----
 *
 * Most API calls run one admin command, or a few, built from a template of words:
 *   "$me"   the signed-in holder's person number (never taken from the request)
 *   "$name" the signed-in operator's account, "$dept" their department
 *   "?x"    the query parameter x (required), "?x?" optional
 *   "@x"    the body's string x (required), "@x?" optional
 *   "#x"    the body's positive integer x (required)
 * An optional value that is absent drops the "--option" word before it. User input goes
 * after the option it belongs to, or after "--", so it is never read as an option.
 */

#define MAX_ARGV 40

typedef struct argv_buf {
    const char *v[MAX_ARGV];
    int n;
    char nums[4][24];
    int nnum;
} argv_buf;

static bool expand(api_call *ac, const char *const *tmpl, argv_buf *b)
{
    b->n = 0;
    b->nnum = 0;
    int last_opt = -1; /* index of the last literal --option word */
    for (const char *const *t = tmpl; *t != NULL; t++) {
        const char *tok = *t, *val = tok;
        if (b->n >= MAX_ARGV - 1) {
            set_error(ac, 500, "INTERNAL", "command too long");
            return false;
        }
        if (strcmp(tok, "$me") == 0) {
            val = ac->s->person_no;
        } else if (strcmp(tok, "$name") == 0) {
            val = ac->s->name;
        } else if (strcmp(tok, "$dept") == 0) {
            val = ac->s->department;
        } else if (tok[0] == '?' || tok[0] == '@' || tok[0] == '#') {
            char name[32];
            size_t len = strlen(tok + 1);
            bool optional = len > 0 && tok[len] == '?';
            if (optional)
                len--;
            if (len >= sizeof name)
                len = sizeof name - 1;
            memcpy(name, tok + 1, len);
            name[len] = '\0';
            if (tok[0] == '?') {
                val = query(ac, name);
                if (val == NULL && !optional) {
                    char msg[80];
                    snprintf(msg, sizeof msg, "?%s= is required (one line, at most %d bytes)", name,
                             MAX_TEXT);
                    set_error(ac, 400, "BAD_REQUEST", msg);
                    return false;
                }
            } else if (tok[0] == '@') {
                val = body_str(ac, name, MAX_TEXT, !optional);
                if (ac->out != NULL)
                    return false;
            } else {
                json_t *v = json_object_get(ac->body, name);
                val = NULL;
                if (json_is_integer(v) && json_integer_value(v) > 0 && b->nnum < 4) {
                    snprintf(b->nums[b->nnum], sizeof b->nums[0], "%lld",
                             (long long)json_integer_value(v));
                    val = b->nums[b->nnum++];
                } else if (v != NULL || !optional) {
                    char msg[80];
                    snprintf(msg, sizeof msg, "'%s' is a whole number above 0", name);
                    set_error(ac, 400, "BAD_REQUEST", msg);
                    return false;
                }
            }
            if (val == NULL) {
                if (last_opt == b->n - 1)
                    b->n--;
                continue;
            }
        } else if (strncmp(tok, "--", 2) == 0 && tok[2] != '\0') {
            last_opt = b->n;
        }
        b->v[b->n++] = val;
    }
    return true;
}

/* A status reply (+OK ...) as {ok, message}; anything else as its JSON. */
static json_t *reply_value(const ykt_reply *r)
{
    if (r->type == YKT_REPLY_STATUS)
        return json_pack("{sbss}", "ok", 1, "message", r->str ? r->str : "OK");
    return web_reply_json(r);
}

typedef struct api_part {
    const char *key;
    const char *const *tmpl;
    bool optional;  /* a refusal (a plugin not loaded, say) is kept as {error} under key */
    bool filter_me; /* keep only the rows whose "person" is the signed-in holder */
} api_part;

typedef struct api_route {
    const char *method;
    const char *path;
    unsigned roles; /* R_PUBLIC: no session needed */
    void (*fn)(api_call *ac);
    const char *const *tmpl; /* api_cmd: the command */
    const api_part *parts;   /* api_parts: several, NULL-key terminated */
} api_route;

static void api_cmd(api_call *ac)
{
    argv_buf b;
    if (!expand(ac, ac->route->tmpl, &b))
        return;
    ykt_reply *r = call(ac, b.n, b.v);
    if (r == NULL)
        return;
    ac->status = 200;
    ac->out = reply_value(r);
    ykt_reply_free(r);
}

static json_t *only_mine(json_t *rows, const char *person_no)
{
    json_t *mine = json_array();
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *p = json_string_value(json_object_get(row, "person"));
        if (p != NULL && strcmp(p, person_no) == 0)
            json_array_append(mine, row);
    }
    json_decref(rows);
    return mine;
}

static void api_parts(api_call *ac)
{
    json_t *out = json_object();
    for (const api_part *p = ac->route->parts; p->key != NULL; p++) {
        argv_buf b;
        if (!expand(ac, p->tmpl, &b))
            goto fail;
        ykt_reply *r = call(ac, b.n, b.v);
        if (r == NULL) {
            if (!p->optional || ac->status == 401 || ac->status == 503)
                goto fail;
            json_object_set_new(out, p->key, ac->out);
            ac->out = NULL;
            continue;
        }
        json_t *v = reply_value(r);
        ykt_reply_free(r);
        if (p->filter_me && json_is_array(v))
            v = only_mine(v, ac->s->person_no);
        json_object_set_new(out, p->key, v);
    }
    ac->status = 200;
    ac->out = out;
    return;
fail:
    json_decref(out);
}

/* ---- holders' records, spending by category ---- */

static const char *const categories[] = {"canteen", "shop",  "water", "power",
                                         "library", "rooms", "other"};

static const char *chart_category(const char *c)
{
    for (size_t i = 0; c != NULL && i < YKT_ARRAY_LEN(categories); i++)
        if (strcmp(c, categories[i]) == 0)
            return categories[i];
    return "other";
}

/* merchant id -> {category, name}, from `merchant list`. NULL when it replied. */
static json_t *merchant_map(api_call *ac)
{
    const char *argv[] = {"merchant", "list"};
    ykt_reply *r = call(ac, 2, argv);
    if (r == NULL)
        return NULL;
    json_t *rows = web_reply_json(r);
    ykt_reply_free(r);
    json_t *map = json_object();
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *id = json_string_value(json_object_get(row, "merchant"));
        if (id != NULL)
            json_object_set_new(
                map, id,
                json_pack("{ssss}", "category",
                          chart_category(json_string_value(json_object_get(row, "category"))),
                          "name", json_string_value(json_object_get(row, "name")) ?: id));
    }
    json_decref(rows);
    return map;
}

static int64_t fen_of(const char *cny)
{
    if (cny == NULL)
        return 0;
    bool neg = *cny == '-';
    if (neg)
        cny++;
    int64_t yuan = 0, fen = 0;
    const char *p = cny;
    for (; *p >= '0' && *p <= '9'; p++)
        yuan = yuan * 10 + (*p - '0');
    if (*p == '.') {
        p++;
        for (int d = 0; d < 2; d++, p++)
            fen = fen * 10 + (*p >= '0' && *p <= '9' ? *p - '0' : 0);
    }
    int64_t v = yuan * 100 + fen;
    return neg ? -v : v;
}

/* The holder's payments (`payment search --person`), each with the merchant's category. */
static json_t *holder_payments(api_call *ac, const char *from, const char *to, const char *limit)
{
    const char *argv[12];
    int n = 0;
    argv[n++] = "payment";
    argv[n++] = "search";
    argv[n++] = "--person";
    argv[n++] = ac->s->person_no;
    argv[n++] = "--limit";
    argv[n++] = limit;
    if (from) {
        argv[n++] = "--from";
        argv[n++] = from;
    }
    if (to) {
        argv[n++] = "--to";
        argv[n++] = to;
    }
    json_t *map = merchant_map(ac);
    if (map == NULL)
        return NULL;
    ykt_reply *r = call(ac, n, argv);
    if (r == NULL) {
        json_decref(map);
        return NULL;
    }
    json_t *rows = web_reply_json(r);
    ykt_reply_free(r);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        json_t *m = json_object_get(map, json_string_value(json_object_get(row, "merchant")) ?: "");
        json_object_set_new(
            row, "category",
            json_string(m ? json_string_value(json_object_get(m, "category")) : "other"));
        json_object_set_new(row, "merchant_name",
                            m ? json_copy(json_object_get(m, "name")) : json_null());
        json_object_set_new(
            row, "spent_fen",
            json_integer(fen_of(json_string_value(json_object_get(row, "charged"))) -
                         fen_of(json_string_value(json_object_get(row, "refunded")))));
    }
    json_decref(map);
    return rows;
}

static void api_holder_records(api_call *ac)
{
    const char *from = query(ac, "from"), *to = query(ac, "to"), *cat = query(ac, "category");
    json_t *rows = holder_payments(ac, from, to, "1000");
    if (rows == NULL)
        return;
    if (cat != NULL) {
        json_t *kept = json_array();
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row)
        {
            if (strcmp(json_string_value(json_object_get(row, "category")) ?: "", cat) == 0)
                json_array_append(kept, row);
        }
        json_decref(rows);
        rows = kept;
    }
    ac->status = 200;
    ac->out = rows;
}

/* The last N months' spending by category: {months: [...], categories: [...], fen: {...}}. */
static void api_holder_spending(api_call *ac)
{
    const char *mq = query(ac, "months");
    int months = mq ? atoi(mq) : 6;
    if (months < 1 || months > 24) {
        set_error(ac, 400, "BAD_REQUEST", "?months= is 1 to 24");
        return;
    }
    time_t now = (time_t)(ykt_now_ms() / 1000); /* the gateway's clock (tests shift it) */
    struct tm tm;
    localtime_r(&now, &tm);
    int y = tm.tm_year + 1900, m = tm.tm_mon + 1 - (months - 1);
    while (m < 1) {
        m += 12;
        y--;
    }
    char from[32];
    snprintf(from, sizeof from, "%04d-%02d-01", y, m);
    json_t *rows = holder_payments(ac, from, NULL, "100000");
    if (rows == NULL)
        return;
    json_t *list = json_array(), *fen = json_object(), *cats = json_array();
    for (size_t c = 0; c < YKT_ARRAY_LEN(categories); c++)
        json_array_append_new(cats, json_string(categories[c]));
    for (int i = 0; i < months; i++) {
        char key[32];
        snprintf(key, sizeof key, "%04d-%02d", y, m);
        json_array_append_new(list, json_string(key));
        json_t *per = json_object();
        for (size_t c = 0; c < YKT_ARRAY_LEN(categories); c++)
            json_object_set_new(per, categories[c], json_integer(0));
        json_object_set_new(fen, key, per);
        if (++m > 12) {
            m = 1;
            y++;
        }
    }
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *at = json_string_value(json_object_get(row, "at"));
        char key[8];
        if (at == NULL || strlen(at) < 7)
            continue;
        memcpy(key, at, 7);
        key[7] = '\0';
        json_t *per = json_object_get(fen, key);
        const char *cat = json_string_value(json_object_get(row, "category")) ?: "other";
        json_t *v = per ? json_object_get(per, cat) : NULL;
        if (v != NULL)
            json_integer_set(v, json_integer_value(v) +
                                    json_integer_value(json_object_get(row, "spent_fen")));
    }
    json_decref(rows);
    ac->status = 200;
    ac->out = json_pack("{soso}", "months", list, "categories", cats);
    json_object_set_new(ac->out, "fen", fen);
}

/* ---- finance: a bank statement file ---- */

#define MAX_UPLOAD (1 << 20)

static void api_finance_reconcile(api_call *ac)
{
    json_t *fv = json_object_get(ac->body, "file");
    const char *file = json_is_string(fv) ? json_string_value(fv) : NULL;
    if (file == NULL || *file == '\0' || strlen(file) > MAX_UPLOAD) {
        set_error(ac, 400, "BAD_REQUEST", "'file' is the statement's text (CSV, at most 1 MiB)");
        return;
    }
    for (const char *p = file; *p; p++)
        if ((unsigned char)*p < 0x20 && *p != '\n' && *p != '\r' && *p != '\t') {
            set_error(ac, 400, "BAD_REQUEST", "the statement is not a text file");
            return;
        }
    static const char *const tmpl[] = {"bank",   "reconcile", "--bank", "@bank?", "--date",
                                       "@date?", "--name",    "@name?", NULL};
    argv_buf b;
    if (!expand(ac, tmpl, &b))
        return;
    if (json_is_true(json_object_get(ac->body, "all")))
        b.v[b.n++] = "--all";
    b.v[b.n++] = "--";
    b.v[b.n++] = file;
    ykt_reply *r = call(ac, b.n, b.v);
    if (r == NULL)
        return;
    ac->status = 200;
    ac->out = reply_value(r);
    ykt_reply_free(r);
}

#define T(...)     ((const char *const[]){__VA_ARGS__, NULL})
#define PARTS(...) ((const api_part[]){__VA_ARGS__, {NULL, NULL, false, false}})
#define CMD(method, path, roles, ...)                                                              \
    {                                                                                              \
        method, path, roles, api_cmd, T(__VA_ARGS__), NULL                                         \
    }

#define R_COUNTER (R_OPERATOR | R_SUPERUSER)
#define R_FIN     (R_FINANCE | R_SUPERUSER)
#define R_ADMIN   (R_SUPERUSER | R_AUDITOR)

static const api_route routes[] = {
    {"GET", "/api/session", R_PUBLIC, api_session, NULL, NULL},
    {"POST", "/api/login", R_PUBLIC, api_login, NULL, NULL},
    {"POST", "/api/logout", R_HOLDER | R_STAFF, api_logout, NULL, NULL},
    /* cardholders: always over the service connection, always for $me */
    {"GET", "/api/holder/home", R_HOLDER, api_holder_home, NULL, NULL},
    {"POST", "/api/holder/report-loss", R_HOLDER, api_holder_loss, NULL, NULL},
    {"POST", "/api/holder/password", R_HOLDER, api_holder_password, NULL, NULL},
    {"GET", "/api/holder/records", R_HOLDER, api_holder_records, NULL, NULL},
    {"GET", "/api/holder/spending", R_HOLDER, api_holder_spending, NULL, NULL},
    CMD("GET", "/api/holder/statement", R_HOLDER, "account", "statement", "--month", "?month?",
        "--from", "?from?", "--to", "?to?", "--", "$me"),
    CMD("GET", "/api/holder/notices", R_HOLDER, "notice", "list", "--limit", "20", "--person",
        "$me"),
    CMD("GET", "/api/holder/settings", R_HOLDER, "portal", "account", "--", "$me"),
    CMD("POST", "/api/holder/settings", R_HOLDER, "portal", "settings", "--daily", "@daily?",
        "--low-balance", "@low_balance?", "--autotopup-below", "@autotopup_below?",
        "--autotopup-amount", "@autotopup_amount?", "--", "$me", "@password"),
    {
        "GET",
        "/api/holder/attendance",
        R_HOLDER,
        api_parts,
        NULL,
        PARTS({"leaves", T("attendance", "leaves", "--person", "$me"), true, false},
              {"overtimes", T("attendance", "overtimes", "--person", "$me"), true, false},
              {"balances", T("attendance", "balances", "--year", "?year?", "--", "$me"), true,
               false}),
    },
    CMD("POST", "/api/holder/leave-apply", R_HOLDER, "attendance", "leave-apply", "--reason",
        "@reason?", "--", "$me", "@type", "@from", "@to"),
    CMD("POST", "/api/holder/overtime-apply", R_HOLDER, "attendance", "overtime-apply", "--reason",
        "@reason?", "--", "$me", "@date"),
    {
        "GET",
        "/api/holder/library",
        R_HOLDER,
        api_parts,
        NULL,
        PARTS({"loans", T("library", "loans", "--person", "$me"), true, false},
              {"record", T("library", "record", "--", "$me"), true, false},
              {"reservations", T("library", "reservations"), true, true}),
    },
    {
        "GET",
        "/api/holder/bookings",
        R_HOLDER,
        api_parts,
        NULL,
        PARTS({"bookings", T("rooms", "bookings", "--person", "$me", "--limit", "50"), true, false},
              {"rooms", T("rooms", "list"), true, false}),
    },
    /* a slot for the holder themselves; the fee is due at check-in (no money moves here) */
    CMD("POST", "/api/holder/book", R_HOLDER, "rooms", "book", "--person", "$me", "--party",
        "@party?", "--", "@room", "@date", "@time"),
    /* parents: read-only, yktd checks the guardian link */
    {
        "GET",
        "/api/guardian/records",
        R_GUARDIAN,
        api_parts,
        NULL,
        PARTS({"statement", T("account", "statement", "--month", "?month?", "--", "?person"), false,
               false},
              {"payments", T("payment", "search", "--person", "?person", "--limit", "200"), false,
               false}),
    },
    /* the card centre's counter */
    {"GET", "/api/counter/person", R_COUNTER, api_counter_person, NULL, NULL},
    {"POST", "/api/counter/replace", R_COUNTER, api_counter_replace, NULL, NULL},
    CMD("POST", "/api/counter/issue", R_COUNTER, "card", "issue", "--", "@person"),
    CMD("POST", "/api/counter/extend", R_COUNTER, "card", "extend", "--until", "@until", "--proof",
        "@proof", "--", "@card"),
    CMD("POST", "/api/counter/loss", R_COUNTER, "card", "loss", "--id-number", "@id_number", "--",
        "@card"),
    CMD("POST", "/api/counter/unlock", R_COUNTER, "card", "unlock", "--id-number", "@id_number",
        "--", "@card"),
    CMD("POST", "/api/counter/cancel", R_COUNTER, "card", "cancel", "--id-number", "@id_number",
        "--reason", "@reason", "--", "@card"),
    CMD("POST", "/api/counter/account-refund", R_COUNTER, "account", "refund", "--id-number",
        "@id_number", "--", "@person"),
    CMD("GET", "/api/counter/payments", R_COUNTER, "payment", "search", "--person", "?person",
        "--limit", "50"),
    CMD("POST", "/api/counter/payment-refund", R_COUNTER, "payment", "refund", "--amount",
        "@amount", "--reason", "@reason", "--", "#payment"),
    /* the operator's own actions (yktd gives an operator their own rows only) */
    {"GET", "/api/counter/audit", R_COUNTER, api_cmd,
     T("audit", "list", "--operator", "$name", "--hours", "?hours?", "--limit", "200"), NULL},
    /* department heads: their own department */
    {"GET", "/api/head/leaves", R_DEPT_HEAD, api_head_leaves, NULL, NULL},
    {"GET", "/api/head/balances", R_DEPT_HEAD, api_head_balances, NULL, NULL},
    {"POST", "/api/head/leave-approve", R_DEPT_HEAD, api_head_approve, NULL, NULL},
    {"POST", "/api/head/leave-reject", R_DEPT_HEAD, api_head_reject, NULL, NULL},
    CMD("GET", "/api/head/overtimes", R_DEPT_HEAD, "attendance", "overtimes", "--department",
        "$dept", "--status", "?status?"),
    CMD("POST", "/api/head/overtime-approve", R_DEPT_HEAD, "attendance", "overtime-approve",
        "--note", "@note?", "--", "#id"),
    CMD("POST", "/api/head/overtime-reject", R_DEPT_HEAD, "attendance", "overtime-reject", "--note",
        "@note", "--", "#id"),
    CMD("GET", "/api/head/stats", R_DEPT_HEAD, "attendance", "stats", "--month", "?month", "--",
        "$dept"),
    /* finance */
    CMD("GET", "/api/finance/merchants", R_FIN | R_AUDITOR, "merchant", "list"),
    CMD("GET", "/api/finance/settlements", R_FIN | R_AUDITOR, "settlement", "list", "--period",
        "?period?", "--merchant", "?merchant?"),
    CMD("POST", "/api/finance/settle", R_FIN, "settlement", "run", "--period", "@period"),
    {"POST", "/api/finance/reconcile", R_FIN | R_AUDITOR, api_finance_reconcile, NULL, NULL},
    /* administrators: read-only views */
    {
        "GET",
        "/api/admin/overview",
        R_ADMIN,
        api_parts,
        NULL,
        PARTS({"status", T("status"), true, false},
              {"terminals", T("terminal", "list"), true, false},
              {"plugins", T("plugin", "list"), true, false},
              {"rules", T("rules", "list"), true, false}),
    },
    {"POST", "/api/staff/password", R_STAFF, api_staff_password, NULL, NULL},
};

/* The login POST has no session yet: it must come from our own pages (same origin). */
static bool same_origin(struct MHD_Connection *c)
{
    const char *site = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
    if (site != NULL && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
        return false;
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (origin == NULL)
        return true;
    if (host == NULL)
        return false;
    const char *rest = strncmp(origin, "http://", 7) == 0    ? origin + 7
                       : strncmp(origin, "https://", 8) == 0 ? origin + 8
                                                             : NULL;
    return rest != NULL && strcmp(rest, host) == 0;
}

static enum MHD_Result handle_api(struct MHD_Connection *c, const char *url, const char *method,
                                  const char *body, size_t body_len)
{
    const api_route *route = NULL;
    bool path_known = false;
    for (size_t i = 0; i < YKT_ARRAY_LEN(routes); i++)
        if (strcmp(routes[i].path, url) == 0) {
            path_known = true;
            if (strcmp(routes[i].method, method) == 0)
                route = &routes[i];
        }
    if (route == NULL)
        return path_known ? send_error(c, 405, "METHOD", "method not allowed")
                          : send_error(c, 404, "NOT_FOUND", "no such API");
    api_call ac = {.conn = c, .route = route, .status = 500};
    ac.s = web_session_get(MHD_lookup_connection_value(c, MHD_COOKIE_KIND, COOKIE_NAME));
    bool post = strcmp(method, "POST") == 0;
    if (post) {
        const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        if (type == NULL || strncasecmp(type, "application/json", 16) != 0) {
            set_error(&ac, 415, "BAD_REQUEST", "send JSON (Content-Type: application/json)");
            goto out;
        }
        json_error_t jerr;
        ac.body = json_loadb(body ? body : "", body_len, 0, &jerr);
        if (!json_is_object(ac.body)) {
            set_error(&ac, 400, "BAD_REQUEST", "the body is not a JSON object");
            goto out;
        }
    }
    if (route->roles == R_PUBLIC) {
        if (post && !same_origin(c)) {
            set_error(&ac, 403, "CSRF", "cross-site request refused");
            goto out;
        }
    } else {
        if (ac.s == NULL) {
            set_error(&ac, 401, "NOAUTH", "not signed in");
            goto out;
        }
        /* Every state change carries the session's CSRF token in a header a cross-site
         * form or image cannot set. */
        const char *token = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
        if (post && (token == NULL || !web_token_equal(token, ac.s->csrf))) {
            set_error(&ac, 403, "CSRF", "missing or wrong CSRF token");
            goto out;
        }
        if (!(route->roles & role_bit(ac.s->role))) {
            fprintf(stderr, "ykt-web: %s (%s) refused %s %s\n", ac.s->name, ac.s->role, method,
                    url);
            set_error(&ac, 403, "FORBIDDEN", "your role may not use this");
            goto out;
        }
        if (ac.s->must_change_password && route->fn != api_staff_password &&
            route->fn != api_logout) {
            set_error(&ac, 403, "MUST_CHANGE_PASSWORD", "change your initial password first");
            goto out;
        }
    }
    route->fn(&ac);
out:;
    enum MHD_Result rc =
        send_json(c, ac.status, ac.out ? ac.out : json_object(), ac.cookie[0] ? ac.cookie : NULL);
    if (ac.body)
        json_decref(ac.body);
    if (ac.s)
        web_session_put(ac.s);
    return rc;
}

/* ---- static files ---- */

static const struct page_role {
    const char *path;
    unsigned roles;
} page_roles[] = {
    {"/holder.html", R_HOLDER},
    {"/statement.html", R_HOLDER | R_GUARDIAN},
    {"/guardian.html", R_GUARDIAN},
    {"/counter.html", R_OPERATOR | R_SUPERUSER},
    {"/head.html", R_DEPT_HEAD},
    {"/finance.html", R_FINANCE | R_SUPERUSER | R_AUDITOR},
    {"/admin.html", R_SUPERUSER | R_AUDITOR},
    {"/staff.html", R_STAFF},
};

static const char *content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {{".html", "text/html; charset=utf-8"},
                 {".css", "text/css; charset=utf-8"},
                 {".js", "text/javascript; charset=utf-8"},
                 {".json", "application/json; charset=utf-8"},
                 {".svg", "image/svg+xml"},
                 {".png", "image/png"},
                 {".ico", "image/x-icon"}};
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < YKT_ARRAY_LEN(types); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return NULL;
}

static bool safe_path(const char *url)
{
    if (url[0] != '/' || strlen(url) > 200)
        return false;
    for (const char *p = url; *p; p++) {
        if (!(*p == '/' || *p == '.' || *p == '-' || *p == '_' || (*p >= 'a' && *p <= 'z') ||
              (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return false;
        if (*p == '/' && p[1] == '.') /* no "..", no hidden files */
            return false;
    }
    return true;
}

static enum MHD_Result handle_static(struct MHD_Connection *c, const char *url)
{
    if (strcmp(url, "/") == 0)
        url = "/index.html";
    const char *type = content_type(url);
    if (!safe_path(url) || type == NULL)
        return send_page_error(c, 404, "Not found / 页面不存在");
    for (size_t i = 0; i < YKT_ARRAY_LEN(page_roles); i++) {
        if (strcmp(page_roles[i].path, url) != 0)
            continue;
        web_session *s =
            web_session_get(MHD_lookup_connection_value(c, MHD_COOKIE_KIND, COOKIE_NAME));
        if (s == NULL)
            return send_buffer(c, 302, "text/plain", "", 0, NULL, "/", true);
        bool ok = (page_roles[i].roles & role_bit(s->role)) != 0;
        web_session_put(s);
        if (!ok)
            return send_page_error(c, 403,
                                   "Forbidden: your role may not open this page / "
                                   "您的角色无权访问此页面");
    }
    char path[768];
    snprintf(path, sizeof path, "%s%s", cfg->root, url);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_STATIC_SIZE) {
        if (fd >= 0)
            close(fd);
        return send_page_error(c, 404, "Not found / 页面不存在");
    }
    char *data = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (data != NULL && got < (size_t)st.st_size) {
        ssize_t n = read(fd, data + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    enum MHD_Result rc =
        data == NULL || got != (size_t)st.st_size
            ? send_page_error(c, 500, "cannot read the file")
            : send_buffer(c, 200, type, data, got, NULL, NULL, strstr(type, "html") != NULL);
    free(data);
    return rc;
}

/* ---- the daemon ---- */

typedef struct req_ctx {
    char *body;
    size_t len;
    bool too_large;
} req_ctx;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    req_ctx *ctx = *con_cls;
    if (ctx == NULL) {
        ctx = calloc(1, sizeof *ctx);
        if (ctx == NULL)
            return MHD_NO;
        *con_cls = ctx;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t max = strcmp(url, "/api/finance/reconcile") == 0 ? MAX_UPLOAD + 4096 : MAX_BODY;
        if (ctx->len + *upload_data_size > max) {
            ctx->too_large = true;
        } else {
            char *grown = realloc(ctx->body, ctx->len + *upload_data_size + 1);
            if (grown == NULL)
                return MHD_NO;
            ctx->body = grown;
            memcpy(ctx->body + ctx->len, upload_data, *upload_data_size);
            ctx->len += *upload_data_size;
            ctx->body[ctx->len] = '\0';
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (ctx->too_large)
        return send_error(c, 413, "TOO_LARGE", "request body too large");
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (strncmp(url, "/api/", 5) == 0)
        return handle_api(c, url, strcmp(method, "HEAD") == 0 ? "GET" : method, ctx->body,
                          ctx->len);
    if (!get)
        return send_page_error(c, 405, "Method not allowed");
    return handle_static(c, url);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    req_ctx *ctx = *con_cls;
    if (ctx == NULL)
        return;
    if (ctx->body) {
        ykt_wipe(ctx->body, ctx->len); /* may hold a password */
        free(ctx->body);
    }
    free(ctx);
    *con_cls = NULL;
}

struct MHD_Daemon *web_http_start(const web_config *config, int *port)
{
    cfg = config;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->listen_port)};
    if (inet_pton(AF_INET, cfg->listen_host, &sa.sin_addr) != 1) {
        fprintf(stderr, "ykt-web: listen: %s is not an IPv4 address\n", cfg->listen_host);
        return NULL;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)cfg->threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_CONNECTION_LIMIT, (unsigned)512,
        MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "ykt-web: cannot listen on %s:%d\n", cfg->listen_host, cfg->listen_port);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    *port = info ? info->port : cfg->listen_port;
    return d;
}
