#include "config.h"
#include "net/addr.h"
#include "mist.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

int
addr_parse(const char *text, struct sockaddr_storage *out)
{
	char host[64];
	const char *colon;
	memset(out, 0, sizeof(*out));
	if (text[0] == '[') {
		const char *end = strchr(text, ']');
		if (end == NULL || end[1] != ':' || (size_t)(end - text - 1) >= sizeof(host))
			return MIST_EINVAL;
		memcpy(host, text + 1, (size_t)(end - text - 1));
		host[end - text - 1] = '\0';
		colon = end + 1;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL || (size_t)(colon - text) >= sizeof(host))
			return MIST_EINVAL;
		memcpy(host, text, (size_t)(colon - text));
		host[colon - text] = '\0';
	}
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535)
		return MIST_EINVAL;
	struct sockaddr_in *v4 = (struct sockaddr_in *)out;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		return 0;
	}
	return MIST_EINVAL;
}

int
addr_split_name(const char *text, char host[ADDR_HOST_MAX], unsigned *port)
{
	const char *colon = strrchr(text, ':');
	if (colon == NULL || colon == text ||
	    (size_t)(colon - text) >= ADDR_HOST_MAX)
		return MIST_EINVAL;
	size_t n = (size_t)(colon - text), label = 0;
	bool alpha = false;
	for (size_t i = 0; i < n; i++) {
		char c = text[i];
		if (c == '.') {
			if (label == 0)
				return MIST_EINVAL; /* empty label */
			label = 0;
			continue;
		}
		bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		bool digit = c >= '0' && c <= '9';
		if (!letter && !digit && c != '-')
			return MIST_EINVAL;
		if ((c == '-' && label == 0) || ++label > 63)
			return MIST_EINVAL;
		alpha |= letter || c == '-';
	}
	/* all digits and dots is an IP address, or a typo of one */
	if (!alpha || label == 0)
		return MIST_EINVAL;
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || p <= 0 || p > 65535)
		return MIST_EINVAL;
	memcpy(host, text, n);
	host[n] = '\0';
	*port = (unsigned)p;
	return 0;
}

void
addr_format(const struct sockaddr *sa, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
		snprintf(out, len, "%s:%u", host, ntohs(v4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
		snprintf(out, len, "[%s]:%u", host, ntohs(v6->sin6_port));
	} else {
		snprintf(out, len, "?");
	}
}

int
addr_is_any(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)sa)->sin_addr.s_addr ==
		       htonl(INADDR_ANY);
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(
			&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return 0;
}

int
addr_list_parse(const char *list, char out[][ADDR_TEXT_MAX], uint32_t *n)
{
	*n = 0;
	for (const char *p = list; *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == 0 || len >= ADDR_TEXT_MAX || *n == ADDR_LIST_MAX)
			return MIST_EINVAL;
		memcpy(out[*n], p, len);
		out[(*n)++][len] = '\0';
		p += len + (e != NULL);
		if (e && *p == '\0')
			return MIST_EINVAL; /* a trailing comma */
	}
	return *n ? 0 : MIST_EINVAL;
}
