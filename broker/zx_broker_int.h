/*  zx_broker_int.h - internal: what the broker's three files share.

    zx_broker.c holds the object (options, the socket, the loop glue,
    services and the worker face, shutdown), zx_broker_client.c the
    coordinators and their tickets, zx_broker_curve.c CURVE enforcement.
    The option limits are here too, so that zexec-broker's option table
    shows and checks the same numbers the library does.                  */
#ifndef ZX_BROKER_INT_H_INCLUDED
#define ZX_BROKER_INT_H_INCLUDED
#include "zexec.h"
#include "zx_auth.h"
#include "zx_dispatch.h"
#include "zx_events.h"
#include "zx_idmap.h"
#include "zx_proto.h"
#include "zx_ratelog.h"

#include <czmq.h>

//  Each option's default and range (zx_broker_opts_t, zexec-broker's
//  options). Plain numbers: the program's help prints them as text.
#define ZX__BROKER_HEARTBEAT_MS         1000
#define ZX__BROKER_HEARTBEAT_MIN        10
#define ZX__BROKER_HEARTBEAT_MAX        600000
#define ZX__BROKER_LIVENESS             3
#define ZX__BROKER_LIVENESS_MIN         2
#define ZX__BROKER_LIVENESS_MAX         100
#define ZX__BROKER_NO_WORKER_WAIT_MS    5000
#define ZX__BROKER_NO_WORKER_WAIT_MAX   86400000
#define ZX__BROKER_MAX_QUEUE            1000000
#define ZX__BROKER_MAX_QUEUE_MAX        1000000000
#define ZX__BROKER_MAX_SERVICES         1000
#define ZX__BROKER_MAX_SERVICES_MAX     1000000
#define ZX__BROKER_MAX_WORKERS          10000
#define ZX__BROKER_MAX_WORKERS_MAX      1000000
#define ZX__BROKER_MAX_CLIENTS          10000
#define ZX__BROKER_MAX_CLIENTS_MAX      1000000
#define ZX__BROKER_MAX_PENDING          100000
#define ZX__BROKER_MAX_PENDING_MAX      1000000000
#define ZX__BROKER_MAX_FRAME            268435456
#define ZX__BROKER_MAX_FRAME_MIN        64
#define ZX__BROKER_HANDSHAKE_MS         5000
#define ZX__BROKER_HANDSHAKE_MIN        100
#define ZX__BROKER_HANDSHAKE_MAX        600000
#define ZX__BROKER_BACKLOG              16777216
#define ZX__BROKER_BACKLOG_MIN          4096
#define ZX__BROKER_BACKLOG_MAX          1099511627776
#define ZX__BROKER_CLIENT_BYTES         67108864
#define ZX__BROKER_QUEUE_BYTES          268435456
#define ZX__BROKER_BYTES_MIN            4096
#define ZX__BROKER_BYTES_MAX            1125899906842624

//  Messages libzmq holds for one peer of the broker's socket (its send
//  high-water mark, per connection) before a send to it fails with EAGAIN
//  (ROUTER_MANDATORY): what waits beyond is the broker's to count.
#define ZX__BROKER_PEER_HWM             100
//  How long a dropped coordinator is remembered, to be told it was dropped
//  when it is heard from again (10 minutes)
#define ZX__BROKER_DROPPED_KEEP_MS      600000
//  Messages libzmq reads ahead from one peer before it stops reading that
//  connection (tcp then pushes back on the peer).
#define ZX__BROKER_PEER_RCVHWM          1000
//  Longest a burst of socket reads runs before the loop gets its turn.
#define ZX__BROKER_BURST_US             20000
//  Reply batches to a coordinator go in messages of at most this many
//  bytes (a bigger record goes alone), so those 100 messages hold little.
#define ZX__BROKER_REPLY_CHUNK          65536
//  Actor names the broker holds, over all coordinators (zx_broker_names.c)
#define ZX__BROKER_MAX_NAMES            100000

typedef struct zx__bclient zx__bclient_t;
typedef struct zx__bticket zx__bticket_t;

