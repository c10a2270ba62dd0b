/*
 * Configuration: an INI file (inih) plus "--set section.key=value" overrides.
 * Every key is declared once in the table in config.c with its type, range,
 * default and one-line documentation; `yktd --print-config` prints that table and
 * docs/configuration.md describes it. An unknown section or key, a duplicate key or a
 * bad value is an error naming the file, line and reason.
 * Relative paths are relative to yktd's working directory, as with Redis.
 */
#ifndef YKT_CONFIG_H
#define YKT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define YKT_PATH_MAX 512

enum ykt_tls_verify { YKT_TLS_VERIFY_NONE, YKT_TLS_VERIFY_OPTIONAL, YKT_TLS_VERIFY_REQUIRED };

#define YKT_MAX_PLUGINS        16
#define YKT_MAX_PLUGIN_OPTIONS 32

/* A [plugin.NAME] section: enabled, an optional path to the .so, and the plugin's own
 * options (checked by the plugin when it starts). */
typedef struct ykt_plugin_conf {
    char name[32];
    bool enabled;
    bool enabled_set; /* the section says enabled = yes or no */
    char path[YKT_PATH_MAX];
    int line; /* where the section's first key was, for messages */
    int nopts;
    struct {
        char key[48];
        char value[256];
    } opts[YKT_MAX_PLUGIN_OPTIONS];
} ykt_plugin_conf;

typedef struct ykt_config {
    /* [campus] */
    char campus_name[128];
    char timezone[64];
    char campus_code[17];
    /* [terminal] */
    char terminal_listen[128];
    int64_t max_connections;
    int64_t max_frame_bytes;
    int64_t max_args;
    int64_t max_pipeline;
    int64_t idle_timeout_ms;
    int64_t request_timeout_ms;
    int64_t write_timeout_ms;
    int64_t send_buffer;
    int64_t auth_timeout_ms;
    int64_t max_auth_failures;
    int64_t last_seen_flush_ms;
    int64_t request_retention_ms;
    /* [tls] */
    bool tls_enabled;
    char tls_cert[YKT_PATH_MAX];
    char tls_key[YKT_PATH_MAX];
    char tls_ca[YKT_PATH_MAX];
    int tls_verify_client;
    bool tls_client_cn_is_terminal;
    /* [admin] */
    char admin_socket[YKT_PATH_MAX];
    int64_t admin_socket_mode;
    bool admin_local_superuser;
    int64_t admin_idle_timeout_ms;
    int64_t login_max_failures;
    int64_t login_lock_ms;
    int64_t admin_max_frame_bytes;
    /* [cards] */
    char master_key[YKT_PATH_MAX];
    int64_t replacement_fee;
    int64_t deposit;
    int64_t password_iterations;
    int64_t card_cache_entries;
    int64_t password_max_failures;
    int64_t password_lock_ms;
    int64_t pin_threshold;
    int64_t max_clock_skew_ms;
    int64_t auto_cancel_months;
    int64_t refund_window_months;
    /* [wallet] */
    int64_t max_topup;
    int64_t max_payment;
    int64_t daily_limit_regular;
    int64_t daily_limit_temporary;
    int64_t low_balance;
    int64_t hold_timeout_ms;
    int64_t offline_max_payment;
    /* [import] */
    int64_t import_max_bytes;
    int64_t import_max_rows;
    /* [storage] */
    char storage_path[YKT_PATH_MAX];
    int64_t checkpoint_pages;
    int64_t checkpoint_pace_pages;
    int64_t checkpoint_nice;
    /* [log] */
    int log_level;
    char log_file[YKT_PATH_MAX];
    /* [plugins] and [plugin.NAME] */
    char plugins_dir[YKT_PATH_MAX];
    char rules_dir[YKT_PATH_MAX];
    char fee_script[64];
    int64_t rule_instructions;
    int64_t rule_memory;
    int64_t rule_time_ms;
    /* [backup] */
    char backup_dir[YKT_PATH_MAX];
    int64_t backup_interval_ms;
    int64_t backup_keep;
    int nplugins;
    ykt_plugin_conf plugins[YKT_MAX_PLUGINS];
} ykt_config;

/* Fills every key with its default. */
void ykt_config_defaults(ykt_config *cfg);
/* Parses an INI file into cfg (on top of what is there). On error writes
 * "FILE:LINE: reason" into err and returns YKT_EINVAL (or YKT_EIO if unreadable). */
int ykt_config_load(ykt_config *cfg, const char *path, char *err, size_t errlen);
/* Applies one "section.key=value" override. */
int ykt_config_set(ykt_config *cfg, const char *assignment, char *err, size_t errlen);
/* Checks rules that span keys (TLS files present when TLS is on, ...). */
int ykt_config_validate(const ykt_config *cfg, char *err, size_t errlen);
/* Writes every key with its default and documentation, as INI, to stdout. */
void ykt_config_print_reference(void);

#endif
