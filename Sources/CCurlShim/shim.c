#include "CCurlShim.h"

CURLcode ek_curl_setopt_long(CURL *curl, CURLoption option, long value) {
    return curl_easy_setopt(curl, option, value);
}
CURLcode ek_curl_setopt_off(CURL *curl, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(curl, option, value);
}
CURLcode ek_curl_setopt_string(CURL *curl, CURLoption option, const char *value) {
    return curl_easy_setopt(curl, option, value);
}
CURLcode ek_curl_setopt_pointer(CURL *curl, CURLoption option, void *value) {
    return curl_easy_setopt(curl, option, value);
}
CURLcode ek_curl_setopt_slist(CURL *curl, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(curl, option, value);
}
CURLcode ek_curl_setopt_write_function(CURL *curl, CURLoption option, ek_curl_write_cb value) {
    return curl_easy_setopt(curl, option, value);
}
CURLcode ek_curl_setopt_xferinfo_function(CURL *curl, ek_curl_xferinfo_cb value) {
    return curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, value);
}
CURLcode ek_curl_setopt_seek_function(CURL *curl, ek_curl_seek_cb value) {
    return curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, value);
}
CURLcode ek_curl_getinfo_long(CURL *curl, CURLINFO info, long *value) {
    return curl_easy_getinfo(curl, info, value);
}
CURLcode ek_curl_getinfo_off(CURL *curl, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(curl, info, value);
}
CURLcode ek_curl_getinfo_string(CURL *curl, CURLINFO info, char **value) {
    return curl_easy_getinfo(curl, info, value);
}
