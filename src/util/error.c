/*
 * error.c -- the MIST_E* table: names and messages.
 */
#include "config.h"
#include "mist.h"

const char *
mist_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
#define MIST_XX(name, num, msg)                                                \
	case MIST_##name:                                                      \
		return msg;
		MIST_ERRNO_MAP(MIST_XX)
#undef MIST_XX
	}
	return "unknown error";
}

const char *
mist_err_name(int err)
{
	switch (err) {
	case 0:
		return "OK";
#define MIST_XX(name, num, msg)                                                \
	case MIST_##name:                                                      \
		return #name;
		MIST_ERRNO_MAP(MIST_XX)
#undef MIST_XX
	}
	return "EUNKNOWN_CODE";
}

const char *
mist_version(void)
{
	return PACKAGE_VERSION;
}
