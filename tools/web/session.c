/* Sessions, login rate limits, and the connections to yktd. */
#include "web.h"

#include "secret.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define MAX_SESSIONS 4096
#define RATE_SLOTS   1024

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int web_token(char out[WEB_TOKEN_HEX + 1])
{
    unsigned char raw[WEB_TOKEN_HEX / 2];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[WEB_TOKEN_HEX] = '\0';
    ykt_wipe(raw, sizeof raw);
    return 0;
}

bool web_token_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != WEB_TOKEN_HEX || lb != WEB_TOKEN_HEX)
        return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < WEB_TOKEN_HEX; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

/* ---- sessions ---- */

static pthread_mutex_t sessions_lock = PTHREAD_MUTEX_INITIALIZER;
static web_session *sessions[MAX_SESSIONS];
static const web_config *config;

void web_sessions_init(const web_config *cfg)
{
    config = cfg;
}

static void session_free(web_session *s)
{
    if (s->conn_open)
        ykt_client_close(&s->conn);
    pthread_mutex_destroy(&s->lock);
    ykt_wipe(s, sizeof *s);
    free(s);
}

/* Under sessions_lock: drops the table's hold on slot i. */
static void slot_release(int i)
{
    web_session *s = sessions[i];
    sessions[i] = NULL;
    s->dead = true;
    if (--s->refs == 0)
        session_free(s);
}

static bool expired(const web_session *s, int64_t now)
{
    return now - s->seen_ms > config->session_idle_ms ||
           now - s->created_ms > config->session_max_ms;
}

void web_sessions_shutdown(void)
{
    pthread_mutex_lock(&sessions_lock);
    for (int i = 0; i < MAX_SESSIONS; i++)
        if (sessions[i] != NULL)
            slot_release(i);
    pthread_mutex_unlock(&sessions_lock);
}

web_session *web_session_new(int kind)
{
    web_session *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    if (web_token(s->id) != 0 || web_token(s->csrf) != 0) {
        free(s);
        return NULL;
    }
    s->kind = kind;
    s->created_ms = s->seen_ms = now_ms();
    s->conn.fd = -1;
    pthread_mutex_init(&s->lock, NULL);
    s->refs = 2; /* the table's and the caller's */
    int64_t now = s->created_ms;
    pthread_mutex_lock(&sessions_lock);
    int free_slot = -1;
    for (int i = 0; i < MAX_SESSIONS; i++) {
        if (sessions[i] != NULL && expired(sessions[i], now))
            slot_release(i);
        if (sessions[i] == NULL && free_slot < 0)
            free_slot = i;
    }
    if (free_slot >= 0)
        sessions[free_slot] = s;
    pthread_mutex_unlock(&sessions_lock);
    if (free_slot < 0) {
        session_free(s);
        return NULL;
    }
    return s;
}

web_session *web_session_get(const char *id)
{
    if (id == NULL || strlen(id) != WEB_TOKEN_HEX)
        return NULL;
    int64_t now = now_ms();
    web_session *found = NULL;
    pthread_mutex_lock(&sessions_lock);
    for (int i = 0; i < MAX_SESSIONS; i++) {
        web_session *s = sessions[i];
        if (s == NULL || !web_token_equal(s->id, id))
            continue;
        if (expired(s, now)) {
            slot_release(i);
        } else {
            s->seen_ms = now;
            s->refs++;
            found = s;
        }
        break;
    }
    pthread_mutex_unlock(&sessions_lock);
    return found;
}

void web_session_put(web_session *s)
{
    pthread_mutex_lock(&sessions_lock);
    if (--s->refs == 0)
        session_free(s);
    pthread_mutex_unlock(&sessions_lock);
}

void web_session_end(web_session *s)
{
    pthread_mutex_lock(&sessions_lock);
    for (int i = 0; i < MAX_SESSIONS; i++)
        if (sessions[i] == s) {
            slot_release(i);
            break;
        }
    pthread_mutex_unlock(&sessions_lock);
}

/* ---- login rate limits: fixed one-minute windows per key ---- */

static struct rate_slot {
    char key[96];
    int64_t window;
    int count;
} rates[RATE_SLOTS];
static pthread_mutex_t rates_lock = PTHREAD_MUTEX_INITIALIZER;

bool web_rate_allow(const char *key, int per_minute)
{
    int64_t window = now_ms() / 60000;
    bool allow;
    pthread_mutex_lock(&rates_lock);
    struct rate_slot *slot = NULL, *oldest = &rates[0];
    for (int i = 0; i < RATE_SLOTS; i++) {
        if (strcmp(rates[i].key, key) == 0) {
            slot = &rates[i];
            break;
        }
        if (rates[i].window < oldest->window)
            oldest = &rates[i];
    }
    if (slot == NULL) {
        slot = oldest; /* the least recently used window makes room */
        ykt_strlcpy(slot->key, key, sizeof slot->key);
        slot->window = window;
        slot->count = 0;
    }
    if (slot->window != window) {
        slot->window = window;
        slot->count = 0;
    }
    allow = slot->count < per_minute;
    if (allow)
        slot->count++;
    pthread_mutex_unlock(&rates_lock);
    return allow;
}

/* ---- replies as JSON ---- */

