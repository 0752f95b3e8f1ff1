/*
 * perr.h -- a Parse-style error: the HTTP status, Parse's numeric code and
 * a message, answered as {"code": N, "error": "..."}.
 *
 * Parse's codes are part of its API (the SDKs switch on them); the ones
 * mist answers are named below.  The gateway, the documents accessory and
 * the query compiler all fill the same struct, so an error raised anywhere
 * reaches the client unchanged.
 *
 * Ownership: caller storage; nothing allocated.
 */
#ifndef MIST_ACCESSORY_PERR_H_INCLUDED
#define MIST_ACCESSORY_PERR_H_INCLUDED

#include <stddef.h>

/* Parse's error codes (parse-server's Parse.Error). */
enum perr_code {
	PERR_OTHER_CAUSE = -1,
	PERR_INTERNAL_SERVER_ERROR = 1,
	PERR_CONNECTION_FAILED = 100,
	PERR_OBJECT_NOT_FOUND = 101,
	PERR_INVALID_QUERY = 102,
	PERR_INVALID_CLASS_NAME = 103,
	PERR_MISSING_OBJECT_ID = 104,
	PERR_INVALID_KEY_NAME = 105,
	PERR_INVALID_POINTER = 106,
	PERR_INVALID_JSON = 107,
	PERR_COMMAND_UNAVAILABLE = 108,
	PERR_INCORRECT_TYPE = 111,
	PERR_INVALID_CHANNEL_NAME = 112,
	PERR_OBJECT_TOO_LARGE = 116,
	PERR_OPERATION_FORBIDDEN = 119,
	PERR_INVALID_NESTED_KEY = 121,
	PERR_INVALID_FILE_NAME = 122,
	PERR_INVALID_ACL = 123,
	PERR_TIMEOUT = 124,
	PERR_INVALID_EMAIL_ADDRESS = 125,
	PERR_DUPLICATE_VALUE = 137,
	PERR_INVALID_ROLE_NAME = 139,
	PERR_EXCEEDED_QUOTA = 140,
	PERR_SCRIPT_FAILED = 141,
	PERR_VALIDATION_ERROR = 142,
	PERR_REQUEST_LIMIT_EXCEEDED = 155,
	PERR_INVALID_SESSION_TOKEN = 209,
	PERR_USERNAME_MISSING = 200,
	PERR_PASSWORD_MISSING = 201,
	PERR_USERNAME_TAKEN = 202,
	PERR_EMAIL_TAKEN = 203,
	PERR_EMAIL_MISSING = 204,
	PERR_SESSION_MISSING = 206,
	PERR_MUST_CREATE_USER_THROUGH_SIGNUP = 207,
};

/* Longest message, NUL included: a sentence naming a field or an index. */
#define PERR_MSG_MAX 160

struct perr {
	int http; /* HTTP status: 400, 401, 403, 404, 429, 503, 504, ... */
	int code; /* enum perr_code */
	char msg[PERR_MSG_MAX];
};

/** Fills @a e (if not NULL); the message is truncated to fit. */
void perr_set(struct perr *e, int http, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/**
 * Writes {"code":N,"error":"..."} (the message JSON-escaped) into @a out
 * and returns its length; it always fits in PERR_JSON_MAX bytes.
 */
#define PERR_JSON_MAX (2 * PERR_MSG_MAX * 3 + 48)
size_t perr_json(const struct perr *e, char *out, size_t len);

#endif
