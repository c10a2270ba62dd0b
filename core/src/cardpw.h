/*
 * Card passwords (R-C10): each holder has a query password and a payment password, six
 * digits, stored only as salted PBKDF2-HMAC-SHA256 hashes ([cards] password_iterations).
 * After [cards] password_max_failures wrong tries in a row the password is locked for
 * [cards] password_lock; the next try, right or wrong, gets PASSWORD_LOCKED.
 *
 * Hashing is slow on purpose, so callers run ykt_cardpw_work on the thread pool through
 * ykt_req_defer and finish on the loop with ykt_cardpw_conclude.
 */
#ifndef YKT_CARDPW_H
#define YKT_CARDPW_H

#include <stdbool.h>
#include <stdint.h>

#include "request.h"
#include "secret.h"
#include "store/store.h"

#define YKT_CARDPW_LEN 6

/* One password job: verify `password` against `stored` and/or hash `fresh`. */
typedef struct ykt_cardpw_job {
    int64_t person_id;
    char which[8]; /* query or pay */
    bool has_stored;
    ykt_password_row stored;
    char password[YKT_CARDPW_LEN + 2];
    char fresh[YKT_CARDPW_LEN + 2];
    char fresh_hash[YKT_HASH_MAX];
    uint32_t iterations;
    int verified;         /* 1 match, 0 mismatch, <0 not checked or error */
    int hashed;           /* YKT_OK when fresh_hash is set */
    bool fresh_malformed; /* the new password is not 6 digits (ykt_cardpw_set_fresh) */
} ykt_cardpw_job;

/* True for exactly six ASCII digits. */
bool ykt_cardpw_valid(const char *pw);
/* A random six-digit initial password. */
int ykt_cardpw_initial(char out[YKT_CARDPW_LEN + 1]);
/* The new password to hash. A malformed one is not hashed but remembered: the caller
 * refuses it with BAD_PASSWORD only after the old password was verified, so that a locked
 * password answers PASSWORD_LOCKED and a wrong old one counts as a wrong try whatever the
 * new one is (R-C10). */
void ykt_cardpw_set_fresh(ykt_cardpw_job *job, const char *fresh);
/* Thread-pool side: verify and/or hash as the job asks. */
void ykt_cardpw_work(ykt_cardpw_job *job);
/* Loads the stored password into the job. Replies PASSWORD_LOCKED (or an internal error)
 * and returns false when it may not be tried now. */
bool ykt_cardpw_prepare(ykt_req *req, ykt_cardpw_job *job, int64_t person_id, const char *which);
/*
 * Loop side, after a verification: counts a failure (locking after too many, and keeping
 * that count even though the request fails) or clears the count (kept too, even when the
 * request is refused later for another reason; only what the caller writes after this is
 * undone then). Replies WRONG_PASSWORD / BAD_PIN (for "pay") and returns false on a mismatch.
 */
bool ykt_cardpw_conclude(ykt_req *req, ykt_cardpw_job *job);
void ykt_cardpw_job_wipe(ykt_cardpw_job *job);

#endif
