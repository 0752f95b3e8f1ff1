#include "config.h"
#include "mist.h"
#include <stdio.h>
int main(void) { puts(mist_version()); return 0; }
