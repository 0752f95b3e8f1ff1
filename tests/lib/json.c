#include "json.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jp {
	const char *p;
	int depth;
};

static void
jp_ws(struct jp *jp)
{
	while (isspace((unsigned char)*jp->p))
		jp->p++;
}

static struct json *jp_value(struct jp *jp);

static char *
jp_string(struct jp *jp)
{
	if (*jp->p != '"')
		return NULL;
	jp->p++;
	size_t cap = 64, n = 0;
	char *s = malloc(cap);
	while (*jp->p && *jp->p != '"') {
		char c = *jp->p++;
		if (c == '\\') {
			c = *jp->p++;
			switch (c) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case '\0': free(s); return NULL;
			default: break; /* \" \\ \/ ; \u is not needed here */
			}
		}
		if (n + 2 > cap)
			s = realloc(s, cap *= 2);
		s[n++] = c;
	}
	if (*jp->p != '"') {
		free(s);
		return NULL;
	}
	jp->p++;
	s[n] = '\0';
	return s;
}

static struct json *
jp_container(struct jp *jp, int obj)
{
	struct json *j = calloc(1, sizeof(*j));
	j->type = obj ? JSON_OBJ : JSON_ARR;
	jp->p++;
	jp_ws(jp);
	if (*jp->p == (obj ? '}' : ']')) {
		jp->p++;
		return j;
	}
	for (;;) {
		char *key = NULL;
		jp_ws(jp);
		if (obj) {
			if ((key = jp_string(jp)) == NULL)
				goto bad;
			jp_ws(jp);
			if (*jp->p++ != ':') {
				free(key);
				goto bad;
			}
		}
		struct json *v = jp_value(jp);
		if (v == NULL) {
			free(key);
			goto bad;
		}
		j->kids = realloc(j->kids, (j->n + 1) * sizeof(*j->kids));
		j->keys = realloc(j->keys, (j->n + 1) * sizeof(*j->keys));
		j->kids[j->n] = v;
		j->keys[j->n] = key;
		j->n++;
		jp_ws(jp);
		if (*jp->p == ',') {
			jp->p++;
			continue;
		}
		if (*jp->p == (obj ? '}' : ']')) {
			jp->p++;
			return j;
		}
		goto bad;
	}
bad:
	json_free(j);
	return NULL;
}

static struct json *
jp_value(struct jp *jp)
{
	jp_ws(jp);
	if (++jp->depth > 64)
		return NULL;
	struct json *j = NULL;
	char c = *jp->p;
	if (c == '{' || c == '[') {
		j = jp_container(jp, c == '{');
	} else if (c == '"') {
		char *s = jp_string(jp);
		if (s != NULL) {
			j = calloc(1, sizeof(*j));
			j->type = JSON_STR;
			j->str = s;
		}
	} else if (strncmp(jp->p, "true", 4) == 0 ||
		   strncmp(jp->p, "false", 5) == 0) {
		j = calloc(1, sizeof(*j));
		j->type = JSON_BOOL;
		j->num = c == 't';
		jp->p += c == 't' ? 4 : 5;
	} else if (strncmp(jp->p, "null", 4) == 0) {
		j = calloc(1, sizeof(*j));
		jp->p += 4;
	} else if (c == '-' || isdigit((unsigned char)c)) {
		char *end;
		double d = strtod(jp->p, &end);
		j = calloc(1, sizeof(*j));
		j->type = JSON_NUM;
		j->num = d;
		jp->p = end;
	}
	jp->depth--;
	return j;
}

struct json *
json_parse(const char *text)
{
	struct jp jp = {text, 0};
	struct json *j = jp_value(&jp);
	jp_ws(&jp);
	if (j != NULL && *jp.p != '\0') {
		json_free(j);
		return NULL;
	}
	return j;
}

struct json *
json_load_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *text = malloc((size_t)n + 1);
	size_t got = fread(text, 1, (size_t)n, f);
	fclose(f);
	text[got] = '\0';
	struct json *j = json_parse(text);
	free(text);
	return j;
}

void
json_free(struct json *j)
{
	if (j == NULL)
		return;
	for (size_t i = 0; i < j->n; i++) {
		json_free(j->kids[i]);
		if (j->keys)
			free(j->keys[i]);
	}
	free(j->kids);
	free(j->keys);
	free(j->str);
	free(j);
}

const struct json *
json_get(const struct json *obj, const char *key)
{
	if (obj == NULL || obj->type != JSON_OBJ)
		return NULL;
	for (size_t i = 0; i < obj->n; i++)
		if (strcmp(obj->keys[i], key) == 0)
			return obj->kids[i];
	return NULL;
}
