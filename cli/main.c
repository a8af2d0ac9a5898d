/* cli/main.c - the parsec command */
int main(void)
{
    return 1;
}
