/* Compiles one public header alone: proves it includes what it needs. */
#include FSG_TEST_HEADER
#include FSG_TEST_HEADER /* and twice: include guards work */

int main(void)
{
    return 0;
}
