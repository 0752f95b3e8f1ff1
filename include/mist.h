/*
 * mist.h -- the public API of libmist.
 *
 * Conventions (as in libuv): functions return 0 or a negative MIST_E* code;
 * constructors return NULL on failure.  Every code has a name and a message
 * (mist_err_name, mist_strerror).  Strings returned by this header are static
 * and never freed by the caller.
 *
 * This header grows with the client library (jobs, tasks, values); the
 * foundation exposes the error table and the version.
 */
#ifndef MIST_H_INCLUDED
#define MIST_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MIST_EXTERN __attribute__((visibility("default")))
#else
#define MIST_EXTERN
#endif

/*
 * The error table.  Codes are negative and stable: never renumber one, add
 * new ones at the end.
 */
#define MIST_ERRNO_MAP(XX)                                                     \
	XX(EINVAL, 1, "invalid argument")                                      \
	XX(ENOMEM, 2, "out of memory")                                         \
	XX(EPROTO, 3, "protocol error: malformed input")                       \
	XX(E2BIG, 4, "input larger than the configured limit")                 \
	XX(EAUTH, 5, "authentication failed")                                  \
	XX(ETIMEDOUT, 6, "timed out")                                          \
	XX(EUNREACHABLE, 7, "no link to that node")                            \
	XX(ENOACTOR, 8, "no such actor")                                       \
	XX(EOVERLOAD, 9, "mailbox overloaded")                                 \
	XX(ECLOSED, 10, "closed or shutting down")                             \
	XX(EIO, 11, "input/output error")                                      \
	XX(ESTORE, 12, "store error")                                          \
	XX(EVERSION, 13, "unsupported protocol version")                       \
	XX(ENOTFOUND, 14, "not found")                                         \
	XX(EEXIST, 15, "already exists")                                       \
	XX(EUNKNOWN, 16, "unknown message type")                               \
	XX(ENOFUNC, 17, "unknown function: no member has ever offered it")     \
	XX(ENONODE, 18, "no live node allowed by the job offers the function") \
	XX(ETASK, 19, "task failed after its attempts")                        \
	XX(ECANCELED, 20, "job cancelled")                                     \
	XX(EPERM, 21, "not allowed for this credential")

enum mist_errno {
#define MIST_XX(name, num, msg) MIST_##name = -(num),
	MIST_ERRNO_MAP(MIST_XX)
#undef MIST_XX
};

/** A message for @a err (0 or a MIST_E* code); never NULL. */
MIST_EXTERN const char *mist_strerror(int err);
/** The symbolic name of @a err, e.g. "EPROTO"; never NULL. */
MIST_EXTERN const char *mist_err_name(int err);
/** The library version, "MAJOR.MINOR.PATCH". */
MIST_EXTERN const char *mist_version(void);

#ifdef __cplusplus
}
#endif
#endif /* MIST_H_INCLUDED */
