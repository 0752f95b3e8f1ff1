/*
 * accmsg.h -- the codec of MSG_ACC_REQUEST (accessory/accessory.h draws
 * it), for those who send it: the gateway's REST layer, `mist apps index`
 * through the gateway, and the command that reads the answer.
 *
 *   request  [app: str, op: u8, deadline_ms: u32, caller: map, body: bin]
 *   reply    [status: u16, body: bin, user: str]
 *
 * Ownership: the packer appends to the caller's buffer; the unpacker
 * returns pointers into the caller's bytes, valid as long as they are.
 */
#ifndef MIST_ACCESSORY_ACCMSG_H_INCLUDED
#define MIST_ACCESSORY_ACCMSG_H_INCLUDED

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/**
 * Appends a request to @a b: @a caller is a msgpack map's bytes (the
 * sender builds it), @a body the operation's JSON object (dumped here).
 */
void acc_request_pack(struct buf *b, const char *app, uint8_t op,
		      uint32_t deadline_ms, const uint8_t *caller,
		      size_t caller_len, const json_t *body);

/** The same with the body already JSON text (@a len bytes). */
void acc_request_pack_text(struct buf *b, const char *app, uint8_t op,
			   uint32_t deadline_ms, const uint8_t *caller,
			   size_t caller_len, const char *text, size_t len);

/**
 * Decodes a reply: the HTTP status (200..599: a final answer), the JSON body and the user
 * id (@a user NULL, @a ulen 0 when absent).  0 or MIST_EPROTO.
 */
int acc_reply_unpack(const uint8_t *p, size_t len, int *status,
		     const uint8_t **body, uint32_t *blen, const char **user,
		     uint32_t *ulen);

#endif
