/*  zx_metrics.c - zexec-broker's /metrics endpoint over HTTP.

    DESIGN: libmicrohttpd without a thread of its own, in epoll mode: all
    its sockets sit behind one epoll descriptor, which the broker's loop
    watches like any other; when it is readable (a connection, a request)
    the loop calls MHD_run, which reads the request, calls back for the
    text, and writes the answer. A one-second timer also calls MHD_run,
    so idle connections time out. The text is made in the loop's thread,
    from the broker as it stands: no copy, no lock, never stale.        */

#define _GNU_SOURCE
#include "zx_metrics.h"
#include "zx_loop.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define S_TICK_MS       1000
#define S_TIMEOUT_S     10

struct zx__metrics {
    struct MHD_Daemon *daemon;
    zx__metrics_render_fn *render;
    void *arg;
    int port;
    int epoll_fd;
    zx_loop_t *loop;
    uint64_t timer;
};

static enum MHD_Result
s_answer (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size,
          void **state)
{
    (void) version;
    (void) upload_data;
    (void) upload_data_size;
    (void) state;
    zx__metrics_t *self = (zx__metrics_t *) cls;
    unsigned status = MHD_HTTP_OK;
    const char *type = "text/plain; version=0.0.4; charset=utf-8";
    char *body = NULL;
    size_t size = 0;
    if (strcmp (method, "GET") != 0 && strcmp (method, "HEAD") != 0) {
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        body = strdup ("only GET /metrics\n");
    }
    else
    if (strcmp (url, "/metrics") != 0) {
        status = MHD_HTTP_NOT_FOUND;
        body = strdup ("not found: the metrics are at /metrics\n");
    }
    else
    if (!(body = self->render (self->arg, &size))) {
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        body = strdup ("out of memory\n");
    }
    if (status != MHD_HTTP_OK) {
        type = "text/plain; charset=utf-8";
        size = body ? strlen (body) : 0;
    }
    struct MHD_Response *response = body
        ? MHD_create_response_from_buffer (size, body, MHD_RESPMEM_MUST_FREE)
        : MHD_create_response_from_buffer (0, (void *) "", MHD_RESPMEM_PERSISTENT);
    if (!response) {
        free (body);
        return MHD_NO;
    }
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header (response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response (connection, status, response);
    MHD_destroy_response (response);
    return rc;
}

//  "HOST:PORT" or "[HOST6]:PORT" into an address; false when it is not.
static bool
s_parse (const char *text, struct sockaddr_storage *address, socklen_t *length)
{
    char host [128];
    const char *colon = strrchr (text, ':');
    if (!colon || colon == text || strlen (colon + 1) == 0 || strlen (colon + 1) > 5)
        return false;
    size_t host_size = (size_t) (colon - text);
    if (text [0] == '[') {
        if (host_size < 3 || text [host_size - 1] != ']')
            return false;
        text++;
        host_size -= 2;
    }
    if (host_size >= sizeof host)
        return false;
    memcpy (host, text, host_size);
    host [host_size] = 0;
    char *end;
    long port = strtol (colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return false;
    memset (address, 0, sizeof *address);
    struct sockaddr_in *v4 = (struct sockaddr_in *) address;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *) address;
    if (inet_pton (AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons ((uint16_t) port);
        *length = sizeof *v4;
        return true;
    }
    if (inet_pton (AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons ((uint16_t) port);
        *length = sizeof *v6;
        return true;
    }
    return false;
}

zx__metrics_t *
zx__metrics_new (const char *address, zx__metrics_render_fn *render, void *arg, char *why,
                 size_t size)
{
    struct sockaddr_storage where;
    socklen_t length;
    if (!address || !s_parse (address, &where, &length)) {
        snprintf (why, size, "bad metrics address '%s': give ADDRESS:PORT, such as "
                  "127.0.0.1:9100 or [::1]:9100", address ? address : "");
        return NULL;
    }
    zx__metrics_t *self = calloc (1, sizeof (zx__metrics_t));
    if (!self) {
        snprintf (why, size, "out of memory");
        return NULL;
    }
    self->render = render;
    self->arg = arg;
    self->epoll_fd = -1;
    unsigned flags = MHD_USE_EPOLL | (where.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    uint16_t port = ntohs (where.ss_family == AF_INET6
                           ? ((struct sockaddr_in6 *) &where)->sin6_port
                           : ((struct sockaddr_in *) &where)->sin_port);
    self->daemon = MHD_start_daemon (flags, port, NULL, NULL, s_answer, self,
                                     MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &where,
                                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) S_TIMEOUT_S,
                                     MHD_OPTION_CONNECTION_LIMIT, (unsigned) 64,
                                     MHD_OPTION_END);
    if (!self->daemon) {
        snprintf (why, size, "cannot serve metrics on %s (in use, or not an address of "
                  "this host)", address);
        free (self);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->daemon,
                                                            MHD_DAEMON_INFO_EPOLL_FD);
    self->epoll_fd = info ? info->epoll_fd : -1;
    info = MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? info->port : port;
    if (self->epoll_fd < 0) {
        snprintf (why, size, "cannot serve metrics: libmicrohttpd has no epoll here");
        zx__metrics_destroy (&self);
        return NULL;
    }
    (void) length;
    return self;
}

int
zx__metrics_port (const zx__metrics_t *self)
{
    return self->port;
}

static void
s_on_ready (zx_loop_t *loop, void *arg)
{
    (void) loop;
    zx__metrics_t *self = (zx__metrics_t *) arg;
    MHD_run (self->daemon);
}

static void
s_on_tick (zx_loop_t *loop, void *arg)
{
    zx__metrics_t *self = (zx__metrics_t *) arg;
    MHD_run (self->daemon);
    self->timer = zx_loop_call_later (loop, S_TICK_MS, s_on_tick, self);
}

zx_err_t
zx__metrics_attach (zx__metrics_t *self, zx_loop_t *loop)
{
    if (zx__loop_add_fd (loop, self->epoll_fd, s_on_ready, self) != ZX_OK)
        return ZX_ENOMEM;
    self->loop = loop;
    self->timer = zx_loop_call_later (loop, S_TICK_MS, s_on_tick, self);
    return self->timer ? ZX_OK : ZX_ENOMEM;
}

void
zx__metrics_destroy (zx__metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zx__metrics_t *self = *self_p;
    if (self->loop) {
        if (self->timer)
            zx_loop_cancel_timer (self->loop, self->timer);
        zx__loop_remove (self->loop, NULL, self->epoll_fd);
    }
    if (self->daemon)
        MHD_stop_daemon (self->daemon);
    free (self);
    *self_p = NULL;
}
