/*
 * native_proto.c -- the pieces of the native client protocol both ends
 * use (native_proto.h): credential ids and text, the prologue.
 */
#include "config.h"
#include "gateway/native_proto.h"
#include "mist.h"
#include "util/hex.h"

#include <string.h>

void
cred_id_put(uint8_t out[CRED_ID_LEN], uint64_t id)
{
	for (int i = 0; i < CRED_ID_LEN; i++)
		out[i] = (uint8_t)(id >> (56 - 8 * i));
}

uint64_t
cred_id_get(const uint8_t in[CRED_ID_LEN])
{
	uint64_t id = 0;
	for (int i = 0; i < CRED_ID_LEN; i++)
		id = id << 8 | in[i];
	return id;
}

void
gateway_prologue(uint8_t out[GATEWAY_PROLOGUE_LEN], uint64_t id)
{
	memcpy(out, GATEWAY_PROLOGUE, sizeof(GATEWAY_PROLOGUE) - 1);
	cred_id_put(out + sizeof(GATEWAY_PROLOGUE) - 1, id);
}

int
cred_parse(const char *text, uint64_t *id, uint8_t secret[32])
{
	uint8_t idb[CRED_ID_LEN];
	char idhex[2 * CRED_ID_LEN + 1];
	if (text == NULL || strlen(text) != CRED_TEXT_LEN ||
	    strncmp(text, "mist1:", 6) != 0 || text[22] != ':')
		return MIST_EINVAL;
	memcpy(idhex, text + 6, 2 * CRED_ID_LEN);
	idhex[2 * CRED_ID_LEN] = '\0';
	if (hex_decode(idb, CRED_ID_LEN, idhex) != 0 ||
	    hex_decode(secret, 32, text + 23) != 0)
		return MIST_EINVAL;
	*id = cred_id_get(idb);
	return 0;
}

void
cred_format(char *out, uint64_t id, const uint8_t secret[32])
{
	uint8_t idb[CRED_ID_LEN];
	cred_id_put(idb, id);
	memcpy(out, "mist1:", 6);
	hex_encode(out + 6, idb, CRED_ID_LEN);
	out[22] = ':';
	hex_encode(out + 23, secret, 32);
	out[CRED_TEXT_LEN] = '\0';
}