//  A service: a named pool with its own dispatcher on the broker's socket.
typedef struct {
    char name [256];
    zx__dispatch_t *dispatch;
} zx__bservice_t;

//  A coordinator's request on its way through a dispatcher (the cookie).
struct zx__bticket {
    zx__bticket_t *next, *prev;     //  In the client's list
    zx__bclient_t *client;          //  NULL once the client is gone
    zx__request_t *request;
    uint64_t corr;                  //  The client's id
    uint32_t attempt;
    size_t bytes;                   //  Its arguments' size, in client->arg_bytes
    zx_broker_t *broker;            //  Set for one sent to a target
    //  A parked watch (zx_broker_watch.c): the worker watched, and its
    //  place in the broker's list; NULL for any other request
    char *watched;
    zx__bticket_t *watch_next, *watch_prev;
    bool framed_reply;              //  The client takes its reply framed
};

//  A coordinator (a client of the broker).
struct zx__bclient {
    char key [ZX_CURVE_KEY_LEN + 1];    //  With CURVE: the key it came with
    uint8_t identity [256];
    size_t identity_size;
    zx__route_t route;              //  To it: its identity, the client face
    char label [ZX_LABEL_SIZE];     //  Printable identity, its key in clients
    int64_t last_seen_us;
    int64_t sent_us;                //  When we last sent it anything
    uint32_t heartbeat_ms;          //  Its interval, as it announced it (0: unknown)
    zx__bticket_t *tickets;
    size_t outstanding;
    zx__idmap_t by_corr;            //  client corr -> ticket
    zx__batch_t replies;
    bool dirty;                     //  Replies wait in the batch: on the dirty list
    bool blocked;                   //  Its connection was full at the last flush
    int64_t arg_bytes;              //  Argument bytes of its queued or running tasks
    zx__bclient_t *dirty_prev, *dirty_next;
};

//  With CURVE: the key a worker's routing id belongs to.
typedef struct {
    char key [ZX_CURVE_KEY_LEN + 1];
    uint8_t identity [256];
    size_t identity_size;
} zx__bworker_key_t;

struct zx_broker {
    zx_broker_opts_t opts;          //  Defaults filled in; no CURVE paths
    zx_logger_t *log;
    zx__ratelog_t *ratelog;         //  Warnings about what peers send
    zsock_t *router;
    void *socket;                   //  The router's libzmq socket
    zsock_t *monitor;               //  The router's accept failures (EMFILE)
    char **endpoints;               //  Bound, as resolved
    size_t endpoint_count;
    zx_loop_t *loop;                //  NULL until attached
    uint64_t tick_timer, auth_timer;
    zx__auth_t *auth;               //  NULL without CURVE
    zcert_t *cert;                  //  The broker's own, with CURVE
    zhashx_t *worker_keys;          //  worker label -> zx__bworker_key_t * (CURVE)
    zx__bservice_t **services;
    size_t service_count;
    zhashx_t *worker_service;       //  worker label -> zx__bservice_t *
    zhashx_t *clients;              //  client label -> zx__bclient_t *
    //  Clients dropped that could not be told so (their connection full):
    //  label -> zx__bdropped_t *, until a DISCONNECT to them goes out (at
    //  their next message) or for ZX__BROKER_DROPPED_KEEP_MS
    zhashx_t *dropped;
    zx__bclient_t *dirty;           //  Clients with replies to flush
    int64_t last_tick_us;
    int behind_ticks;               //  Ticks in a row that found messages unread
    bool closed;                    //  zx_broker_close: new work is refused
    zx__tel_t *tel;                 //  Events and counts, NULL when off
    zhashx_t *names;                //  Actor name -> where it lives (zx_broker_names.c)
    zx__bticket_t *watches;         //  Parked watches of workers (zx_broker_watch.c)
};