static void mask_digits(const char *in, char *out, size_t len, size_t keep_head, size_t keep_tail)
{
    size_t n = strlen(in);
    if (n + 1 > len || n <= keep_head + keep_tail) {
        ykt_strlcpy(out, "****", len);
        return;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = (i < keep_head || i >= n - keep_tail) ? in[i] : '*';
    out[n] = '\0';
}

static json_t *masked_value(const char *column, json_t *v)
{
    if (!json_is_string(v))
        return v;
    bool id = strcmp(column, "id_number") == 0, phone = strcmp(column, "phone") == 0;
    const char *s = json_string_value(v);
    if ((!id && !phone) || *s == '\0' || strchr(s, '*') != NULL)
        return v;
    char out[64];
    mask_digits(s, out, sizeof out, 3, 4);
    json_decref(v);
    return json_string(out);
}

static json_t *table_row(const ykt_reply *cols, const ykt_reply *row)
{
    json_t *o = json_object();
    for (size_t c = 0; c < cols->nelem && c < row->nelem; c++) {
        const char *name = cols->elem[c]->str ? cols->elem[c]->str : "";
        json_object_set_new(o, name, masked_value(name, web_reply_json(row->elem[c])));
    }
    return o;
}

json_t *web_reply_json(const ykt_reply *r)
{
    switch (r->type) {
    case YKT_REPLY_STATUS:
    case YKT_REPLY_BULK: {
        json_t *s = json_stringn(r->str, r->len);
        return s ? s : json_string("\xef\xbf\xbd"); /* not UTF-8: shown as U+FFFD */
    }
    case YKT_REPLY_ERROR:
        return json_pack("{ss}", "error", r->str);
    case YKT_REPLY_INT:
        return json_integer(r->integer);
    case YKT_REPLY_NULL:
        return json_null();
    case YKT_REPLY_ARRAY:
        break;
    default:
        return json_null();
    }
    bool table = r->nelem >= 2 && r->elem[0]->type == YKT_REPLY_STATUS &&
                 r->elem[1]->type == YKT_REPLY_ARRAY &&
                 (strcmp(r->elem[0]->str, "TABLE") == 0 || strcmp(r->elem[0]->str, "RECORD") == 0);
    if (table && strcmp(r->elem[0]->str, "RECORD") == 0)
        return r->nelem > 2 ? table_row(r->elem[1], r->elem[2]) : json_object();
    json_t *a = json_array();
    for (size_t i = table ? 2 : 0; i < r->nelem; i++)
        json_array_append_new(a, table ? table_row(r->elem[1], r->elem[i])
                                       : web_reply_json(r->elem[i]));
    return a;
}

/* ---- the service connection (holders' commands) ---- */

static pthread_mutex_t service_lock = PTHREAD_MUTEX_INITIALIZER;
static ykt_client service;
static bool service_open;

void web_service_init(const web_config *cfg)
{
    config = cfg;
    service.fd = -1;
}

void web_service_close(void)
{
    pthread_mutex_lock(&service_lock);
    if (service_open)
        ykt_client_close(&service);
    service_open = false;
    pthread_mutex_unlock(&service_lock);
}

static int service_connect(char *err, size_t errlen)
{
    if (ykt_client_connect_unix(&service, config->admin_socket) != 0) {
        snprintf(err, errlen, "%s", service.err);
        return -1;
    }
    if (config->service_user[0] != '\0') {
        char password[256] = "";
        FILE *f = fopen(config->service_password_file, "re");
        if (f == NULL || fgets(password, sizeof password, f) == NULL) {
            snprintf(err, errlen, "cannot read service_password_file %s",
                     config->service_password_file);
            if (f)
                fclose(f);
            ykt_client_close(&service);
            return -1;
        }
        fclose(f);
        password[strcspn(password, "\r\n")] = '\0';
        const char *argv[] = {"login", config->service_user, password};
        ykt_reply *r = ykt_client_call(&service, 3, argv, NULL);
        ykt_wipe(password, sizeof password);
        bool ok = r != NULL && r->type == YKT_REPLY_STATUS;
        snprintf(err, errlen, "service login as %s refused: %s", config->service_user,
                 r == NULL ? service.err
                 : r->str  ? r->str
                           : "?");
        if (r)
            ykt_reply_free(r);
        if (!ok) {
            ykt_client_close(&service);
            return -1;
        }
    }
    service_open = true;
    return 0;
}

ykt_reply *web_service_call(int argc, const char *const *argv, char *err, size_t errlen)
{
    ykt_reply *r = NULL;
    pthread_mutex_lock(&service_lock);
    /* One retry: yktd may have closed an idle connection, or restarted. */
    for (int attempt = 0; attempt < 2 && r == NULL; attempt++) {
        if (!service_open && service_connect(err, errlen) != 0)
            break;
        r = ykt_client_call(&service, argc, argv, NULL);
        if (r == NULL) {
            snprintf(err, errlen, "%s", service.err);
            ykt_client_close(&service);
            service_open = false;
        }
    }
    pthread_mutex_unlock(&service_lock);
    return r;
}

ykt_reply *web_staff_call(web_session *s, int argc, const char *const *argv, char *err,
                          size_t errlen)
{
    ykt_reply *r = NULL;
    pthread_mutex_lock(&s->lock);
    if (!s->conn_open) {
        snprintf(err, errlen, "the session's connection to yktd is closed");
    } else {
        r = ykt_client_call(&s->conn, argc, argv, NULL);
        if (r == NULL) {
            /* The operator's login is gone with the connection: the session ends. */
            snprintf(err, errlen, "%s", s->conn.err);
            ykt_client_close(&s->conn);
            s->conn_open = false;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}
