/*
 * json.h -- a small JSON reader for test fixtures (published test vectors).
 * Not used on untrusted input in the product; bounded anyway (depth 64).
 * The tree owns its strings; json_free releases everything.
 */
#ifndef MIST_TESTS_JSON_H_INCLUDED
#define MIST_TESTS_JSON_H_INCLUDED

#include <stddef.h>

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUM, JSON_STR, JSON_ARR, JSON_OBJ };

struct json {
	enum json_type type;
	char *str;	    /* JSON_STR; key for object members */
	double num;	    /* JSON_NUM, JSON_BOOL */
	struct json **kids; /* JSON_ARR, JSON_OBJ members */
	char **keys;	    /* JSON_OBJ */
	size_t n;
};

struct json *json_parse(const char *text);
struct json *json_load_file(const char *path);
void json_free(struct json *j);
/** Member @a key of an object, or NULL. */
const struct json *json_get(const struct json *obj, const char *key);

#endif