//  Per-message warnings about peers: at most ZX__BROKER_WARN_BURST lines
//  per peer and kind each ZX__BROKER_WARN_PERIOD_MS, then one line with
//  how many were held back (zx_ratelog.h).
#define ZX__BROKER_WARN_BURST           20
#define ZX__BROKER_WARN_PERIOD_MS       10000
#define ZX__BROKER_WARN_TOTAL           1000
#define ZX__BROKER_WARN_PEERS           4096
#define ZX__BROKER_WARN(self, peer, kind, ...) \
    zx__ratelog ((self)->ratelog, ZX_LOG_WARNING, (peer), (kind), __VA_ARGS__)

//  Where a message to a peer goes: over the broker's socket, without
//  blocking, on face, to the routing id given (which must stay put until
//  the message is sent).
static inline zx__route_t
zx__broker_route (const zx_broker_t *self, zx__face_t face, const void *identity,
                  size_t identity_size)
{
    return (zx__route_t) { self->socket, face, ZMQ_DONTWAIT, identity, identity_size,
                           NULL, NULL };
}

//  Every peer is named in logs and keyed in the tables by zx__label of its
//  routing id (ZX_LABEL_SIZE octets with the NUL), which a message's
//  handlers get as label.

//  ---- zx_broker.c

//  Returns the service called name, opening it when create is true (and
//  max_services allows). NULL when there is none or it cannot be opened.
zx__bservice_t *zx__broker_service (zx_broker_t *self, const char *name, bool create);

//  The broker's telemetry, made counting only (no events) when there was
//  none, for the metrics endpoint: call it before attach. NULL when out
//  of memory.
zx__tel_t *zx__broker_tel (zx_broker_t *self);

//  ---- zx_broker_metrics.c

//  The broker's counts in the Prometheus text format, *size octets (not
//  terminated). Caller frees it. NULL when out of memory.
char *zx__broker_metrics (zx_broker_t *self, size_t *size);

//  ---- zx_broker_stats.c

//  Answers a STATS question (msg, on the client face) with the broker's
//  services, workers and coordinators as they stand (docs/PROTOCOL.md
//  13.6); counting starts at the first question when nothing counted.
void zx__broker_stats (zx_broker_t *self, const zx__msg_t *msg);

//  Flushes every dispatcher and every client's waiting replies.
void zx__broker_flush_all (zx_broker_t *self);

//  ---- zx_broker_client.c

//  Handles a message on the client face (received with ZX_RECV_OK) from
//  the peer called label.
void zx__broker_on_client (zx_broker_t *self, const zx__msg_t *msg, const char *label);

//  The dispatchers' complete event: a ticket finished.
void zx__broker_complete (void *owner, void *cookie, zx_err_t code,
                          const void *payload, size_t size);

//  Telemetry's describe function: a ticket's coordinator and its id.
bool zx__broker_describe (void *cookie, const char **coordinator, uint64_t *id);

//  Sends what waits in a client's reply batch, if anything, in messages
//  of ZX__BROKER_REPLY_CHUNK bytes; what its connection will not take
//  (its high-water mark is reached) stays in the batch. Returns false when
//  what stays is past max_client_backlog (bytes) or max_client_pending
//  (replies): the caller drops the client.
bool zx__broker_client_flush (zx_broker_t *self, zx__bclient_t *client);

//  The dispatcher's started event: a STARTED record goes to the ticket's
//  client.
void zx__broker_started (void *owner, void *cookie, zx__complete_fn *complete);

//  A coordinator the broker dropped, remembered: when and why.
typedef struct {
    int64_t at_us;
    char why [160];
} zx__bdropped_t;

//  Forgets a client: what it still has queued or running is cancelled
//  and answered as lost, with why in the text. When those answers cannot
//  all go out (its connection full), it is sent DISCONNECT NORMAL
//  "dropped: WHY", or, when that cannot go either, remembered in
//  self->dropped and told when it next speaks.
void zx__broker_client_drop (zx_broker_t *self, zx__bclient_t *client, const char *why);

//  The same; with tell false, no DISCONNECT and nothing remembered (the
//  caller tells the client itself, or the client may not speak again).
void zx__broker_client_drop_told (zx_broker_t *self, zx__bclient_t *client, const char *why,
                                  bool tell);

