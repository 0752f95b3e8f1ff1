/*
 * hello.c -- an add-on function for the mobile backend (paper 000's
 * case C), as an app developer writes one:
 *
 *   mist agent ... --plugin .libs/hello.so
 *   mist apps create myapp --functions hello ...
 *   curl -X POST http://HOST/parse/functions/hello \
 *        -H 'X-Parse-Application-Id: ...' -H 'X-Parse-REST-API-Key: ...' \
 *        -d '{"name": "fog"}'
 *   -> {"result":"Hello, fog!"}
 *
 * The gateway turns the request's JSON parameters into one msgpack object
 * (a map here), runs the function in an executor process under the
 * agent's CPU, wall-time and memory limits, and turns its one output back
 * into JSON.  mist_fail()'s message reaches the client as Parse's error
 * 141.  msgpack-c decodes the arguments: the gateway has already bounded
 * and checked them.
 */
#include "mist_plugin.h"

#include <msgpack.h>
#include <stdio.h>
#include <string.h>

/* Names longer than this are refused: a greeting, not a document. */
#define HELLO_NAME_MAX 128

static int
hello(struct mist_call *c)
{
	char name[HELLO_NAME_MAX + 1] = "world";
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, (const char *)c->args.data, c->args.len,
				NULL) != MSGPACK_UNPACK_SUCCESS ||
	    u.data.type != MSGPACK_OBJECT_MAP) {
		msgpack_unpacked_destroy(&u);
		mist_fail(c, "hello takes an object, like {\"name\": \"fog\"}");
		return -1;
	}
	const msgpack_object_map *m = &u.data.via.map;
	for (uint32_t i = 0; i < m->size; i++) {
		const msgpack_object *k = &m->ptr[i].key, *v = &m->ptr[i].val;
		if (k->type != MSGPACK_OBJECT_STR || k->via.str.size != 4 ||
		    memcmp(k->via.str.ptr, "name", 4) != 0)
			continue;
		if (v->type != MSGPACK_OBJECT_STR ||
		    v->via.str.size > HELLO_NAME_MAX) {
			msgpack_unpacked_destroy(&u);
			mist_fail(c, "name must be a string of at most 128 bytes");
			return -1;
		}
		memcpy(name, v->via.str.ptr, v->via.str.size);
		name[v->via.str.size] = '\0';
	}
	msgpack_unpacked_destroy(&u);

	char text[HELLO_NAME_MAX + 16];
	int n = snprintf(text, sizeof(text), "Hello, %s!", name);
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_str(&pk, (size_t)n);
	msgpack_pack_str_body(&pk, text, (size_t)n);
	int rc = mist_output(c, 0, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static const struct mist_function functions[] = {
	{"hello", hello},
};

static const struct mist_plugin plugin = {
	.abi = MIST_PLUGIN_ABI, .name = "hello", .functions = functions,
	.nfunctions = sizeof(functions) / sizeof(functions[0])};

MIST_PLUGIN_EXPORT const struct mist_plugin *mist_plugin_v1(void);

MIST_PLUGIN_EXPORT const struct mist_plugin *
mist_plugin_v1(void)
{
	return &plugin;
}
