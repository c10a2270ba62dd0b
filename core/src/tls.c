#include "tls.h"
#include "common.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

struct ykt_tls {
    mbedtls_ssl_config conf;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt cert;
    mbedtls_x509_crt ca;
    mbedtls_pk_context key;
    int verify;
};

struct ykt_tls_conn {
    mbedtls_ssl_context ssl;
    ykt_tls *tls;
    ykt_buf in; /* ciphertext received, not yet consumed by mbedTLS */
    size_t in_off;
    ykt_buf *out; /* where the send callback appends, set for the duration of a call */
    bool ready;
    bool first_byte_checked;
    bool alert_sent; /* the last record mbedTLS wrote was an alert */
    char peer_cn[128];
};

/* mbedTLS returns a positive count when some PEM blocks of a file failed to parse. */
static void describe(int rc, char *buf, size_t len)
{
    if (rc > 0)
        snprintf(buf, len, "%d certificate(s) in the file could not be parsed", rc);
    else
        mbedtls_strerror(rc, buf, len);
}

int ykt_tls_init(ykt_tls **out, const ykt_config *cfg, char *err, size_t errlen)
{
    ykt_tls *t = calloc(1, sizeof *t);
    if (t == NULL)
        return YKT_ENOMEM;
    mbedtls_ssl_config_init(&t->conf);
    mbedtls_entropy_init(&t->entropy);
    mbedtls_ctr_drbg_init(&t->drbg);
    mbedtls_x509_crt_init(&t->cert);
    mbedtls_x509_crt_init(&t->ca);
    mbedtls_pk_init(&t->key);
    char why[160];
    int rc;
    static const char pers[] = "yktd-tls";
    if ((rc = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy,
                                    (const unsigned char *)pers, sizeof pers - 1)) != 0) {
        describe(rc, why, sizeof why);
        snprintf(err, errlen, "TLS random generator: %s", why);
        goto fail;
    }
    if ((rc = mbedtls_x509_crt_parse_file(&t->cert, cfg->tls_cert)) != 0) {
        describe(rc, why, sizeof why);
        snprintf(err, errlen, "[tls] cert %s: %s", cfg->tls_cert, why);
        goto fail;
    }
    struct stat st;
    if (stat(cfg->tls_key, &st) == 0 && (st.st_mode & 077) != 0)
        ykt_warn("tls: key file %s is readable by group or others (mode %03o); use 0600",
                 cfg->tls_key, (unsigned)(st.st_mode & 0777));
    if ((rc = mbedtls_pk_parse_keyfile(&t->key, cfg->tls_key, NULL)) != 0) {
        describe(rc, why, sizeof why);
        snprintf(err, errlen, "[tls] key %s: %s", cfg->tls_key, why);
        goto fail;
    }
    /* mbedtls_ssl_conf_own_cert does not compare them; every handshake would fail later. */
    if ((rc = mbedtls_pk_check_pair(&t->cert.pk, &t->key)) != 0) {
        describe(rc, why, sizeof why);
        snprintf(err, errlen, "[tls] key %s does not match cert %s: %s", cfg->tls_key,
                 cfg->tls_cert, why);
        goto fail;
    }
    if (cfg->tls_ca[0] != '\0' && (rc = mbedtls_x509_crt_parse_file(&t->ca, cfg->tls_ca)) != 0) {
        describe(rc, why, sizeof why);
        snprintf(err, errlen, "[tls] ca %s: %s", cfg->tls_ca, why);
        goto fail;
    }
    if ((rc = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_SERVER,
                                          MBEDTLS_SSL_TRANSPORT_STREAM,
                                          MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
        describe(rc, why, sizeof why);
        snprintf(err, errlen, "TLS configuration: %s", why);
        goto fail;
    }
    mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
    /* TLS 1.2 is the floor; mbedTLS 2.28 does not serve 1.3. */
    mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    if ((rc = mbedtls_ssl_conf_own_cert(&t->conf, &t->cert, &t->key)) != 0) {
        describe(rc, why, sizeof why);
        snprintf(err, errlen, "[tls] cert and key do not match: %s", why);
        goto fail;
    }
    if (cfg->tls_ca[0] != '\0')
        mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
    t->verify = cfg->tls_verify_client;
    mbedtls_ssl_conf_authmode(&t->conf,
                              t->verify == YKT_TLS_VERIFY_REQUIRED   ? MBEDTLS_SSL_VERIFY_REQUIRED
                              : t->verify == YKT_TLS_VERIFY_OPTIONAL ? MBEDTLS_SSL_VERIFY_OPTIONAL
                                                                     : MBEDTLS_SSL_VERIFY_NONE);
    *out = t;
    return YKT_OK;
fail:
    ykt_tls_free(t);
    return YKT_EINVAL;
}

