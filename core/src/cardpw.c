#include "cardpw.h"
#include "common.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

bool ykt_cardpw_valid(const char *pw)
{
    if (strlen(pw) != YKT_CARDPW_LEN)
        return false;
    for (int i = 0; i < YKT_CARDPW_LEN; i++)
        if (!isdigit((unsigned char)pw[i]))
            return false;
    return true;
}

int ykt_cardpw_initial(char out[YKT_CARDPW_LEN + 1])
{
    uint32_t r;
    if (ykt_random_bytes(&r, sizeof r) != YKT_OK)
        return YKT_EIO;
    /* 2^32 mod 10^6 bias is below one in four thousand: irrelevant for a one-time PIN. */
    snprintf(out, YKT_CARDPW_LEN + 1, "%06u", r % 1000000u);
    ykt_wipe(&r, sizeof r);
    return YKT_OK;
}

void ykt_cardpw_set_fresh(ykt_cardpw_job *job, const char *fresh)
{
    job->fresh_malformed = !ykt_cardpw_valid(fresh);
    if (!job->fresh_malformed)
        ykt_strlcpy(job->fresh, fresh, sizeof job->fresh);
}

void ykt_cardpw_work(ykt_cardpw_job *job)
{
    job->verified = -1;
    if (job->password[0] != '\0' && job->has_stored)
        job->verified = ykt_password_verify(job->password, job->stored.hash);
    job->hashed = YKT_EINVAL;
    if (job->fresh[0] != '\0')
        job->hashed =
            ykt_password_hash(job->fresh, job->iterations, job->fresh_hash, sizeof job->fresh_hash);
}

bool ykt_cardpw_prepare(ykt_req *req, ykt_cardpw_job *job, int64_t person_id, const char *which)
{
    job->person_id = person_id;
    ykt_strlcpy(job->which, which, sizeof job->which);
    job->iterations = (uint32_t)req->gw->cfg.password_iterations;
    int rc = ykt_store_password_get(req->gw->db, person_id, which, &job->stored);
    if (rc == YKT_ENOTFOUND) {
        ykt_reply_error(req, "NO_PASSWORD", "no %s password is set; reset it at the counter",
                        which);
        return false;
    }
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return false;
    }
    job->has_stored = true;
    if (job->stored.locked_until > ykt_now_ms()) {
        char until[32];
        ykt_format_time(job->stored.locked_until, until, sizeof until);
        ykt_reply_error(req, "PASSWORD_LOCKED",
                        "the %s password is locked until %s after repeated wrong tries", which,
                        until);
        return false;
    }
    return true;
}

/*
 * Keeps what the request has written so far whatever it replies, and opens a new savepoint
 * for the rest: a refusal after this point (the balance, a limit, a plugin's own check)
 * undoes only what follows. req->keep_changes would keep the rest too — a plugin verb's
 * half-done writes, say. Returns false after replying when the savepoint cannot be reopened.
 */
static bool keep_so_far(ykt_req *req)
{
    ykt_db *db = req->gw->db;
    if (!ykt_db_in_cmd(db))
        return true; /* not a write request: nothing to undo later either */
    ykt_db_cmd_end(db, true);
    int rc = ykt_db_cmd_begin(db);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return false;
    }
    return true;
}

bool ykt_cardpw_conclude(ykt_req *req, ykt_cardpw_job *job)
{
    ykt_db *db = req->gw->db;
    const ykt_config *cfg = &req->gw->cfg;
    bool pay = strcmp(job->which, "pay") == 0;
    if (job->verified == 1) {
        /* The right password ends a run of wrong tries even when the request it allowed is
         * then refused (INSUFFICIENT_FUNDS, LIMIT_EXCEEDED): R-C10 counts tries in a row. */
        if (job->stored.failures != 0 &&
            ykt_store_password_failures(db, job->person_id, job->which, 0, 0) == YKT_OK)
            return keep_so_far(req);
        return true;
    }
    if (job->verified < 0) {
        ykt_reply_internal(req, YKT_EIO);
        return false;
    }
    int failures = job->stored.failures + 1;
    int64_t locked = 0;
    if (failures >= cfg->password_max_failures) {
        locked = ykt_now_ms() + cfg->password_lock_ms;
        ykt_warn("person %lld: %s password locked after %d wrong tries", (long long)job->person_id,
                 job->which, failures);
        failures = 0;
    }
    /* The count must survive the failed request, or the lock could never be reached. */
    if (ykt_store_password_failures(db, job->person_id, job->which, failures, locked) == YKT_OK)
        req->keep_changes = true;
    if (locked && cfg->password_lock_ms < 60000)
        ykt_reply_error(req, pay ? "BAD_PIN" : "WRONG_PASSWORD",
                        "wrong %s password; it is now locked for %lld seconds", job->which,
                        (long long)(cfg->password_lock_ms / 1000));
    else if (locked)
        ykt_reply_error(req, pay ? "BAD_PIN" : "WRONG_PASSWORD",
                        "wrong %s password; it is now locked for %lld minutes", job->which,
                        (long long)(cfg->password_lock_ms / 60000));
    else
        ykt_reply_error(req, pay ? "BAD_PIN" : "WRONG_PASSWORD", "wrong %s password", job->which);
    return false;
}

void ykt_cardpw_job_wipe(ykt_cardpw_job *job)
{
    ykt_wipe(job, sizeof *job);
}
