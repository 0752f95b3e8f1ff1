/*
 * native_proto.c -- the credential text (see native_proto.h), apart from
 * gateway.c so that libmist links it without libuv.
 */
#include "config.h"
#include "gateway/native_proto.h"
#include "mist.h"
#include "util/hex.h"

#include <string.h>

int
cred_parse(const char *text, uint64_t *id, uint8_t secret[32])
{
	uint8_t idb[8];
	char idhex[17];
	if (text == NULL || strlen(text) != CRED_TEXT_LEN ||
	    strncmp(text, "mist1:", 6) != 0 || text[22] != ':')
		return MIST_EINVAL;
	memcpy(idhex, text + 6, 16);
	idhex[16] = '\0';
	if (hex_decode(idb, 8, idhex) != 0 ||
	    hex_decode(secret, 32, text + 23) != 0)
		return MIST_EINVAL;
	*id = 0;
	for (int i = 0; i < 8; i++)
		*id = *id << 8 | idb[i];
	return 0;
}

void
cred_format(char *out, uint64_t id, const uint8_t secret[32])
{
	uint8_t idb[8];
	for (int i = 0; i < 8; i++)
		idb[i] = (uint8_t)(id >> (56 - 8 * i));
	memcpy(out, "mist1:", 6);
	hex_encode(out + 6, idb, 8);
	out[22] = ':';
	hex_encode(out + 23, secret, 32);
	out[CRED_TEXT_LEN] = '\0';
}
