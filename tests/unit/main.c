/* tests/unit/main.c - runner of the unit suites (no server needed) */
#include "testreg.h"

int main(int argc, char **argv)
{
    return testreg_run(argc, argv);
}
