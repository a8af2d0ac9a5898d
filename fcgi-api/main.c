/* fcgi-api/main.c - the FastCGI worker (parsec-fcgi); see fcgi-api/README.md */
int main(void)
{
    return 1;
}
