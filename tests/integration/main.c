/* tests/integration/main.c - runner of the suites that need real servers
 * (PostgreSQL from the harness: PARSEC_TEST_PG_URL; the others they start) */
#include "testreg.h"

int main(int argc, char **argv)
{
    return testreg_run(argc, argv);
}
