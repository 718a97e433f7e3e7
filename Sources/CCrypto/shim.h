// OpenSSL's libcrypto, for SHA-256 (its assembly uses the CPU's SHA instructions). The one-shot
// SHA256_CTX API is deprecated in OpenSSL 3 but kept: its context is a plain struct, so a hasher
// stays a value that can be copied mid-stream.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>