//  Adds a reply record for the client's request corr (attempt echoed):
//  code ZX_OK with the encoded result, else the error text.
void zx__broker_client_reply (zx_broker_t *self, zx__bclient_t *client, uint64_t corr,
                              uint32_t attempt, zx_err_t code, const void *payload,
                              size_t size);

//  Answers a request record of a reserved "zx.name.*" task (register,
//  look up, unregister an actor's name; PROTOCOL.md 13.8) and returns
//  true; returns false for any other task.
bool zx__broker_names_handle (zx_broker_t *self, zx__bclient_t *client, const char *task,
                              const zx__request_rec_t *rec);

//  Drops the names of actors on the worker labelled identity (it left).
void zx__broker_names_worker_gone (zx_broker_t *self, const char *identity);

//  Parks ticket, a request record of the reserved task "zx.actor.watch"
//  ([worker id]; PROTOCOL.md 13.8), until that worker leaves, or answers
//  it at once (no such worker, malformed), and returns true; returns
//  false, and does nothing, for any other task.
bool zx__broker_watch_handle (zx_broker_t *self, const char *task,
                              const zx__request_rec_t *rec, zx__bticket_t *ticket);

//  Forgets a parked watch whose coordinator withdrew it or is gone
//  (ticket already unlinked from it), and frees the ticket.
void zx__broker_watch_drop (zx_broker_t *self, zx__bticket_t *ticket);

//  Answers the watches of the worker labelled identity, which left for
//  cause: OK with ["lost", cause].
void zx__broker_watch_worker_gone (zx_broker_t *self, const char *identity,
                                   const char *cause);

//  Ends the watches still parked (the broker is being destroyed).
void zx__broker_watches_free (zx_broker_t *self);

//  Heartbeats every client, and drops those silent for longer than
//  silence_us and their own announced interval allows.
void zx__broker_clients_tick (zx_broker_t *self, int64_t now, int64_t silence_us);

//  Answers every client's tickets with ZX_ESHUTDOWN, says DISCONNECT to
//  each and frees them all; the tickets are left to their dispatchers.
void zx__broker_clients_shutdown (zx_broker_t *self);

//  Answers every record of a client's REQUEST with status and text,
//  queuing and remembering nothing; a REQUEST without its batch frame, or
//  with frames after it, gets no answer. Returns false when the batch was
//  malformed (the records before the bad one are answered).
bool zx__broker_refuse_records (zx_broker_t *self, const zx__msg_t *msg, uint8_t status,
                                const char *text);

//  ---- zx_broker_curve.c

//  Loads what CURVE needs from the options (certificate, allow-lists, the
//  ZAP handler) and makes the socket a CURVE server. Returns false with
//  the reason in why (size octets): the broker must not start.
bool zx__broker_curve_start (zx_broker_t *self, const zx_broker_opts_t *opts,
                             char *why, size_t size);

//  Frees what zx__broker_curve_start made (safe when it made nothing).
void zx__broker_curve_stop (zx_broker_t *self);

//  Starts and stops watching the ZAP handler and the allow-lists on loop.
zx_err_t zx__broker_curve_attach (zx_broker_t *self, zx_loop_t *loop);
void zx__broker_curve_detach (zx_broker_t *self);

//  With CURVE, whether this message's key may speak on its face now, and
//  under this routing id (label); true without CURVE. What may not is
//  answered or dropped, and logged.
bool zx__broker_allowed (zx_broker_t *self, const zx__msg_t *msg, const char *label);

//  With CURVE, remembers the key a worker (the sender of msg, its READY,
//  called label) joined with; forgets it again.
void zx__broker_worker_key_add (zx_broker_t *self, const char *label, const zx__msg_t *msg);
void zx__broker_worker_key_forget (zx_broker_t *self, const char *label);

//  With CURVE: how many keys the allow-list of role (ZX_ROLE_CLIENT or
//  ZX_ROLE_WORKER) holds now; 0 without.
size_t zx__broker_allowed_keys (const zx_broker_t *self, int role);

#endif
