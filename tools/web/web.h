/*
 * ykt-web: the web portal. A small HTTP server (libmicrohttpd) that serves the static pages
 * in web/ and a JSON API under /api/ (jansson), and speaks to yktd over the admin socket
 * with the same commands yktctl sends: one API, two front ends (docs/web.md).
 *
 * Staff sign in with their operator account: each staff session owns one admin connection
 * logged in as that operator, so yktd checks the role and audits under the person's name.
 * Holders sign in with card or person number and query password, checked by yktd
 * (`portal verify`) over the portal's service connection; every change a holder makes
 * carries the holder's password again (`portal report-loss`, `portal passwd`).
 */
#ifndef YKT_WEB_H
#define YKT_WEB_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "client.h"

#define WEB_TOKEN_HEX 64 /* 32 random bytes */

typedef struct web_config {
    char listen_host[64];
    int listen_port;
    char admin_socket[256];
    char root[512];        /* the static files: web/ */
    char service_user[64]; /* "" = the local superuser (ykt-web runs as yktd's user) */
    char service_password_file[512];
    int64_t session_idle_ms; /* a session unused this long ends */
    int64_t session_max_ms;  /* and any session ends this long after sign-in */
    int login_per_minute;    /* attempts per client address and per login name */
    bool secure_cookies;     /* behind TLS (nginx): cookies get Secure */
    bool trust_proxy;        /* take the client address from X-Real-IP */
    int threads;
} web_config;

/* Defaults, then the INI file (if any). Returns 0 or -1 with err set. */
void web_config_defaults(web_config *cfg);
int web_config_load(web_config *cfg, const char *path, char *err, size_t errlen);

enum web_kind { WEB_HOLDER = 1, WEB_STAFF = 2 };

typedef struct web_session {
    char id[WEB_TOKEN_HEX + 1];
    char csrf[WEB_TOKEN_HEX + 1];
    int kind;
    char role[16];      /* "holder", or the operator's role as yktd names it */
    char name[64];      /* the holder's name, or the operator's account */
    char person_no[32]; /* holders */
    char department[64];
    bool must_change_password;
    int64_t created_ms, seen_ms;
    /* Staff: the admin connection logged in as the operator, used under lock. */
    ykt_client conn;
    bool conn_open;
    pthread_mutex_t lock;
    int refs;
    bool dead;
} web_session;

void web_sessions_init(const web_config *cfg);
void web_sessions_shutdown(void);
/* A new session (with a reference held); NULL when the table is full. */
web_session *web_session_new(int kind);
/* The live session with this id, with a reference held; NULL if none (or expired). */
web_session *web_session_get(const char *id);
void web_session_put(web_session *s);
/* Ends a session (closes its admin connection once the last reference goes). */
void web_session_end(web_session *s);
/* Constant-time comparison of two tokens. */
bool web_token_equal(const char *a, const char *b);
/* 32 random bytes as 64 hex digits. Returns 0 or -1. */
int web_token(char out[WEB_TOKEN_HEX + 1]);

/* Login rate limiting by key ("ip:..." or "id:..."): true when another attempt may go. */
bool web_rate_allow(const char *key, int per_minute);

/* ---- yktd ---- */

/* A reply turned into JSON: TABLE -> array of objects, RECORD -> object, and so on. ID and
 * phone numbers are masked again, should a reply ever carry them in the clear (R-P3). */
json_t *web_reply_json(const ykt_reply *r);
/* Runs a command over the portal's service connection (reconnecting as needed). NULL with
 * err set when yktd cannot be reached. */
ykt_reply *web_service_call(int argc, const char *const *argv, char *err, size_t errlen);
void web_service_init(const web_config *cfg);
void web_service_close(void);
/* Runs a command over a staff session's own connection. */
ykt_reply *web_staff_call(web_session *s, int argc, const char *const *argv, char *err,
                          size_t errlen);

/* ---- HTTP ---- */

struct MHD_Daemon;
struct MHD_Daemon *web_http_start(const web_config *cfg, int *port);

#endif
