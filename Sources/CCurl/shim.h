#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

/* curl_easy_setopt is variadic, which Swift cannot call: one typed wrapper per argument kind. */
static inline CURLcode dmstack_curl_set_long(CURL *c, CURLoption o, long v) { return curl_easy_setopt(c, o, v); }
static inline CURLcode dmstack_curl_set_pointer(CURL *c, CURLoption o, const void *v) { return curl_easy_setopt(c, o, v); }
static inline CURLcode dmstack_curl_set_string(CURL *c, CURLoption o, const char *v) { return curl_easy_setopt(c, o, v); }
static inline long dmstack_curl_response_code(CURL *c) { long code = 0; curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code); return code; }

/* The response body is not needed, only its first bytes for an error message. */
struct dmstack_curl_sink { char text[512]; size_t used; };
static size_t dmstack_curl_write(char *data, size_t size, size_t n, void *userdata) {
    struct dmstack_curl_sink *s = userdata;
    size_t len = size * n, room = sizeof s->text - 1 - s->used;
    if (len < room) room = len;
    memcpy(s->text + s->used, data, room);
    s->used += room;
    s->text[s->used] = 0;
    return len;
}
static inline CURLcode dmstack_curl_collect(CURL *c, struct dmstack_curl_sink *s) {
    s->used = 0; s->text[0] = 0;
    CURLcode rc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, dmstack_curl_write);
    if (rc != CURLE_OK) return rc;
    return curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
}
