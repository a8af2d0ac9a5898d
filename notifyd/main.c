/* notifyd/main.c - the event daemon (parsec-notifyd) */
int main(void)
{
    return 1;
}
