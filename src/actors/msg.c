#include "config.h"
#include "actors/msg.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

struct msg *
msg_new(uint32_t type, const void *body, uint32_t len)
{
	struct msg *m = xmalloc(sizeof(*m) + len);
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->len = len;
	if (body != NULL && len)
		memcpy(m->body, body, len);
	return m;
}

void
msg_delete(struct msg *m)
{
	if (m->ptr != NULL && m->ptr_free != NULL)
		m->ptr_free(m->ptr);
	free(m);
}
