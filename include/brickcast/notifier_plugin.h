/* brickcast notifier plugins: a small, versioned C ABI.
 *
 * A plugin is a shared library in notify.plugin_dir that exports
 *
 *     const struct brickcast_notifier_plugin* brickcast_notifier_plugin_entry(void);
 *
 * returning a static table whose abi_version is BRICKCAST_NOTIFIER_ABI_VERSION. brickcast calls
 * init once per receiver that names the plugin (with the receiver's plugin_config JSON), deliver
 * for each notification (from one thread per receiver; never concurrently for one instance), and
 * shutdown when the receiver goes away. deliver must not retry: it answers and brickcast retries
 * retryable outcomes with backoff. Strings passed in are valid only during the call; messages
 * written to `error`/`reason` are NUL-terminated and at most `len` bytes. A plugin must not print
 * the secrets it is given. See plugins/sample_notifier.c.
 */
#ifndef BRICKCAST_NOTIFIER_PLUGIN_H_
#define BRICKCAST_NOTIFIER_PLUGIN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BRICKCAST_NOTIFIER_ABI_VERSION 1u
#define BRICKCAST_NOTIFIER_ENTRY "brickcast_notifier_plugin_entry"

enum brickcast_delivery {
  BRICKCAST_DELIVERED = 0,
  BRICKCAST_RETRYABLE = 1, /* try again later (the receiver is down, busy, rate limiting) */
  BRICKCAST_PERMANENT = 2  /* will never work (refused, malformed, unauthorised) */
};

struct brickcast_notification {
  const char* key;          /* idempotency key: the same across retries and restarts */
  const char* receiver;     /* receiver name */
  const char* status;       /* "firing" or "resolved" */
  const char* title;        /* one line, e.g. "[FIRING:1] fc5_sat_too_low on AHU-1" */
  const char* text;         /* plain-text body with evidence, action and links */
  const char* webhook_json; /* the Alertmanager webhook v4 JSON of the notification */
};

struct brickcast_notifier_plugin {
  uint32_t abi_version; /* BRICKCAST_NOTIFIER_ABI_VERSION */
  const char* name;
  /* Returns 0 and sets *state on success; non-zero with a message in `error` otherwise. */
  int (*init)(const char* config_json, void** state, char* error, size_t error_len);
  /* Returns an enum brickcast_delivery; a reason in `reason` when not delivered. */
  int (*deliver)(void* state, const struct brickcast_notification* notification, char* reason, size_t reason_len);
  void (*shutdown)(void* state);
};

typedef const struct brickcast_notifier_plugin* (*brickcast_notifier_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* BRICKCAST_NOTIFIER_PLUGIN_H_ */
