/*
 * oldplug: a plugin built for another plugin API version. yktd must refuse it by name and
 * stop (tests/e2e/test_plugins.py); its init must never run.
 */
#include <ykt/plugin.h>

#include <stdio.h>
#include <stdlib.h>

#define OLD_API_VERSION 99

int ykt_plugin_version(int n, const int *supported)
{
    for (int i = 0; i < n; i++)
        if (supported[i] == OLD_API_VERSION)
            return OLD_API_VERSION;
    return -1;
}

int ykt_plugin_init(ykt_plugin *self, const ykt_host *host, void **userdata)
{
    (void)self;
    (void)host;
    (void)userdata;
    fprintf(stderr, "oldplug: init must not run\n");
    abort();
}

void ykt_plugin_cleanup(void *userdata)
{
    (void)userdata;
}
