#ifndef CCURLSHIM_H
#define CCURLSHIM_H
// Typed wrappers around curl_easy_setopt / curl_easy_getinfo, which are variadic and so cannot be
// called from Swift directly.
#include <curl/curl.h>

typedef size_t (*ek_curl_write_cb)(char *ptr, size_t size, size_t nmemb, void *userdata);
typedef int (*ek_curl_xferinfo_cb)(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
                                   curl_off_t ultotal, curl_off_t ulnow);
typedef int (*ek_curl_seek_cb)(void *userp, curl_off_t offset, int origin);

CURLcode ek_curl_setopt_long(CURL *curl, CURLoption option, long value);
CURLcode ek_curl_setopt_off(CURL *curl, CURLoption option, curl_off_t value);
CURLcode ek_curl_setopt_string(CURL *curl, CURLoption option, const char *value);
CURLcode ek_curl_setopt_pointer(CURL *curl, CURLoption option, void *value);
CURLcode ek_curl_setopt_slist(CURL *curl, CURLoption option, struct curl_slist *value);
CURLcode ek_curl_setopt_write_function(CURL *curl, CURLoption option, ek_curl_write_cb value);
CURLcode ek_curl_setopt_xferinfo_function(CURL *curl, ek_curl_xferinfo_cb value);
CURLcode ek_curl_setopt_seek_function(CURL *curl, ek_curl_seek_cb value);
CURLcode ek_curl_getinfo_long(CURL *curl, CURLINFO info, long *value);
CURLcode ek_curl_getinfo_off(CURL *curl, CURLINFO info, curl_off_t *value);
CURLcode ek_curl_getinfo_string(CURL *curl, CURLINFO info, char **value);

#endif
