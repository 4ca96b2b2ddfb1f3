/* A sample brickcast notifier plugin: appends each notification as one JSON line to a file.
 * Its receiver's plugin_config is {"path": "/var/lib/brickcast/notifications.jsonl"}; with
 * {"fail": "retryable"} or {"fail": "permanent"} it refuses every delivery (for tests).
 * Build: cc -shared -fPIC -I include -o libbrickcast_sample_notifier.so plugins/sample_notifier.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brickcast/notifier_plugin.h"

struct sample_state {
  char path[4096];
  int fail; /* 0, BRICKCAST_RETRYABLE or BRICKCAST_PERMANENT */
};

/* The string value of "key" in a flat JSON object (no escapes in the value); 0 when absent. */
static int json_string(const char* json, const char* key, char* out, size_t out_len) {
  char pattern[128];
  snprintf(pattern, sizeof pattern, "\"%s\"", key);
  const char* p = strstr(json, pattern);
  if (p == NULL) return 0;
  p = strchr(p + strlen(pattern), '"');
  if (p == NULL) return 0;
  const char* end = strchr(p + 1, '"');
  if (end == NULL || (size_t)(end - p - 1) >= out_len) return 0;
  memcpy(out, p + 1, (size_t)(end - p - 1));
  out[end - p - 1] = '\0';
  return 1;
}

static int sample_init(const char* config_json, void** state, char* error, size_t error_len) {
  struct sample_state* s = calloc(1, sizeof *s);
  if (s == NULL) {
    snprintf(error, error_len, "out of memory");
    return 1;
  }
  if (!json_string(config_json, "path", s->path, sizeof s->path)) {
    snprintf(error, error_len, "plugin_config needs a \"path\" to write notifications to");
    free(s);
    return 1;
  }
  char fail[32];
  if (json_string(config_json, "fail", fail, sizeof fail))
    s->fail = strcmp(fail, "permanent") == 0 ? BRICKCAST_PERMANENT : BRICKCAST_RETRYABLE;
  *state = s;
  return 0;
}

static void write_escaped(FILE* f, const char* s) {
  fputc('"', f);
  for (; *s; ++s) {
    if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
    else if (*s == '\n') fputs("\\n", f);
    else if ((unsigned char)*s < 0x20) fprintf(f, "\\u%04x", *s);
    else fputc(*s, f);
  }
  fputc('"', f);
}

static int sample_deliver(void* state, const struct brickcast_notification* n, char* reason, size_t reason_len) {
  struct sample_state* s = state;
  if (s->fail) {
    snprintf(reason, reason_len, "configured to fail");
    return s->fail;
  }
  FILE* f = fopen(s->path, "a");
  if (f == NULL) {
    snprintf(reason, reason_len, "cannot open %s", s->path);
    return BRICKCAST_RETRYABLE;
  }
  fputs("{\"key\":", f);
  write_escaped(f, n->key);
  fputs(",\"receiver\":", f);
  write_escaped(f, n->receiver);
  fputs(",\"status\":", f);
  write_escaped(f, n->status);
  fputs(",\"title\":", f);
  write_escaped(f, n->title);
  fputs(",\"webhook\":", f);
  fputs(n->webhook_json, f);
  fputs("}\n", f);
  const int failed = fclose(f) != 0;
  if (failed) snprintf(reason, reason_len, "cannot write %s", s->path);
  return failed ? BRICKCAST_RETRYABLE : BRICKCAST_DELIVERED;
}

static void sample_shutdown(void* state) { free(state); }

static const struct brickcast_notifier_plugin kSample = {
    BRICKCAST_NOTIFIER_ABI_VERSION, "sample-jsonl", sample_init, sample_deliver, sample_shutdown};

#ifdef SAMPLE_WRONG_ABI /* built a second time for the ABI mismatch test */
static const struct brickcast_notifier_plugin kWrong = {
    BRICKCAST_NOTIFIER_ABI_VERSION + 1, "sample-wrong-abi", sample_init, sample_deliver, sample_shutdown};
const struct brickcast_notifier_plugin* brickcast_notifier_plugin_entry(void) { return &kWrong; }
#else
const struct brickcast_notifier_plugin* brickcast_notifier_plugin_entry(void) { return &kSample; }
#endif
