/*
 * The plugin host (see include/ykt/plugin.h for what a plugin sees). yktd loads the
 * enabled plugins after the core has registered its verbs and commands and before the
 * server starts; a plugin that is missing, speaks another API version or fails its init
 * stops start-up with a precise message.
 */
#ifndef YKT_PLUGIN_HOST_H
#define YKT_PLUGIN_HOST_H

#include <stddef.h>

#include "gateway.h"

/* Loads every enabled [plugin.NAME]. On failure, err says which plugin and why, the
 * plugins loaded so far are unloaded again, and an error code is returned. */
int ykt_plugins_load(ykt_gw *gw, char *err, size_t errlen);
/* For --check-config: every enabled plugin can be loaded and speaks this API (its init is
 * not run). */
int ykt_plugins_check(const ykt_config *cfg, char *err, size_t errlen);
/* Calls each plugin's cleanup and removes all it registered (verbs, commands, events,
 * timers). Run after the loop has stopped serving. */
void ykt_plugins_unload(ykt_gw *gw);
/* Frees what the host handed plugins during this loop iteration (card infos, rule string
 * results): they are valid "until the callback returns", and every callback of the
 * iteration has returned when the server calls this. */
void ykt_plugins_iteration_end(void);
/* Unmaps the plugins' code: last, once nothing can call into it. */
void ykt_plugins_close(void);
/* Every loaded plugin: name, verb prefix, file and the API version it speaks. */
void ykt_plugins_each(void (*fn)(const char *name, const char *prefix, const char *path,
                                 int api_version, void *arg),
                      void *arg);

#endif
