#include "config.h"
#include "util/num.h"

#include <string.h>

#define LN2 0.69314718055994530942
#define SQRT2 1.41421356237309504880

double
num_ln(double x)
{
	if (!(x > 0))
		return __builtin_nan("");
	if (x > 1.7976931348623157e308)
		return x;
	/* x = m * 2^e, m in [1, 2) (subnormals scaled up by 2^54 first) */
	uint64_t b;
	int e = 0;
	memcpy(&b, &x, sizeof(b));
	if ((b >> 52) == 0) {
		x *= 18014398509481984.0; /* 2^54 */
		memcpy(&b, &x, sizeof(b));
		e = -54;
	}
	e += (int)(b >> 52) - 1023;
	b = (b & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1023) << 52);
	double m;
	memcpy(&m, &b, sizeof(m));
	if (m > SQRT2) { /* m in [sqrt(1/2), sqrt(2)): |s| <= 0.172 */
		m /= 2;
		e++;
	}
	/* ln m = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), s = (m-1)/(m+1);
	 * s^2 <= 0.0295, so 12 terms leave less than 1e-18 */
	double s = (m - 1) / (m + 1), s2 = s * s, term = s, sum = 0;
	for (int k = 1; k <= 23; k += 2) {
		sum += term / k;
		term *= s2;
	}
	return 2 * sum + e * LN2;
}