void ykt_tls_free(ykt_tls *t)
{
    if (t == NULL)
        return;
    mbedtls_ssl_config_free(&t->conf);
    mbedtls_ctr_drbg_free(&t->drbg);
    mbedtls_entropy_free(&t->entropy);
    mbedtls_x509_crt_free(&t->cert);
    mbedtls_x509_crt_free(&t->ca);
    mbedtls_pk_free(&t->key);
    free(t);
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    ykt_tls_conn *c = ctx;
    if (c->out == NULL)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    /* mbedTLS hands over whole records, each starting with its content type. */
    if (len > 0)
        c->alert_sent = buf[0] == MBEDTLS_SSL_MSG_ALERT;
    ykt_buf_append(c->out, buf, len);
    return (int)len;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    ykt_tls_conn *c = ctx;
    size_t avail = c->in.len - c->in_off;
    if (avail == 0)
        return MBEDTLS_ERR_SSL_WANT_READ;
    size_t n = avail < len ? avail : len;
    memcpy(buf, c->in.data + c->in_off, n);
    c->in_off += n;
    return (int)n;
}

ykt_tls_conn *ykt_tls_conn_new(ykt_tls *tls)
{
    ykt_tls_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->tls = tls;
    mbedtls_ssl_init(&c->ssl);
    if (mbedtls_ssl_setup(&c->ssl, &tls->conf) != 0) {
        mbedtls_ssl_free(&c->ssl);
        free(c);
        return NULL;
    }
    mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
    return c;
}

void ykt_tls_conn_free(ykt_tls_conn *c)
{
    if (c == NULL)
        return;
    mbedtls_ssl_free(&c->ssl);
    ykt_buf_free(&c->in);
    free(c);
}

static void capture_peer_cn(ykt_tls_conn *c)
{
    const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(&c->ssl);
    if (peer == NULL || mbedtls_ssl_get_verify_result(&c->ssl) != 0)
        return;
    for (const mbedtls_x509_name *n = &peer->subject; n != NULL; n = n->next) {
        if (n->oid.p != NULL && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0) {
            size_t len = n->val.len < sizeof c->peer_cn - 1 ? n->val.len : sizeof c->peer_cn - 1;
            memcpy(c->peer_cn, n->val.p, len);
            c->peer_cn[len] = '\0';
            return;
        }
    }
}

static char errbuf[192];

/*
 * mbedTLS sends its own alert for most handshake failures (a certificate from another CA:
 * unknown_ca) but not when a client that had to send a certificate sent none: the client
 * then sees the connection end with no reason ("unexpected eof"). Tell it, as TLS 1.2
 * says a server refusing an anonymous client does (RFC 5246, 7.4.6).
 */
static void send_fatal_alert(ykt_tls_conn *c, unsigned char message)
{
    if (c->alert_sent)
        return;
    if (mbedtls_ssl_send_alert_message(&c->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL, message) != 0)
        ykt_debug("tls: could not queue the alert");
}

/* The alert for a client certificate that "optional" let through but failed verification,
 * as mbedTLS itself chooses for "required". */
