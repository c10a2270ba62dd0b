/*
 * TLS for the terminal port with mbedTLS, driven from libuv reads and writes: ciphertext
 * from the socket is fed in, plaintext comes out; replies are encrypted into a ciphertext
 * buffer the server writes. No blocking I/O happens inside mbedTLS.
 */
#ifndef YKT_TLS_H
#define YKT_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "config.h"

typedef struct ykt_tls ykt_tls;
typedef struct ykt_tls_conn ykt_tls_conn;

/* Loads certificate, key and CA from the configuration. */
int ykt_tls_init(ykt_tls **out, const ykt_config *cfg, char *err, size_t errlen);
void ykt_tls_free(ykt_tls *tls);

ykt_tls_conn *ykt_tls_conn_new(ykt_tls *tls);
void ykt_tls_conn_free(ykt_tls_conn *c);

/*
 * Feeds ciphertext from the socket. Decrypted application data is appended to plain,
 * handshake and alert records to cipher_out (send them at once). Returns YKT_OK;
 * YKT_EPERM when the peer speaks plain text (first byte is not a TLS handshake record);
 * YKT_EIO when the handshake or a record fails (*err says why).
 */
int ykt_tls_conn_feed(ykt_tls_conn *c, const char *data, size_t len, ykt_buf *plain,
                      ykt_buf *cipher_out, const char **err);
/* Encrypts plaintext into cipher_out. */
int ykt_tls_conn_encrypt(ykt_tls_conn *c, const char *data, size_t len, ykt_buf *cipher_out);
/* Appends the close_notify alert that ends a session cleanly (no-op before the handshake). */
void ykt_tls_conn_close_notify(ykt_tls_conn *c, ykt_buf *cipher_out);
bool ykt_tls_conn_ready(const ykt_tls_conn *c);
/* The Common Name of the verified client certificate, or NULL. */
const char *ykt_tls_conn_peer_cn(const ykt_tls_conn *c);

#endif
