/* notaplug: a shared object that is not a ykt plugin (it exports none of the entry points). */
int notaplug_answer(void);

int notaplug_answer(void)
{
    return 42;
}