static unsigned char bad_cert_alert(const ykt_tls_conn *c)
{
    uint32_t flags = mbedtls_ssl_get_verify_result(&c->ssl);
    if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
        return MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA;
    if (flags & MBEDTLS_X509_BADCERT_EXPIRED)
        return MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED;
    return MBEDTLS_SSL_ALERT_MSG_BAD_CERT;
}

int ykt_tls_conn_feed(ykt_tls_conn *c, const char *data, size_t len, ykt_buf *plain,
                      ykt_buf *cipher_out, const char **err)
{
    if (!c->first_byte_checked && len > 0) {
        c->first_byte_checked = true;
        /* Every TLS connection opens with a handshake record (content type 22). */
        if ((unsigned char)data[0] != 0x16) {
            *err = "plain-text client on the TLS port";
            return YKT_EPERM;
        }
    }
    ykt_buf_append(&c->in, data, len);
    c->out = cipher_out;
    int rc = YKT_OK;
    if (!c->ready) {
        int hs = mbedtls_ssl_handshake(&c->ssl);
        if (hs == 0) {
            /* VERIFY_OPTIONAL lets a bad certificate through; "optional" here means
             * verified when sent, so refuse a certificate that failed. */
            if (c->tls->verify == YKT_TLS_VERIFY_OPTIONAL &&
                mbedtls_ssl_get_peer_cert(&c->ssl) != NULL &&
                mbedtls_ssl_get_verify_result(&c->ssl) != 0) {
                *err = "client certificate failed verification";
                send_fatal_alert(c, bad_cert_alert(c));
                rc = YKT_EIO;
                goto out;
            }
            c->ready = true;
            capture_peer_cn(c);
        } else if (hs != MBEDTLS_ERR_SSL_WANT_READ && hs != MBEDTLS_ERR_SSL_WANT_WRITE) {
            char why[128];
            mbedtls_strerror(hs, why, sizeof why);
            snprintf(errbuf, sizeof errbuf, "TLS handshake failed: %s", why);
            *err = errbuf;
            send_fatal_alert(c, MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE);
            rc = YKT_EIO;
            goto out;
        }
    }
    while (c->ready) {
        ykt_buf_reserve(plain, 16384);
        int n = mbedtls_ssl_read(&c->ssl, (unsigned char *)plain->data + plain->len,
                                 plain->cap - plain->len - 1);
        if (n > 0) {
            plain->len += (size_t)n;
            continue;
        }
        if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
            break;
        if (n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
            *err = "peer closed the TLS session";
            rc = YKT_EIO;
            break;
        }
        char why[128];
        mbedtls_strerror(n, why, sizeof why);
        snprintf(errbuf, sizeof errbuf, "TLS read failed: %s", why);
        *err = errbuf;
        rc = YKT_EIO;
        break;
    }
out:
    c->out = NULL;
    /* Drop consumed ciphertext so the buffer does not grow with the session. */
    ykt_buf_consume(&c->in, c->in_off);
    c->in_off = 0;
    return rc;
}

int ykt_tls_conn_encrypt(ykt_tls_conn *c, const char *data, size_t len, ykt_buf *cipher_out)
{
    c->out = cipher_out;
    size_t done = 0;
    int rc = YKT_OK;
    while (done < len) {
        int n = mbedtls_ssl_write(&c->ssl, (const unsigned char *)data + done, len - done);
        if (n < 0) {
            rc = YKT_EIO;
            break;
        }
        done += (size_t)n;
    }
    c->out = NULL;
    return rc;
}

void ykt_tls_conn_close_notify(ykt_tls_conn *c, ykt_buf *cipher_out)
{
    if (!c->ready)
        return;
    c->out = cipher_out;
    mbedtls_ssl_close_notify(&c->ssl);
    c->out = NULL;
}

bool ykt_tls_conn_ready(const ykt_tls_conn *c)
{
    return c->ready;
}

const char *ykt_tls_conn_peer_cn(const ykt_tls_conn *c)
{
    return c->peer_cn[0] ? c->peer_cn : NULL;
}
